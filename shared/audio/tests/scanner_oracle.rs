//! The hand-written scanner behind `slice_mp3` against symphonia's demuxer behind
//! `slice_mp3_reference`: for random MP3 streams (real LAME frames, synthetic frames, and
//! frames of every MPEG version and layer with random bodies), random junk, ID3v2 tags,
//! Xing/Info/VBRI frames, random chunkings and random spans, both emit exactly the same
//! bytes, end with the same error, and count the same frames and milliseconds.

mod support;

use std::io;
use std::sync::OnceLock;

use bytes::Bytes;
use futures::StreamExt;
use proptest::prelude::{Just, ProptestConfig, Strategy, any, prop_assert, prop_assert_eq, prop_oneof, proptest};
use support::*;
use wfo_audio::synthetic::SilentMp3;
use wfo_audio::{AudioError, ByteStream, Slice, SliceStats, slice_mp3_reference_with_stats, slice_mp3_with_stats};

/// LAME recordings, encoded once: phone (16 kHz), with Info frame and ID3v2 tag, 8 kHz
/// (MPEG-2.5; its frames are too small for LAME's tag) and 44.1 kHz (MPEG-1).
fn lame_fixtures() -> &'static [Vec<u8>] {
    static FIXTURES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        vec![
            tone_mp3(3.0, PHONE),
            tone_mp3(
                3.0,
                Encoding {
                    id3: true,
                    ..PHONE_WITH_INFO
                },
            ),
            tone_mp3(
                3.0,
                Encoding {
                    sample_rate: 8_000,
                    bitrate: mp3lame_encoder::Bitrate::Kbps16,
                    info_frame: false,
                    id3: false,
                },
            ),
            tone_mp3(
                2.0,
                Encoding {
                    sample_rate: 44_100,
                    bitrate: mp3lame_encoder::Bitrate::Kbps128,
                    info_frame: true,
                    id3: true,
                },
            ),
        ]
    })
}

