//! The symphonia-based MP3 slicer, kept as the oracle of the hand-written one
//! ([`crate::slice_mp3`]) and as the baseline of the benchmarks.
//!
//! The input is pulled through symphonia's demuxer ([`crate::frames`]) on a tokio blocking
//! thread: the demuxer reads with `std::io::Read`, and the reader behind it waits for the
//! next input chunk with `Handle::block_on` (what `tokio_util::io::SyncIoBridge` does, with
//! the held chunk made visible to [`SliceStats`]). Selected frames are copied into output
//! chunks of at most [`OUT_CHUNK`] bytes and handed to the async side through a channel of
//! [`CHANNEL_CAP`] chunks, so a slow consumer stops the worker, which stops reading input.
//! Dropping the output stream stops the worker at its next send or input chunk.
//!
//! Every frame costs a packet allocation, a copy and a few atomic updates, and every output
//! chunk a hand-off between threads: about a third of the hand-written slicer's speed.

use std::io::{self, Read};
use std::sync::atomic::Ordering;

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::frames::{self, FrameReader, RING_LEN, ReadError, samples_to_ms};
use crate::slice::{CHANNEL_CAP, OUT_CHUNK, Placement, Window};
use crate::{AudioError, ByteStream, Slice, SliceStats};

/// [`crate::slice_mp3`] as it was before the hand-written scanner: the same frames, the
/// same errors (an input error may come out up to [`OUT_CHUNK`] bytes of frames earlier),
/// the same memory bound, through symphonia's demuxer on a blocking thread.
pub fn slice_mp3_reference(input: ByteStream, slice: Slice) -> ByteStream {
    slice_mp3_reference_with_stats(input, slice).0
}

/// [`slice_mp3_reference`], plus its live counters.
pub fn slice_mp3_reference_with_stats(input: ByteStream, slice: Slice) -> (ByteStream, SliceStats) {
    let stats = SliceStats::default();
    stats.hold_fixed(RING_LEN);
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
                    stats.inner().queued.fetch_sub(chunk.len(), Ordering::Relaxed);
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
                    self.stats
                        .inner()
                        .bytes_in
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    self.chunk = chunk;
                    self.stats.set(&self.stats.inner().input_chunk, self.chunk.len());
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
        self.stats
            .inner()
            .input_chunk
            .store(self.chunk.len(), Ordering::Relaxed);
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
        stats.set(&stats.inner().frame, frame.data.len());
        stats.inner().frames_in.fetch_add(1, Ordering::Relaxed);
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
                stats.set(&stats.inner().batch, batch.len());
                samples_out += frame.dur;
                stats.inner().frames_out.fetch_add(1, Ordering::Relaxed);
                stats
                    .inner()
                    .ms_out
                    .store(samples_to_ms(samples_out, rate).unsigned_abs(), Ordering::Relaxed);
            }
        }
    }
    stats.set(&stats.inner().frame, 0);
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
    stats.inner().bytes_out.fetch_add(len as u64, Ordering::Relaxed);
    // Counted as queued while blocked in the send: it is held either way.
    stats.inner().queued.fetch_add(len, Ordering::Relaxed);
    stats.set(&stats.inner().batch, 0);
    tx.blocking_send(Ok(chunk)).map_err(|_| Stop::Cancelled)
}
