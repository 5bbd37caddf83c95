//! `slice_mp3` against real LAME recordings: what is emitted, what is skipped, what fails.

mod support;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use proptest::prelude::*;
use support::*;
use wfo_audio::synthetic::SilentMp3;
use wfo_audio::{AudioError, ByteStream, Slice, mp3_duration_ms, slice_mp3, slice_mp3_with_stats};

/// Five seconds of phone-quality audio: 16 kHz, 36 ms frames.
fn recording() -> Vec<u8> {
    tone_mp3(5.0, PHONE)
}

async fn slice_bytes(bytes: &[u8], offset_ms: i64, duration_ms: i64) -> Vec<u8> {
    collect_ok(slice_mp3(fixed_chunks(bytes, 4096), Slice::new(offset_ms, duration_ms))).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[tokio::test]
async fn a_slice_at_zero_emits_the_first_frames_unchanged() {
    let mp3 = recording();
    let out = slice_bytes(&mp3, 0, 1000).await;
    let frames = audio_frames(&mp3);
    // 1000 ms / 36 ms: frames starting at 0, 36, …, 972 ms.
    assert_eq!(out.len(), frames[..28].iter().map(|f| f.len).sum::<usize>());
    assert_eq!(out, expected_slice(&mp3, 0, 1000));
    assert_eq!(&out[..], &mp3[frames[0].pos..frames[28].pos]);
}

#[tokio::test]
async fn a_slice_in_the_middle_emits_exactly_the_frames_starting_inside_it() {
    let mp3 = recording();
    let out = slice_bytes(&mp3, 1234, 2000).await;
    assert!(!out.is_empty());
    assert_eq!(out, expected_slice(&mp3, 1234, 2000));
    // The first emitted frame starts at 1260 ms (35 × 36), the last at 3204 ms (89 × 36).
    let frames = audio_frames(&mp3);
    assert_eq!(&out[..], &mp3[frames[35].pos..frames[90].pos]);
}

#[tokio::test]
async fn a_slice_overlapping_the_end_emits_the_last_frames_without_error() {
    let mp3 = recording();
    let frames = audio_frames(&mp3);
    let audio_ms = mp3_duration_ms(&mp3).expect("duration");
    let out = slice_bytes(&mp3, audio_ms - 500, 10_000).await;
    assert_eq!(out, expected_slice(&mp3, audio_ms - 500, 10_000));
    assert!(out.ends_with(&mp3[frames[frames.len() - 1].pos..]));
}

#[tokio::test]
async fn a_span_covering_everything_emits_every_audio_frame_and_nothing_else() {
    let mp3 = tone_mp3(
        3.0,
        Encoding {
            info_frame: true,
            id3: true,
            ..PHONE_WITH_INFO
        },
    );
    let frames = audio_frames(&mp3);
    let out = slice_bytes(&mp3, -1000, 1_000_000).await;
    let all: Vec<u8> = frames
        .iter()
        .flat_map(|f| mp3[f.pos..f.pos + f.len].iter().copied())
        .collect();
    assert_eq!(out, all);
}

#[test]
fn chunk_boundaries_do_not_change_the_output() {
    let mp3 = recording();
    let rt = runtime();
    let slice = Slice::new(700, 1500);
    let reference = expected_slice(&mp3, slice.offset_ms, slice.duration_ms);
    for len in [1, 7, 144, 145, 4096, mp3.len()] {
        let out = rt.block_on(collect_ok(slice_mp3(fixed_chunks(&mp3, len), slice)));
        assert_eq!(out, reference, "chunks of {len} bytes");
    }
    let mut rng = Rng(0x5eed);
    let out = rt.block_on(collect_ok(slice_mp3(chunked(&mp3, || rng.below(600) as usize), slice)));
    assert_eq!(out, reference, "random chunks, empty ones included");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_chunking_gives_the_same_bytes(seed in any::<u64>(), max_chunk in 1usize..3000, offset in -100i64..5200, duration in 1i64..3000) {
        let mp3 = recording();
        let reference = expected_slice(&mp3, offset, duration);
        let mut rng = Rng(seed | 1);
        let stream = slice_mp3(chunked(&mp3, || rng.below(max_chunk as u64) as usize + 1), Slice::new(offset, duration));
        let (out, error) = runtime().block_on(collect(stream));
        if reference.is_empty() {
            prop_assert!(error.is_some_and(|e| AudioError::from_io(&e).is_some()));
        } else {
            prop_assert!(error.is_none());
            prop_assert_eq!(out, reference);
        }
    }

    #[test]
    fn slices_that_tile_the_recording_tile_its_frames(mut cuts in proptest::collection::vec(1i64..5200, 0..8)) {
        let mp3 = recording();
        cuts.push(0);
        cuts.push(6000);
        cuts.sort_unstable();
        cuts.dedup();
        let rt = runtime();
        let mut tiled = Vec::new();
        for pair in cuts.windows(2) {
            let (out, error) = rt.block_on(collect(slice_mp3(fixed_chunks(&mp3, 1000), Slice::new(pair[0], pair[1] - pair[0]))));
            // A span shorter than a frame may hold no frame start: that is its error, not a loss.
            prop_assert!(error.is_none() || out.is_empty());
            tiled.extend_from_slice(&out);
        }
        let whole = expected_slice(&mp3, 0, 6000);
        prop_assert_eq!(tiled.len(), whole.len());
        prop_assert!(tiled == whole, "frames lost, duplicated or reordered");
    }
}

#[tokio::test]
async fn an_id3v2_tag_written_by_the_encoder_is_skipped() {
    let mp3 = tone_mp3(2.0, Encoding { id3: true, ..PHONE });
    assert_eq!(&mp3[..3], b"ID3");
    let out = slice_bytes(&mp3, 0, 500).await;
    assert_eq!(out, expected_slice(&mp3, 0, 500));
    assert_eq!(&out[..2], &[0xff, 0xf3]);
}

#[tokio::test]
async fn an_id3v2_tag_full_of_fake_frame_syncs_is_skipped_whole() {
    // A tag body (say, cover art) that looks like MPEG frames must not be taken for audio.
    let fake = SilentMp3::new(44_100, 128, false).expect("shape").bytes(40);
    let size = fake.len();
    let mut mp3 = b"ID3\x04\x00\x00".to_vec();
    mp3.extend([
        (size >> 21) as u8 & 0x7f,
        (size >> 14) as u8 & 0x7f,
        (size >> 7) as u8 & 0x7f,
        size as u8 & 0x7f,
    ]);
    mp3.extend_from_slice(&fake);
    let audio = recording();
    mp3.extend_from_slice(&audio);
    for len in [1, 13, 4096] {
        let out = collect_ok(slice_mp3(fixed_chunks(&mp3, len), Slice::new(0, 720))).await;
        assert_eq!(out, expected_slice(&audio, 0, 720), "chunks of {len}");
    }
    assert_eq!(mp3_duration_ms(&mp3), mp3_duration_ms(&audio));
}

#[tokio::test]
async fn the_xing_info_frame_is_neither_emitted_nor_counted() {
    let mp3 = tone_mp3(2.0, PHONE_WITH_INFO);
    let frames = audio_frames(&mp3);
    assert!(frames[0].pos > 0, "the fixture starts with an Info frame");
    let info_frame = &mp3[..frames[0].pos];
    assert!(info_frame.windows(4).any(|w| w == b"Info"));

    let out = slice_bytes(&mp3, 0, 72).await;
    assert_eq!(
        &out[..],
        &mp3[frames[0].pos..frames[2].pos],
        "the two frames after the Info frame"
    );
    let plain = tone_mp3(
        2.0,
        Encoding {
            info_frame: false,
            ..PHONE_WITH_INFO
        },
    );
    assert_eq!(mp3_duration_ms(&mp3), mp3_duration_ms(&plain));
}

#[tokio::test]
async fn garbage_is_not_an_mp3_stream() {
    let text = b"<html><body>503 Service Unavailable</body></html>".repeat(10);
    let (out, error) = collect_audio_error(slice_mp3(fixed_chunks(&text, 64), Slice::new(0, 1000))).await;
    assert!(out.is_empty());
    assert_eq!(
        error,
        AudioError::NotMp3 {
            scanned: text.len() as u64
        }
    );
    assert_eq!(
        error.to_string(),
        format!("not an MP3 stream: no frame sync in the first {} bytes", text.len())
    );

    let (_, error) = collect_audio_error(slice_mp3(fixed_chunks(&[], 64), Slice::new(0, 1000))).await;
    assert_eq!(error, AudioError::NotMp3 { scanned: 0 });
}

#[tokio::test]
async fn endless_random_bytes_fail_after_a_bounded_search() {
    // Random data holds sync-like patterns; the search must still give up, and soon.
    let mut rng = Rng(42);
    let stream: ByteStream = futures::stream::repeat_with(move || {
        let chunk: Vec<u8> = (0..8192).map(|_| rng.next() as u8).collect();
        Ok(Bytes::from(chunk))
    })
    .boxed();
    let (stream, stats) = slice_mp3_with_stats(stream, Slice::new(0, 1000));
    let (_, error) = collect_audio_error(stream).await;
    assert!(
        matches!(error, AudioError::NotMp3 { scanned } if scanned <= 256 * 1024),
        "{error}"
    );
    assert!(stats.bytes_in() <= 256 * 1024 + 8192);
    assert_eq!(mp3_duration_ms(&[0x55; 100]), Err(AudioError::NotMp3 { scanned: 100 }));
}

#[tokio::test]
async fn a_slice_past_the_end_is_an_error_and_emits_nothing() {
    let mp3 = recording();
    let audio_ms = mp3_duration_ms(&mp3).expect("duration");
    let (out, error) = collect_audio_error(slice_mp3(fixed_chunks(&mp3, 4096), Slice::new(audio_ms + 10, 5000))).await;
    assert!(out.is_empty());
    assert_eq!(
        error,
        AudioError::SliceBeyondEnd {
            offset_ms: audio_ms + 10,
            duration_ms: 5000,
            audio_ms
        }
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_span_between_two_frame_starts_is_an_error() {
    let mp3 = recording();
    // Frames start at 36 and 72 ms: nothing starts in [40, 60).
    let (out, error) = collect_audio_error(slice_mp3(fixed_chunks(&mp3, 4096), Slice::new(40, 20))).await;
    assert!(out.is_empty());
    assert_eq!(
        error,
        AudioError::SliceBetweenFrames {
            offset_ms: 40,
            duration_ms: 20,
            frame_ms: 36
        }
    );
}

#[tokio::test]
async fn a_span_without_duration_is_refused_before_reading() {
    let (stream, stats) = slice_mp3_with_stats(fixed_chunks(&recording(), 4096), Slice::new(100, 0));
    let (_, error) = collect_audio_error(stream).await;
    assert_eq!(
        error,
        AudioError::InvalidSlice {
            offset_ms: 100,
            duration_ms: 0
        }
    );
    assert_eq!(stats.bytes_in(), 0);
}

#[tokio::test]
async fn an_input_error_comes_out_unchanged_after_the_frames_before_it() {
    let mp3 = recording();
    let frames = audio_frames(&mp3);
    let cut = frames[50].pos + 10;
    let items = vec![
        Ok(Bytes::copy_from_slice(&mp3[..cut])),
        Err(io::Error::new(io::ErrorKind::ConnectionReset, "source hung up")),
        Ok(Bytes::copy_from_slice(&mp3[cut..])),
    ];
    let (out, error) = collect(slice_mp3(futures::stream::iter(items).boxed(), Slice::new(0, 5000))).await;
    let error = error.expect("the input error");
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(error.to_string(), "source hung up");
    assert!(AudioError::from_io(&error).is_none());
    // Everything before the failure was delivered (frames 0..50); never the frame it cut.
    assert!(expected_slice(&mp3, 0, 50 * 36).starts_with(&out));
    assert!(out.len() <= frames[50].pos - frames[0].pos);

    let failing_at_once =
        futures::stream::iter(vec![Err(io::Error::new(io::ErrorKind::TimedOut, "no answer"))]).boxed();
    let (_, error) = collect(slice_mp3(failing_at_once, Slice::new(0, 5000))).await;
    assert_eq!(error.map(|e| e.kind()), Some(io::ErrorKind::TimedOut));
}

#[tokio::test]
async fn slices_decode_and_last_as_long_as_asked_within_one_frame() {
    let mp3 = recording();
    let frame_ms = 36;
    for (offset, duration) in [(0, 1000), (1500, 2000), (4000, 900), (333, 777)] {
        let out = slice_bytes(&mp3, offset, duration).await;
        let samples = decode_samples(&out);
        let decoded_ms = (samples * 1000 / 16_000) as i64;
        assert!(
            (decoded_ms - duration).abs() <= frame_ms,
            "[{offset}, +{duration}) decoded to {decoded_ms} ms"
        );
        let parsed_ms = mp3_duration_ms(&out).expect("slice parses");
        assert!(
            (parsed_ms - duration).abs() <= frame_ms,
            "[{offset}, +{duration}) parsed as {parsed_ms} ms"
        );
    }
}

#[test]
fn the_duration_of_a_recording_counts_its_frames() {
    let mp3 = recording();
    let frames = audio_frames(&mp3);
    let expected = (frames.len() as i64 * 576 * 1000 + 8000) / 16_000;
    assert_eq!(mp3_duration_ms(&mp3), Ok(expected));
    // Five seconds of audio plus the encoder's delay and padding.
    assert!(
        (5000..5200).contains(&expected),
        "{expected} ms in {} frames",
        frames.len()
    );
}

#[tokio::test]
async fn reading_stops_at_the_first_frame_after_the_span() {
    let shape = SilentMp3::new(16_000, 32, true).expect("shape");
    let one_hour = shape.frames_for(3_600_000);
    let (stream, stats) = slice_mp3_with_stats(shape.stream(one_hour, 16 * 1024), Slice::new(0, 60_000));
    let out = collect_ok(stream).await;
    assert_eq!(out.len() as u64, shape.frames_for(60_000) * 144);
    assert_eq!(stats.ms_out(), 60_012);
    assert!(
        stats.bytes_in() < 1024 * 1024,
        "pulled {} bytes for one minute",
        stats.bytes_in()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_output_stops_the_input() {
    struct DropFlag(Arc<AtomicBool>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(Arc::clone(&dropped));
    let shape = SilentMp3::new(16_000, 32, true).expect("shape");
    let endless = shape.stream(u64::MAX, 4096).map(move |item| {
        let _keep = &flag;
        item
    });
    let mut out = slice_mp3(endless.boxed(), Slice::new(0, i64::MAX / 2));
    assert!(out.next().await.is_some_and(|item| item.is_ok()));
    drop(out);
    for _ in 0..200 {
        if dropped.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the input was still being read 2 s after the output was dropped");
}

#[test]
fn polling_outside_tokio_is_an_error_not_a_panic() {
    let stream = slice_mp3(fixed_chunks(&recording(), 4096), Slice::new(0, 1000));
    let (_, error) = futures::executor::block_on(collect(stream));
    let error = error.expect("an error");
    assert_eq!(AudioError::from_io(&error), Some(&AudioError::NoRuntime));
}
