//! Throughput of the audio path over 60-minute recordings, and the memory it holds.
//!
//! Inputs (built once, in memory, fed as 64 KiB chunks):
//! - `phone`: one minute of a LAME-encoded tone (16 kHz mono 32 kbit/s, real frame bodies)
//!   repeated to 60 minutes, 14.4 MB;
//! - `music`: 60 minutes of synthetic 44.1 kHz stereo 128 kbit/s frames, 57.6 MB.
//!
//! Benchmarks: `slice_last_10min` (the slicer must walk the whole file),
//! `slice_last_10min_reference` (the same through `slice_mp3_reference`, the symphonia
//! slicer it replaced), `slice_first_10min` (it stops reading after the span), and
//! `counted` (whole-file pass-through). After the
//! timings, one more run of each input (and one of 200 MB) prints the slicer's peak
//! buffered bytes and the process's peak heap growth, measured by a counting allocator.
//!
//! WAV (`audio_path/wav_cc_120min`): a 2-hour Contact Center capture, 8 kHz 16-bit stereo,
//! 230.4 MB, generated while it is read (64 KiB chunks, each a fresh allocation copied from
//! a 64 KiB pattern of samples, as a network body's chunks are: the file never exists in
//! memory). `slice_whole`, `slice_last_10min` (walks the file), `slice_first_10min` (stops
//! after the span), and `copy`: the same bytes through the same stream and `counted`, with
//! no slicer, the physical limit the slicer is compared to. `memory/wav_cc_120min` prints
//! the slicer's and the plain copy's peak heap growth side by side.
//!
//! Run: `cargo bench -p wfo-audio --bench audio_path` (`-- wav` for the WAV part). The
//! network path against curl is `benches/relay.rs`.
//!
//! Measured (release, 2 shared cores at load 4, 2026-11-30), MP3 with the hand-written
//! scanner: `phone_60min/slice_last_10min` 6.4 ms (2.09 GiB/s; 100 000 frames of 144
//! bytes), against 20.4 ms (675 MiB/s) for `slice_last_10min_reference`; `music_60min`
//! 15.2 ms (3.53 GiB/s). Sliced whole with the counters on: phone 2.9 GB/s, music
//! 3.9 GB/s, 200 MB synthetic 5.7 GB/s; peak buffered 65 954 B (one 64 KiB input chunk
//! and one carried frame; bound 199 489 B), peak heap growth 144 B (phone: one carried
//! frame; the input is already in memory) to 132 015 B (200 MB generated as it is read:
//! the chunk being made and the one being scanned).
//!
//! Measured (release, 2 shared cores, 2026-11-30): WAV `slice_whole` 104 ms (2.07 GiB/s),
//! `slice_last_10min` 117 ms (1.84 GiB/s), `slice_first_10min` 10 ms (reads 10 minutes),
//! `copy` 138 ms (1.56 GiB/s): the slicer runs at the speed of the plain copy (the two
//! differ by less than the machine's noise; both are bound by making the input), because
//! its output chunks are views of the input's. Peak buffered 65 536 B (one input chunk;
//! bound 65 620 B) and peak heap growth 65 356 B, the same as the copy's 65 492 B.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use mp3lame_encoder::{Bitrate, Builder, FlushGap, MonoPcm, Quality};
use wfo_audio::synthetic::{PcmWav, SilentMp3};
use wfo_audio::{
    ByteStream, Slice, SliceStats, WavStats, counted, pcm_header, slice_mp3, slice_mp3_reference, slice_mp3_with_stats,
    slice_wav, slice_wav_with_stats, wav_format,
};

