//! PCM WAV: the header read as the bytes go by, and slices cut at sample-frame boundaries.
//!
//! Contact Center 2.0 captures are RIFF/WAVE files of linear PCM (8 kHz, 16-bit, two
//! channels: caller and agent). A slice of one is another WAV: a fresh 44-byte PCM header
//! stating the slice's length, then the slice's sample frames, byte for byte and in the
//! input's channel order. Because the input's `data` chunk states its size and the `fmt `
//! chunk its frame size and rate, the slice's length is known before its first byte is
//! sent, so the header goes out first and nothing is buffered.
//!
//! # Reading the header without holding it
//!
//! [`HeaderParser`] is a push parser: it takes the input in whatever pieces it arrives,
//! keeps at most [`SCRATCH_LEN`] bytes of it (the RIFF header, a chunk header, or the
//! first 40 bytes of `fmt `), steps over every other chunk (`LIST`, `bext`, `JUNK`, …,
//! with their pad byte when odd-sized) by counting, and stops at the first byte of `data`.
//! Everything before `data` may take at most [`HEADER_LIMIT`] bytes: a chunk that would
//! pass it is refused as soon as its header is read, not after megabytes of reading.
//!
//! # What is sliced, what is refused
//!
//! Format tag 1 (PCM), or `WAVE_FORMAT_EXTENSIBLE` with the PCM sub-format; 1 to 8
//! channels; 8, 16, 24 or 32 bits; 1 Hz to 384 kHz; `block_align` equal to channels ×
//! bytes per sample. Anything else that is a readable WAV (μ-law, A-law, ADPCM, IEEE
//! float, GSM, MPEG, 12-bit PCM, …) is refused by name with
//! [`AudioError::WavUnsupported`]: such a recording is never cut at a place that is not a
//! frame boundary. The slice's header is always the canonical 44-byte PCM one (format tag
//! 1), also for an extensible input: its channel mask and valid-bits count are not
//! carried (samples stay left-justified in their containers, so players read them right).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures::{Stream, StreamExt};

use crate::{AudioError, ByteStream, Slice};

/// Most channels a sliced WAV may have.
pub const MAX_CHANNELS: u16 = 8;

/// Highest sample rate a sliced WAV may have.
pub const MAX_SAMPLE_RATE: u32 = 384_000;

/// Most bytes a WAV may have before the first byte of its `data` chunk (its RIFF header,
/// `fmt ` and every other chunk in front of the audio).
pub const HEADER_LIMIT: u64 = 16 * 1024 * 1024;

/// Length of the canonical PCM header written in front of every slice.
pub const WAV_HEADER_LEN: usize = 44;

/// Bytes of input the header parser keeps at once (the longest part it needs whole: the
/// 40 bytes of an extensible `fmt ` chunk).
pub const SCRATCH_LEN: usize = 40;

/// The `data` chunk size a writer leaves when it streams and never goes back (besides 0).
const STREAMED_SIZE: u32 = 0xFFFF_FFFF;

/// `WAVE_FORMAT_EXTENSIBLE`.
const EXTENSIBLE: u16 = 0xFFFE;

/// The last 14 bytes of every `KSDATAFORMAT_SUBTYPE_*` GUID made from a format tag.
const SUBFORMAT_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// What the header of a WAV says about its audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    /// The encoding: the format tag, or for `WAVE_FORMAT_EXTENSIBLE` its sub-format's tag
    /// (1 = PCM, 3 = IEEE float, 6 = A-law, 7 = μ-law, …).
    pub format_tag: u16,
    /// The `fmt ` chunk was `WAVE_FORMAT_EXTENSIBLE`.
    pub extensible: bool,
    pub channels: u16,
    pub sample_rate: u32,
    /// Bits of one sample's container (`wBitsPerSample`).
    pub bits_per_sample: u16,
    /// Bytes of one sample frame: all channels' samples at one instant.
    pub block_align: u16,
    /// Offset of the first audio byte in the file (just after the `data` chunk header).
    pub data_offset: u64,
    /// Bytes of audio the `data` chunk announces; `None` for a streamed WAV, whose writer
    /// left the size at 0 or 0xFFFFFFFF.
    pub data_len: Option<u64>,
}

