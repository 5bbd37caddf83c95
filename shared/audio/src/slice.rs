//! Frame-accurate MP3 slicing as a bounded-memory stream, at the speed of a plain copy.
//!
//! The hand-written scanner ([`crate::scan`]) runs on the input chunks where they are, in
//! the output stream's own `poll_next`: no thread, no channel. Each run of consecutive
//! selected frames inside one input chunk goes out as a view of that chunk
//! (`Bytes::slice`: a reference count, no copy). The only bytes copied are those of a frame
//! (or a header being looked at) split across two input chunks: they are gathered in a
//! carry buffer of at most [`MAX_FRAME_LEN`] + 4 bytes, and such a frame goes out as its own
//! small chunk. Nothing is allocated per frame; counters are published once per output
//! chunk, not per frame.
//!
//! The symphonia-based slicer this replaces is kept as [`crate::slice_mp3_reference`]: the
//! oracle of the property tests and the baseline of the benchmarks.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::frames::{MAX_FRAME_LEN, RING_LEN, samples_to_ms};
use crate::scan::{HEADER_LEN, Header, Scanner, Step};
use crate::{AudioError, ByteStream};

/// Largest output chunk of [`crate::slice_mp3_reference`] (consecutive selected frames are
/// copied together up to this size). [`slice_mp3`]'s output chunks are views of its input
/// chunks instead, at most one input chunk long.
pub const OUT_CHUNK: usize = 16 * 1024;

/// Output chunks that may wait between [`crate::slice_mp3_reference`]'s worker thread and
/// its consumer.
pub const CHANNEL_CAP: usize = 2;

/// A time span of a recording, in milliseconds from the start of its audio.
///
/// "The start of its audio" is the start of the first audio frame (after any ID3v2 tag and
/// any Xing/Info frame), and the timeline is the raw frame timeline: encoder delay is not
/// subtracted, exactly as a player that shows the file's position counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Slice {
    pub offset_ms: i64,
    pub duration_ms: i64,
}

impl Slice {
    pub fn new(offset_ms: i64, duration_ms: i64) -> Self {
        Slice { offset_ms, duration_ms }
    }

    /// First millisecond after the slice.
    pub fn end_ms(&self) -> i64 {
        self.offset_ms.saturating_add(self.duration_ms)
    }
}

/// Cuts an MP3 byte stream to the frames of one time span, without buffering the file.
///
/// # Boundary rule
///
/// A frame belongs to the slice when its **start time** `t` (exact: samples before it ÷
/// sample rate, no rounding) satisfies `offset_ms ≤ t < offset_ms + duration_ms`. Frames
/// are emitted byte for byte, in input order; everything else (ID3v2 tags, the Xing/Info
/// frame, bytes between frames, frames outside the span, a truncated last frame) is
/// skipped. Because the span is half-open, slices that tile a timeline (`[a, b)`,
/// `[b, c)`, …) tile its frames: every frame lands in exactly one of them. An emitted
/// slice can therefore run up to one frame (≤ 36 ms at 16 kHz) past `offset + duration`
/// and start up to one frame after `offset`.
///
/// A negative offset is allowed (the span then simply starts before the audio). Reading
/// stops at the first frame that starts at or after the end of the span: the rest of the
/// input is not pulled.
///
/// # Errors (as the stream's last item)
///
/// - An error of the input stream: passed on unchanged.
/// - [`AudioError::NotMp3`] when no frame is found in the first 256 KiB (after ID3v2 tags).
/// - [`AudioError::InvalidSlice`] when `duration_ms ≤ 0` (nothing is read).
/// - [`AudioError::SliceBeyondEnd`] when the audio ends before any frame starts in the span;
///   a contact without audio is a data error, so it is reported rather than uploaded
///   empty. A span that merely *overlaps* the end yields the frames it has and no error.
/// - [`AudioError::SliceBetweenFrames`] when the span is shorter than a frame and no frame
///   starts inside it.
///
/// `AudioError`s travel inside `io::Error`: see [`AudioError::from_io`].
///
/// # Memory
///
/// At most [`SliceStats::buffer_bound`] bytes are held, whatever the file size: the input
/// chunk being scanned and the carry buffer (a frame split across two chunks). The output
/// chunks are views of the input chunks: the consumer holds them, not the slicer.
///
/// The stream must be polled inside a tokio runtime (as it always was: the contract leaves
/// the implementation free to use one); elsewhere it yields [`AudioError::NoRuntime`].
pub fn slice_mp3(input: ByteStream, slice: Slice) -> ByteStream {
    slice_mp3_with_stats(input, slice).0
}

