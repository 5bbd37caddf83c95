//! Throughput of the audio path over 60-minute recordings, and the memory it holds.
//!
//! Inputs (built once, in memory, fed as 64 KiB chunks):
//! - `phone`: one minute of a LAME-encoded tone (16 kHz mono 32 kbit/s, real frame bodies)
//!   repeated to 60 minutes, 14.4 MB;
//! - `music`: 60 minutes of synthetic 44.1 kHz stereo 128 kbit/s frames, 57.6 MB.
//!
//! Benchmarks: `slice_last_10min` (the slicer must walk the whole file), `slice_first_10min`
//! (it stops reading after the span), and `counted` (whole-file pass-through). After the
//! timings, one more run of each input (and one of 200 MB) prints the slicer's peak
//! buffered bytes and the process's peak heap growth, measured by a counting allocator.
//!
//! Run: `cargo bench -p wfo-audio --bench audio_path`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use mp3lame_encoder::{Bitrate, Builder, FlushGap, MonoPcm, Quality};
use wfo_audio::synthetic::SilentMp3;
use wfo_audio::{ByteStream, Slice, SliceStats, counted, slice_mp3, slice_mp3_with_stats};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CHUNK: usize = 64 * 1024;
const HOUR_MS: i64 = 3_600_000;

fn lame_minute() -> Vec<u8> {
    let mut builder = Builder::new().expect("LAME builder");
    builder.set_num_channels(1).expect("channels");
    builder.set_sample_rate(16_000).expect("sample rate");
    builder.set_brate(Bitrate::Kbps32).expect("bitrate");
    builder.set_quality(Quality::Good).expect("quality");
    builder.set_to_write_vbr_tag(false).expect("vbr tag");
    let mut encoder = builder.build().expect("LAME encoder");
    let pcm: Vec<i16> = (0..16_000 * 60)
        .map(|i| ((f64::from(i) / 16_000.0 * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16)
        .collect();
    let mut out = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(pcm.len()));
    encoder.encode_to_vec(MonoPcm(&pcm), &mut out).expect("encode");
    out.reserve(7200);
    encoder.flush_to_vec::<FlushGap>(&mut out).expect("flush");
    out
}

fn phone_hour() -> Bytes {
    let minute = lame_minute();
    Bytes::from(minute.repeat(60))
}

fn music_hour() -> Bytes {
    let shape = SilentMp3::new(44_100, 128, false).expect("shape");
    Bytes::from(shape.bytes(shape.frames_for(HOUR_MS as u64)))
}

fn chunks(data: &Bytes) -> ByteStream {
    let data = data.clone();
    let count = data.len().div_ceil(CHUNK);
    futures::stream::iter((0..count).map(move |i| Ok(data.slice(i * CHUNK..((i + 1) * CHUNK).min(data.len()))))).boxed()
}

async fn drain(mut stream: ByteStream) -> u64 {
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += chunk.expect("no error").len() as u64;
    }
    total
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn bench_audio_path(c: &mut Criterion) {
    let rt = runtime();
    for (name, data) in [("phone", phone_hour()), ("music", music_hour())] {
        let mut group = c.benchmark_group(format!("audio_path/{name}_60min"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(8));
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function("slice_last_10min", |b| {
            b.iter(|| rt.block_on(drain(slice_mp3(chunks(&data), Slice::new(50 * 60_000, 10 * 60_000)))))
        });
        group.bench_function("slice_first_10min", |b| {
            b.iter(|| rt.block_on(drain(slice_mp3(chunks(&data), Slice::new(0, 10 * 60_000)))))
        });
        group.bench_function("counted", |b| {
            b.iter(|| {
                let (stream, handle) = counted(chunks(&data));
                let total = rt.block_on(drain(stream));
                black_box(handle.check_len(total).expect("length"))
            })
        });
        group.finish();
    }
}

/// One run with the counters on: what the slicer held, and what the process allocated.
fn report_memory(name: &str, input: ByteStream, input_len: u64) {
    let rt = runtime();
    let (stream, stats) = slice_mp3_with_stats(input, Slice::new(0, i64::MAX / 2));
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let started = Instant::now();
    let out = rt.block_on(drain(stream));
    let secs = started.elapsed().as_secs_f64();
    let growth = PEAK.load(Ordering::Relaxed) - baseline;
    println!(
        "{name}: {:.1} MB sliced whole in {secs:.2} s ({:.0} MB/s); {out} bytes out; peak buffered {} B \
         (bound {} B); peak heap growth {} B",
        input_len as f64 / 1e6,
        input_len as f64 / 1e6 / secs,
        stats.peak_buffered_bytes(),
        SliceStats::buffer_bound(CHUNK),
        growth,
    );
}

fn bench_memory(_c: &mut Criterion) {
    let phone = phone_hour();
    report_memory("memory/phone_60min", chunks(&phone), phone.len() as u64);
    drop(phone);
    let music = music_hour();
    report_memory("memory/music_60min", chunks(&music), music.len() as u64);
    drop(music);
    // 200 MB generated on the fly: nothing of it exists before it is streamed.
    let shape = SilentMp3::new(44_100, 128, false).expect("shape");
    let frames = 200 * 1_000_000 / 418;
    let len: u64 = shape.frame_lens().take(frames).map(|l| l as u64).sum();
    report_memory("memory/synthetic_200MB", shape.stream(frames as u64, CHUNK), len);
}

criterion_group!(benches, bench_audio_path, bench_memory);
criterion_main!(benches);
