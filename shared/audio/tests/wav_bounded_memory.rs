//! WAV slicing holds the same memory whatever the file size: long recordings are streamed
//! through `slice_wav` while a counting allocator watches every heap byte of the process.
//! (One test only: it measures the whole process, so nothing may run beside it.)

use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use wfo_audio::synthetic::PcmWav;
use wfo_audio::{ByteStream, Slice, WavStats, counted, pcm_header, slice_wav_with_stats, wav_format};

#[path = "support/counting.rs"]
#[allow(dead_code)]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const MAX_CHUNK: usize = 64 * 1024;

/// A Contact Center WAV of `megabytes` of audio, as chunks of 1 byte to 64 KiB, each a
/// fresh allocation (as a network body's are), copied from a 64 KiB pattern of real
/// samples: nothing of the file exists before it is polled.
fn long_wav(megabytes: u64) -> (ByteStream, u64) {
    let shape = PcmWav::contact_center();
    let data_len = megabytes * 1_000_000 / 4 * 4;
    let pattern = Bytes::from(shape.bytes(MAX_CHUNK as u64 / 4)).slice(44..);
    let header = pcm_header(
        &wav_format(&shape.bytes(0)).expect("a canonical header"),
        data_len as u32,
    );
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut sent = 0u64;
    let audio = futures::stream::poll_fn(move |_| {
        if sent >= data_len {
            return std::task::Poll::Ready(None);
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = ((state % MAX_CHUNK as u64) + 1).min(data_len - sent) as usize;
        let at = (sent % pattern.len() as u64) as usize;
        let len = len.min(pattern.len() - at);
        sent += len as u64;
        std::task::Poll::Ready(Some(Ok(Bytes::copy_from_slice(&pattern[at..at + len]))))
    });
    let stream = futures::stream::iter([Ok(Bytes::copy_from_slice(&header))])
        .chain(audio)
        .boxed();
    (stream, 44 + data_len)
}

struct Run {
    bytes_in: u64,
    bytes_out: u64,
    peak_buffered: usize,
    heap_growth: usize,
    secs: f64,
}

fn stream_through(megabytes: u64) -> Run {
    let (input, len) = long_wav(megabytes);
    let (input, input_count) = counted(input);
    let (mut output, stats) = slice_wav_with_stats(input, Slice::new(0, i64::MAX / 2), None);

    let baseline = counting::baseline();
    let started = Instant::now();
    let bytes_out = futures::executor::block_on(async {
        let mut total = 0u64;
        while let Some(chunk) = output.next().await {
            total += chunk.expect("no error").len() as u64;
        }
        total
    });
    let secs = started.elapsed().as_secs_f64();
    let heap_growth = counting::growth_since(baseline);
    assert_eq!(input_count.bytes(), len);
    assert_eq!(stats.frames_out(), (len - 44) / 4);
    Run {
        bytes_in: input_count.bytes(),
        bytes_out,
        peak_buffered: stats.peak_buffered_bytes(),
        heap_growth,
        secs,
    }
}

fn check(run: &Run, megabytes: u64) {
    eprintln!(
        "{megabytes} MB: {} bytes in, {} out, peak buffered {} B, heap growth {} B, {:.2} s",
        run.bytes_in, run.bytes_out, run.peak_buffered, run.heap_growth, run.secs
    );
    assert_eq!(
        run.bytes_in, run.bytes_out,
        "the whole span: every byte out, with a new header"
    );
    let bound = WavStats::buffer_bound(MAX_CHUNK);
    assert!(
        run.peak_buffered <= bound,
        "the slicer held {} > {bound}",
        run.peak_buffered
    );
    // Everything the process allocated on top of the baseline: the chunk in the slicer's
    // hand, the next one being made, the output header and bookkeeping.
    let heap_bound = bound + MAX_CHUNK + 16 * 1024;
    assert!(
        run.heap_growth <= heap_bound,
        "heap grew by {} > {heap_bound}",
        run.heap_growth
    );
}

#[test]
fn slicing_a_200_mb_wav_holds_as_much_memory_as_slicing_a_16_mb_one() {
    let small = stream_through(16);
    check(&small, 16);
    let large = stream_through(200);
    check(&large, 200);
    assert!(
        large.heap_growth <= small.heap_growth + 16 * 1024,
        "memory grew with the input: {} B for 16 MB, {} B for 200 MB",
        small.heap_growth,
        large.heap_growth
    );
}