/// [`slice_mp3`], plus live counters of what the slicer read, emitted and held.
pub fn slice_mp3_with_stats(input: ByteStream, slice: Slice) -> (ByteStream, SliceStats) {
    let stats = SliceStats::default();
    if slice.duration_ms <= 0 {
        let error = AudioError::InvalidSlice {
            offset_ms: slice.offset_ms,
            duration_ms: slice.duration_ms,
        };
        return (
            futures::stream::once(async move { Err(error.into_io()) }).boxed(),
            stats,
        );
    }
    let slicer = Mp3Slicer {
        input: Some(input),
        runtime_checked: false,
        scanner: Scanner::new(),
        window: Window::new(slice),
        slice,
        chunk: Bytes::new(),
        pos: 0,
        chunk_at: 0,
        carry: Vec::with_capacity(MAX_FRAME_LEN + HEADER_LEN),
        from_chunk: 0,
        skip: 0,
        input_ended: false,
        run: None,
        ready: VecDeque::with_capacity(4),
        last: None,
        finished: false,
        rate: 0,
        bounds: (0, 0),
        last_word: (0, None),
        ts: 0,
        last_samples: 0,
        frames_in: 0,
        frames_out: 0,
        samples_out: 0,
        bytes_out: 0,
        stats: stats.clone(),
    };
    (slicer.boxed(), stats)
}

/// The state of one [`slice_mp3`] stream.
///
/// The scanner looks at one contiguous view at a time: the rest of the current input chunk
/// (`chunk[pos..]`) when the carry is empty, else the carry, which holds the input bytes
/// just before `chunk[pos]`. Its last `from_chunk` bytes were copied from `chunk` and are
/// given back to it (by moving `pos` back) as soon as everything before them is consumed,
/// so the scanner returns to the chunk itself after at most one frame.
struct Mp3Slicer {
    /// `None` once the slicer has finished: the input is dropped, not read to its end.
    input: Option<ByteStream>,
    runtime_checked: bool,
    scanner: Scanner,
    window: Window,
    slice: Slice,
    chunk: Bytes,
    pos: usize,
    /// Input position of `chunk[0]`.
    chunk_at: u64,
    carry: Vec<u8>,
    from_chunk: usize,
    /// Bytes still to skip (an ID3v2 tag body), consumed as they arrive.
    skip: u64,
    input_ended: bool,
    /// Start in `chunk` of the selected frames up to `pos` not sent yet.
    run: Option<usize>,
    /// Output decided but not yet returned (a run, then a carried frame, at most).
    ready: VecDeque<Bytes>,
    /// The error that ends the stream, after `ready`.
    last: Option<io::Error>,
    finished: bool,
    rate: u32,
    /// The span in samples at `rate`: frames starting in `[first, end)` are inside.
    bounds: (i128, i128),
    /// The last header word the hot loop parsed, and what it is.
    last_word: (u32, Option<Header>),
    /// Start of the next frame, in samples.
    ts: u64,
    /// Duration of the last frame read, in samples.
    last_samples: u64,
    frames_in: u64,
    frames_out: u64,
    samples_out: u64,
    /// Bytes returned to the consumer.
    bytes_out: u64,
    stats: SliceStats,
}

/// What the slicer needs next.
enum Next {
    /// Something is in `ready` (or `last`): return it.
    Output,
    /// The current chunk is used up: poll the input.
    Input,
}

