//! The audio path end to end over loopback HTTP, against `curl SRC | curl -T - DST`.
//!
//! A loopback server (in this process, its own tokio runtime) serves a 200 MiB recording
//! from memory (`GET /mp3`, `GET /wav`: 64 KiB views of one buffer, `Content-Length`
//! set) and takes uploads into a sink that counts and discards them (`PUT /sink`). Each
//! round runs, one after the other, for MP3 and for WAV:
//!
//! - `curl`: `curl -s SRC | curl -s -T - DST` (two child processes and a pipe: the plain
//!   copy the project's path is compared to);
//! - `sliced`: reqwest's download stream → [`slice_mp3`] / [`slice_wav`] (from minute 1 to
//!   one minute before the end) → reqwest's streaming upload;
//! - `whole`: reqwest's download stream → [`counted`] → reqwest's streaming upload;
//! - `sliced_reference` (MP3): as `sliced`, through [`slice_mp3_reference`] (symphonia on
//!   a blocking thread, the slicer before the hand-written scanner), for comparison.
//!
//! The project's paths run in a child process (this binary again, told what to do by
//! environment variables), so that each has a fresh process whose peak RSS (`VmHWM` of
//! `/proc/self/status`, read at its end; the kernel cannot reset it) is that transfer's
//! alone; the child also prints `VmHWM` before the transfer (runtime and HTTP client
//! built). Speeds are the recording's size over the wall time from spawning the child(ren)
//! to their exit, for curl and for the project's paths alike. Medians over the rounds;
//! the spread (min–max) says how noisy the shared machine was.
//!
//! Run: `cargo bench -p wfo-audio --bench relay` (`WFO_RELAY_ROUNDS=9` for more rounds).
//! Needs `curl` on the PATH.
//!
//! Measured (release, 2 cores shared with other agents' builds, load average 3.2–4.0,
//! 7 rounds, 2026-11-30; median MiB/s of the 200 MiB input, min–max in brackets):
//!
//! | | curl \| curl | sliced | ratio | whole | ratio | peak RSS sliced / whole |
//! |---|---|---|---|---|---|---|
//! | MP3 (144-byte frames) | 397 (306–426) | 653 (458–755) | 1.65× | 884 (619–1177) | 2.23× | 8.3 / 8.1 MiB |
//! | WAV (8 kHz 16-bit stereo) | 398 (368–434) | 921 (746–1598) | 2.31× | 881 (788–1579) | 2.22× | 7.9 / 8.1 MiB |
//!
//! `sliced_reference` (symphonia, the slicer before): 203 MiB/s (171–224), 0.51× curl,
//! 7.7 MiB. A second run, 9 rounds at load 4.9–6.2: curl 277 / 303 MiB/s (MP3 / WAV),
//! sliced 602 / 656 (2.17× / 2.17×), whole 804 / 717 (2.90× / 2.37×), reference 179
//! (0.64×); peak RSS 8.2–8.5 MiB. curl (three processes and a pipe) loses most when the
//! machine is busy, so the ratios move with the load; the project's paths stayed above
//! curl in every round of both runs. Peak RSS is the whole child process (5.2 MiB of it before the transfer:
//! binary, runtime, HTTP client); it does not grow with the file. The sliced MP3 path
//! delivered the same 209 333 376 bytes as the reference.

use std::io;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, put};
use bytes::Bytes;
use futures::StreamExt;
use mp3lame_encoder::{Bitrate, Builder, FlushGap, MonoPcm, Quality};
use wfo_audio::synthetic::PcmWav;
use wfo_audio::{ByteStream, Slice, counted, slice_mp3, slice_mp3_reference, slice_wav};

const MIB: usize = 1024 * 1024;
const SIZE: usize = 200 * MIB;
const CHUNK: usize = 64 * 1024;
const MINUTE_MS: i64 = 60_000;

/// What the loopback server serves and what its sink has seen.
struct Served {
    mp3: Bytes,
    wav: Bytes,
    sunk: AtomicU64,
}

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

