//! Fixtures for the audio tests: real MP3s from LAME, chunked streams, an independent
//! frame lister (the oracle the slicer is checked against), and a symphonia decoder.
#![allow(dead_code)]

use std::io;

use bytes::Bytes;
use futures::StreamExt;
use mp3lame_encoder::{Bitrate, Builder, FlushGap, Id3Tag, MonoPcm, Quality};
use wfo_audio::{AudioError, ByteStream};

/// How a fixture recording is encoded.
#[derive(Clone, Copy)]
pub struct Encoding {
    pub sample_rate: u32,
    pub bitrate: Bitrate,
    /// Keep LAME's Xing/Info frame, filled in as a finished file has it.
    pub info_frame: bool,
    /// Let LAME put an ID3v2 tag in front.
    pub id3: bool,
}

/// 16 kHz mono 32 kbit/s, no tag, no Info frame: what telephony recordings look like.
pub const PHONE: Encoding = Encoding {
    sample_rate: 16_000,
    bitrate: Bitrate::Kbps32,
    info_frame: false,
    id3: false,
};

/// 16 kHz mono at 64 kbit/s with LAME's Info frame (at 32 kbit/s a frame is too small
/// for the tag, and LAME leaves it out).
pub const PHONE_WITH_INFO: Encoding = Encoding {
    sample_rate: 16_000,
    bitrate: Bitrate::Kbps64,
    info_frame: true,
    id3: false,
};

/// `seconds` of a 440 Hz tone, mono, encoded by LAME.
pub fn tone_mp3(seconds: f64, encoding: Encoding) -> Vec<u8> {
    let mut builder = Builder::new().expect("LAME builder");
    builder.set_num_channels(1).expect("channels");
    builder.set_sample_rate(encoding.sample_rate).expect("sample rate");
    builder.set_brate(encoding.bitrate).expect("bitrate");
    builder.set_quality(Quality::Good).expect("quality");
    builder.set_to_write_vbr_tag(encoding.info_frame).expect("vbr tag");
    if encoding.id3 {
        builder
            .set_id3_tag(Id3Tag {
                title: b"Call 42",
                artist: b"Webex Calling",
                album: b"",
                album_art: &[],
                year: b"2025",
                comment: b"recording",
            })
            .expect("id3");
    }
    let mut encoder = builder.build().expect("LAME encoder");
    let samples = (seconds * f64::from(encoding.sample_rate)) as usize;
    let pcm: Vec<i16> = (0..samples)
        .map(|i| {
            let t = i as f64 / f64::from(encoding.sample_rate);
            ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
        })
        .collect();
    let mut out = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(pcm.len()));
    encoder.encode_to_vec(MonoPcm(&pcm), &mut out).expect("encode");
    out.reserve(7200);
    encoder.flush_to_vec::<FlushGap>(&mut out).expect("flush");
    if encoding.info_frame {
        // LAME wrote a blank placeholder frame; a finished file carries the real tag there.
        let mut tag = Vec::with_capacity(encoder.lame_tag_size());
        encoder.lame_tag_encode_to_vec(&mut tag).expect("lame tag");
        let at = encoder.id3v2_tag_size();
        out[at..at + tag.len()].copy_from_slice(&tag);
    }
    out
}

/// One frame of a fixture, located by the oracle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameAt {
    pub pos: usize,
    pub len: usize,
    /// Start in samples, counted from the first audio frame.
    pub ts: u64,
    pub samples: u64,
    pub sample_rate: u32,
}

impl FrameAt {
    /// Exact start in milliseconds, as a fraction `ts·1000 / rate`.
    pub fn starts_in(&self, offset_ms: i64, duration_ms: i64) -> bool {
        let t = i128::from(self.ts) * 1000;
        let rate = i128::from(self.sample_rate);
        i128::from(offset_ms) * rate <= t && t < (i128::from(offset_ms) + i128::from(duration_ms)) * rate
    }
}