/// Length of the frame a header word announces (written here from the standard, not
/// taken from the crate); `None` for words that are no frame header.
fn frame_len(word: u32) -> Option<usize> {
    let version = (word >> 19) & 3;
    let layer = (word >> 17) & 3;
    let bitrate_index = ((word >> 12) & 0xf) as usize;
    let rate_index = ((word >> 10) & 3) as usize;
    if word >> 21 != 0x7ff || version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3
    {
        return None;
    }
    let kbps: [[u32; 15]; 5] = [
        [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
        [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
        [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
        [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
        [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ];
    let table = match (version == 3, layer) {
        (true, 3) => 0,
        (true, 2) => 1,
        (true, _) => 2,
        (false, 3) => 3,
        (false, _) => 4,
    };
    let bitrate = kbps[table][bitrate_index] * 1000;
    let rate = [44_100, 48_000, 32_000][rate_index] >> [2, 0, 1, 0][version as usize];
    let pad = (word >> 9) & 1;
    Some(match layer {
        3 => ((12 * bitrate / rate + pad) * 4) as usize,
        2 => (144 * bitrate / rate + pad) as usize,
        _ if version == 3 => (144 * bitrate / rate + pad) as usize,
        _ => (72 * bitrate / rate + pad) as usize,
    })
}

/// What a generated frame carries after its header.
#[derive(Debug, Clone, Copy)]
enum Body {
    Zeros,
    Random,
    /// A Xing or Info tag (Layer III), with these flags.
    XingInfo(bool, u8),
    /// A VBRI tag with this version.
    Vbri(u16),
}

/// Frames of random headers (mostly of one shape, so that they sync as a stream) with
/// random bodies.
fn random_frames(rng: &mut Rng, count: usize) -> Vec<u8> {
    let shape = |rng: &mut Rng| -> u32 {
        let version = [0u32, 2, 3][rng.below(3) as usize];
        let layer = 1 + rng.below(3) as u32;
        let rate = rng.below(3) as u32;
        let mode = rng.below(4) as u32;
        0xffe0_0000 | (version << 19) | (layer << 17) | (rate << 10) | (mode << 6)
    };
    let main = shape(rng);
    let mut out = Vec::new();
    for _ in 0..count {
        let base = if rng.below(20) == 0 { shape(rng) } else { main };
        let bitrate = if rng.below(50) == 0 {
            0
        } else {
            1 + rng.below(14) as u32
        };
        let word = base
            | (bitrate << 12)
            | ((rng.below(2) as u32) << 16)
            | ((rng.below(2) as u32) << 9)
            | (rng.below(2) as u32) << 8
            | (rng.below(64) as u32 & 0x3f);
        let Some(len) = frame_len(word) else {
            out.extend(word.to_be_bytes());
            continue;
        };
        let body = match rng.below(30) {
            0 => Body::XingInfo(rng.below(2) == 0, rng.below(16) as u8),
            1 => Body::Vbri(rng.below(3) as u16),
            2..12 => Body::Random,
            _ => Body::Zeros,
        };
        let start = out.len();
        out.extend(word.to_be_bytes());
        out.resize(start + len, 0);
        let frame = &mut out[start..];
        match body {
            Body::Zeros => {}
            Body::Random => frame[4..].iter_mut().for_each(|b| *b = rng.next() as u8),
            Body::XingInfo(xing, flags) => {
                let mpeg1 = (word >> 19) & 3 == 3;
                let mono = (word >> 6) & 3 == 3;
                let at = 4 + match (mpeg1, mono) {
                    (true, true) => 17,
                    (true, false) => 32,
                    (false, true) => 9,
                    (false, false) => 17,
                };
                let tag: &[u8] = if xing { b"Xing" } else { b"Info" };
                for (i, byte) in tag.iter().chain(&[0, 0, 0, flags]).enumerate() {
                    if let Some(slot) = frame.get_mut(at + i) {
                        *slot = *byte;
                    }
                }
            }
            Body::Vbri(version) => {
                for (i, byte) in b"VBRI".iter().chain(&version.to_be_bytes()).enumerate() {
                    if let Some(slot) = frame.get_mut(36 + i) {
                        *slot = *byte;
                    }
                }
            }
        }
    }
    out
}

/// Junk to insert: random bytes, runs of 0xFF, or a lone header word.
fn junk(rng: &mut Rng, near: &[u8]) -> Vec<u8> {
    let len = rng.below(300) as usize;
    match rng.below(4) {
        0 => (0..len).map(|_| rng.next() as u8).collect(),
        1 => vec![0xff; len.min(40)],
        2 => near.iter().take(4 + rng.below(8) as usize).copied().collect(),
        _ => (0..len)
            .map(|_| [0xff, 0xfb, 0xf3, 0x00, 0x90, 0x44][rng.below(6) as usize])
            .collect(),
    }
}

/// An ID3v2 tag of `body_len` bytes (random, syncs included), with a footer or not.
fn id3_tag(rng: &mut Rng, body_len: usize) -> Vec<u8> {
    let footer = rng.below(4) == 0;
    let mut tag = b"ID3\x04\x00".to_vec();
    tag.push(if footer { 0x10 } else { 0 });
    tag.extend([21, 14, 7, 0].map(|shift| (body_len >> shift) as u8 & 0x7f));
    tag.extend((0..body_len).map(|_| if rng.below(5) == 0 { 0xff } else { rng.next() as u8 }));
    if footer {
        tag.extend(b"3DI\x04\x00\x10\x00\x00\x00\x00");
    }
    tag
}

/// A stream to slice, built from `seed`.
fn stream_bytes(seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let mut bytes = match rng.below(9) {
        0 => b"<html><body>503 Service Unavailable</body></html>".repeat(1 + rng.below(40) as usize),
        1 | 2 => lame_fixtures()[rng.below(4) as usize].clone(),
        3 | 4 => {
            let rates = [8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000];
            let rate = rates[rng.below(rates.len() as u64) as usize];
            let kbps = if rate >= 32_000 {
                [32, 64, 128, 320]
            } else {
                [8, 16, 32, 160]
            }[rng.below(4) as usize];
            let shape = SilentMp3::new(rate, kbps, rng.below(2) == 0).expect("a valid shape");
            shape.bytes(1 + rng.below(200))
        }
        _ => {
            let count = 1 + rng.below(120) as usize;
            random_frames(&mut rng, count)
        }
    };
    for _ in 0..rng.below(5) {
        let at = rng.below(bytes.len() as u64 + 1) as usize;
        let near = bytes[at..].to_vec();
        let junk = junk(&mut rng, &near);
        bytes.splice(at..at, junk);
    }
    if rng.below(4) == 0 {
        let cut = rng.below(bytes.len() as u64 + 1) as usize;
        bytes.truncate(bytes.len() - cut.min(bytes.len()) / 8);
    }
    if rng.below(4) == 0 {
        let junk = junk(&mut rng, &bytes);
        bytes.splice(0..0, junk);
    }
    if rng.below(4) == 0 {
        let len = rng.below(3000) as usize;
        let tag = id3_tag(&mut rng, len);
        bytes.splice(0..0, tag);
    }
    bytes
}

/// `bytes` in chunks of random length (1 to `max_chunk`, some empty), with an input
/// error after chunk `fail_at` if given.
fn chunks(bytes: &[u8], seed: u64, max_chunk: usize, fail_at: Option<usize>) -> ByteStream {
    let bytes = Bytes::copy_from_slice(bytes);
    let mut rng = Rng(seed | 1);
    let mut items = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = if rng.below(16) == 0 {
            0
        } else {
            1 + rng.below(max_chunk as u64) as usize
        };
        let len = len.min(bytes.len() - at);
        items.push(Ok(bytes.slice(at..at + len)));
        at += len;
    }
    if let Some(fail_at) = fail_at {
        let fail_at = fail_at.min(items.len());
        items.insert(
            fail_at,
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "source hung up")),
        );
    }
    futures::stream::iter(items).boxed()
}

/// What a slicer did with one input.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    bytes: Vec<u8>,
    error: Option<String>,
    frames_out: u64,
    ms_out: u64,
}

fn run(stream: ByteStream, stats: SliceStats) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (bytes, error) = rt.block_on(collect(stream));
    let error = error.map(|e| match AudioError::from_io(&e) {
        Some(audio) => format!("{audio:?}"),
        None => format!("input {:?}: {e}", e.kind()),
    });
    Outcome {
        bytes,
        error,
        frames_out: stats.frames_out(),
        ms_out: stats.ms_out(),
    }
}

