//! Memory and output of `detect` stay linear in the text; measured with a counting
//! allocator, so this file holds only these tests and they run one at a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use autobranch_core::detect::{DetectError, MAX_DETECT_BYTES, detect};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

// SAFETY: forwards to the system allocator; only the byte counts are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        // SAFETY: the caller's layout contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Counts bytes written, keeping none.
struct Sink(usize);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Peak memory of detection plus pretty JSON output streamed to a sink, and the output's
/// size, both per byte of a text made of `unit` repeated to about `bytes`.
fn cost(unit: &str, bytes: usize) -> (f64, f64) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let text = unit.repeat(bytes / unit.len());
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let detection = detect(&text).unwrap();
    let mut sink = Sink(0);
    serde_json::to_writer_pretty(&mut sink, &detection).unwrap();
    let peak = PEAK.load(Ordering::SeqCst) - base;
    let n = text.len() as f64;
    (peak as f64 / n, sink.0 as f64 / n)
}

// Measured (debug build): prose 24.9× memory / 11.8× output; a list item every 4 bytes
// 40× / 28×; a conditional every 20 bytes 67× / 21×. The bounds leave a little room.

#[test]
fn prose_costs_a_small_multiple_of_its_size() {
    let unit = "We could take the train or the bus to the city. If it rains then we stay inside else we \
                walk.\n- Pack an umbrella\n- Pack a coat\n";
    let (memory, output) = cost(unit, 2 << 20);
    assert!(memory <= 30.0, "memory {memory:.1}× the text");
    assert!(output <= 14.0, "output {output:.1}× the text");
}

#[test]
fn the_densest_lists_and_conditionals_stay_linear() {
    for (unit, max_memory, max_output) in [("- a\n", 48.0, 32.0), ("if a then b else c. ", 80.0, 24.0)] {
        let (memory, output) = cost(unit, 1 << 20);
        assert!(memory <= max_memory, "{unit:?}: memory {memory:.1}× the text");
        assert!(output <= max_output, "{unit:?}: output {output:.1}× the text");
    }
}

#[test]
fn text_over_the_limit_is_refused_before_any_work() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let text = "- a\n".repeat(MAX_DETECT_BYTES / 4 + 1);
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let err = detect(&text).unwrap_err();
    assert!(matches!(err, DetectError::TooLarge { size, limit: MAX_DETECT_BYTES } if size == text.len()));
    assert_eq!(PEAK.load(Ordering::SeqCst) - base, 0, "nothing was allocated");
}
