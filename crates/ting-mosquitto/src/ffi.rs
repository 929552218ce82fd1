//! The plugin's C face, and all of the crate's unsafe code: Mosquitto 2's
//! version 5 plugin entry points, the three event callbacks, and the broker
//! functions they call, declared by hand from `mosquitto_broker.h` and
//! `mosquitto_plugin.h` (2.0.11).
//!
//! The broker functions are not linked from libmosquitto: a plugin is
//! `dlopen`ed by the broker executable, which exports them, and the dynamic
//! linker resolves them then.
//!
//! Each callback copies what it needs out of the event into borrowed `&str`s,
//! makes one call into [`crate::guard::Guard`], logs a refusal, and returns a
//! code. A panic inside is caught and answered with a refusal, so neither a
//! bug nor a hostile input can unwind into C or allow anything.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::marker::{PhantomData, PhantomPinned};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::clock;
use crate::guard::{Connect, Guard};
use crate::mosq::*;
use crate::options::Config;
use crate::sources::ClientKey;

/// `struct mosquitto`: one client, opaque to plugins.
#[repr(C)]
pub struct Mosquitto {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `mosquitto_plugin_id_t`: the broker's handle of this plugin instance.
#[repr(C)]
pub struct PluginId {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `struct mosquitto_opt`: one `plugin_opt_KEY VALUE` line.
#[repr(C)]
pub struct MosquittoOpt {
    key: *mut c_char,
    value: *mut c_char,
}

/// `struct mosquitto_evt_basic_auth`.
#[repr(C)]
struct EvtBasicAuth {
    future: *mut c_void,
    client: *mut Mosquitto,
    username: *mut c_char,
    password: *mut c_char,
    future2: [*mut c_void; 4],
}

/// `struct mosquitto_evt_acl_check`.
#[repr(C)]
struct EvtAclCheck {
    future: *mut c_void,
    client: *mut Mosquitto,
    topic: *const c_char,
    payload: *const c_void,
    properties: *mut c_void,
    access: c_int,
    payloadlen: u32,
    qos: u8,
    /// A C `bool`, read as a byte so that no value is invalid on this side.
    retain: u8,
    future2: [*mut c_void; 4],
}

/// `struct mosquitto_evt_disconnect`.
#[repr(C)]
struct EvtDisconnect {
    future: *mut c_void,
    client: *mut Mosquitto,
    reason: c_int,
    future2: [*mut c_void; 4],
}

// The offsets and sizes gcc gives for the 2.0.11 headers on LP64 Linux.
#[cfg(target_pointer_width = "64")]
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(EvtBasicAuth, client) == 8);
    assert!(offset_of!(EvtBasicAuth, username) == 16);
    assert!(offset_of!(EvtBasicAuth, password) == 24);
    assert!(size_of::<EvtBasicAuth>() == 64);
    assert!(offset_of!(EvtAclCheck, client) == 8);
    assert!(offset_of!(EvtAclCheck, topic) == 16);
    assert!(offset_of!(EvtAclCheck, access) == 40);
    assert!(offset_of!(EvtAclCheck, payloadlen) == 44);
    assert!(offset_of!(EvtAclCheck, qos) == 48);
    assert!(offset_of!(EvtAclCheck, retain) == 49);
    assert!(size_of::<EvtAclCheck>() == 88);
    assert!(offset_of!(EvtDisconnect, client) == 8);
    assert!(offset_of!(EvtDisconnect, reason) == 16);
    assert!(size_of::<EvtDisconnect>() == 56);
    assert!(size_of::<MosquittoOpt>() == 16);
};

/// `MOSQ_FUNC_generic_callback`.
type Callback =
    unsafe extern "C" fn(event: c_int, event_data: *mut c_void, userdata: *mut c_void) -> c_int;

extern "C" {
    fn mosquitto_callback_register(
        identifier: *mut PluginId,
        event: c_int,
        cb_func: Callback,
        event_data: *const c_void,
        userdata: *mut c_void,
    ) -> c_int;
    fn mosquitto_callback_unregister(
        identifier: *mut PluginId,
        event: c_int,
        cb_func: Callback,
        event_data: *const c_void,
    ) -> c_int;
    fn mosquitto_client_id(client: *const Mosquitto) -> *const c_char;
    fn mosquitto_client_username(client: *const Mosquitto) -> *const c_char;
    fn mosquitto_client_sub_count(client: *const Mosquitto) -> c_int;
    fn mosquitto_client_address(client: *const Mosquitto) -> *const c_char;
    fn mosquitto_log_printf(level: c_int, fmt: *const c_char, ...);
}

/// What `userdata` points at: one plugin instance.
struct Plugin {
    id: *mut PluginId,
    guard: Guard,
}

/// The events this plugin handles, and their callbacks.
const CALLBACKS: [(c_int, Callback); 3] = [
    (MOSQ_EVT_BASIC_AUTH, on_basic_auth),
    (MOSQ_EVT_ACL_CHECK, on_acl_check),
    (MOSQ_EVT_DISCONNECT, on_disconnect),
];