/// Phone-quality MP3 (16 kHz mono 32 kbit/s: 144-byte frames, the most frames per byte a
/// recording has), whole LAME minutes up to 200 MiB; and a Contact Center WAV (8 kHz
/// 16-bit stereo) of 200 MiB.
fn recordings() -> (Bytes, Bytes, i64, i64) {
    let minute = lame_minute();
    let minutes = SIZE.div_ceil(minute.len());
    let mp3 = Bytes::from(minute.repeat(minutes));
    let mp3_ms = wfo_audio::mp3_duration_ms(&minute).expect("a minute of MP3") * minutes as i64;
    let shape = PcmWav::contact_center();
    let frames = (SIZE - 44) / shape.block_align();
    let wav = Bytes::from(shape.bytes(frames as u64));
    let wav_ms = frames as i64 * 1000 / i64::from(shape.sample_rate());
    (mp3, wav, mp3_ms, wav_ms)
}

async fn source(State(served): State<Arc<Served>>, which: &'static str) -> impl IntoResponse {
    let data = if which == "mp3" {
        served.mp3.clone()
    } else {
        served.wav.clone()
    };
    let len = data.len();
    let chunks = futures::stream::iter(
        (0..len.div_ceil(CHUNK)).map(move |i| Ok::<_, io::Error>(data.slice(i * CHUNK..((i + 1) * CHUNK).min(len)))),
    );
    ([(header::CONTENT_LENGTH, len.to_string())], Body::from_stream(chunks))
}

async fn sink(State(served): State<Arc<Served>>, body: Body) -> impl IntoResponse {
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => total += chunk.len() as u64,
            Err(_) => return StatusCode::BAD_REQUEST,
        }
    }
    served.sunk.store(total, Ordering::SeqCst);
    StatusCode::OK
}

/// Starts the loopback server on its own runtime and thread; returns its address.
fn serve(served: Arc<Served>) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let app = Router::new()
                .route("/mp3", get(|s| source(s, "mp3")))
                .route("/wav", get(|s| source(s, "wav")))
                .route("/sink", put(sink))
                .with_state(served);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("address")).expect("send address");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv().expect("server address")
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The child: one transfer through the project's path, then its peak RSS.
fn child(mode: &str, src: &str, dst: &str, offset_ms: i64, duration_ms: i64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::builder().build().expect("client");
    let before = vm_hwm_kib();
    let started = Instant::now();
    rt.block_on(async {
        let response = client
            .get(src)
            .send()
            .await
            .expect("download")
            .error_for_status()
            .expect("200");
        let len = response.content_length();
        let input: ByteStream = response
            .bytes_stream()
            .map(|item| item.map_err(io::Error::other))
            .boxed();
        let output = match mode {
            "mp3" => slice_mp3(input, Slice::new(offset_ms, duration_ms)),
            "mp3-reference" => slice_mp3_reference(input, Slice::new(offset_ms, duration_ms)),
            "wav" => slice_wav(input, Slice::new(offset_ms, duration_ms), len),
            _ => counted(input).0,
        };
        client
            .put(dst)
            .body(reqwest::Body::wrap_stream(output))
            .send()
            .await
            .expect("upload")
            .error_for_status()
            .expect("sink says 200");
    });
    let secs = started.elapsed().as_secs_f64();
    println!("{} {} {secs}", before, vm_hwm_kib());
}

struct Run {
    mib_s: f64,
    peak_kib: u64,
    base_kib: u64,
    sunk: u64,
}

fn run_curl(served: &Served, src: &str, dst: &str, len: usize) -> Run {
    let started = Instant::now();
    let mut download = Command::new("curl")
        .args(["-s", src])
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl on the PATH");
    let pipe = download.stdout.take().expect("curl's stdout");
    let upload = Command::new("curl")
        .args(["-s", "-T", "-", dst])
        .stdin(Stdio::from(pipe))
        .stdout(Stdio::null())
        .status()
        .expect("curl uploads");
    let downloaded = download.wait().expect("curl downloads");
    let secs = started.elapsed().as_secs_f64();
    assert!(upload.success() && downloaded.success(), "curl failed");
    Run {
        mib_s: len as f64 / MIB as f64 / secs,
        peak_kib: 0,
        base_kib: 0,
        sunk: served.sunk.swap(0, Ordering::SeqCst),
    }
}

