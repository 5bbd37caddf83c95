//! `slice_wav` against WAV files built here byte by byte: what is emitted (checked by an
//! independent reader written in this file), what is skipped, what fails and how.

mod support;

use bytes::Bytes;
use futures::StreamExt;
use proptest::prelude::*;
use support::{Rng, chunked, collect, collect_audio_error, collect_ok, fixed_chunks};
use wfo_audio::synthetic::PcmWav;
use wfo_audio::{AudioError, ByteStream, Slice, WavStats, slice_wav, slice_wav_with_stats, wav_format};

// ---- an independent reader of canonical PCM WAV ----------------------------------------

/// A canonical 44-byte-header PCM WAV, read without the crate.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    channels: u16,
    rate: u32,
    bits: u16,
    /// Samples, frame by frame, channel by channel, as raw container bits.
    frames: Vec<Vec<u32>>,
}

/// Reads a canonical WAV, checking every field a writer must get right: the RIFF size
/// covers the file (pad byte included), the data size is the audio's, byte rate and block
/// align agree with the format, and nothing follows but the pad byte.
fn read_canonical(bytes: &[u8]) -> Read {
    assert!(bytes.len() >= 44, "{} bytes: no header", bytes.len());
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..16], b"WAVEfmt ");
    assert_eq!(u32_at(16), 16, "PCM fmt chunk");
    assert_eq!(u16_at(20), 1, "format tag PCM");
    let (channels, rate, bits) = (u16_at(22), u32_at(24), u16_at(34));
    let block = u16_at(32);
    assert_eq!(u32::from(block), u32::from(channels) * u32::from(bits / 8));
    assert_eq!(u32_at(28), rate * u32::from(block), "byte rate");
    assert_eq!(&bytes[36..40], b"data");
    let data_len = u32_at(40) as usize;
    let pad = data_len & 1;
    assert_eq!(bytes.len(), 44 + data_len + pad, "data size against the bytes");
    assert_eq!(u32_at(4) as usize, bytes.len() - 8, "RIFF size");
    assert_eq!(data_len % usize::from(block), 0, "whole frames only");
    let width = usize::from(bits / 8);
    let frames = bytes[44..44 + data_len]
        .chunks(usize::from(block))
        .map(|frame| {
            frame
                .chunks(width)
                .map(|s| {
                    let mut word = [0u8; 4];
                    word[..width].copy_from_slice(s);
                    u32::from_le_bytes(word)
                })
                .collect()
        })
        .collect();
    Read {
        channels,
        rate,
        bits,
        frames,
    }
}

/// The frames `first..end` of `shape`, as the generator defines them.
fn expected_frames(shape: PcmWav, first: u64, end: u64) -> Vec<Vec<u32>> {
    (first..end)
        .map(|n| (0..shape.channels()).map(|c| shape.sample(n, c)).collect())
        .collect()
}

/// `⌈ms · rate / 1000⌉`: the first frame at or after `ms`.
fn frame_at(ms: i64, rate: u32) -> u64 {
    let scaled = i128::from(ms.max(0)) * i128::from(rate);
    ((scaled + 999) / 1000) as u64
}

// ---- building inputs --------------------------------------------------------------------

/// A WAV assembled chunk by chunk, for the headers the generator does not write.
struct Build {
    chunks: Vec<u8>,
}

impl Build {
    fn new() -> Self {
        Build { chunks: Vec::new() }
    }

    fn chunk(mut self, id: &[u8; 4], body: &[u8]) -> Self {
        self.chunks.extend_from_slice(id);
        self.chunks.extend_from_slice(&(body.len() as u32).to_le_bytes());
        self.chunks.extend_from_slice(body);
        if body.len() % 2 == 1 {
            self.chunks.push(0);
        }
        self
    }

    /// A chunk header with any size, and the bytes after it as given.
    fn raw(mut self, id: &[u8; 4], size: u32, body: &[u8]) -> Self {
        self.chunks.extend_from_slice(id);
        self.chunks.extend_from_slice(&size.to_le_bytes());
        self.chunks.extend_from_slice(body);
        self
    }