/// Both slicers over `bytes`; the reference gets its own chunking unless there is an input
/// error (which must then sit at the same byte for both).
fn both(bytes: &[u8], slice: Slice, chunk_seed: u64, max_chunk: usize, fail_at: Option<usize>) -> (Outcome, Outcome) {
    let reference_seed = if fail_at.is_some() {
        chunk_seed
    } else {
        chunk_seed ^ 0x5555
    };
    let (new, new_stats) = slice_mp3_with_stats(chunks(bytes, chunk_seed, max_chunk, fail_at), slice);
    let (reference, reference_stats) =
        slice_mp3_reference_with_stats(chunks(bytes, reference_seed, max_chunk, fail_at), slice);
    (run(new, new_stats), run(reference, reference_stats))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_scanner_emits_what_symphonia_emits(
        seed in any::<u64>(),
        chunk_seed in any::<u64>(),
        max_chunk in prop_oneof![1usize..8, 1usize..600, 1usize..20_000],
        offset in -2000i64..8000,
        duration in prop_oneof![1i64..100, 1i64..10_000, Just(i64::MAX / 4)],
    ) {
        let bytes = stream_bytes(seed);
        let slice = Slice::new(offset, duration);
        let (new, reference) = both(&bytes, slice, chunk_seed, max_chunk, None);
        prop_assert_eq!(new, reference);
    }

    #[test]
    fn after_an_input_error_both_have_sent_frames_of_the_same_slice_and_the_same_error(
        seed in any::<u64>(),
        chunk_seed in any::<u64>(),
        max_chunk in 1usize..3000,
        fail_at in 0usize..60,
        offset in -500i64..3000,
        duration in 1i64..5000,
    ) {
        let bytes = stream_bytes(seed);
        let slice = Slice::new(offset, duration);
        let (whole, _) = both(&bytes, slice, chunk_seed, max_chunk, None);
        let (new, reference) = both(&bytes, slice, chunk_seed, max_chunk, Some(fail_at));
        // The reference drops the output chunk it was filling; the scanner sends every
        // whole frame before the failure. Both are prefixes of the error-free slice.
        prop_assert!(whole.bytes.starts_with(&new.bytes));
        prop_assert!(new.bytes.starts_with(&reference.bytes));
        // symphonia takes an input error met while looking past the first frame for the next
        // header as the end of the input; when that first frame already lies after the span,
        // it reads nothing more and reports the span, not the failure. The scanner reports
        // the failure it met (the retryable cause).
        let swallowed = new.error.as_deref().is_some_and(|e| e.starts_with("input "))
            && reference.error.as_deref().is_some_and(|e| e.starts_with("SliceBetweenFrames"))
            && whole.frames_out == 0
            && whole.error.as_deref().is_some_and(|e| e.starts_with("SliceBetweenFrames"));
        if !swallowed {
            prop_assert_eq!(new.error, reference.error);
        }
    }

    #[test]
    fn the_first_frame_search_stops_at_the_same_byte(
        seed in any::<u64>(),
        chunk_seed in any::<u64>(),
        tag in prop_oneof![Just(None), (0usize..5000).prop_map(Some)],
        short_of_limit in 0usize..1200,
    ) {
        // Junk (no sync in it) up to a few frames around the 256 KiB limit, then audio.
        let mut rng = Rng(seed | 1);
        let audio = SilentMp3::new(44_100, 128, rng.below(2) == 0).expect("shape").bytes(8);
        let mut bytes = tag.map(|len| id3_tag(&mut rng, len)).unwrap_or_default();
        let junk_len = 256 * 1024 - short_of_limit;
        bytes.extend((0..junk_len).map(|_| (rng.next() as u8) & 0x7f));
        bytes.extend_from_slice(&audio);
        let (new, reference) = both(&bytes, Slice::new(0, 1_000_000), chunk_seed, 70_000, None);
        prop_assert_eq!(new, reference);
    }
}