fn run_child(served: &Served, mode: &str, src: &str, dst: &str, span: (i64, i64), len: usize) -> Run {
    let started = Instant::now();
    let output = Command::new(std::env::current_exe().expect("this binary"))
        .env("WFO_RELAY_CHILD", mode)
        .env("WFO_RELAY_SRC", src)
        .env("WFO_RELAY_DST", dst)
        .env("WFO_RELAY_SPAN", format!("{} {}", span.0, span.1))
        .stderr(Stdio::inherit())
        .output()
        .expect("child runs");
    let secs = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "child {mode} failed");
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<f64> = text.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    Run {
        mib_s: len as f64 / MIB as f64 / secs,
        base_kib: fields.first().copied().unwrap_or(0.0) as u64,
        peak_kib: fields.get(1).copied().unwrap_or(0.0) as u64,
        sunk: served.sunk.swap(0, Ordering::SeqCst),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    if let Ok(mode) = std::env::var("WFO_RELAY_CHILD") {
        let var = |name: &str| std::env::var(name).expect("set by the parent");
        let span: Vec<i64> = var("WFO_RELAY_SPAN")
            .split(' ')
            .filter_map(|v| v.parse().ok())
            .collect();
        child(&mode, &var("WFO_RELAY_SRC"), &var("WFO_RELAY_DST"), span[0], span[1]);
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument is not supported here.
    let rounds: usize = std::env::var("WFO_RELAY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (mp3, wav, mp3_ms, wav_ms) = recordings();
    let served = Arc::new(Served {
        mp3,
        wav,
        sunk: AtomicU64::new(0),
    });
    let addr = serve(Arc::clone(&served));
    std::thread::sleep(Duration::from_millis(100));
    let dst = format!("http://{addr}/sink");
    println!("load before: {}", load());
    for (format, total_ms, len) in [("mp3", mp3_ms, served.mp3.len()), ("wav", wav_ms, served.wav.len())] {
        let src = format!("http://{addr}/{format}");
        let span = (MINUTE_MS, total_ms - 2 * MINUTE_MS);
        let mut results: Vec<(&str, Vec<Run>)> =
            vec![("curl", Vec::new()), ("sliced", Vec::new()), ("whole", Vec::new())];
        if format == "mp3" {
            results.push(("sliced_reference", Vec::new()));
        }
        for round in 0..rounds {
            for (name, runs) in results.iter_mut() {
                let run = match *name {
                    "curl" => run_curl(&served, &src, &dst, len),
                    "sliced" => run_child(&served, format, &src, &dst, span, len),
                    "sliced_reference" => run_child(&served, "mp3-reference", &src, &dst, span, len),
                    _ => run_child(&served, "whole", &src, &dst, span, len),
                };
                if round == 0 {
                    println!("{format} {name}: {} bytes reached the sink", run.sunk);
                }
                if *name == "curl" || *name == "whole" {
                    assert_eq!(run.sunk, len as u64, "{format} {name}: the sink got all of it");
                } else {
                    assert!(
                        run.sunk > 0 && run.sunk < len as u64,
                        "{format} {name}: {} bytes",
                        run.sunk
                    );
                }
                runs.push(run);
            }
        }
        let speeds = |runs: &[Run]| {
            let mut v: Vec<f64> = runs.iter().map(|r| r.mib_s).collect();
            let (lo, hi) = (
                v.iter().copied().fold(f64::MAX, f64::min),
                v.iter().copied().fold(0.0, f64::max),
            );
            (median(&mut v), lo, hi)
        };
        let (curl, curl_lo, curl_hi) = speeds(&results[0].1);
        println!(
            "{format} {} MiB, {rounds} rounds: curl {curl:.0} MiB/s (min {curl_lo:.0}, max {curl_hi:.0})",
            len / MIB
        );
        for (name, runs) in &results[1..] {
            let (speed, lo, hi) = speeds(runs);
            let mut peaks: Vec<f64> = runs.iter().map(|r| r.peak_kib as f64).collect();
            let mut bases: Vec<f64> = runs.iter().map(|r| r.base_kib as f64).collect();
            println!(
                "{format} {name}: {speed:.0} MiB/s (min {lo:.0}, max {hi:.0}) = {:.2}x curl; peak RSS {:.1} MiB \
                 (median; {:.1} MiB before the transfer)",
                speed / curl,
                median(&mut peaks) / 1024.0,
                median(&mut bases) / 1024.0,
            );
        }
    }
    println!("load after: {}", load());
}