    fn bytes(self) -> Vec<u8> {
        let mut out = b"RIFF".to_vec();
        let size = 4 + self.chunks.len() as u32;
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(b"WAVE");
        out.extend_from_slice(&self.chunks);
        out
    }
}

fn fmt_pcm(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let block = channels * bits.div_ceil(8);
    let mut f = Vec::new();
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    f.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    f.extend_from_slice(&block.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f
}

fn fmt_extensible(channels: u16, rate: u32, bits: u16, valid_bits: u16, sub_tag: u16) -> Vec<u8> {
    let mut f = fmt_pcm(0xFFFE, channels, rate, bits);
    f.extend_from_slice(&22u16.to_le_bytes());
    f.extend_from_slice(&valid_bits.to_le_bytes());
    f.extend_from_slice(&0x3u32.to_le_bytes());
    f.extend_from_slice(&sub_tag.to_le_bytes());
    f.extend_from_slice(&[
        0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
    ]);
    f
}

/// The audio bytes (no header) of `frames` frames of `shape`.
fn audio(shape: PcmWav, frames: u64) -> Vec<u8> {
    shape.bytes(frames)[44..].to_vec()
}

fn cc() -> PcmWav {
    PcmWav::contact_center()
}

async fn slice(bytes: &[u8], offset_ms: i64, duration_ms: i64) -> Vec<u8> {
    collect_ok(slice_wav(
        fixed_chunks(bytes, 4096),
        Slice::new(offset_ms, duration_ms),
        None,
    ))
    .await
}

async fn slice_error(bytes: &[u8], s: Slice, len: Option<u64>) -> (Vec<u8>, AudioError) {
    collect_audio_error(slice_wav(fixed_chunks(bytes, 4096), s, len)).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

// ---- what is emitted ---------------------------------------------------------------------

#[tokio::test]
async fn a_contact_center_slice_is_a_complete_stereo_wav_of_exactly_the_span() {
    let shape = cc();
    let wav = shape.bytes(shape.frames_for(10_000));
    let out = slice(&wav, 1_000, 2_000).await;
    let read = read_canonical(&out);
    assert_eq!((read.channels, read.rate, read.bits), (2, 8_000, 16));
    assert_eq!(out.len(), 44 + 2_000 * 8 * 4);
    assert_eq!(read.frames, expected_frames(shape, 8_000, 24_000));
    assert_eq!(&out[44..], &wav[44 + 8_000 * 4..44 + 24_000 * 4], "bytes unchanged");
    assert_eq!(
        wav_format(&out).and_then(|f| f.duration_ms().ok_or(AudioError::Empty)),
        Ok(2_000)
    );
}

#[tokio::test]
async fn channel_order_is_kept_caller_first_agent_second() {
    // Left and right hold different values at every instant; a swap or a shift by one
    // sample shows in every frame.
    let shape = cc();
    let wav = shape.bytes(8_000);
    let read = read_canonical(&slice(&wav, 250, 125).await);
    assert_eq!(read.frames.len(), 1_000);
    for (i, frame) in read.frames.iter().enumerate() {
        let n = 2_000 + i as u64;
        assert_eq!(frame, &vec![shape.sample(n, 0), shape.sample(n, 1)], "frame {n}");
        assert_ne!(frame[0], frame[1]);
    }
}

#[test]
fn odd_offsets_cut_at_whole_frames_for_every_layout_and_chunking() {
    let rt = runtime();
    for (channels, rate, bits) in [
        (2, 44_100, 24),
        (3, 11_025, 8),
        (1, 22_050, 32),
        (5, 48_000, 16),
        (8, 1, 16),
    ] {
        let shape = PcmWav::new(channels, rate, bits).expect("shape");
        let frames = shape.frames_for(3_000).max(3);
        let wav = shape.bytes(frames);
        for (offset, duration) in [(333, 777), (1, 1), (999, 1001), (0, 3_000)] {
            let first = frame_at(offset, rate);
            let end = frame_at(offset + duration, rate).min(frames);
            if first >= end {
                continue;
            }
            for chunk in [1, 7, 4096, wav.len()] {
                let out = rt.block_on(collect_ok(slice_wav(
                    fixed_chunks(&wav, chunk),
                    Slice::new(offset, duration),
                    None,
                )));
                let read = read_canonical(&out);
                assert_eq!((read.channels, read.rate, read.bits), (channels, rate, bits));
                assert_eq!(
                    read.frames,
                    expected_frames(shape, first, end),
                    "{channels}×{bits} bit at {rate} Hz, [{offset}, +{duration}), chunks of {chunk}"
                );
            }
        }
    }
}

#[tokio::test]
async fn odd_sized_audio_gets_its_pad_byte() {
    // 8-bit, three channels: 7 frames are 21 bytes; RIFF wants a pad byte after them.
    let shape3 = PcmWav::new(3, 1_000, 8).expect("shape");
    let wav3 = shape3.bytes(1_000);
    let out = slice(&wav3, 0, 7).await;
    assert_eq!(out.len(), 44 + 21 + 1, "21 bytes of audio and the pad byte");
    assert_eq!(out.last(), Some(&0));
    assert_eq!(read_canonical(&out).frames, expected_frames(shape3, 0, 7));
}

#[test]
fn slices_that_tile_the_timeline_tile_the_audio() {
    let shape = PcmWav::new(2, 44_100, 16).expect("shape");
    let wav = shape.bytes(shape.frames_for(2_000));
    let rt = runtime();
    let cuts = [0, 1, 17, 333, 1000, 1001, 1999, 2500];
    let mut frames = Vec::new();
    for pair in cuts.windows(2) {
        let (out, error) = rt.block_on(collect(slice_wav(
            fixed_chunks(&wav, 999),
            Slice::new(pair[0], pair[1] - pair[0]),
            None,
        )));
        assert!(error.is_none(), "{error:?}");
        frames.extend(read_canonical(&out).frames);
    }
    assert_eq!(frames, expected_frames(shape, 0, shape.frames_for(2_000)));
}

#[tokio::test]
async fn a_slice_overlapping_the_end_is_clipped_and_a_negative_offset_starts_at_zero() {
    let shape = cc();
    let wav = shape.bytes(8_000 * 5);
    let read = read_canonical(&slice(&wav, 4_500, 10_000).await);
    assert_eq!(read.frames, expected_frames(shape, 36_000, 40_000));
    let read = read_canonical(&slice(&wav, -300, 500).await);
    assert_eq!(read.frames, expected_frames(shape, 0, 1_600));
}

#[tokio::test]
async fn an_extensible_header_with_the_pcm_subformat_is_sliced_behind_a_plain_header() {
    let shape = PcmWav::new(2, 48_000, 24).expect("shape");
    let wav = Build::new()
        .chunk(b"fmt ", &fmt_extensible(2, 48_000, 24, 20, 1))
        .chunk(b"data", &audio(shape, 4_800))
        .bytes();
    let format = wav_format(&wav).expect("readable");
    assert!(format.extensible && format.format_tag == 1);
    assert_eq!(format.data_offset, 12 + 48 + 8);
    let read = read_canonical(&slice(&wav, 10, 50).await);
    assert_eq!((read.channels, read.rate, read.bits), (2, 48_000, 24));
    assert_eq!(read.frames, expected_frames(shape, 480, 2_880));
}

#[tokio::test]
async fn chunks_before_the_data_are_stepped_over_odd_sizes_and_all() {
    let shape = cc();
    let frames = 8_000;
    let plain = shape.bytes(frames);
    let wav = Build::new()
        .chunk(b"JUNK", &[0; 28])
        .chunk(b"LIST", b"INFOISFT\x07\x00\x00\x00Lavf58\x00")
        .chunk(b"fmt ", &fmt_pcm(1, 2, 8_000, 16))
        .chunk(b"bext", &[b'x'; 603])
        .chunk(b"fact", &frames.to_le_bytes()[..4])
        .chunk(b"data", &audio(shape, frames))
        .chunk(b"id3 ", b"after the audio: never read")
        .bytes();
    for chunk in [1, 3, 4096] {
        let out = collect_ok(slice_wav(fixed_chunks(&wav, chunk), Slice::new(100, 400), None)).await;
        assert_eq!(
            out,
            collect_ok(slice_wav(fixed_chunks(&plain, chunk), Slice::new(100, 400), None)).await
        );
    }
    // A `fmt ` chunk longer than its fields (an extra cbSize of 0 and junk) is read too.
    let mut long_fmt = fmt_pcm(1, 2, 8_000, 16);
    long_fmt.extend_from_slice(&[0, 0, 9, 9, 9]);
    let wav = Build::new()
        .chunk(b"fmt ", &long_fmt)
        .chunk(b"data", &audio(shape, 800))
        .bytes();
    assert_eq!(
        read_canonical(&slice(&wav, 0, 100).await).frames,
        expected_frames(shape, 0, 800)
    );
}

// ---- streamed WAV (no data size) ---------------------------------------------------------

#[tokio::test]
async fn a_streamed_wav_is_cut_when_the_download_states_its_length() {
    let shape = cc();
    let body = audio(shape, 8_000);
    for size in [0u32, 0xFFFF_FFFF] {
        let wav = Build::new()
            .chunk(b"fmt ", &fmt_pcm(1, 2, 8_000, 16))
            .raw(b"data", size, &body)
            .bytes();
        let known = Some(wav.len() as u64);
        let out = collect_ok(slice_wav(fixed_chunks(&wav, 1000), Slice::new(500, 10_000), known)).await;
        assert_eq!(read_canonical(&out).frames, expected_frames(shape, 4_000, 8_000));

        let (out, error) = slice_error(&wav, Slice::new(0, 1000), None).await;
        assert!(out.is_empty());
        assert_eq!(error, AudioError::WavLengthUnknown);
        assert!(
            error.to_string().contains("without buffering the whole file"),
            "{error}"
        );
    }
    // Size 0 and nothing after it: an empty recording, not an unknown one.
    let empty = Build::new()
        .chunk(b"fmt ", &fmt_pcm(1, 2, 8_000, 16))
        .raw(b"data", 0, &[])
        .bytes();
    let (_, error) = slice_error(&empty, Slice::new(0, 1000), None).await;
    assert_eq!(
        error,
        AudioError::SliceBeyondEnd {
            offset_ms: 0,
            duration_ms: 1000,
            audio_ms: 0
        }
    );
}

// ---- what fails --------------------------------------------------------------------------

#[tokio::test]
async fn a_slice_starting_past_the_end_names_both_lengths_and_sends_nothing() {
    let wav = cc().bytes(8_000 * 3);
    let (stream, stats) = slice_wav_with_stats(fixed_chunks(&wav, 4096), Slice::new(3_000, 500), None);
    let (out, error) = collect_audio_error(stream).await;
    assert!(out.is_empty());
    assert_eq!(
        error,
        AudioError::SliceBeyondEnd {
            offset_ms: 3_000,
            duration_ms: 500,
            audio_ms: 3_000
        }
    );
    let text = error.to_string();
    assert!(
        text.contains("3000 ms lasting 500 ms") && text.contains("(3000 ms)"),
        "{text}"
    );
    assert!(
        stats.bytes_in() <= 4096,
        "refused after the header, not after the audio"
    );
}

#[tokio::test]
async fn a_span_shorter_than_one_frame_between_two_frame_starts_is_an_error() {
    // At 1 Hz a frame lasts a second: nothing starts in [200, 700).
    let wav = PcmWav::new(1, 1, 16).expect("shape").bytes(10);
    let (_, error) = slice_error(&wav, Slice::new(200, 500), None).await;
    assert_eq!(
        error,
        AudioError::SliceBetweenFrames {
            offset_ms: 200,
            duration_ms: 500,
            frame_ms: 1000
        }
    );
    let (_, error) = slice_error(&wav, Slice::new(200, 0), None).await;
    assert!(matches!(error, AudioError::InvalidSlice { .. }));
}

#[tokio::test]
async fn empty_input_non_wav_and_a_truncated_header_are_told_apart() {
    let (_, error) = slice_error(&[], Slice::new(0, 1000), None).await;
    assert_eq!(error, AudioError::Empty);
    let page = b"<html><body>403 Forbidden</body></html>";
    let (_, error) = slice_error(page, Slice::new(0, 1000), None).await;
    assert!(
        matches!(&error, AudioError::NotAudio { expected: "WAV", found } if found.contains("HTML")),
        "{error}"
    );
    let (_, error) = slice_error(b"RIFF\x24\x00\x00\x00AVI LIST", Slice::new(0, 1000), None).await;
    assert!(matches!(error, AudioError::NotAudio { .. }));

    let wav = Build::new()
        .chunk(b"LIST", &[1; 10])
        .chunk(b"fmt ", &fmt_pcm(1, 2, 8_000, 16))
        .chunk(b"data", &audio(cc(), 10))
        .bytes();
    // Cut anywhere in front of the audio: truncated, and the message says where.
    for cut in 1..12 + 18 + 24 + 8 {
        let (out, error) = slice_error(&wav[..cut], Slice::new(0, 1000), None).await;
        assert!(out.is_empty(), "cut at {cut}");
        match &error {
            AudioError::WavTruncated { expected, got, .. } => assert!(got < expected, "cut at {cut}: {error}"),
            other => panic!("cut at {cut}: {other}"),
        }
        assert!(error.to_string().contains("missing"), "{error}");
        assert!(error.is_retryable());
    }
    let (_, error) = slice_error(&wav[..20], Slice::new(0, 1000), None).await;
    assert_eq!(
        error.to_string(),
        "truncated WAV: chunk 'LIST' needs 10 bytes, only 0 are there (10 missing)"
    );
}

#[tokio::test]
async fn truncated_audio_says_how_much_of_the_slice_was_missing() {
    let shape = cc();
    let wav = shape.bytes(8_000);
    let cut = 44 + 6_000 * 4 + 2;
    let (out, error) =
        collect_audio_error(slice_wav(fixed_chunks(&wav[..cut], 4096), Slice::new(500, 500), None)).await;
    assert_eq!(
        error,
        AudioError::WavTruncated {
            part: "the audio data up to the end of the slice".to_owned(),
            expected: 8_000 * 4,
            got: 6_000 * 4 + 2,
        }
    );
    assert!(error.to_string().contains("(7998 missing)"), "{error}");
    // What came before the cut went out as it was.
    assert_eq!(&out[44..], &wav[44 + 4_000 * 4..cut]);
}

#[tokio::test]
async fn chunk_sizes_that_lie_are_refused_with_what_they_claim() {
    let shape = cc();
    let body = audio(shape, 8_000);
    // A data chunk announcing more than the download holds: refused before a byte is sent.
    let wav = Build::new()
        .chunk(b"fmt ", &fmt_pcm(1, 2, 8_000, 16))
        .raw(b"data", 64_000, &body[..20_000])
        .bytes();
    let (out, error) = slice_error(&wav, Slice::new(0, 100), Some(wav.len() as u64)).await;
    assert!(out.is_empty());
    assert_eq!(
        error,
        AudioError::WavTruncated {
            part: "the 'data' chunk (by the stated length of the download)".to_owned(),
            expected: 64_000,
            got: 20_000
        }
    );
    // The same without a stated length: the slice goes as far as the audio does.
    let (_, error) = slice_error(&wav, Slice::new(0, 1000), None).await;
    assert!(
        matches!(
            error,
            AudioError::WavTruncated {
                expected: 32_000,
                got: 20_000,
                ..
            }
        ),
        "{error}"
    );
    // A chunk in front of the audio that claims gigabytes.
    let wav = Build::new()
        .raw(b"LIST", 0xFFFF_FFF0, b"INFO")
        .chunk(b"fmt ", &fmt_pcm(1, 2, 8_000, 16))
        .bytes();
    let (_, error) = slice_error(&wav, Slice::new(0, 100), None).await;
    assert!(
        matches!(&error, AudioError::WavMalformed(text) if text.contains("'LIST'") && text.contains("4294967280")),
        "{error}"
    );
    for (fmt, says) in [
        (fmt_pcm(1, 2, 8_000, 16)[..12].to_vec(), "12 bytes"),
        (fmt_pcm(1, 0, 8_000, 16), "0 channels"),
        (fmt_pcm(1, 9, 8_000, 16), "9 channels"),
        (fmt_pcm(1, 2, 0, 16), "sample rate 0"),
        (fmt_pcm(1, 2, 384_001, 16), "sample rate 384001"),
        (fmt_extensible(2, 8_000, 16, 24, 1), "24 valid bits"),
        (fmt_pcm(0xFFFE, 2, 8_000, 16), "extension"),
    ] {
        let wav = Build::new().chunk(b"fmt ", &fmt).chunk(b"data", &body).bytes();
        let (_, error) = slice_error(&wav, Slice::new(0, 100), None).await;
        assert!(
            matches!(&error, AudioError::WavMalformed(text) if text.contains(says)),
            "{says}: {error}"
        );
        assert!(!error.is_retryable());
    }
    let mut wrong_align = fmt_pcm(1, 2, 8_000, 16);
    wrong_align[12] = 3;
    let wav = Build::new().chunk(b"fmt ", &wrong_align).chunk(b"data", &body).bytes();
    let (_, error) = slice_error(&wav, Slice::new(0, 100), None).await;
    assert_eq!(
        error.to_string(),
        "malformed WAV header: block align 3 for 2 channels of 16 bits (4 expected)"
    );
    let wav = Build::new()
        .chunk(b"data", &body)
        .chunk(b"fmt ", &fmt_pcm(1, 2, 8_000, 16))
        .bytes();
    let (_, error) = slice_error(&wav, Slice::new(0, 100), None).await;
    assert!(error.to_string().contains("before any 'fmt '"), "{error}");
}

#[tokio::test]
async fn compressed_and_float_wavs_are_refused_by_name_never_mis_sliced() {
    let body = vec![0x55u8; 16_000];
    for (fmt, name) in [
        (fmt_pcm(7, 2, 8_000, 8), "μ-law"),
        (fmt_pcm(6, 1, 8_000, 8), "A-law"),
        (fmt_pcm(2, 1, 8_000, 4), "Microsoft ADPCM"),
        (fmt_pcm(0x11, 1, 8_000, 4), "IMA ADPCM"),
        (fmt_pcm(0x31, 1, 8_000, 0), "GSM 6.10"),
        (fmt_pcm(3, 2, 8_000, 32), "IEEE float"),
        (fmt_pcm(1, 1, 8_000, 12), "12-bit PCM"),
        (fmt_extensible(2, 8_000, 8, 8, 7), "μ-law"),
        (fmt_pcm(0x1234, 2, 8_000, 16), "format tag 0x1234"),
    ] {
        let wav = Build::new().chunk(b"fmt ", &fmt).chunk(b"data", &body).bytes();
        let (out, error) = slice_error(&wav, Slice::new(0, 100), None).await;
        assert!(out.is_empty());
        assert!(
            matches!(&error, AudioError::WavUnsupported { encoding } if encoding.contains(name)),
            "{name}: {error}"
        );
        assert!(error.to_string().contains("never mis-sliced"));
        assert!(!error.is_retryable());
        // Still readable as a WAV: inspection can report what it is.
        assert!(wav_format(&wav).is_ok());
    }
}

#[tokio::test]
async fn an_input_error_comes_out_unchanged() {
    let wav = cc().bytes(8_000);
    let items = vec![
        Ok(Bytes::copy_from_slice(&wav[..10_000])),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "source hung up",
        )),
    ];
    let (out, error) = collect(slice_wav(
        futures::stream::iter(items).boxed(),
        Slice::new(0, 1000),
        None,
    ))
    .await;
    let error = error.expect("the input error");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(AudioError::from_io(&error).is_none());
    assert_eq!(out.len(), 10_000, "header and the audio before the failure");
}