impl Mp3Slicer {
    /// Runs the scanner until output is ready, the input is needed, or the slicer finished.
    fn advance(&mut self) -> Next {
        loop {
            if !self.ready.is_empty() || self.finished {
                return Next::Output;
            }
            if self.skip == 0 && self.carry.is_empty() {
                self.plain_frames();
            }
            if self.skip > 0 {
                let available = if self.carry.is_empty() {
                    self.chunk.len() - self.pos
                } else {
                    self.carry.len()
                };
                if available == 0 {
                    if self.input_ended {
                        self.fail_not_mp3();
                        continue;
                    }
                    return Next::Input;
                }
                let n = self.skip.min(available as u64);
                self.skip -= n;
                self.consume(n as usize);
                continue;
            }

            let from_carry = !self.carry.is_empty();
            let (view, mut end) = if from_carry {
                (&self.carry[..], self.input_ended && self.pos == self.chunk.len())
            } else {
                (&self.chunk[self.pos..], self.input_ended)
            };
            let at = self.chunk_at + self.pos as u64 - self.carry.len() as u64;
            let mut view = view;
            if let Some(limit) = self.scanner.limit() {
                let visible = usize::try_from(limit.saturating_sub(at)).unwrap_or(usize::MAX);
                if view.len() >= visible {
                    view = &view[..visible];
                    end = true;
                }
            }
            match self.scanner.step(view, at, end) {
                Step::Skip(n) => {
                    self.end_run();
                    let here = if from_carry {
                        self.carry.len()
                    } else {
                        self.chunk.len() - self.pos
                    };
                    let now = usize::try_from(n).map_or(here, |n| n.min(here));
                    self.skip = n - now as u64;
                    self.consume(now);
                }
                Step::Frame(header) => {
                    if self.frames_in == 0 {
                        self.rate = self.scanner.sample_rate().unwrap_or(header.sample_rate);
                        self.bounds = self.window.in_samples(self.rate);
                    }
                    self.frames_in += 1;
                    let ts = self.ts;
                    self.ts += header.samples;
                    self.last_samples = header.samples;
                    match self.window.place(ts, self.rate) {
                        Placement::Before => {
                            self.end_run();
                            self.consume(header.len);
                        }
                        Placement::Inside => {
                            self.frames_out += 1;
                            self.samples_out += header.samples;
                            if from_carry {
                                self.end_run();
                                self.ready.push_back(Bytes::copy_from_slice(&self.carry[..header.len]));
                                self.consume(header.len);
                            } else {
                                self.run.get_or_insert(self.pos);
                                self.pos += header.len;
                            }
                        }
                        Placement::After => self.finish(true),
                    }
                }
                Step::Need(len) => {
                    self.end_run();
                    if !from_carry {
                        self.carry.extend_from_slice(&self.chunk[self.pos..]);
                        self.from_chunk = self.carry.len();
                        self.pos = self.chunk.len();
                    }
                    let available = self.chunk.len() - self.pos;
                    if available == 0 {
                        self.publish();
                        return Next::Input;
                    }
                    let take = len.saturating_sub(self.carry.len()).clamp(1, available);
                    self.carry.extend_from_slice(&self.chunk[self.pos..self.pos + take]);
                    self.pos += take;
                    self.from_chunk += take;
                    self.stats.hold(self.chunk.len(), self.carry.len());
                }
                Step::End => self.finish(false),
                Step::NotMp3 => self.fail_not_mp3(),
            }
        }
    }

    /// The hot loop: consecutive whole frames in the chunk, placed against the span in
    /// samples. Stops (leaving it to [`Scanner::step`]) at anything else: junk, a
    /// Xing/Info/VBRI frame, a frame cut by the chunk's end, or the first frame after the
    /// span.
    fn plain_frames(&mut self) {
        if self.frames_in == 0 {
            return;
        }
        let (first, end) = self.bounds;
        let chunk = &self.chunk[..];
        let mut pos = self.pos;
        while let Some(header) = self.scanner.plain_frame(&chunk[pos..], &mut self.last_word) {
            let ts = i128::from(self.ts);
            if ts >= end {
                break;
            }
            self.frames_in += 1;
            self.ts += header.samples;
            self.last_samples = header.samples;
            if ts >= first {
                self.frames_out += 1;
                self.samples_out += header.samples;
                self.run.get_or_insert(pos);
            } else if let Some(start) = self.run.take() {
                // Not reached (frame starts only grow), but a run must end where it ends.
                self.ready.push_back(self.chunk.slice(start..pos));
            }
            pos += header.len;
        }
        self.pos = pos;
    }

