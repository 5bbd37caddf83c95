//! Audio from the source: MP3 framing and slicing, whole-file pass-through.
//!
//! - `mp3_duration`: [`mp3_duration_ms`] (symphonia's MPEG demuxer behind the crate's
//!   ID3v2 skipping and first-frame search limit) on the raw bytes.
//! - `mp3_slice`: [`slice_mp3_with_stats`] over the bytes as a stream of chunks, with the
//!   span and the chunking taken from a 12-byte trailer. Checked: the output is frames
//!   of the input (never more bytes than came in), the held memory stays under
//!   [`SliceStats::buffer_bound`], errors are the documented ones (never `Worker`: the
//!   scanner runs in the stream itself, no worker to panic), and slicing the whole span agrees with
//!   [`mp3_duration_ms`] whatever the chunking.
//! - `wav_slice`: [`slice_wav_with_stats`] over the bytes as a stream of chunks, span,
//!   chunking and whether the length is stated taken from the same 12-byte trailer.
//!   Checked: held memory under [`WavStats::buffer_bound`]; errors are audio errors; a
//!   slice is produced only from a header [`wav_format`] reads too, and is a canonical
//!   WAV (sizes right) whose audio is, byte for byte, the input's frames from the first
//!   one at or after the offset (computed here, not by the crate); [`inspect`] reads the
//!   same header whatever the chunking.
//! - `audio_counted`: [`with_expected_len`] and [`counted`], the whole-file path (unsliced
//!   MP3 and WAV go to WFO through it): the bytes pass unchanged and a length that
//!   differs from the announced one always fails the stream.

use std::io;

use bytes::Bytes;
use futures::StreamExt;
use wfo_audio::synthetic::PcmWav;
use wfo_audio::{
    AudioError, ByteStream, Slice, SliceStats, WavStats, counted, inspect, mp3_duration_ms, slice_mp3_with_stats,
    slice_wav_with_stats, wav_format, with_expected_len,
};

use crate::rng::Rng;
use crate::seeds;

/// Most milliseconds of audio one byte of MPEG audio can carry (Layer II/III at 8 kbit/s,
/// 11.025 kHz: 104 or 52 bytes per 104.5 or 52.2 ms), with margin.
const MAX_MS_PER_BYTE_NUM: u64 = 11;
const MAX_MS_PER_BYTE_DEN: u64 = 10;

fn runtime() -> &'static tokio::runtime::Runtime {
    crate::targets::runtime()
}

pub fn mp3_duration(input: &[u8]) -> String {
    match mp3_duration_ms(input) {
        Ok(ms) => {
            assert!(ms >= 0, "negative duration {ms}");
            let bound = input.len() as u64 * MAX_MS_PER_BYTE_NUM / MAX_MS_PER_BYTE_DEN + 1;
            assert!(ms as u64 <= bound, "{ms} ms from {} bytes", input.len());
            format!("ok:{}", (ms > 0) as u8)
        }
        Err(e) => error_class(&e),
    }
}

fn error_class(e: &AudioError) -> String {
    let s = format!("{e:?}");
    s.split([' ', '(', '{']).next().unwrap_or_default().to_owned()
}

/// The span and chunking of a `mp3_slice` input, from its last 12 bytes.
#[derive(Debug, Clone, Copy)]
struct Params {
    offset_ms: i64,
    duration_ms: i64,
    chunking: u32,
}

fn split_params(input: &[u8]) -> (&[u8], Params) {
    if input.len() < 12 {
        let p = Params {
            offset_ms: 0,
            duration_ms: 1000,
            chunking: 4096,
        };
        return (input, p);
    }
    let (mp3, t) = input.split_at(input.len() - 12);
    let word = |i: usize| [t[i], t[i + 1], t[i + 2], t[i + 3]];
    let chunking = u32::from_le_bytes(word(8));
    let mut offset_ms = i64::from(i32::from_le_bytes(word(0)));
    let mut duration_ms = i64::from(i32::from_le_bytes(word(4)));
    if chunking & 0x4000_0000 != 0 {
        // Far beyond any recording: the span arithmetic must not overflow.
        offset_ms <<= 31;
        duration_ms <<= 31;
    }
    (
        mp3,
        Params {
            offset_ms,
            duration_ms,
            chunking,
        },
    )
}

