//! The host entry point: runs the operations and reports what each used.
//!
//! `ting-device-check measure` prints one line per operation:
//! `op NAME ok 1 heap_peak_bytes N allocations N stack_bytes N`.
//! `ting-device-check run NAME COUNT` runs one operation COUNT times after
//! making the fixtures (`run none COUNT` makes the fixtures only), for an
//! instruction counter such as callgrind to subtract one from the other.
//! `ting-device-check list` names the operations this build holds.
//!
//! The stack is measured by painting: fill the stack below the caller with a
//! pattern, run the operation, and find the deepest byte no longer holding
//! it. This writes below the stack pointer on purpose, which only a
//! measurement harness should do; Linux grows the main thread's stack into
//! that space as it would for a deep call (since Linux 4.20, which dropped
//! the check that refused touches far below the stack pointer).

use core::fmt::Write;
use core::hint::black_box;

use crate::fixtures::Fixtures;
use crate::heap;
use crate::ops::{self, Op};

/// How deep below the caller the stack is painted.
const PAINT_BYTES: usize = 256 * 1024;
/// Room left for the painting function's own frame. An operation that uses
/// less stack than this (and the frame) is reported as using this much.
const PAINT_MARGIN: usize = 128;
const PAINT: u8 = 0xa5;

#[link(name = "c")]
extern "C" {
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    fn strlen(s: *const core::ffi::c_char) -> usize;
    fn exit(code: i32) -> !;
}

/// Without `std` there is no unwinding: a panic prints where and stops.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut out = Out::new();
    let _ = writeln!(out, "ting-device-check: panic: {info}");
    out.flush(2);
    // SAFETY: ends the process; nothing is left to clean up.
    unsafe { exit(101) }
}

/// A line buffer written to a file descriptor.
struct Out {
    buf: [u8; 512],
    len: usize,
}

impl Out {
    fn new() -> Out {
        Out {
            buf: [0; 512],
            len: 0,
        }
    }

    fn flush(&mut self, fd: i32) {
        let mut done = 0;
        while done < self.len {
            // SAFETY: the range is inside `buf`.
            let n = unsafe { write(fd, self.buf[done..].as_ptr(), self.len - done) };
            if n <= 0 {
                break;
            }
            done += n as usize;
        }
        self.len = 0;
    }
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn arg<'a>(argc: i32, argv: *const *const core::ffi::c_char, i: i32) -> Option<&'a [u8]> {
    if i >= argc {
        return None;
    }
    // SAFETY: the C runtime gives `argc` valid NUL-terminated strings.
    unsafe {
        let p = *argv.add(i as usize);
        Some(core::slice::from_raw_parts(p.cast::<u8>(), strlen(p)))
    }
}

fn parse_count(text: &[u8]) -> Option<usize> {
    let mut n: usize = 0;
    if text.is_empty() {
        return None;
    }
    for &c in text {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(usize::from(c - b'0'))?;
    }
    Some(n)
}

const USAGE: &str = "usage: ting-device-check measure | run OP COUNT | run none COUNT | list\n";

#[no_mangle]
pub extern "C" fn main(argc: i32, argv: *const *const core::ffi::c_char) -> i32 {
    let mut out = Out::new();
    let code = match (arg(argc, argv, 1), arg(argc, argv, 2), arg(argc, argv, 3)) {
        (Some(b"measure"), None, None) => measure(&mut out),
        (Some(b"list"), None, None) => {
            for op in ops::OPS {
                let _ = writeln!(out, "{}", op.name);
                out.flush(1);
            }
            0
        }
        (Some(b"run"), Some(name), Some(count)) => match parse_count(count) {
            Some(count) => run(&mut out, name, count),
            None => usage(&mut out),
        },
        _ => usage(&mut out),
    };
    code
}

fn usage(out: &mut Out) -> i32 {
    let _ = out.write_str(USAGE);
    out.flush(2);
    2
}

/// Runs `name` `count` times (or, for `none`, only makes the fixtures).
fn run(out: &mut Out, name: &[u8], count: usize) -> i32 {
    let mut fixtures = Fixtures::new(count);
    if name == b"none" {
        black_box(&mut fixtures);
        return 0;
    }
    let Some(op) = ops::find(name) else {
        let _ = writeln!(
            out,
            "ting-device-check: no operation named {:?}; try `list`",
            core::str::from_utf8(name)
        );
        out.flush(2);
        return 2;
    };
    for i in 0..count {
        if !(op.run)(&mut fixtures, i) {
            let _ = writeln!(
                out,
                "ting-device-check: {} failed at iteration {i}",
                op.name
            );
            out.flush(2);
            return 1;
        }
    }
    0
}

/// Runs each operation once, measuring its heap and stack.
fn measure(out: &mut Out) -> i32 {
    let mut fixtures = Fixtures::new(2);
    let mut failed = 0;
    for op in ops::OPS {
        let base = heap::in_use();
        heap::reset();
        let (ok, stack) = stack_of(&mut fixtures, op);
        let used = heap::since(base);
        if !ok {
            failed += 1;
        }
        let _ = writeln!(
            out,
            "op {} ok {} heap_peak_bytes {} allocations {} stack_bytes {}",
            op.name,
            u8::from(ok),
            used.peak_bytes,
            used.allocations,
            stack
        );
        out.flush(1);
    }
    i32::from(failed > 0)
}

fn stack_address() -> usize {
    let marker = 0u8;
    black_box(core::ptr::addr_of!(marker)) as usize
}

/// Runs `op` once on a painted stack: whether it succeeded, and how many
/// bytes below the caller's frame it reached.
#[inline(never)]
fn stack_of(fixtures: &mut Fixtures, op: &Op) -> (bool, usize) {
    let top = stack_address();
    paint(top);
    let (ok, caller) = call(fixtures, op);
    (ok, caller.saturating_sub(deepest_touched(top)))
}

/// Calls `op` from a frame at the depth `paint` had; answers whether it
/// succeeded and an address in this frame, just above the operation's own.
#[inline(never)]
fn call(fixtures: &mut Fixtures, op: &Op) -> (bool, usize) {
    let here = stack_address();
    ((op.run)(black_box(fixtures), 0), here)
}

#[inline(never)]
fn paint(top: usize) {
    let end = stack_address() - PAINT_MARGIN;
    let mut at = top - PAINT_BYTES;
    while at < end {
        // SAFETY: below the live frames of this thread's stack, which the
        // kernel maps on touch; nothing lives there until the next call.
        unsafe { core::ptr::write_volatile(at as *mut u8, PAINT) };
        at += 1;
    }
}

#[inline(never)]
fn deepest_touched(top: usize) -> usize {
    let mut at = top - PAINT_BYTES;
    // SAFETY: the range `paint` wrote.
    while at < top && unsafe { core::ptr::read_volatile(at as *const u8) } == PAINT {
        at += 1;
    }
    at
}
