//! Frame-accurate MP3 slicing as a bounded-memory stream.
//!
//! The input is pulled through symphonia's demuxer ([`crate::frames`]) on a tokio blocking
//! thread: the demuxer reads with `std::io::Read`, and the reader behind it waits for the
//! next input chunk with `Handle::block_on` (what `tokio_util::io::SyncIoBridge` does, with
//! the held chunk made visible to [`SliceStats`]). Selected frames are copied into output
//! chunks of at most [`OUT_CHUNK`] bytes and handed to the async side through a channel of
//! [`CHANNEL_CAP`] chunks, so a slow consumer stops the worker, which stops reading input.
//! Dropping the output stream stops the worker at its next send or input chunk.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::frames::{self, FrameReader, MAX_FRAME_LEN, RING_LEN, ReadError, samples_to_ms};
use crate::{AudioError, ByteStream};

/// Largest output chunk: consecutive selected frames are sent together up to this size.
pub const OUT_CHUNK: usize = 16 * 1024;

/// Output chunks that may wait between the worker and the consumer.
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
/// At most [`SliceStats::buffer_bound`] bytes are held, whatever the file size: symphonia's
/// 64 KiB ring, the input chunk being read, one frame, and the output chunks in flight.
///
/// The stream must be polled inside a tokio runtime (it starts a blocking task on first
/// poll); elsewhere it yields [`AudioError::NoRuntime`].
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
    let start = State::Start {
        input,
        slice,
        stats: stats.clone(),
    };
    let stream = futures::stream::unfold(start, |state| async move {
        let (mut rx, worker, stats) = match state {
            State::Done => return None,
            State::Running { rx, worker, stats } => (rx, worker, stats),
            State::Start { input, slice, stats } => match Handle::try_current() {
                Err(_) => return Some((Err(AudioError::NoRuntime.into_io()), State::Done)),
                Ok(handle) => {
                    let (tx, rx) = mpsc::channel(CHANNEL_CAP);
                    let worker_stats = stats.clone();
                    let worker = tokio::task::spawn_blocking(move || {
                        let input = BlockingInput::new(input, handle, worker_stats.clone());
                        run_worker(input, slice, &tx, &worker_stats);
                    });
                    (rx, worker, stats)
                }
            },
        };
        match rx.recv().await {
            Some(item) => {
                if let Ok(chunk) = &item {
                    stats.0.queued.fetch_sub(chunk.len(), Ordering::Relaxed);
                }
                Some((item, State::Running { rx, worker, stats }))
            }
            None => match worker.await {
                Ok(()) => None,
                Err(error) => Some((Err(AudioError::Worker(error.to_string()).into_io()), State::Done)),
            },
        }
    });
    (stream.boxed(), stats)
}

enum State {
    Start {
        input: ByteStream,
        slice: Slice,
        stats: SliceStats,
    },
    Running {
        rx: mpsc::Receiver<io::Result<Bytes>>,
        worker: JoinHandle<()>,
        stats: SliceStats,
    },
    Done,
}

/// Live counters of one slicing stream (cheap to clone; all clones see the same values).
///
/// `peak_buffered_bytes` is the debug counter behind the memory guarantee: the largest sum
/// ever seen of symphonia's 64 KiB ring (allocated up front), the unread part of the
/// input chunk being consumed, the frame in hand, the output chunk being filled and the
/// output chunks waiting in the channel.
#[derive(Debug, Clone, Default)]
pub struct SliceStats(Arc<StatsInner>);

#[derive(Debug, Default)]
struct StatsInner {
    input_chunk: AtomicUsize,
    frame: AtomicUsize,
    batch: AtomicUsize,
    queued: AtomicUsize,
    peak: AtomicUsize,
    bytes_in: AtomicU64,
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    bytes_out: AtomicU64,
    ms_out: AtomicU64,
}

impl SliceStats {
    /// The most bytes held at once so far (see the type's documentation).
    pub fn peak_buffered_bytes(&self) -> usize {
        self.0.peak.load(Ordering::Relaxed)
    }

    /// The guaranteed ceiling of [`SliceStats::peak_buffered_bytes`] when no input chunk is
    /// longer than `max_input_chunk`: one ring, one chunk, one frame, and the output chunk
    /// being filled plus [`CHANNEL_CAP`] waiting, plus one blocked in a send.
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

    fn set(&self, field: &AtomicUsize, value: usize) {
        field.store(value, Ordering::Relaxed);
        self.observe();
    }

    fn observe(&self) {
        let s = &self.0;
        let held = RING_LEN
            + s.input_chunk.load(Ordering::Relaxed)
            + s.frame.load(Ordering::Relaxed)
            + s.batch.load(Ordering::Relaxed)
            + s.queued.load(Ordering::Relaxed);
        s.peak.fetch_max(held, Ordering::Relaxed);
    }
}

/// Blocking `Read` over the async input: waits for each chunk with `Handle::block_on`.
struct BlockingInput {
    stream: ByteStream,
    handle: Handle,
    chunk: Bytes,
    state: InputState,
    stats: SliceStats,
}

#[derive(PartialEq, Eq)]
enum InputState {
    Open,
    Ended,
    Failed,
}

impl BlockingInput {
    fn new(stream: ByteStream, handle: Handle, stats: SliceStats) -> Self {
        BlockingInput {
            stream,
            handle,
            chunk: Bytes::new(),
            state: InputState::Open,
            stats,
        }
    }
}