impl WavFormat {
    /// A readable name of the encoding, for messages.
    pub fn encoding_name(&self) -> String {
        let name = match self.format_tag {
            0x0001 => return format!("{}-bit PCM", self.bits_per_sample),
            0x0002 => "Microsoft ADPCM",
            0x0003 => "IEEE float",
            0x0006 => "A-law (G.711)",
            0x0007 => "μ-law (G.711)",
            0x0010 => "OKI ADPCM",
            0x0011 => "IMA ADPCM",
            0x0022 => "DSP Group TrueSpeech",
            0x0031 => "GSM 6.10",
            0x0040 => "G.721 ADPCM",
            0x0050 => "MPEG audio",
            0x0055 => "MPEG Layer 3",
            0x0064 => "G.726 ADPCM",
            0x0065 => "G.722 ADPCM",
            0x0161 => "Windows Media Audio",
            other => return format!("format tag {other:#06x}"),
        };
        name.to_owned()
    }

    /// Whole sample frames in the `data` chunk (a trailing partial frame is not one).
    pub fn frames(&self) -> Option<u64> {
        self.data_len.map(|len| len / u64::from(self.block_align.max(1)))
    }

    /// Duration of the audio in milliseconds (rounded to the nearest), when the data size
    /// is known.
    pub fn duration_ms(&self) -> Option<i64> {
        self.frames().map(|frames| frames_to_ms(frames, self.sample_rate))
    }

    /// `Ok` when the audio is PCM this crate slices: see the module documentation.
    pub fn check_sliceable(&self) -> Result<(), AudioError> {
        if self.format_tag != 1 || !matches!(self.bits_per_sample, 8 | 16 | 24 | 32) {
            return Err(AudioError::WavUnsupported {
                encoding: self.encoding_name(),
            });
        }
        let expected = u32::from(self.channels) * u32::from(self.bits_per_sample / 8);
        if u32::from(self.block_align) != expected {
            return Err(AudioError::WavMalformed(format!(
                "block align {} for {} channels of {} bits ({expected} expected)",
                self.block_align, self.channels, self.bits_per_sample
            )));
        }
        Ok(())
    }
}

