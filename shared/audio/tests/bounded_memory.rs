//! Memory stays bounded whatever the file size: a long synthetic recording is streamed
//! through `slice_mp3` while a counting allocator watches every heap byte of the process.
//! (One test only: it measures the whole process, so nothing may run beside it.)

use std::time::Instant;

use futures::StreamExt;
use wfo_audio::synthetic::SilentMp3;
use wfo_audio::{ByteStream, Slice, SliceStats, counted, slice_mp3_with_stats};

#[path = "support/counting.rs"]
#[allow(dead_code)]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const MAX_CHUNK: usize = 64 * 1024;

/// Input chunks of varying length (1 byte to 64 KiB), like a network body.
fn varying_chunks(stream: ByteStream) -> ByteStream {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    stream
        .flat_map(move |item| {
            let parts: Vec<_> = match item {
                Ok(mut chunk) => {
                    let mut parts = Vec::new();
                    while !chunk.is_empty() {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        let len = (state % MAX_CHUNK as u64) as usize + 1;
                        parts.push(Ok(chunk.split_to(len.min(chunk.len()))));
                    }
                    parts
                }
                Err(error) => vec![Err(error)],
            };
            futures::stream::iter(parts)
        })
        .boxed()
}

struct Run {
    bytes_in: u64,
    bytes_out: u64,
    peak_buffered: usize,
    heap_growth: usize,
    secs: f64,
}

/// Streams `megabytes` of 44.1 kHz 128 kbit/s frames through a slice covering all of them.
fn stream_through(megabytes: u64) -> Run {
    let shape = SilentMp3::new(44_100, 128, false).expect("shape");
    let frames = megabytes * 1024 * 1024 / 418;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let input = varying_chunks(shape.stream(frames, MAX_CHUNK));
    let (input, input_count) = counted(input);
    let (mut output, stats) = slice_mp3_with_stats(input, Slice::new(0, i64::MAX / 2));

    let baseline = counting::baseline();
    let started = Instant::now();
    let bytes_out = rt.block_on(async {
        let mut total = 0u64;
        while let Some(chunk) = output.next().await {
            total += chunk.expect("no error").len() as u64;
        }
        total
    });
    let secs = started.elapsed().as_secs_f64();
    let heap_growth = counting::growth_since(baseline);
    assert_eq!(stats.frames_out(), frames);
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
        "every byte is a frame and every frame is in the span"
    );
    let bound = SliceStats::buffer_bound(MAX_CHUNK);
    assert!(
        run.peak_buffered <= bound,
        "internal buffers peaked at {} > {bound}",
        run.peak_buffered
    );
    // Everything the process allocated on top of the baseline: the slicer's buffers, the next
    // input chunk being generated, and the blocking thread's and channel's bookkeeping.
    let heap_bound = bound + MAX_CHUNK + 32 * 1024;
    assert!(
        run.heap_growth <= heap_bound,
        "heap grew by {} > {heap_bound}",
        run.heap_growth
    );
}

#[test]
fn streaming_200_mb_holds_as_much_memory_as_streaming_16_mb() {
    let small = stream_through(16);
    check(&small, 16);
    let large = stream_through(200);
    check(&large, 200);
    // 32 KiB of slack: allocator and thread bookkeeping alone moved the figure by 16.5 KiB
    // between two runs on a loaded machine; growth with the input would be megabytes.
    assert!(
        large.heap_growth <= small.heap_growth + 32 * 1024,
        "memory grew with the input: {} B for 16 MB, {} B for 200 MB",
        small.heap_growth,
        large.heap_growth
    );
}
