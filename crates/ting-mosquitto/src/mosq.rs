//! The numbers of Mosquitto's plugin interface, copied from the 2.0.11
//! headers (`mosquitto.h`, `mosquitto_plugin.h`, `mosquitto_broker.h`; Debian
//! packages `libmosquitto-dev` and `mosquitto-dev`). They are plain integers,
//! so they live outside the unsafe `ffi` module, where the safe code can map
//! decisions to them.

use std::ffi::c_int;

/// The plugin interface this crate implements (`MOSQ_PLUGIN_VERSION`).
pub const MOSQ_PLUGIN_VERSION: c_int = 5;

// `enum mosq_err_t` in mosquitto.h.
pub const MOSQ_ERR_SUCCESS: c_int = 0;
pub const MOSQ_ERR_INVAL: c_int = 3;
/// A login refused: the broker answers CONNACK 5 (MQTT 3.1.1, not
/// authorized) or reason 0x87 (MQTT 5).
pub const MOSQ_ERR_AUTH: c_int = 11;
/// An access refused: SUBACK 0x80, or a PUBLISH dropped (acknowledged, with
/// reason 0x87 in MQTT 5), or a delivery skipped.
pub const MOSQ_ERR_ACL_DENIED: c_int = 12;
/// "Let the next plugin decide". This plugin never returns it: it is the only
/// authority on who logs in and what they may do (docs/mqtt.md §10 has no
/// superusers), and deferring would hand the decision to a password file or
/// another plugin configured beside it.
pub const MOSQ_ERR_PLUGIN_DEFER: c_int = 17;

// `MOSQ_ACL_*` in mosquitto_plugin.h: the `access` of an ACL check.
/// A message is about to be sent to the client, on this concrete topic.
pub const MOSQ_ACL_READ: c_int = 0x01;
/// The client publishes (or its will is about to be published).
pub const MOSQ_ACL_WRITE: c_int = 0x02;
/// The client subscribes to this filter, exactly as written (`$share/...` included).
pub const MOSQ_ACL_SUBSCRIBE: c_int = 0x04;
/// The client unsubscribes from this filter.
pub const MOSQ_ACL_UNSUBSCRIBE: c_int = 0x08;

// `enum mosquitto_plugin_event` in mosquitto_broker.h.
pub const MOSQ_EVT_ACL_CHECK: c_int = 2;
pub const MOSQ_EVT_BASIC_AUTH: c_int = 3;
pub const MOSQ_EVT_DISCONNECT: c_int = 10;

// `MOSQ_LOG_*` in mosquitto.h: the level of a log line.
pub const MOSQ_LOG_INFO: c_int = 1 << 0;
pub const MOSQ_LOG_ERR: c_int = 1 << 3;
pub const MOSQ_LOG_DEBUG: c_int = 1 << 4;
