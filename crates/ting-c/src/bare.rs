//! What a `#![no_std]` static library needs from the firmware it is linked
//! into, taken from the C library firmware already has: the heap is
//! `malloc` and `free` (operations that make transactions or envelopes
//! allocate; signing a transfer without a memo, paying a tick, checking a
//! receipt or a state proof do not, as `scripts/check-no-std` proves of the
//! core), and a panic, which no call reaches by design (every input is a
//! status), ends in `abort`. Firmware without a heap gives `malloc` over a
//! static arena. This module and `ffi.rs` hold the crate's only unsafe code.
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};

extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
    fn abort() -> !;
}

/// The most alignment `malloc` promises on the targets firmware runs
/// (8 on 32-bit ARM and RISC-V); nothing in the library asks for more.
const MALLOC_ALIGN: usize = 8;

struct FirmwareHeap;

// SAFETY: `malloc` returns memory of at least `size` bytes aligned to
// `MALLOC_ALIGN` or null, and `free` takes back exactly what `malloc` gave;
// a layout needing more alignment is refused with null.
unsafe impl GlobalAlloc for FirmwareHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > MALLOC_ALIGN {
            return core::ptr::null_mut();
        }
        // SAFETY: a plain C call; the size is the layout's, never zero here
        // (Rust does not allocate zero-sized layouts).
        unsafe { malloc(layout.size()) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, so from `malloc`.
        unsafe { free(ptr) }
    }
}

#[global_allocator]
static HEAP: FirmwareHeap = FirmwareHeap;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: `abort` takes nothing and does not return.
    unsafe { abort() }
}