/// Milliseconds in `frames` at `rate`, rounded to the nearest.
fn frames_to_ms(frames: u64, rate: u32) -> i64 {
    let rate = u128::from(rate.max(1));
    let ms = (u128::from(frames) * 1000 + rate / 2) / rate;
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// A chunk id as text for messages (`'LIST'`, or its bytes escaped).
fn chunk_name(id: [u8; 4]) -> String {
    let text: String = id
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    format!("'{text}'")
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Where the header parser stands.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// `RIFF`, size, `WAVE`: 12 bytes.
    Riff,
    /// A chunk's id and size: 8 bytes.
    ChunkHeader,
    /// Inside `fmt `: keeping its first `keep` bytes, then stepping over the rest.
    Fmt { size: u32, keep: usize, read: u64 },
    /// Inside another chunk (pad byte included): `left` bytes to step over.
    Skip { id: [u8; 4], size: u64, left: u64 },
    /// At the first byte of the audio.
    Done(WavFormat),
}

/// Reads a WAV header from the input as it arrives, keeping at most [`SCRATCH_LEN`] bytes.
#[derive(Debug, Clone)]
pub(crate) struct HeaderParser {
    part: Part,
    /// Bytes of the input consumed so far.
    pos: u64,
    scratch: [u8; SCRATCH_LEN],
    filled: usize,
    fmt: Option<WavFormat>,
}

impl Default for HeaderParser {
    fn default() -> Self {
        HeaderParser {
            part: Part::Riff,
            pos: 0,
            scratch: [0; SCRATCH_LEN],
            filled: 0,
            fmt: None,
        }
    }
}

impl HeaderParser {
    /// Consumes from `input` what belongs to the header. Returns how many bytes it took and,
    /// once the `data` chunk has been reached, the format (the rest of `input` is audio).
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Option<WavFormat>), AudioError> {
        let mut used = 0;
        loop {
            if let Part::Done(format) = self.part {
                return Ok((used, Some(format)));
            }
            if used == input.len() {
                return Ok((used, None));
            }
            let rest = &input[used..];
            let taken = match self.part {
                Part::Riff => self.fill(rest, 12),
                Part::ChunkHeader => self.fill(rest, 8),
                Part::Fmt { keep, read, .. } if (read as usize) < keep => self.fill(rest, keep),
                Part::Fmt { size, read, .. } => {
                    let left = u64::from(size) + u64::from(size & 1) - read;
                    usize::try_from(left).map_or(rest.len(), |left| left.min(rest.len()))
                }
                Part::Skip { left, .. } => usize::try_from(left).map_or(rest.len(), |left| left.min(rest.len())),
                Part::Done(_) => 0,
            };
            used += taken;
            self.pos += taken as u64;
            self.advance(taken)?;
        }
    }

    /// Copies up to `want - filled` bytes into the scratch buffer.
    fn fill(&mut self, rest: &[u8], want: usize) -> usize {
        let n = (want - self.filled).min(rest.len());
        self.scratch[self.filled..self.filled + n].copy_from_slice(&rest[..n]);
        self.filled += n;
        n
    }

    /// Moves on once the current part has what it needs.
    fn advance(&mut self, taken: usize) -> Result<(), AudioError> {
        match self.part {
            Part::Riff if self.filled == 12 => {
                if &self.scratch[..4] != b"RIFF" || &self.scratch[8..12] != b"WAVE" {
                    return Err(AudioError::NotAudio {
                        expected: "WAV",
                        found: crate::inspect::describe(&self.scratch[..12]),
                    });
                }
                self.next_chunk();
            }
            Part::ChunkHeader if self.filled == 8 => self.chunk_header()?,
            Part::Fmt { size, keep, read } => {
                let read = read + taken as u64;
                self.part = Part::Fmt { size, keep, read };
                if read as usize == keep && self.filled == keep {
                    self.fmt = Some(self.fmt_fields(keep)?);
                    self.filled = 0;
                }
                if read == u64::from(size) + u64::from(size & 1) {
                    self.next_chunk();
                }
            }
            Part::Skip { id, size, left } => {
                let left = left - taken as u64;
                self.part = Part::Skip { id, size, left };
                if left == 0 {
                    self.next_chunk();
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn next_chunk(&mut self) {
        self.filled = 0;
        self.part = Part::ChunkHeader;
    }

    fn chunk_header(&mut self) -> Result<(), AudioError> {
        let id = [self.scratch[0], self.scratch[1], self.scratch[2], self.scratch[3]];
        let size = u32_at(&self.scratch, 4);
        self.filled = 0;
        if &id == b"data" {
            let Some(mut format) = self.fmt else {
                return Err(AudioError::WavMalformed(
                    "the 'data' chunk comes before any 'fmt ' chunk".to_owned(),
                ));
            };
            format.data_offset = self.pos;
            format.data_len = (size != 0 && size != STREAMED_SIZE).then_some(u64::from(size));
            self.part = Part::Done(format);
            return Ok(());
        }
        let padded = u64::from(size) + u64::from(size & 1);
        if self.pos + padded > HEADER_LIMIT {
            return Err(AudioError::WavMalformed(format!(
                "chunk {} at byte {} announces {size} bytes: more than the {HEADER_LIMIT} bytes allowed in front \
                 of the audio data",
                chunk_name(id),
                self.pos - 8
            )));
        }
        if &id == b"fmt " {
            if self.fmt.is_some() {
                return Err(AudioError::WavMalformed("two 'fmt ' chunks".to_owned()));
            }
            if size < 16 {
                return Err(AudioError::WavMalformed(format!(
                    "'fmt ' chunk of {size} bytes (at least 16 needed)"
                )));
            }
            let keep = usize::try_from(size).map_or(SCRATCH_LEN, |size| size.min(SCRATCH_LEN));
            self.part = Part::Fmt { size, keep, read: 0 };
        } else if padded == 0 {
            self.next_chunk();
        } else {
            self.part = Part::Skip {
                id,
                size: padded,
                left: padded,
            };
        }
        Ok(())
    }

    /// The format fields of the `fmt ` chunk, whose first `keep` bytes are in the scratch.
    fn fmt_fields(&self, keep: usize) -> Result<WavFormat, AudioError> {
        let f = &self.scratch[..keep];
        let tag = u16_at(f, 0);
        let channels = u16_at(f, 2);
        let sample_rate = u32_at(f, 4);
        let block_align = u16_at(f, 12);
        let bits_per_sample = u16_at(f, 14);
        let mut format_tag = tag;
        let extensible = tag == EXTENSIBLE;
        if extensible {
            // cbSize (2), valid bits (2), channel mask (4), sub-format GUID (16).
            if keep < 40 || u16_at(f, 16) < 22 {
                return Err(AudioError::WavMalformed(format!(
                    "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk of {keep} bytes without its 22-byte extension"
                )));
            }
            if f[26..40] != SUBFORMAT_TAIL {
                return Err(AudioError::WavUnsupported {
                    encoding: "WAVE_FORMAT_EXTENSIBLE with a sub-format GUID not made from a format tag".to_owned(),
                });
            }
            format_tag = u16_at(f, 24);
            let valid_bits = u16_at(f, 18);
            if valid_bits > bits_per_sample {
                return Err(AudioError::WavMalformed(format!(
                    "{valid_bits} valid bits in {bits_per_sample}-bit samples"
                )));
            }
        }
        if !(1..=MAX_CHANNELS).contains(&channels) {
            return Err(AudioError::WavMalformed(format!(
                "{channels} channels (1 to {MAX_CHANNELS} are read)"
            )));
        }
        if !(1..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(AudioError::WavMalformed(format!(
                "sample rate {sample_rate} Hz (1 to {MAX_SAMPLE_RATE} are read)"
            )));
        }
        Ok(WavFormat {
            format_tag,
            extensible,
            channels,
            sample_rate,
            bits_per_sample,
            block_align,
            data_offset: 0,
            data_len: None,
        })
    }

    /// The error for an input that ended here, before the first audio byte.
    pub fn ended(&self) -> AudioError {
        let (part, expected, got) = match self.part {
            Part::Riff if self.pos == 0 => return AudioError::Empty,
            Part::Riff => ("the RIFF/WAVE header".to_owned(), 12, self.pos),
            Part::ChunkHeader => {
                let missing = if self.fmt.is_none() {
                    "'fmt ' and 'data'"
                } else {
                    "'data'"
                };
                (
                    format!("the next chunk header (the input ended without its {missing} chunk)"),
                    8,
                    self.filled as u64,
                )
            }
            Part::Fmt { size, read, .. } => ("the 'fmt ' chunk".to_owned(), u64::from(size), read),
            Part::Skip { id, size, left } => (format!("chunk {}", chunk_name(id)), size, size - left),
            Part::Done(_) => return AudioError::WavMalformed("the header parser ended after the header".to_owned()),
        };
        AudioError::WavTruncated { part, expected, got }
    }
}

/// The format of the WAV whose first bytes (at least up to its `data` chunk header) are
/// `bytes`. For tests and inspection of data already in memory.
pub fn wav_format(bytes: &[u8]) -> Result<WavFormat, AudioError> {
    let mut parser = HeaderParser::default();
    match parser.feed(bytes)? {
        (_, Some(format)) => Ok(format),
        (_, None) => Err(parser.ended()),
    }
}

/// The canonical 44-byte PCM header of `data_len` bytes of audio in `format`'s layout.
pub fn pcm_header(format: &WavFormat, data_len: u32) -> [u8; WAV_HEADER_LEN] {
    let riff_len = data_len.saturating_add(36).saturating_add(data_len & 1);
    let mut h = [0u8; WAV_HEADER_LEN];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&riff_len.to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&format.channels.to_le_bytes());
    h[24..28].copy_from_slice(&format.sample_rate.to_le_bytes());
    let byte_rate = format.sample_rate.saturating_mul(u32::from(format.block_align));
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&format.block_align.to_le_bytes());
    h[34..36].copy_from_slice(&format.bits_per_sample.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// Which bytes of the `data` chunk a slice takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    /// Audio bytes to step over before the slice.
    skip: u64,
    /// Audio bytes of the slice: whole frames.
    len: u64,
}

/// The frames of `data_len` bytes of audio whose start time lies in the slice.
///
/// Frame `n` starts at `n / rate` seconds and belongs to the slice when
/// `offset_ms ≤ n·1000/rate < offset_ms + duration_ms` (exact, the MP3 slicer's rule): the
/// first frame is `⌈offset·rate/1000⌉`, the end `⌈end·rate/1000⌉`, clipped to the audio.
fn cut(format: &WavFormat, data_len: u64, slice: Slice) -> Result<Cut, AudioError> {
    let rate = i128::from(format.sample_rate);
    let frame_bytes = u64::from(format.block_align);
    let total = data_len / frame_bytes;
    let ceil_frames = |ms: i128| -> u64 {
        let scaled = ms.max(0) * rate;
        u64::try_from((scaled + 999) / 1000).unwrap_or(u64::MAX)
    };
    let start_ms = i128::from(slice.offset_ms);
    let start = ceil_frames(start_ms);
    let end = ceil_frames(start_ms + i128::from(slice.duration_ms)).min(total);
    if start >= total {
        return Err(AudioError::SliceBeyondEnd {
            offset_ms: slice.offset_ms,
            duration_ms: slice.duration_ms,
            audio_ms: frames_to_ms(total, format.sample_rate),
        });
    }
    if end <= start {
        return Err(AudioError::SliceBetweenFrames {
            offset_ms: slice.offset_ms,
            duration_ms: slice.duration_ms,
            frame_ms: frames_to_ms(1, format.sample_rate),
        });
    }
    Ok(Cut {
        skip: start * frame_bytes,
        len: (end - start) * frame_bytes,
    })
}

/// Cuts a PCM WAV byte stream to the sample frames of one time span, without buffering.
///
/// The output is a complete WAV: a 44-byte PCM header (same channels, rate and sample
/// size as the input; RIFF and data sizes those of the slice), then the slice's frames
/// unchanged and interleaved as they were (stereo stays stereo, channel 1 first), then a
/// pad byte when the audio is odd-sized. Frames belong to the slice by their start time,
/// exactly as in [`crate::slice_mp3`]: slices that tile a timeline tile its frames. A span
/// overlapping the end of the audio yields the frames it has; reading stops at the end of
/// the span, the rest of the input is not pulled.
///
/// `input_len` is the total length of the input when the source states it (a
/// `Content-Length`). It is needed only for a streamed WAV, whose `data` size is 0 or
/// 0xFFFFFFFF: the audio is then taken to run to the end of the input. It also lets a
/// `data` chunk that announces more than the input holds be refused before anything is
/// sent.
///
/// # Errors (as the stream's last item)
///
/// - An error of the input stream: passed on unchanged.
/// - [`AudioError::InvalidSlice`] when `duration_ms ≤ 0` (nothing is read).
/// - [`AudioError::Empty`], [`AudioError::NotAudio`] (no `RIFF…WAVE`),
///   [`AudioError::WavMalformed`], [`AudioError::WavTruncated`] (the input ends inside
///   the header or before the end of the slice, or its stated length is too short for its
///   `data` chunk): the header, before a byte is sent, or the audio, after.
/// - [`AudioError::WavUnsupported`]: not linear PCM of 8/16/24/32 bits (named).
/// - [`AudioError::WavLengthUnknown`]: a streamed WAV with audio and no `input_len`.
/// - [`AudioError::SliceBeyondEnd`] (the span starts at or after the end of the audio: it
///   names the span and the audio's length), [`AudioError::SliceBetweenFrames`] (the span
///   is shorter than one sample frame and holds no frame start), and
///   [`AudioError::WavSliceTooLarge`]: before a byte is sent.
///
/// # Memory
///
/// The slicer holds the input chunk in hand and [`SCRATCH_LEN`] bytes of header: at most
/// [`WavStats::buffer_bound`]. Output chunks are views of the input chunks, never copies.
/// It needs no runtime: any executor can poll it.
pub fn slice_wav(input: ByteStream, slice: Slice, input_len: Option<u64>) -> ByteStream {
    slice_wav_with_stats(input, slice, input_len).0
}

/// [`slice_wav`], plus live counters of what the slicer read, emitted and held.
pub fn slice_wav_with_stats(input: ByteStream, slice: Slice, input_len: Option<u64>) -> (ByteStream, WavStats) {
    let stats = WavStats::default();
    let phase = if slice.duration_ms <= 0 {
        Phase::Fail(AudioError::InvalidSlice {
            offset_ms: slice.offset_ms,
            duration_ms: slice.duration_ms,
        })
    } else {
        Phase::Header(Box::default())
    };
    let stream = WavSlicer {
        input,
        slice,
        input_len,
        phase,
        pending: None,
        stats: stats.clone(),
    };
    (stream.boxed(), stats)
}

/// Live counters of one WAV slicing stream (cheap to clone; all clones see the same
/// values).
#[derive(Debug, Clone, Default)]
pub struct WavStats(Arc<Mutex<WavCounts>>);

#[derive(Debug, Default, Clone, Copy)]
struct WavCounts {
    bytes_in: u64,
    bytes_out: u64,
    audio_out: u64,
    peak: usize,
    format: Option<WavFormat>,
}

impl WavStats {
    fn with<T>(&self, f: impl FnOnce(&mut WavCounts) -> T) -> T {
        match self.0.lock() {
            Ok(mut counts) => f(&mut counts),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Input bytes pulled so far.
    pub fn bytes_in(&self) -> u64 {
        self.with(|c| c.bytes_in)
    }

    /// Bytes emitted (header and pad byte included).
    pub fn bytes_out(&self) -> u64 {
        self.with(|c| c.bytes_out)
    }

    /// Sample frames emitted.
    pub fn frames_out(&self) -> u64 {
        self.with(|c| c.format.map_or(0, |f| c.audio_out / u64::from(f.block_align.max(1))))
    }

    /// Duration of the emitted frames, in milliseconds (rounded).
    pub fn ms_out(&self) -> i64 {
        let (frames, rate) = self.with(|c| {
            let f = c.format;
            (
                f.map_or(0, |f| c.audio_out / u64::from(f.block_align.max(1))),
                f.map_or(1, |f| f.sample_rate),
            )
        });
        frames_to_ms(frames, rate)
    }

    /// The input's format, once its header has been read.
    pub fn format(&self) -> Option<WavFormat> {
        self.with(|c| c.format)
    }

    /// The most input bytes the slicer held at once so far: the input chunk in hand (the
    /// header parser's [`SCRATCH_LEN`] bytes and the 44-byte header are counted by
    /// [`WavStats::buffer_bound`], not here).
    pub fn peak_buffered_bytes(&self) -> usize {
        self.with(|c| c.peak)
    }

    /// The guaranteed ceiling of what the slicer holds when no input chunk is longer than
    /// `max_input_chunk`: that chunk, the parser's scratch and one output header.
    pub fn buffer_bound(max_input_chunk: usize) -> usize {
        max_input_chunk + SCRATCH_LEN + WAV_HEADER_LEN
    }

    fn saw_held(&self, bytes: usize) {
        self.with(|c| c.peak = c.peak.max(bytes));
    }
}

enum Phase {
    /// Reading the header.
    Header(Box<HeaderParser>),
    /// A streamed WAV without a stated length: only an input that ends here (no audio at
    /// all) can be answered.
    StreamedEnd(WavFormat),
    /// Sending the slice's audio.
    Audio {
        skip: u64,
        left: u64,
        /// Audio bytes of the slice and of the data chunk before it, for the truncation error.
        expected: u64,
        read: u64,
        pad: bool,
    },
    /// The last item: an error.
    Fail(AudioError),
    Done,
}

struct WavSlicer {
    input: ByteStream,
    slice: Slice,
    input_len: Option<u64>,
    phase: Phase,
    /// Audio of the chunk that ended the header, sent right after the slice's header.
    pending: Option<Bytes>,
    stats: WavStats,
}

type Item = Option<std::io::Result<Bytes>>;

impl WavSlicer {
    fn fail(&mut self, error: AudioError) -> Poll<Item> {
        self.phase = Phase::Done;
        Poll::Ready(Some(Err(error.into_io())))
    }

    fn emit(&mut self, chunk: Bytes, audio: bool) -> Poll<Item> {
        self.stats.with(|c| {
            c.bytes_out += chunk.len() as u64;
            if audio {
                c.audio_out += chunk.len() as u64;
            }
        });
        Poll::Ready(Some(Ok(chunk)))
    }

    /// The header is read: decide the cut, and start the slice with its header.
    fn start(&mut self, format: WavFormat, rest: &Bytes) -> Result<Option<Bytes>, AudioError> {
        self.stats.with(|c| c.format = Some(format));
        format.check_sliceable()?;
        let available = self.input_len.map(|len| len.saturating_sub(format.data_offset));
        let data_len = match (format.data_len, available) {
            (Some(announced), Some(available)) if announced > available => {
                return Err(AudioError::WavTruncated {
                    part: "the 'data' chunk (by the stated length of the download)".to_owned(),
                    expected: announced,
                    got: available,
                });
            }
            (Some(announced), _) => announced,
            (None, Some(available)) => available,
            (None, None) => {
                if !rest.is_empty() {
                    return Err(AudioError::WavLengthUnknown);
                }
                self.phase = Phase::StreamedEnd(format);
                return Ok(None);
            }
        };
        let cut = cut(&format, data_len, self.slice)?;
        let len = u32::try_from(cut.len)
            .ok()
            .filter(|len| *len <= u32::MAX - 37)
            .ok_or(AudioError::WavSliceTooLarge { bytes: cut.len })?;
        self.phase = Phase::Audio {
            skip: cut.skip,
            left: cut.len,
            expected: cut.skip + cut.len,
            read: 0,
            pad: len & 1 == 1,
        };
        Ok(Some(Bytes::copy_from_slice(&pcm_header(&format, len))))
    }

    /// The part of `chunk` that belongs to the slice (a view, not a copy), stepping over the
    /// audio before it; `None` when the chunk holds none of it.
    fn take_audio(&mut self, chunk: &mut Bytes) -> Option<Bytes> {
        let Phase::Audio { skip, left, read, .. } = &mut self.phase else {
            return None;
        };
        let n = usize::try_from(*skip).map_or(chunk.len(), |skip| skip.min(chunk.len()));
        chunk.advance(n);
        *skip -= n as u64;
        *read += n as u64;
        let n = usize::try_from(*left).map_or(chunk.len(), |left| left.min(chunk.len()));
        *left -= n as u64;
        *read += n as u64;
        (n > 0).then(|| chunk.split_to(n))
    }
}

impl Stream for WavSlicer {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Item> {
        let this = &mut *self;
        loop {
            if let Some(audio) = this.pending.take() {
                return this.emit(audio, true);
            }
            match std::mem::replace(&mut this.phase, Phase::Done) {
                Phase::Done => return Poll::Ready(None),
                Phase::Fail(error) => return this.fail(error),
                Phase::Audio { left: 0, pad, .. } => {
                    // The slice is complete: the input is not read further.
                    if pad {
                        return this.emit(Bytes::from_static(&[0]), false);
                    }
                    return Poll::Ready(None);
                }
                phase => this.phase = phase,
            }
            let mut chunk = match this.input.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(error))) => {
                    this.phase = Phase::Done;
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(Some(Ok(chunk))) => chunk,
                Poll::Ready(None) => {
                    let error = match std::mem::replace(&mut this.phase, Phase::Done) {
                        Phase::Header(parser) => parser.ended(),
                        Phase::StreamedEnd(format) => AudioError::SliceBeyondEnd {
                            offset_ms: this.slice.offset_ms,
                            duration_ms: this.slice.duration_ms,
                            audio_ms: frames_to_ms(0, format.sample_rate),
                        },
                        Phase::Audio { expected, read, .. } => AudioError::WavTruncated {
                            part: "the audio data up to the end of the slice".to_owned(),
                            expected,
                            got: read,
                        },
                        Phase::Fail(error) => error,
                        Phase::Done => return Poll::Ready(None),
                    };
                    return this.fail(error);
                }
            };
            this.stats.with(|c| c.bytes_in += chunk.len() as u64);
            this.stats.saw_held(chunk.len());
            match std::mem::replace(&mut this.phase, Phase::Done) {
                Phase::Header(mut parser) => match parser.feed(&chunk) {
                    Err(error) => return this.fail(error),
                    Ok((_, None)) => this.phase = Phase::Header(parser),
                    Ok((used, Some(format))) => {
                        chunk.advance(used);
                        match this.start(format, &chunk) {
                            Err(error) => return this.fail(error),
                            Ok(None) => {}
                            Ok(Some(header)) => {
                                // The audio in the same chunk follows right after the header.
                                this.pending = this.take_audio(&mut chunk);
                                return this.emit(header, false);
                            }
                        }
                    }
                },
                Phase::StreamedEnd(format) if chunk.is_empty() => this.phase = Phase::StreamedEnd(format),
                Phase::StreamedEnd(_) => return this.fail(AudioError::WavLengthUnknown),
                phase => {
                    this.phase = phase;
                    if let Some(audio) = this.take_audio(&mut chunk) {
                        return this.emit(audio, true);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical() -> Vec<u8> {
        crate::synthetic::PcmWav::contact_center().bytes(100)
    }

    #[test]
    fn the_parser_reads_the_same_header_in_any_pieces_and_stops_at_the_audio() {
        let wav = canonical();
        let whole = wav_format(&wav).expect("canonical");
        assert_eq!(whole.data_offset, 44);
        assert_eq!(whole.data_len, Some(400));
        for piece in [1, 3, 8, 43, 44, 45] {
            let mut parser = HeaderParser::default();
            let mut at = 0;
            let found = loop {
                let end = (at + piece).min(wav.len());
                let (used, format) = parser.feed(&wav[at..end]).expect("readable");
                at += used;
                if let Some(format) = format {
                    break format;
                }
                assert_eq!(used, end - (at - used), "all of a piece before the audio is header");
            };
            assert_eq!(found, whole, "pieces of {piece}");
            assert_eq!(at, 44, "nothing of the audio consumed");
        }
    }

    #[test]
    fn the_cut_takes_the_frames_starting_in_the_span() {
        let f = wav_format(&canonical()).expect("canonical");
        // 8 frames per millisecond, 4 bytes each.
        assert_eq!(cut(&f, 400, Slice::new(1, 2)), Ok(Cut { skip: 32, len: 64 }));
        assert_eq!(cut(&f, 400, Slice::new(-5, 7)), Ok(Cut { skip: 0, len: 64 }));
        assert_eq!(cut(&f, 402, Slice::new(12, 100)), Ok(Cut { skip: 384, len: 16 }));
        assert!(matches!(
            cut(&f, 400, Slice::new(13, 1)),
            Err(AudioError::SliceBeyondEnd { audio_ms: 13, .. })
        ));
        // Far past anything: no overflow.
        assert!(cut(&f, 400, Slice::new(i64::MAX, i64::MAX)).is_err());
        assert_eq!(
            cut(&f, 400, Slice::new(i64::MIN / 2, i64::MAX)),
            Ok(Cut { skip: 0, len: 400 })
        );
        assert!(matches!(
            cut(&f, 400, Slice::new(i64::MIN, i64::MAX)),
            Err(AudioError::SliceBetweenFrames { .. })
        ));
    }

    #[test]
    fn the_written_header_states_the_slice_and_a_pad_byte() {
        let f = wav_format(&canonical()).expect("canonical");
        let h = pcm_header(&f, 7);
        assert_eq!(u32::from_le_bytes([h[4], h[5], h[6], h[7]]), 36 + 7 + 1);
        assert_eq!(u32::from_le_bytes([h[40], h[41], h[42], h[43]]), 7);
        assert_eq!(
            wav_format(&h).map(|g| (g.channels, g.sample_rate, g.block_align)),
            Ok((2, 8_000, 4))
        );
    }

    #[test]
    fn chunk_ids_are_quoted_safely() {
        assert_eq!(chunk_name(*b"LIST"), "'LIST'");
        assert_eq!(chunk_name([0, b'a', 0xff, b'\'']), "'\\x00a\\xff\\\''");
    }
}