/// Lists the audio frames of a clean Layer III file (no junk between frames), skipping a
/// leading ID3v2 tag and a leading Xing/Info frame. Written independently of the crate.
pub fn audio_frames(bytes: &[u8]) -> Vec<FrameAt> {
    let mut pos = 0;
    if bytes.len() >= 10 && &bytes[..3] == b"ID3" {
        let size = bytes[6..10].iter().fold(0usize, |acc, b| (acc << 7) | usize::from(*b));
        pos = 10 + size + if bytes[5] & 0x10 != 0 { 10 } else { 0 };
    }
    let mut frames = Vec::new();
    let mut ts = 0u64;
    let mut first = true;
    while pos + 4 <= bytes.len() {
        let h = &bytes[pos..pos + 4];
        if h[..3] == *b"TAG" && bytes.len() - pos == 128 {
            break; // ID3v1 tag at the end
        }
        assert!(h[0] == 0xff && h[1] & 0xe0 == 0xe0, "fixture has junk at {pos}");
        let version = (h[1] >> 3) & 3; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
        assert_eq!((h[1] >> 1) & 3, 1, "layer III only");
        let mpeg1 = version == 3;
        let bitrates: [u32; 15] = if mpeg1 {
            [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
        } else {
            [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
        };
        let bitrate = bitrates[usize::from(h[2] >> 4)] * 1000;
        let base_rate = [44_100, 48_000, 32_000][usize::from((h[2] >> 2) & 3)];
        let sample_rate = match version {
            3 => base_rate,
            2 => base_rate / 2,
            _ => base_rate / 4,
        };
        let samples: u64 = if mpeg1 { 1152 } else { 576 };
        let len = (samples / 8 * u64::from(bitrate) / u64::from(sample_rate)) as usize + usize::from((h[2] >> 1) & 1);
        if pos + len > bytes.len() {
            break;
        }
        let mono = h[3] >> 6 == 3;
        let side_info = match (mpeg1, mono) {
            (true, true) => 17,
            (true, false) => 32,
            (false, true) => 9,
            (false, false) => 17,
        };
        let tag = &bytes[pos + 4 + side_info..pos + 8 + side_info];
        let is_info = first && (tag == b"Info" || tag == b"Xing");
        if !is_info {
            frames.push(FrameAt {
                pos,
                len,
                ts,
                samples,
                sample_rate,
            });
            ts += samples;
        }
        first = false;
        pos += len;
    }
    frames
}

/// The bytes the slicer must produce for a span, according to the oracle.
pub fn expected_slice(bytes: &[u8], offset_ms: i64, duration_ms: i64) -> Vec<u8> {
    audio_frames(bytes)
        .iter()
        .filter(|f| f.starts_in(offset_ms, duration_ms))
        .flat_map(|f| bytes[f.pos..f.pos + f.len].iter().copied())
        .collect()
}

/// `bytes` as a stream of chunks whose lengths come from `next_len` (0 means an empty chunk).
pub fn chunked(bytes: &[u8], mut next_len: impl FnMut() -> usize) -> ByteStream {
    let bytes = Bytes::copy_from_slice(bytes);
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = next_len().min(bytes.len() - at);
        chunks.push(Ok(bytes.slice(at..at + len)));
        at += len;
    }
    futures::stream::iter(chunks).boxed()
}

/// `bytes` in chunks of `len`.
pub fn fixed_chunks(bytes: &[u8], len: usize) -> ByteStream {
    chunked(bytes, move || len)
}

/// A small deterministic generator (xorshift64*), for chunk sizes and junk.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Everything the stream yields, and the error that ended it, if any.
pub async fn collect(mut stream: ByteStream) -> (Vec<u8>, Option<io::Error>) {
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(error) => return (out, Some(error)),
        }
    }
    (out, None)
}

/// The stream's bytes, failing the test on an error.
pub async fn collect_ok(stream: ByteStream) -> Vec<u8> {
    let (out, error) = collect(stream).await;
    if let Some(error) = error {
        panic!("stream failed: {error}");
    }
    out
}

/// The `AudioError` the stream ended with.
pub async fn collect_audio_error(stream: ByteStream) -> (Vec<u8>, AudioError) {
    let (out, error) = collect(stream).await;
    let error = error.expect("the stream should fail");
    let audio = AudioError::from_io(&error)
        .cloned()
        .unwrap_or_else(|| panic!("not an AudioError: {error}"));
    (out, audio)
}

/// Decodes every frame of `bytes` with symphonia's MP3 decoder. Returns the number of
/// decoded samples; panics on any demux or decode error.
pub fn decode_samples(bytes: &[u8]) -> u64 {
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::formats::{FormatOptions, FormatReader};
    use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
    use symphonia::default::formats::MpaReader;

    let source = ReadOnlySource::new(io::Cursor::new(bytes.to_vec()));
    let mss = MediaSourceStream::new(Box::new(source), Default::default());
    let mut reader = MpaReader::try_new(mss, &FormatOptions::default()).expect("output opens as MP3");
    let params = reader.tracks()[0].codec_params.clone();
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .expect("MP3 decoder");
    let mut samples = 0;
    loop {
        match reader.next_packet() {
            Ok(packet) => {
                let decoded = decoder.decode(&packet).expect("every frame decodes");
                samples += decoded.frames() as u64;
            }
            Err(symphonia::core::errors::Error::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(other) => panic!("demux error: {other}"),
        }
    }
    samples
}