#[tokio::test]
async fn reading_stops_at_the_end_of_the_slice_and_no_runtime_is_needed() {
    let shape = cc();
    let hour = shape.frames_for(3_600_000);
    let (stream, stats) = slice_wav_with_stats(shape.stream(hour, 16 * 1024), Slice::new(0, 60_000), None);
    let out = futures::executor::block_on(collect_ok(stream));
    assert_eq!(out.len(), 44 + 60 * 8_000 * 4);
    assert_eq!(stats.ms_out(), 60_000);
    assert_eq!(stats.frames_out(), 480_000);
    assert!(
        stats.bytes_in() < 2_000_000,
        "pulled {} bytes for one minute",
        stats.bytes_in()
    );
    assert!(stats.peak_buffered_bytes() <= WavStats::buffer_bound(16 * 1024));
}

// ---- properties --------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_cut_and_chunking_gives_exactly_the_frames_of_the_span(
        layout in 0usize..4, seed in any::<u64>(), max_chunk in 1usize..5000,
        offset in -200i64..2200, duration in 1i64..2500,
    ) {
        // A span wholly before the recording's start holds no frame: the slicer refuses it
        // (`SliceBetweenFrames`), which is not what this property is about.
        prop_assume!(offset + duration > 0);
        let (channels, rate, bits) = [(2, 8_000, 16), (1, 44_100, 24), (3, 11_025, 8), (2, 22_050, 32)][layout];
        let shape = PcmWav::new(channels, rate, bits).expect("shape");
        let frames = shape.frames_for(2_000);
        let wav = shape.bytes(frames);
        let mut rng = Rng(seed | 1);
        let stream = slice_wav(chunked(&wav, || rng.below(max_chunk as u64) as usize + 1), Slice::new(offset, duration), None);
        let (out, error) = runtime().block_on(collect(stream));
        let first = frame_at(offset, rate);
        let end = frame_at(offset + duration, rate).min(frames);
        if first >= frames {
            let error = error.as_ref().and_then(AudioError::from_io).cloned();
            prop_assert!(matches!(error, Some(AudioError::SliceBeyondEnd { .. })), "{:?}", error);
            prop_assert!(out.is_empty());
        } else {
            prop_assert!(error.is_none(), "{:?}", error);
            prop_assert_eq!(read_canonical(&out).frames, expected_frames(shape, first, end));
        }
    }

    #[test]
    fn corrupted_or_cut_input_never_panics_and_fails_with_an_audio_error(
        seed in any::<u64>(), flips in proptest::collection::vec((0usize..200, any::<u8>()), 0..6),
        cut in proptest::option::of(0usize..40_000), known in any::<bool>(),
        offset in -100i64..3000, duration in -10i64..3000,
    ) {
        let shape = cc();
        let mut wav = Build::new()
            .chunk(b"LIST", b"INFOISFTodd")
            .chunk(b"fmt ", &fmt_extensible(2, 8_000, 16, 16, 1))
            .chunk(b"data", &audio(shape, 8_000))
            .bytes();
        for (at, value) in flips {
            let at = at % wav.len();
            wav[at] = value;
        }
        if let Some(cut) = cut {
            wav.truncate(cut.min(wav.len()));
        }
        let len = known.then_some(wav.len() as u64);
        let mut rng = Rng(seed | 1);
        let (stream, stats) = slice_wav_with_stats(chunked(&wav, || rng.below(3000) as usize), Slice::new(offset, duration), len);
        let (out, error) = runtime().block_on(collect(stream));
        prop_assert!(stats.peak_buffered_bytes() <= WavStats::buffer_bound(3000));
        match error {
            None => {
                let read = read_canonical(&out);
                prop_assert!(!read.frames.is_empty());
                prop_assert!(out.len() <= wav.len() + 44);
            }
            Some(error) => prop_assert!(AudioError::from_io(&error).is_some(), "{}", error),
        }
    }
}

#[test]
fn a_stream_of_nothing_but_empty_chunks_is_empty() {
    let stream: ByteStream = futures::stream::iter(vec![Ok(Bytes::new()), Ok(Bytes::new())]).boxed();
    let (_, error) = futures::executor::block_on(collect_audio_error(slice_wav(stream, Slice::new(0, 10), None)));
    assert_eq!(error, AudioError::Empty);
}
