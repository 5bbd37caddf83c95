//! A counting global allocator: how much memory one input made the code under test hold.
//!
//! An "unbounded allocation" is memory sized by a length the outside sent (an ID3 tag's
//! declared size, a JSON array, a `Content-Length`) instead of by what actually arrived.
//! With a well-behaved parser the bytes held while one input is processed stay within a
//! small multiple of the input; [`CountingAlloc`] measures the most bytes live at once
//! since [`reset_peak`] and the largest single request, so the runner can fail an input
//! that goes past [`crate::runner::ALLOC_LIMIT`] even when nothing panics.
//!
//! The counters are process-wide (atomics), so allocations made for an input on helper
//! threads (the MP3 slicer's blocking worker, the loopback HTTP server) count too. The
//! runner processes one input at a time; in `cargo test`, where tests run side by side,
//! the other tests' allocations add a little noise far below the limit.
//!
//! Install it in a binary or test crate with
//! `#[global_allocator] static A: wfo_fuzz::alloc::CountingAlloc = wfo_fuzz::alloc::CountingAlloc;`.
//! Without it every figure reads zero and [`is_installed`] is false.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting live bytes, their peak and the largest request.
pub struct CountingAlloc;

impl CountingAlloc {
    fn added(size: usize) {
        INSTALLED.store(true, Ordering::Relaxed);
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(live, Ordering::Relaxed);
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }

    fn removed(size: usize) {
        LIVE.fetch_sub(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` with the same layout; the counters are
// only atomics, so nothing here allocates, blocks or unwinds.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::added(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::added(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        Self::removed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            Self::removed(layout.size());
            Self::added(new_size);
        }
        p
    }
}

/// Whether a [`CountingAlloc`] is the global allocator of this process.
pub fn is_installed() -> bool {
    drop(std::hint::black_box(Box::new(0u64)));
    INSTALLED.load(Ordering::Relaxed)
}

/// Bytes allocated and not yet freed, now.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Starts a measurement: the peak becomes what is live now, the largest request zero.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
}

/// The most bytes live at once since [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// The largest single allocation (or reallocation target) since [`reset_peak`].
pub fn largest_request() -> usize {
    LARGEST.load(Ordering::Relaxed)
}