    /// Drops the first `n` bytes of the view (`n` at most its length).
    fn consume(&mut self, n: usize) {
        if self.carry.is_empty() {
            self.pos += n;
            return;
        }
        let left = self.carry.len() - n;
        if left <= self.from_chunk {
            // What is left of the carry is still in the chunk: read it there.
            self.pos -= left;
            self.carry.clear();
            self.from_chunk = 0;
        } else {
            self.carry.drain(..n);
        }
    }

    /// Sends the selected frames up to `pos` as one view of the chunk.
    fn end_run(&mut self) {
        if let Some(start) = self.run.take() {
            self.ready.push_back(self.chunk.slice(start..self.pos));
        }
    }

    /// The audio ended (`past_span`: at a frame after the span): the frames sent so far are
    /// the slice, or, if there are none, the span missed the audio.
    fn finish(&mut self, past_span: bool) {
        self.end_run();
        self.finished = true;
        self.input = None;
        self.publish();
        if self.frames_out > 0 {
            return;
        }
        let error = if past_span {
            AudioError::SliceBetweenFrames {
                offset_ms: self.slice.offset_ms,
                duration_ms: self.slice.duration_ms,
                frame_ms: samples_to_ms(self.last_samples, self.rate),
            }
        } else {
            AudioError::SliceBeyondEnd {
                offset_ms: self.slice.offset_ms,
                duration_ms: self.slice.duration_ms,
                audio_ms: samples_to_ms(self.ts, self.rate),
            }
        };
        self.last = Some(error.into_io());
    }

    fn fail_not_mp3(&mut self) {
        let pulled = self.chunk_at + self.chunk.len() as u64;
        let scanned = self.scanner.limit().map_or(pulled, |limit| pulled.min(limit));
        self.fail(AudioError::NotMp3 { scanned }.into_io());
    }

    fn fail(&mut self, error: io::Error) {
        self.end_run();
        self.finished = true;
        self.input = None;
        self.publish();
        self.last = Some(error);
    }

    /// Makes the counters visible (once per output chunk, not per frame).
    fn publish(&self) {
        let s = self.stats.inner();
        s.frames_in.store(self.frames_in, Ordering::Relaxed);
        s.frames_out.store(self.frames_out, Ordering::Relaxed);
        s.bytes_out.store(self.bytes_out, Ordering::Relaxed);
        s.ms_out.store(
            samples_to_ms(self.samples_out, self.rate).unsigned_abs(),
            Ordering::Relaxed,
        );
    }
}

impl Stream for Mp3Slicer {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if !this.runtime_checked {
            this.runtime_checked = true;
            if tokio::runtime::Handle::try_current().is_err() {
                this.fail(AudioError::NoRuntime.into_io());
            }
        }
        loop {
            if let Next::Input = this.advance() {
                let Some(input) = this.input.as_mut() else {
                    return Poll::Ready(None);
                };
                match input.poll_next_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(chunk))) => {
                        this.stats
                            .inner()
                            .bytes_in
                            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        this.chunk_at += this.chunk.len() as u64;
                        this.chunk = chunk;
                        this.pos = 0;
                        this.from_chunk = 0;
                        this.stats.hold(this.chunk.len(), this.carry.len());
                    }
                    Poll::Ready(Some(Err(error))) => this.fail(error),
                    Poll::Ready(None) => {
                        this.input_ended = true;
                        // Nothing comes after the chunk: let its memory go.
                        this.chunk_at += this.chunk.len() as u64;
                        this.chunk = Bytes::new();
                        this.pos = 0;
                        // The carry keeps its bytes: there is no chunk to give them back to.
                        this.from_chunk = 0;
                    }
                }
                continue;
            }
            if let Some(chunk) = this.ready.pop_front() {
                this.bytes_out += chunk.len() as u64;
                this.publish();
                return Poll::Ready(Some(Ok(chunk)));
            }
            return Poll::Ready(this.last.take().map(Err));
        }
    }
}

