//! The one place the caller's pointers become slices. Each function here
//! trusts what the C header promises of its pointers (valid for the length
//! given, for the call) and checks what can be checked: NULL, and lengths a
//! slice cannot have.
#![allow(unsafe_code)]

use core::ffi::c_char;

use crate::TingStatus;

/// `len` bytes at `ptr`; NULL is allowed only with `len` 0.
pub(crate) fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], TingStatus> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(TingStatus::NullPointer)
        };
    }
    if len > isize::MAX as usize {
        return Err(TingStatus::InvalidInput);
    }
    // SAFETY: the header promises `ptr` points at `len` readable bytes
    // that stay valid and unchanged for the call.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// `cap` writable bytes at `ptr`.
pub(crate) fn bytes_mut<'a>(ptr: *mut u8, cap: usize) -> Result<&'a mut [u8], TingStatus> {
    if ptr.is_null() {
        return Err(TingStatus::NullPointer);
    }
    if cap > isize::MAX as usize {
        return Err(TingStatus::InvalidInput);
    }
    // SAFETY: the header promises `ptr` points at `cap` writable bytes that
    // nothing else reads or writes during the call.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, cap) })
}

/// The `N` bytes at `ptr`.
pub(crate) fn array<const N: usize>(ptr: *const u8) -> Result<[u8; N], TingStatus> {
    let slice = bytes(ptr, N)?;
    Ok(slice.try_into().expect("N bytes"))
}

/// The `T` at `ptr`: only for structs of integers and byte arrays, for
/// which any bytes are a value (no `bool`, no enum).
pub(crate) fn read<T: Copy>(ptr: *mut T) -> Result<T, TingStatus> {
    if ptr.is_null() {
        return Err(TingStatus::NullPointer);
    }
    // SAFETY: the header promises a non-NULL pointer to a readable `T`.
    Ok(unsafe { ptr.read_unaligned() })
}

/// Writes `value` to the `T` at `ptr`, which [`read`] read.
pub(crate) fn write<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        // SAFETY: as for `read`, and the pointer is writable (the header
        // gives it as `T *`).
        unsafe { ptr.write_unaligned(value) };
    }
}

/// Writes `value` through `ptr` when it is not NULL (optional out-parameters).
pub(crate) fn set<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        // SAFETY: the header promises a non-NULL out-parameter points at a
        // writable `T`.
        unsafe { ptr.write(value) };
    }
}

/// The NUL-terminated text at `ptr`, read up to its NUL and at most `max`
/// bytes before it; `None` for NULL, longer text or text that is not UTF-8.
pub(crate) fn text<'a>(ptr: *const c_char, max: usize) -> Result<&'a str, TingStatus> {
    if ptr.is_null() {
        return Err(TingStatus::NullPointer);
    }
    let mut len = 0;
    // SAFETY: the header promises NUL-terminated text; each byte is read
    // only after the ones before it were not NUL.
    while unsafe { ptr.add(len).read() } != 0 {
        len += 1;
        if len > max {
            return Err(TingStatus::InvalidInput);
        }
    }
    let raw = bytes(ptr.cast(), len)?;
    core::str::from_utf8(raw).map_err(|_| TingStatus::InvalidInput)
}

/// Writes `text` and a NUL into the `cap` bytes at `out`, its length
/// (without the NUL) through `len_out`, which is set even when `cap` is too
/// short, so that a caller learns what to give.
pub(crate) fn put_text(
    text: &str,
    out: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    set(len_out, text.len());
    put(text.as_bytes(), true, out.cast(), cap)
}

/// Writes `data` into the `cap` bytes at `out` (and a NUL after it when
/// `nul`).
pub(crate) fn put(data: &[u8], nul: bool, out: *mut u8, cap: usize) -> TingStatus {
    let need = data.len() + usize::from(nul);
    let buf = match bytes_mut(out, cap) {
        Ok(b) => b,
        Err(status) => return status,
    };
    if buf.len() < need {
        return TingStatus::BufferTooSmall;
    }
    buf[..data.len()].copy_from_slice(data);
    if nul {
        buf[data.len()] = 0;
    }
    TingStatus::Ok
}

/// A status as a step that may stop the call: `Ok` goes on.
pub(crate) fn ok(status: TingStatus) -> Result<(), TingStatus> {
    match status {
        TingStatus::Ok => Ok(()),
        other => Err(other),
    }
}

/// The status of a step, or its value.
macro_rules! attempt {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return status,
        }
    };
}
pub(crate) use attempt;
