//! The global allocator, counting: bytes in use, their peak since the last
//! reset, and the number of allocations. On a host it hands out memory from
//! the C library's `malloc`; on a bare-metal target from a fixed arena, as
//! firmware would (there it is only linked, never run, so a bump allocator
//! that frees nothing is enough).

// The measuring side is the host's; a bare-metal image only counts.
#![cfg_attr(target_os = "none", allow(dead_code))]

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

/// Peak heap and allocation count since [`reset`].
#[derive(Clone, Copy, Debug)]
pub struct HeapUse {
    pub peak_bytes: usize,
    pub allocations: usize,
}

/// Starts a measurement: the peak counts from what is in use now.
pub fn reset() {
    PEAK.store(IN_USE.load(Ordering::Relaxed), Ordering::Relaxed);
    ALLOCS.store(0, Ordering::Relaxed);
}

/// What was used since [`reset`], above what was in use then.
pub fn since(base: usize) -> HeapUse {
    HeapUse {
        peak_bytes: PEAK.load(Ordering::Relaxed).saturating_sub(base),
        allocations: ALLOCS.load(Ordering::Relaxed),
    }
}

pub fn in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

// The check runs on one thread, so plain loads and stores count exactly; they
// also build on chips without atomic read-modify-write (riscv32imc).
fn note_alloc(size: usize) {
    let now = IN_USE.load(Ordering::Relaxed) + size;
    IN_USE.store(now, Ordering::Relaxed);
    if now > PEAK.load(Ordering::Relaxed) {
        PEAK.store(now, Ordering::Relaxed);
    }
    ALLOCS.store(ALLOCS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

fn note_free(size: usize) {
    IN_USE.store(IN_USE.load(Ordering::Relaxed) - size, Ordering::Relaxed);
}

struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the layout is the caller's, passed on unchanged.
        let p = unsafe { backend::alloc(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { backend::dealloc(ptr, layout) }
    }
}

#[cfg(target_os = "linux")]
mod backend {
    use core::alloc::Layout;
    use core::ffi::c_void;

    #[link(name = "c")]
    extern "C" {
        fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> i32;
        fn free(p: *mut c_void);
    }

    pub unsafe fn alloc(layout: Layout) -> *mut u8 {
        let mut out: *mut c_void = core::ptr::null_mut();
        let align = layout.align().max(core::mem::size_of::<usize>());
        // SAFETY: `out` is a valid place for the pointer; the alignment is a
        // power of two and a multiple of the pointer size.
        let rc = unsafe { posix_memalign(&mut out, align, layout.size().max(1)) };
        if rc == 0 {
            out.cast()
        } else {
            core::ptr::null_mut()
        }
    }

    pub unsafe fn dealloc(ptr: *mut u8, _: Layout) {
        // SAFETY: `ptr` came from `posix_memalign`.
        unsafe { free(ptr.cast()) }
    }
}

#[cfg(target_os = "none")]
mod backend {
    use core::alloc::Layout;
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// The arena a small chip would give the heap.
    const ARENA_BYTES: usize = 64 * 1024;

    struct Arena(UnsafeCell<[u8; ARENA_BYTES]>);
    // SAFETY: handed out in disjoint pieces through `NEXT`, on one thread.
    unsafe impl Sync for Arena {}

    static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_BYTES]));
    static NEXT: AtomicUsize = AtomicUsize::new(0);

    pub unsafe fn alloc(layout: Layout) -> *mut u8 {
        let base = ARENA.0.get() as usize;
        let start = (base + NEXT.load(Ordering::Relaxed)).next_multiple_of(layout.align()) - base;
        match start.checked_add(layout.size()) {
            Some(end) if end <= ARENA_BYTES => {
                NEXT.store(end, Ordering::Relaxed);
                (base + start) as *mut u8
            }
            _ => core::ptr::null_mut(),
        }
    }

    pub unsafe fn dealloc(_: *mut u8, _: Layout) {}
}