#[path = "../tests/support/counting.rs"]
#[allow(dead_code)]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

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
        group.bench_function("slice_last_10min_reference", |b| {
            b.iter(|| {
                rt.block_on(drain(slice_mp3_reference(
                    chunks(&data),
                    Slice::new(50 * 60_000, 10 * 60_000),
                )))
            })
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
    let baseline = counting::baseline();
    let started = Instant::now();
    let out = rt.block_on(drain(stream));
    let secs = started.elapsed().as_secs_f64();
    let growth = counting::growth_since(baseline);
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

/// Two hours of Contact Center audio (8 kHz, 16-bit, stereo), generated as it is polled.
fn wav_2h() -> (ByteStream, u64) {
    let shape = PcmWav::contact_center();
    let data_len = 2 * HOUR_MS as u64 * 8 * 4;
    let pattern = Bytes::from(shape.bytes(CHUNK as u64 / 4)).slice(44..);
    let format = wav_format(&shape.bytes(0)).expect("a canonical header");
    let header = Bytes::copy_from_slice(&pcm_header(&format, data_len as u32));
    let mut sent = 0u64;
    let audio = futures::stream::poll_fn(move |_| {
        if sent >= data_len {
            return std::task::Poll::Ready(None);
        }
        let len = (pattern.len() as u64).min(data_len - sent) as usize;
        sent += len as u64;
        std::task::Poll::Ready(Some(Ok(Bytes::copy_from_slice(&pattern[..len]))))
    });
    (futures::stream::iter([Ok(header)]).chain(audio).boxed(), 44 + data_len)
}

fn bench_wav(c: &mut Criterion) {
    let rt = runtime();
    let len = wav_2h().1;
    let mut group = c.benchmark_group("audio_path/wav_cc_120min");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(len));
    group.bench_function("slice_whole", |b| {
        b.iter(|| rt.block_on(drain(slice_wav(wav_2h().0, Slice::new(0, 2 * HOUR_MS), None))))
    });
    group.bench_function("slice_last_10min", |b| {
        b.iter(|| {
            rt.block_on(drain(slice_wav(
                wav_2h().0,
                Slice::new(110 * 60_000, 10 * 60_000),
                None,
            )))
        })
    });
    group.bench_function("slice_first_10min", |b| {
        b.iter(|| rt.block_on(drain(slice_wav(wav_2h().0, Slice::new(0, 10 * 60_000), None))))
    });
    group.bench_function("copy", |b| {
        b.iter(|| {
            let (stream, handle) = counted(wav_2h().0);
            let total = rt.block_on(drain(stream));
            black_box(handle.check_len(total).expect("length"))
        })
    });
    group.finish();
}

/// One run of each with the counters on: what the WAV slicer held and what the process
/// allocated, against a plain copy of the same bytes.
fn bench_wav_memory(_c: &mut Criterion) {
    let rt = runtime();
    let measure = |name: &str, stream: ByteStream, stats: Option<WavStats>, input_len: u64| {
        let baseline = counting::baseline();
        let started = Instant::now();
        let out = rt.block_on(drain(stream));
        let secs = started.elapsed().as_secs_f64();
        let growth = counting::growth_since(baseline);
        let held = stats.map_or_else(
            || "-".to_owned(),
            |s| {
                format!(
                    "{} B (bound {} B)",
                    s.peak_buffered_bytes(),
                    WavStats::buffer_bound(CHUNK)
                )
            },
        );
        println!(
            "{name}: {:.1} MB in {secs:.3} s ({:.0} MB/s); {out} bytes out; peak buffered {held}; peak heap growth {growth} B",
            input_len as f64 / 1e6,
            input_len as f64 / 1e6 / secs,
        );
    };
    let (input, len) = wav_2h();
    let (stream, stats) = slice_wav_with_stats(input, Slice::new(0, 2 * HOUR_MS), None);
    measure("memory/wav_cc_120min/slice_whole", stream, Some(stats), len);
    let (input, len) = wav_2h();
    let (stream, stats) = slice_wav_with_stats(input, Slice::new(110 * 60_000, 10 * 60_000), None);
    measure("memory/wav_cc_120min/slice_last_10min", stream, Some(stats), len);
    let (input, len) = wav_2h();
    measure("memory/wav_cc_120min/copy", counted(input).0, None, len);
}

criterion_group!(benches, bench_audio_path, bench_memory, bench_wav, bench_wav_memory);
criterion_main!(benches);