/// Live counters of one slicing stream (cheap to clone; all clones see the same values).
///
/// `peak_buffered_bytes` is the debug counter behind the memory guarantee: the largest sum
/// ever seen of what the slicer itself holds. For [`slice_mp3`]: the input chunk being
/// scanned and the carry buffer. For [`crate::slice_mp3_reference`]: symphonia's 64 KiB
/// ring (allocated up front), the unread part of the input chunk being consumed, the frame
/// in hand, the output chunk being filled and the output chunks waiting in the channel.
#[derive(Debug, Clone, Default)]
pub struct SliceStats(Arc<StatsInner>);

#[derive(Debug, Default)]
pub(crate) struct StatsInner {
    /// Held for the stream's whole life (the reference slicer's ring).
    fixed: AtomicUsize,
    pub(crate) input_chunk: AtomicUsize,
    pub(crate) frame: AtomicUsize,
    pub(crate) batch: AtomicUsize,
    pub(crate) queued: AtomicUsize,
    pub(crate) peak: AtomicUsize,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) frames_in: AtomicU64,
    pub(crate) frames_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) ms_out: AtomicU64,
}

impl SliceStats {
    /// The most bytes held at once so far (see the type's documentation).
    pub fn peak_buffered_bytes(&self) -> usize {
        self.0.peak.load(Ordering::Relaxed)
    }

    /// The guaranteed ceiling of [`SliceStats::peak_buffered_bytes`] when no input chunk is
    /// longer than `max_input_chunk`, for both slicers. It is the reference slicer's: one
    /// ring, one chunk, one frame, and the output chunk being filled plus [`CHANNEL_CAP`]
    /// waiting, plus one blocked in a send. [`slice_mp3`] stays far below it: one chunk and
    /// at most [`MAX_FRAME_LEN`] + 4 carried bytes.
    pub fn buffer_bound(max_input_chunk: usize) -> usize {
        RING_LEN + max_input_chunk + MAX_FRAME_LEN + (CHANNEL_CAP + 2) * OUT_CHUNK
    }

    /// Input bytes pulled so far.
    pub fn bytes_in(&self) -> u64 {
        self.0.bytes_in.load(Ordering::Relaxed)
    }

    /// Audio frames read (emitted or skipped).
    pub fn frames_in(&self) -> u64 {
        self.0.frames_in.load(Ordering::Relaxed)
    }

    /// Frames emitted.
    pub fn frames_out(&self) -> u64 {
        self.0.frames_out.load(Ordering::Relaxed)
    }

    /// Bytes emitted.
    pub fn bytes_out(&self) -> u64 {
        self.0.bytes_out.load(Ordering::Relaxed)
    }

    /// Duration of the emitted frames, in milliseconds (rounded).
    pub fn ms_out(&self) -> u64 {
        self.0.ms_out.load(Ordering::Relaxed)
    }

    pub(crate) fn inner(&self) -> &StatsInner {
        &self.0
    }

    /// Counts `len` bytes as held from now to the end (the reference slicer's ring).
    pub(crate) fn hold_fixed(&self, len: usize) {
        self.0.fixed.store(len, Ordering::Relaxed);
        self.observe();
    }

    /// What [`slice_mp3`] holds now: its input chunk and its carry.
    fn hold(&self, chunk: usize, carry: usize) {
        self.0.input_chunk.store(chunk, Ordering::Relaxed);
        self.set(&self.0.frame, carry);
    }

    pub(crate) fn set(&self, field: &AtomicUsize, value: usize) {
        field.store(value, Ordering::Relaxed);
        self.observe();
    }

    fn observe(&self) {
        let s = &self.0;
        let held = s.fixed.load(Ordering::Relaxed)
            + s.input_chunk.load(Ordering::Relaxed)
            + s.frame.load(Ordering::Relaxed)
            + s.batch.load(Ordering::Relaxed)
            + s.queued.load(Ordering::Relaxed);
        s.peak.fetch_max(held, Ordering::Relaxed);
    }
}