/// `bytes` as a stream of chunks: fixed length `1 + chunking % 70_000`, or (high bit set)
/// random lengths up to that. The chunks are views of one copy of `bytes`, made as they
/// are polled, so the harness holds no more than the input. Returns the stream and an
/// upper bound of the chunk length.
fn chunked(bytes: &[u8], chunking: u32) -> (ByteStream, usize) {
    let max = 1 + (chunking % 70_000) as usize;
    let random = chunking & 0x8000_0000 != 0;
    let state = (Bytes::copy_from_slice(bytes), Rng::new(u64::from(chunking)));
    let stream = futures::stream::unfold(state, move |(mut rest, mut rng)| async move {
        if rest.is_empty() {
            return None;
        }
        let len = if random { rng.range(1, max) } else { max };
        let chunk = rest.split_to(len.min(rest.len()));
        Some((Ok::<_, io::Error>(chunk), (rest, rng)))
    });
    (stream.boxed(), max.min(bytes.len().max(1)))
}

/// Everything a stream yields: the bytes, and the error it ended with.
async fn drain(mut stream: ByteStream) -> (Vec<u8>, Option<io::Error>) {
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

pub fn mp3_slice(input: &[u8]) -> String {
    let (mp3, p) = split_params(input);
    let (stream, longest) = chunked(mp3, p.chunking);
    let slice = Slice::new(p.offset_ms, p.duration_ms);
    let (out_stream, stats) = slice_mp3_with_stats(stream, slice);
    let (out, err) = runtime().block_on(drain(out_stream));
    let err = err.map(|e| {
        AudioError::from_io(&e)
            .cloned()
            .expect("only audio errors: the input never fails")
    });

    if p.duration_ms <= 0 {
        assert!(matches!(err, Some(AudioError::InvalidSlice { .. })) && out.is_empty());
    }
    assert!(
        !matches!(err, Some(AudioError::Worker(_) | AudioError::NoRuntime)),
        "{err:?}"
    );
    assert!(out.len() <= mp3.len(), "{} bytes out of {} in", out.len(), mp3.len());
    assert_eq!(stats.bytes_out(), out.len() as u64);
    assert!(
        stats.peak_buffered_bytes() <= SliceStats::buffer_bound(longest),
        "held {} bytes, bound {}",
        stats.peak_buffered_bytes(),
        SliceStats::buffer_bound(longest)
    );
    if let Some(first) = out.first_chunk::<2>() {
        assert!(
            first[0] == 0xff && first[1] & 0xe0 == 0xe0,
            "output does not start with a frame"
        );
    }
    if err.is_none() {
        assert!(!out.is_empty(), "a slice without frames must be an error");
    }

    // The whole span, chunked differently, against the in-memory duration.
    if p.chunking & 0x2000_0000 != 0 {
        let whole = Slice::new(-(1 << 50), 1 << 51);
        let (stream, _) = chunked(mp3, p.chunking.rotate_left(7));
        let (out_stream, stats) = slice_mp3_with_stats(stream, whole);
        let (_, whole_err) = runtime().block_on(drain(out_stream));
        let whole_err = whole_err.and_then(|e| AudioError::from_io(&e).cloned());
        match (mp3_duration_ms(mp3), whole_err) {
            (Ok(ms), None) => assert_eq!(stats.ms_out() as i64, ms, "slicing and duration disagree"),
            (Ok(0), Some(AudioError::SliceBeyondEnd { .. }))
            | (Err(AudioError::NotMp3 { .. }), Some(AudioError::NotMp3 { .. }))
            | (Err(AudioError::Malformed(_)), Some(AudioError::Malformed(_))) => {}
            (whole, sliced) => panic!("in memory: {whole:?}; streamed in chunks: {sliced:?}"),
        }
    }
    match err {
        None => "ok".to_owned(),
        Some(e) => error_class(&e),
    }
}

/// MP3 seeds with trailers: spans at the start, in the middle, past the end, negative,
/// empty; chunk lengths of 1 byte, a frame, 4 KiB, 64 KiB, random; whole-span checks.
pub fn slice_seeds() -> Vec<Vec<u8>> {
    let spans: [(i32, i32, u32); 8] = [
        (0, 1000, 4096 | 0x2000_0000),
        (250, 300, 0x8000_0000 | 700),
        (-100, 136, 143),
        (5000, 1000, 65_535),
        (0, 0, 1),
        (36, 1, 0x2000_0000 | 0x8000_0000 | 9000),
        (i32::MAX, i32::MAX, 0x4000_0000 | 4096),
        (0, 100_000, 0),
    ];
    let mut out = Vec::new();
    for (i, mp3) in seeds::mp3s().into_iter().enumerate() {
        let (off, dur, chunking) = spans[i % spans.len()];
        let mut seed = mp3;
        seed.extend_from_slice(&off.to_le_bytes());
        seed.extend_from_slice(&dur.to_le_bytes());
        seed.extend_from_slice(&chunking.to_le_bytes());
        out.push(seed);
    }
    out
}

pub fn mp3_seeds() -> Vec<Vec<u8>> {
    let mut out = seeds::mp3s();
    out.push(b"<html><body>403 Forbidden</body></html>".to_vec());
    out.push(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00".to_vec());
    out
}

pub fn wav_slice(input: &[u8]) -> String {
    let (wav, p) = split_params(input);
    let stated = (p.chunking & 0x1000_0000 != 0).then_some(wav.len() as u64);
    let (stream, longest) = chunked(wav, p.chunking);
    let (out_stream, stats) = slice_wav_with_stats(stream, Slice::new(p.offset_ms, p.duration_ms), stated);
    let (out, err) = runtime().block_on(drain(out_stream));
    let err = err.map(|e| {
        AudioError::from_io(&e)
            .cloned()
            .expect("only audio errors: the input never fails")
    });
    if p.duration_ms <= 0 {
        assert!(matches!(err, Some(AudioError::InvalidSlice { .. })) && out.is_empty());
    }
    assert!(
        !matches!(err, Some(AudioError::Worker(_) | AudioError::NoRuntime)),
        "{err:?}"
    );
    assert_eq!(stats.bytes_out(), out.len() as u64);
    assert!(
        stats.peak_buffered_bytes() <= WavStats::buffer_bound(longest),
        "held {} bytes, bound {}",
        stats.peak_buffered_bytes(),
        WavStats::buffer_bound(longest)
    );
    let header = wav_format(wav);
    if err.is_none() {
        let format = match &header {
            Ok(format) => *format,
            Err(e) => panic!("a slice was made of a WAV whose header does not read: {e}"),
        };
        check_wav_slice(wav, &out, &format, p.offset_ms);
    }
    if p.chunking & 0x2000_0000 != 0 {
        let (stream, _) = chunked(wav, p.chunking.rotate_left(7));
        let (seen, handle) = inspect(stream, None, None);
        let _ = runtime().block_on(drain(seen));
        let fields = |f: wfo_audio::WavFormat| (f.format_tag, f.channels, f.sample_rate, f.block_align, f.data_offset);
        assert_eq!(
            handle.wav_format().map(fields),
            header.as_ref().ok().map(|f| fields(*f))
        );
    }
    match err {
        None => "ok".to_owned(),
        Some(e) => error_class(&e),
    }
}

/// The output is a canonical WAV of the input's layout whose audio is the input's frames
/// from `⌈max(offset, 0) · rate / 1000⌉` on (worked out here, independently of the crate).
fn check_wav_slice(wav: &[u8], out: &[u8], format: &wfo_audio::WavFormat, offset_ms: i64) {
    assert!(out.len() > 44, "a slice without audio: {} bytes", out.len());
    let u16_at = |i: usize| u16::from_le_bytes([out[i], out[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([out[i], out[i + 1], out[i + 2], out[i + 3]]);
    assert_eq!(&out[..4], b"RIFF");
    assert_eq!(&out[8..16], b"WAVEfmt ");
    assert_eq!(&out[36..40], b"data");
    assert_eq!((u16_at(20), u16_at(22)), (1, format.channels));
    assert_eq!(
        (u32_at(24), u16_at(32), u16_at(34)),
        (format.sample_rate, format.block_align, format.bits_per_sample)
    );
    let data_len = u32_at(40) as usize;
    assert_eq!(out.len(), 44 + data_len + (data_len & 1), "data size against the bytes");
    assert_eq!(u32_at(4) as usize, out.len() - 8, "RIFF size");
    let frame = usize::from(format.block_align);
    assert!(
        data_len > 0 && data_len.is_multiple_of(frame),
        "{data_len} bytes of {frame}-byte frames"
    );
    let first = (i128::from(offset_ms.max(0)) * i128::from(format.sample_rate) + 999) / 1000;
    let from = format.data_offset as usize + first as usize * frame;
    assert!(from + data_len <= wav.len(), "more audio out than the input holds");
    assert!(
        out[44..44 + data_len] == wav[from..from + data_len],
        "the audio is not the input's frames"
    );
}

/// WAV seeds with trailers: Contact Center stereo, odd layouts, extensible, chunks in
/// front of the audio, streamed sizes (stated length or not), μ-law; spans at the start,
/// in the middle, past the end, negative, empty.
pub fn wav_seeds() -> Vec<Vec<u8>> {
    fn riff(chunks: &[(&[u8; 4], u32, &[u8])]) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        for (id, size, body) in chunks {
            out.extend_from_slice(*id);
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(body);
            if body.len() % 2 == 1 {
                out.push(0);
            }
        }
        let len = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&len.to_le_bytes());
        out
    }
    let cc = PcmWav::contact_center().bytes(8_000);
    let (fmt, audio) = (&cc[20..36], &cc[44..]);
    let mut extensible = fmt.to_vec();
    extensible.extend_from_slice(&[22, 0, 16, 0, 3, 0, 0, 0, 1, 0]);
    extensible.extend_from_slice(&[0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71]);
    let mut ulaw = fmt.to_vec();
    ulaw[0] = 7;
    let wavs = vec![
        cc.clone(),
        PcmWav::new(1, 44_100, 24).map(|w| w.bytes(4_410)).unwrap_or_default(),
        PcmWav::new(3, 11_025, 8).map(|w| w.bytes(1_103)).unwrap_or_default(),
        PcmWav::new(8, 1, 16).map(|w| w.bytes(5)).unwrap_or_default(),
        riff(&[(b"fmt ", 40, &extensible), (b"data", audio.len() as u32, audio)]),
        riff(&[
            (b"LIST", 11, b"INFOISFTodd"),
            (b"fmt ", 16, fmt),
            (b"JUNK", 4, b"\0\0\0\0"),
            (b"data", audio.len() as u32, audio),
        ]),
        riff(&[(b"fmt ", 16, fmt), (b"data", 0xFFFF_FFFF, audio)]),
        riff(&[(b"fmt ", 16, &ulaw), (b"data", audio.len() as u32, audio)]),
    ];
    let spans: [(i32, i32, u32); 8] = [
        (0, 1000, 4096 | 0x2000_0000),
        (333, 250, 0x8000_0000 | 700),
        (-100, 136, 143 | 0x1000_0000),
        (5000, 1000, 65_535),
        (0, 0, 1),
        (17, 1, 0x2000_0000 | 0x8000_0000 | 9000),
        (250, 500, 0x1000_0000 | 4096),
        (i32::MAX, i32::MAX, 0x4000_0000 | 4096),
    ];
    let mut out = Vec::new();
    for (i, wav) in wavs.into_iter().enumerate() {
        for (off, dur, chunking) in [spans[i % spans.len()], spans[(i + 3) % spans.len()]] {
            let mut seed = wav.clone();
            seed.extend_from_slice(&off.to_le_bytes());
            seed.extend_from_slice(&dur.to_le_bytes());
            seed.extend_from_slice(&chunking.to_le_bytes());
            out.push(seed);
        }
    }
    out
}

pub fn audio_counted(input: &[u8]) -> String {
    let Some((&mode, rest)) = input.split_first() else {
        return "empty".to_owned();
    };
    let (data, expected) = match mode % 4 {
        0 => (rest, rest.len() as u64),
        1 => (rest, (rest.len() as u64).saturating_sub(1)),
        2 => (rest, rest.len() as u64 + 1),
        _ if rest.len() >= 8 => {
            let (data, tail) = rest.split_at(rest.len() - 8);
            (data, u64::from_le_bytes(tail.try_into().unwrap_or_default()))
        }
        _ => (rest, 0),
    };
    let chunking = (u32::from(mode) << 8) | (data.len() as u32 & 0xff);
    let (stream, _) = chunked(data, chunking | 0x8000_0000);
    let (checked, handle) = with_expected_len(stream, expected);
    let (out, err) = runtime().block_on(drain(checked));
    assert!(data.starts_with(&out), "the bytes were changed");
    let total = data.len() as u64;
    if expected == total {
        assert!(err.is_none(), "{err:?}");
        assert_eq!(out, data);
        assert_eq!(handle.check_len(expected), Ok(total));
    } else {
        let err = err.expect("a wrong length fails the stream");
        assert!(
            matches!(AudioError::from_io(&err), Some(AudioError::LengthMismatch { .. })),
            "{err}"
        );
        assert!(handle.check_len(expected).is_err());
        assert!(out.len() as u64 <= expected, "passed more than announced");
    }

    let (stream, _) = chunked(data, chunking);
    let (plain, handle) = counted(stream);
    let (out, err) = runtime().block_on(drain(plain));
    assert!(err.is_none() && out == data);
    assert_eq!(handle.check_len(total), Ok(total));
    format!("{}", u8::from(expected == total))
}

pub fn counted_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, mp3) in seeds::silent_mp3s().into_iter().take(4).enumerate() {
        let mut seed = vec![i as u8];
        seed.extend_from_slice(&mp3);
        out.push(seed);
    }
    let mut wav = vec![3u8];
    wav.extend_from_slice(b"RIFF\x24\x00\x00\x00WAVEfmt ");
    wav.extend_from_slice(&(wav.len() as u64 - 1).to_le_bytes());
    out.push(wav);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_slice_and_count_without_complaint() {
        let sliced: Vec<String> = slice_seeds().iter().map(|s| mp3_slice(s)).collect();
        assert!(sliced.iter().filter(|o| *o == "ok").count() >= 4, "{sliced:?}");
        assert!(sliced.iter().any(|o| o == "InvalidSlice"));
        let wavs: Vec<String> = wav_seeds().iter().map(|s| wav_slice(s)).collect();
        assert!(wavs.iter().filter(|o| *o == "ok").count() >= 6, "{wavs:?}");
        for class in ["InvalidSlice", "WavUnsupported", "WavLengthUnknown", "SliceBeyondEnd"] {
            assert!(wavs.iter().any(|o| o == class), "no seed ends in {class}: {wavs:?}");
        }
        let durations: Vec<String> = mp3_seeds().iter().map(|s| mp3_duration(s)).collect();
        assert!(durations.iter().any(|o| o == "ok:1") && durations.iter().any(|o| o == "NotMp3"));
        for s in counted_seeds() {
            audio_counted(&s);
        }
    }
}