#[test]
fn the_generators_make_streams_with_audio_and_streams_without() {
    // Guards the property tests against testing only failures (or only clean files).
    let mut ok = 0;
    let mut failed = 0;
    for seed in 0..60u64 {
        let bytes = stream_bytes(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (new, reference) = both(&bytes, Slice::new(0, i64::MAX / 4), seed, 4096, None);
        assert_eq!(new, reference, "seed {seed}");
        if new.error.is_none() {
            ok += 1;
        } else {
            failed += 1;
        }
    }
    assert!(ok >= 30 && failed >= 1, "{ok} streams sliced, {failed} failed");

    let page = b"<html><body>503 Service Unavailable</body></html>".repeat(20);
    let (new, reference) = both(&page, Slice::new(0, 1000), 7, 100, None);
    assert_eq!(new, reference);
    assert_eq!(
        new.error,
        Some(format!(
            "{:?}",
            AudioError::NotMp3 {
                scanned: page.len() as u64
            }
        ))
    );
}

#[tokio::test]
async fn selected_frames_go_out_as_views_of_the_input_chunks() {
    // Phone audio (144-byte frames) in 16 KiB chunks: frames split across two chunks are
    // the only bytes copied, and the slicer holds one chunk and one carried frame.
    let shape = SilentMp3::new(16_000, 32, true).expect("shape");
    let input = Bytes::from(shape.bytes(shape.frames_for(600_000)));
    let chunk_len = 16 * 1024;
    let chunks: Vec<io::Result<Bytes>> = input.chunks(chunk_len).map(|c| Ok(input.slice_ref(c))).collect();
    let boundaries = chunks.len() as u64;
    let (mut out, stats) = slice_mp3_with_stats(futures::stream::iter(chunks).boxed(), Slice::new(60_000, 480_000));
    let range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
    let (mut viewed, mut copied, mut items) = (0u64, 0u64, 0u64);
    while let Some(chunk) = out.next().await {
        let chunk = chunk.expect("no error");
        items += 1;
        if range.contains(&(chunk.as_ptr() as usize)) {
            viewed += chunk.len() as u64;
        } else {
            assert_eq!(chunk.len(), 144, "only a split frame is copied");
            copied += chunk.len() as u64;
        }
    }
    assert_eq!(viewed + copied, stats.bytes_out());
    // Frames start every 36 ms: 1667 × 36 = 60 012 ms is the first, 14 999 × 36 the last.
    assert_eq!(stats.bytes_out(), (14_999 - 1667 + 1) * 144);
    assert!(
        copied <= boundaries * 144,
        "{copied} bytes copied for {boundaries} chunk boundaries"
    );
    assert!(
        items <= 2 * boundaries + 1,
        "{items} output chunks for {boundaries} input chunks"
    );
    assert!(
        stats.peak_buffered_bytes() <= chunk_len + wfo_audio::MAX_FRAME_LEN + 4,
        "held {} bytes",
        stats.peak_buffered_bytes()
    );
}