/// Writes one line to the broker's log. The line goes through `%s`, so
/// nothing a client sent is read as a format.
fn log(level: c_int, line: &str) {
    let line = CString::new(line.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: both arguments are NUL-terminated strings that outlive the call,
    // and the format takes exactly one string.
    unsafe { mosquitto_log_printf(level, c"%s".as_ptr(), line.as_ptr()) }
}

/// Runs a check, answering `refusal` if it panics.
fn guarded(refusal: c_int, check: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(check)).unwrap_or_else(|_| {
        log(MOSQ_LOG_ERR, "ting: a check failed unexpectedly; refused");
        refusal
    })
}

/// A C string as UTF-8, or `None` when it is NULL or not UTF-8.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that stays valid for `'a`.
unsafe fn text<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

/// A C string's bytes, or `None` when it is NULL.
///
/// # Safety
/// As for [`text`].
unsafe fn bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller's contract.
    Some(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// Returns 5 when the broker offers version 5 of the plugin interface, else -1.
///
/// # Safety
/// `versions` points at `count` integers, or `count` is 0.
#[no_mangle]
pub unsafe extern "C" fn mosquitto_plugin_version(count: c_int, versions: *const c_int) -> c_int {
    let n = usize::try_from(count).unwrap_or(0);
    if versions.is_null() || n == 0 {
        return -1;
    }
    // SAFETY: the broker passes an array of `count` versions.
    let offered = unsafe { std::slice::from_raw_parts(versions, n) };
    if offered.contains(&MOSQ_PLUGIN_VERSION) {
        MOSQ_PLUGIN_VERSION
    } else {
        -1
    }
}

/// Reads the options and the genesis, and registers the callbacks. Any
/// failure is logged and returned, and the broker refuses to start.
///
/// # Safety
/// The broker's arguments: its handle of this instance, where to put ours,
/// and `count` options.
#[no_mangle]
pub unsafe extern "C" fn mosquitto_plugin_init(
    identifier: *mut PluginId,
    userdata: *mut *mut c_void,
    options: *mut MosquittoOpt,
    count: c_int,
) -> c_int {
    // SAFETY: the broker's arguments, passed on unchanged.
    guarded(MOSQ_ERR_INVAL, || unsafe {
        init(identifier, userdata, options, count)
    })
}

/// # Safety
/// As for [`mosquitto_plugin_init`].
unsafe fn init(
    identifier: *mut PluginId,
    userdata: *mut *mut c_void,
    options: *mut MosquittoOpt,
    count: c_int,
) -> c_int {
    if identifier.is_null() || userdata.is_null() {
        return MOSQ_ERR_INVAL;
    }
    // SAFETY: the broker passes `count` options that outlive this call.
    let pairs = unsafe { read_options(options, count) };
    let config = match Config::from_options(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(config) => config,
        Err(e) => {
            log(
                MOSQ_LOG_ERR,
                &format!("ting: cannot start ({}): {e}", e.code()),
            );
            return MOSQ_ERR_INVAL;
        }
    };
    let plugin = Box::into_raw(Box::new(Plugin {
        id: identifier,
        guard: Guard::for_broker(&config),
    }));
    for (done, &(event, callback)) in CALLBACKS.iter().enumerate() {
        // SAFETY: `identifier` is the broker's; `plugin` lives until cleanup.
        let rc = unsafe {
            mosquitto_callback_register(identifier, event, callback, ptr::null(), plugin.cast())
        };
        if rc != MOSQ_ERR_SUCCESS {
            log(
                MOSQ_LOG_ERR,
                &format!("ting: cannot register for event {event}: error {rc}"),
            );
            // SAFETY: only the callbacks registered so far are unregistered,
            // and `plugin` is freed once, after none of them can run.
            unsafe {
                unregister(identifier, &CALLBACKS[..done]);
                drop(Box::from_raw(plugin));
            }
            return rc;
        }
    }
    // SAFETY: checked non-NULL above; the broker hands this back at cleanup.
    unsafe { *userdata = plugin.cast() };
    log(MOSQ_LOG_INFO, &ready_line(&config));
    MOSQ_ERR_SUCCESS
}

fn ready_line(config: &Config) -> String {
    format!(
        "ting: logins for network {:?} (genesis {}), {} sequencer(s) log in as nodes, at most {} connections per source",
        config.genesis.name,
        config.genesis.hash().to_hex(),
        config.genesis.sequencers.len(),
        config.connections_per_source,
    )
}

/// The options as owned (key, value) pairs; a NULL string reads as empty.
///
/// # Safety
/// `options` points at `count` options whose strings are NUL-terminated.
unsafe fn read_options(options: *const MosquittoOpt, count: c_int) -> Vec<(String, String)> {
    let n = usize::try_from(count).unwrap_or(0);
    if options.is_null() || n == 0 {
        return Vec::new();
    }
    // SAFETY: the caller's contract.
    let options = unsafe { std::slice::from_raw_parts(options, n) };
    let owned = |p: *const c_char| {
        // SAFETY: the caller's contract.
        unsafe { bytes(p) }.map_or_else(String::new, |b| String::from_utf8_lossy(b).into_owned())
    };
    options
        .iter()
        .map(|o| (owned(o.key), owned(o.value)))
        .collect()
}

/// Unregisters `callbacks`; one that is not registered is skipped.
///
/// # Safety
/// `identifier` is the broker's handle of this instance.
unsafe fn unregister(identifier: *mut PluginId, callbacks: &[(c_int, Callback)]) {
    for &(event, callback) in callbacks {
        // SAFETY: the caller's contract. The answer is ignored: a callback
        // that is not registered (MOSQ_ERR_NOT_FOUND) is already gone.
        unsafe { mosquitto_callback_unregister(identifier, event, callback, ptr::null()) };
    }
}

/// Unregisters the callbacks and frees the instance.
///
/// # Safety
/// `userdata` is what [`mosquitto_plugin_init`] stored, or NULL.
#[no_mangle]
pub unsafe extern "C" fn mosquitto_plugin_cleanup(
    userdata: *mut c_void,
    _options: *mut MosquittoOpt,
    _count: c_int,
) -> c_int {
    if userdata.is_null() {
        return MOSQ_ERR_SUCCESS;
    }
    // SAFETY: init made `userdata` with Box::into_raw, and the broker calls
    // cleanup once; after unregistering, no callback can use it.
    unsafe {
        let plugin = Box::from_raw(userdata.cast::<Plugin>());
        unregister(plugin.id, &CALLBACKS);
    }
    MOSQ_ERR_SUCCESS
}

/// MOSQ_EVT_BASIC_AUTH: the CONNECT's login.
///
/// # Safety
/// `data` is a `mosquitto_evt_basic_auth` and `userdata` our [`Plugin`].
unsafe extern "C" fn on_basic_auth(
    _event: c_int,
    data: *mut c_void,
    userdata: *mut c_void,
) -> c_int {
    guarded(MOSQ_ERR_AUTH, || {
        // SAFETY: the broker passes the event and the userdata we registered;
        // its strings stay valid during the callback.
        let (plugin, connect) = unsafe {
            let event = &*data.cast::<EvtBasicAuth>();
            let client = event.client;
            let connect = Connect {
                client: ClientKey(client as usize),
                username: text(event.username),
                client_id: text(mosquitto_client_id(client)),
                password: bytes(event.password),
                address: text(mosquitto_client_address(client)),
            };
            (&*userdata.cast::<Plugin>(), connect)
        };
        match plugin.guard.login(&connect, clock::now()) {
            Ok(_) => MOSQ_ERR_SUCCESS,
            Err(refused) => {
                log(MOSQ_LOG_INFO, &refused.log_line(&connect));
                MOSQ_ERR_AUTH
            }
        }
    })
}

/// MOSQ_EVT_ACL_CHECK: a subscription, a publish or will, or a delivery.
///
/// # Safety
/// `data` is a `mosquitto_evt_acl_check` and `userdata` our [`Plugin`].
unsafe extern "C" fn on_acl_check(
    _event: c_int,
    data: *mut c_void,
    userdata: *mut c_void,
) -> c_int {
    guarded(MOSQ_ERR_ACL_DENIED, || {
        // SAFETY: as for `on_basic_auth`.
        let (plugin, event, username, topic, held) = unsafe {
            let event = &*data.cast::<EvtAclCheck>();
            let username = text(mosquitto_client_username(event.client));
            let held = mosquitto_client_sub_count(event.client);
            let plugin = &*userdata.cast::<Plugin>();
            (plugin, event, username, text(event.topic), held)
        };
        // A topic that is missing or not UTF-8 matches no row of the table.
        let topic = topic.unwrap_or("");
        let held = usize::try_from(held).unwrap_or(0);
        let retain = event.retain != 0;
        match plugin
            .guard
            .acl_check(username, event.access, retain, topic, held)
        {
            Ok(()) => MOSQ_ERR_SUCCESS,
            Err(refused) => {
                // SAFETY: as above.
                let client_id = unsafe { text(mosquitto_client_id(event.client)) };
                log(MOSQ_LOG_DEBUG, &refused.log_line(client_id));
                MOSQ_ERR_ACL_DENIED
            }
        }
    })
}

/// MOSQ_EVT_DISCONNECT: a client has gone, so it leaves its source's count.
///
/// # Safety
/// `data` is a `mosquitto_evt_disconnect` and `userdata` our [`Plugin`].
unsafe extern "C" fn on_disconnect(
    _event: c_int,
    data: *mut c_void,
    userdata: *mut c_void,
) -> c_int {
    guarded(MOSQ_ERR_SUCCESS, || {
        // SAFETY: as for `on_basic_auth`.
        let (plugin, client) = unsafe {
            (
                &*userdata.cast::<Plugin>(),
                (*data.cast::<EvtDisconnect>()).client,
            )
        };
        plugin.guard.disconnected(ClientKey(client as usize));
        MOSQ_ERR_SUCCESS
    })
}