impl Read for BlockingInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.state {
                InputState::Ended => return Ok(0),
                InputState::Failed => {
                    return Err(io::Error::other("the input stream already failed"));
                }
                InputState::Open => {}
            }
            match self.handle.block_on(self.stream.next()) {
                Some(Ok(chunk)) => {
                    self.stats.0.bytes_in.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    self.chunk = chunk;
                    self.stats.set(&self.stats.0.input_chunk, self.chunk.len());
                }
                Some(Err(error)) => {
                    self.state = InputState::Failed;
                    return Err(error);
                }
                None => self.state = InputState::Ended,
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        if self.chunk.is_empty() {
            // Let the chunk's memory go now, not when the next one has arrived.
            self.chunk = Bytes::new();
        }
        self.stats.0.input_chunk.store(self.chunk.len(), Ordering::Relaxed);
        Ok(n)
    }
}

/// Why the worker stopped early.
enum Stop {
    /// Send this as the stream's last item.
    Fail(io::Error),
    /// The consumer dropped the stream: nobody to tell.
    Cancelled,
}

impl From<ReadError> for Stop {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Input(e) => Stop::Fail(e),
            ReadError::Audio(e) => Stop::Fail(e.into_io()),
        }
    }
}

impl From<AudioError> for Stop {
    fn from(error: AudioError) -> Self {
        Stop::Fail(error.into_io())
    }
}

fn run_worker(input: BlockingInput, slice: Slice, tx: &mpsc::Sender<io::Result<Bytes>>, stats: &SliceStats) {
    if let Err(Stop::Fail(error)) = slice_frames(input, slice, tx, stats) {
        // If the consumer is gone, nobody is left to tell.
        let _ = tx.blocking_send(Err(error));
    }
}

/// Where a frame start lies relative to the span.
#[derive(Debug, PartialEq, Eq)]
enum Placement {
    Before,
    Inside,
    After,
}

/// The span `[start, end)` compared exactly against frame starts `ts / rate` seconds.
struct Window {
    start_ms: i128,
    end_ms: i128,
}

impl Window {
    fn new(slice: Slice) -> Self {
        let start_ms = i128::from(slice.offset_ms);
        Window {
            start_ms,
            end_ms: start_ms + i128::from(slice.duration_ms),
        }
    }

    /// `offset ≤ ts/rate·1000 < end`, compared as `offset·rate ≤ ts·1000 < end·rate`.
    fn place(&self, ts: u64, rate: u32) -> Placement {
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

fn slice_frames(
    input: BlockingInput,
    slice: Slice,
    tx: &mpsc::Sender<io::Result<Bytes>>,
    stats: &SliceStats,
) -> Result<(), Stop> {
    let mut frames = FrameReader::open(input)?;
    let rate = frames.sample_rate();
    let window = Window::new(slice);
    let mut batch = BytesMut::with_capacity(OUT_CHUNK);
    let mut audio_end = 0u64;
    let mut frame_dur = 0u64;
    let mut samples_out = 0u64;
    let mut past_span = false;

    while let Some(frame) = frames.next_frame()? {
        stats.set(&stats.0.frame, frame.data.len());
        stats.0.frames_in.fetch_add(1, Ordering::Relaxed);
        audio_end = frame.ts + frame.dur;
        frame_dur = frame.dur;
        match window.place(frame.ts, rate) {
            Placement::Before => {}
            Placement::After => {
                past_span = true;
                break;
            }
            Placement::Inside => {
                if batch.len() + frame.data.len() > OUT_CHUNK {
                    send(tx, &mut batch, stats)?;
                }
                batch.extend_from_slice(&frame.data);
                stats.set(&stats.0.batch, batch.len());
                samples_out += frame.dur;
                stats.0.frames_out.fetch_add(1, Ordering::Relaxed);
                stats
                    .0
                    .ms_out
                    .store(samples_to_ms(samples_out, rate).unsigned_abs(), Ordering::Relaxed);
            }
        }
    }
    stats.set(&stats.0.frame, 0);
    if !batch.is_empty() {
        send(tx, &mut batch, stats)?;
    }
    if stats.frames_out() > 0 {
        return Ok(());
    }
    let error = if past_span {
        AudioError::SliceBetweenFrames {
            offset_ms: slice.offset_ms,
            duration_ms: slice.duration_ms,
            frame_ms: frames::samples_to_ms(frame_dur, rate),
        }
    } else {
        AudioError::SliceBeyondEnd {
            offset_ms: slice.offset_ms,
            duration_ms: slice.duration_ms,
            audio_ms: samples_to_ms(audio_end, rate),
        }
    };
    Err(error.into())
}

fn send(tx: &mpsc::Sender<io::Result<Bytes>>, batch: &mut BytesMut, stats: &SliceStats) -> Result<(), Stop> {
    let chunk = std::mem::replace(batch, BytesMut::with_capacity(OUT_CHUNK)).freeze();
    let len = chunk.len();
    stats.0.bytes_out.fetch_add(len as u64, Ordering::Relaxed);
    // Counted as queued while blocked in the send: it is held either way.
    stats.0.queued.fetch_add(len, Ordering::Relaxed);
    stats.set(&stats.0.batch, 0);
    tx.blocking_send(Ok(chunk)).map_err(|_| Stop::Cancelled)
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