/// Where a frame start lies relative to the span.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    Before,
    Inside,
    After,
}

/// The span `[start, end)` compared exactly against frame starts `ts / rate` seconds.
pub(crate) struct Window {
    start_ms: i128,
    end_ms: i128,
}

impl Window {
    pub(crate) fn new(slice: Slice) -> Self {
        let start_ms = i128::from(slice.offset_ms);
        Window {
            start_ms,
            end_ms: start_ms + i128::from(slice.duration_ms),
        }
    }

    /// The span as frame starts in samples at `rate`: `[first, end)`, where `first` is
    /// the least `ts` with `offset·rate ≤ ts·1000` and `end` the least with
    /// `end_ms·rate ≤ ts·1000` (the same comparisons as [`Window::place`], done once).
    pub(crate) fn in_samples(&self, rate: u32) -> (i128, i128) {
        let rate = i128::from(rate);
        let ceil = |ms: i128| {
            let scaled = ms * rate;
            scaled.div_euclid(1000) + i128::from(scaled.rem_euclid(1000) != 0)
        };
        (ceil(self.start_ms), ceil(self.end_ms))
    }

    /// `offset ≤ ts/rate·1000 < end`, compared as `offset·rate ≤ ts·1000 < end·rate`.
    pub(crate) fn place(&self, ts: u64, rate: u32) -> Placement {
        let t = i128::from(ts) * 1000;
        let rate = i128::from(rate);
        if t < self.start_ms * rate {
            Placement::Before
        } else if t < self.end_ms * rate {
            Placement::Inside
        } else {
            Placement::After
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_starting_exactly_at_the_offset_is_inside_and_one_at_the_end_is_after() {
        let window = Window::new(Slice::new(72, 36));
        // 16 kHz, 576 samples per frame = 36 ms per frame.
        assert_eq!(window.place(576, 16_000), Placement::Before);
        assert_eq!(window.place(1152, 16_000), Placement::Inside);
        assert_eq!(window.place(1728, 16_000), Placement::After);
    }

    #[test]
    fn frame_starts_are_compared_without_rounding() {
        // 1152 samples at 44.1 kHz = 26.122… ms: inside [26, 27), not inside [27, 28).
        assert_eq!(Window::new(Slice::new(26, 1)).place(1152, 44_100), Placement::Inside);
        assert_eq!(Window::new(Slice::new(27, 1)).place(1152, 44_100), Placement::Before);
        assert_eq!(Window::new(Slice::new(25, 1)).place(1152, 44_100), Placement::After);
    }

    #[test]
    fn the_span_in_samples_places_frames_as_place_does() {
        for (offset, duration) in [(72, 36), (26, 1), (27, 1), (-100, 136), (-7, 3), (0, 1), (1234, 2000)] {
            let window = Window::new(Slice::new(offset, duration));
            for rate in [8_000, 11_025, 16_000, 44_100] {
                let (first, end) = window.in_samples(rate);
                for ts in 0..200_000u64 {
                    let expected = window.place(ts, rate);
                    let t = i128::from(ts);
                    let got = if t < first {
                        Placement::Before
                    } else if t < end {
                        Placement::Inside
                    } else {
                        Placement::After
                    };
                    assert_eq!(got, expected, "[{offset}, +{duration}) at {rate} Hz, ts {ts}");
                }
            }
        }
    }

    #[test]
    fn a_negative_offset_starts_the_span_before_the_audio() {
        let window = Window::new(Slice::new(-100, 136));
        assert_eq!(window.place(0, 16_000), Placement::Inside);
        assert_eq!(window.place(576, 16_000), Placement::After);
    }

    #[test]
    fn the_bound_covers_ring_chunk_frame_and_output() {
        assert_eq!(
            SliceStats::buffer_bound(0),
            RING_LEN + MAX_FRAME_LEN + (CHANNEL_CAP + 2) * OUT_CHUNK
        );
    }
}
