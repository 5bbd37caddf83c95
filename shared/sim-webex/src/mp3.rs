//! Real MP3 files for simulated recordings: LAME, mono, 16 kHz, 32 kbps CBR, no ID3 or
//! Xing/LAME tag, so a file is a plain run of 144-byte frames of 36 ms each.
//!
//! The signal is a voiced, syllable-modulated tone whose pitch changes at every
//! participant-span boundary, so an audio slice can be told apart from its neighbours.
//!
//! Generation stays cheap by encoding each voice once: a file is the concatenation of
//! one prefix of a voice track per span. A LAME stream starts with an empty bit
//! reservoir (its first frame references no earlier frame) and frames never reference
//! later ones, so any prefix of a track is a valid stream and prefixes concatenate into
//! a valid stream. Voice tracks grow on demand; rendered files are cached by
//! (frame count, span boundaries). Both caches are process-wide.

use std::collections::HashMap;
use std::f32::consts::PI;
use std::num::NonZeroU32;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use mp3lame_encoder::{Bitrate, Builder, FlushGap, Mode, MonoPcm, Quality, VbrMode};

/// Output sample rate (Hz).
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples per MPEG-2 layer III frame.
pub const SAMPLES_PER_FRAME: u32 = 576;
/// Duration of one frame in milliseconds (576 / 16 000 s).
pub const FRAME_MS: u32 = 36;
/// Encoder delay of LAME (ENCDELAY 576 + MDCT delay 529): decoded sample `j` is input
/// sample `j - ENCODER_DELAY`, so the input starts this far into the signal.
const ENCODER_DELAY: u32 = 1105;
/// Voice tracks are encoded at least this long (frames; 30 s) and grow by doubling.
const MIN_TRACK_FRAMES: usize = 834;

/// What to render: a length and where the voice changes, all in audio milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AudioPlan {
    /// Recorded audio length in ms (session span minus pauses).
    pub duration_ms: u64,
    /// Audio offsets (ms, ascending, inside `(0, duration_ms)`) where a new participant
    /// span starts; span `k` uses voice `k`.
    pub span_starts_ms: Vec<u64>,
}

/// One rendered MP3.
#[derive(Debug, Clone)]
pub struct Mp3Audio {
    pub bytes: Bytes,
    /// Frame count × 36 ms: the length a decoder reports.
    pub duration_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum Mp3Error {
    #[error("LAME could not be initialised: {0}")]
    Build(String),
    #[error("LAME encoding failed: {0}")]
    Encode(String),
}

/// An encoded voice: its bytes and the byte offset of every frame.
#[derive(Default)]
struct Track {
    bytes: Vec<u8>,
    offsets: Vec<usize>,
}

fn tracks() -> &'static Mutex<HashMap<usize, Track>> {
    static TRACKS: OnceLock<Mutex<HashMap<usize, Track>>> = OnceLock::new();
    TRACKS.get_or_init(|| Mutex::new(HashMap::new()))
}

type FileCache = Mutex<HashMap<(u64, Vec<u64>), Mp3Audio>>;

fn files() -> &'static FileCache {
    static FILES: OnceLock<FileCache> = OnceLock::new();
    FILES.get_or_init(|| Mutex::new(HashMap::new()))
}

impl AudioPlan {
    /// Frames the file will have: the duration rounded to whole frames, at least one.
    pub fn frames(&self) -> u64 {
        let frames = (self.duration_ms + u64::from(FRAME_MS) / 2) / u64::from(FRAME_MS);
        frames.max(1)
    }

    /// Frame index where each span starts (first is 0), strictly increasing.
    fn span_frames(&self) -> Vec<usize> {
        let total = usize::try_from(self.frames()).unwrap_or(usize::MAX);
        let mut starts = vec![0usize];
        for ms in &self.span_starts_ms {
            let f = usize::try_from((ms + u64::from(FRAME_MS) / 2) / u64::from(FRAME_MS)).unwrap_or(usize::MAX);
            if f > starts[starts.len() - 1] && f < total {
                starts.push(f);
            }
        }
        starts
    }
}

/// Renders (or fetches from the cache) the MP3 for `plan`.
pub fn render(plan: &AudioPlan) -> Result<Mp3Audio, Mp3Error> {
    let frames = plan.frames();
    let key = (frames, plan.span_starts_ms.clone());
    if let Some(hit) = files()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return Ok(hit.clone());
    }
    let total = usize::try_from(frames).unwrap_or(usize::MAX);
    let starts = plan.span_frames();
    let mut out = Vec::with_capacity(total * 145);
    for (voice, start) in starts.iter().enumerate() {
        let end = starts.get(voice + 1).copied().unwrap_or(total);
        append_voice_prefix(voice, end - start, &mut out)?;
    }
    let audio = Mp3Audio {
        bytes: Bytes::from(out),
        duration_ms: frames * u64::from(FRAME_MS),
    };
    files()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key, audio.clone());
    Ok(audio)
}

/// Appends the first `frames` frames of voice `voice` to `out`, encoding (a longer
/// version of) the voice track first if the cached one is too short.
fn append_voice_prefix(voice: usize, frames: usize, out: &mut Vec<u8>) -> Result<(), Mp3Error> {
    let mut guard = tracks().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let track = guard.entry(voice).or_default();
    if track.offsets.len() < frames {
        let want = frames.max(track.offsets.len() * 2).max(MIN_TRACK_FRAMES);
        let bytes = encode_voice(voice, want)?;
        track.offsets = frame_offsets(&bytes);
        track.bytes = bytes;
    }
    let end = track.offsets.get(frames).copied().unwrap_or(track.bytes.len());
    out.extend_from_slice(&track.bytes[..end]);
    Ok(())
}

/// Pitch of voice `k` (Hz): distinct, well inside the 8 kHz band.
fn voice_pitch(k: usize) -> f32 {
    const PITCHES: [f32; 8] = [220.0, 330.0, 495.0, 165.0, 600.0, 275.0, 410.0, 740.0];
    PITCHES[k % PITCHES.len()]
}

/// The voice's waveform repeats every 2 s (integer pitches, 4–6 syllables per second,
/// one word gap per period), so it is computed once per period and tiled.
const PERIOD: usize = 2 * SAMPLE_RATE as usize;

/// One period of voice `voice` (16 kHz).
fn voice_period(voice: usize) -> Vec<i16> {
    let f = voice_pitch(voice);
    let syllables = 4.0 + (voice % 3) as f32;
    (0..PERIOD)
        .map(|n| {
            let t = n as f32 / SAMPLE_RATE as f32;
            // Voiced sound: fundamental plus two harmonics.
            let tone =
                (2.0 * PI * f * t).sin() + 0.5 * (2.0 * PI * 2.0 * f * t).sin() + 0.25 * (2.0 * PI * 3.0 * f * t).sin();
            let syllable = 0.5 - 0.5 * (2.0 * PI * syllables * t).cos();
            // A short gap between words at the end of each period.
            let word = if t > 1.75 { 0.05 } else { 1.0 };
            let v = tone * syllable * word * 6_000.0;
            v.clamp(i16::MIN as f32, i16::MAX as f32) as i16
        })
        .collect()
}

/// Exactly `frames` frames of voice `voice`.
fn encode_voice(voice: usize, frames: usize) -> Result<Vec<u8>, Mp3Error> {
    // Two frames more than needed: LAME holds the tail back; the excess is cut below.
    let total = (frames as u64 + 2) * u64::from(SAMPLES_PER_FRAME);
    let delay = u64::from(ENCODER_DELAY);
    let period = voice_period(voice);
    let pcm: Vec<i16> = (delay..delay + total)
        .map(|n| period[(n % PERIOD as u64) as usize])
        .collect();

    let build = |e: &dyn std::fmt::Display| Mp3Error::Build(e.to_string());
    let mut builder = Builder::new().ok_or_else(|| Mp3Error::Build("lame_init failed".into()))?;
    builder.set_num_channels(1).map_err(|e| build(&e))?;
    builder.set_sample_rate(SAMPLE_RATE).map_err(|e| build(&e))?;
    builder
        .set_output_sample_rate(NonZeroU32::new(SAMPLE_RATE))
        .map_err(|e| build(&e))?;
    builder.set_mode(Mode::Mono).map_err(|e| build(&e))?;
    builder.set_vbr_mode(VbrMode::Off).map_err(|e| build(&e))?;
    builder.set_brate(Bitrate::Kbps32).map_err(|e| build(&e))?;
    builder.set_quality(Quality::Worst).map_err(|e| build(&e))?;
    builder.set_to_write_vbr_tag(false).map_err(|e| build(&e))?;
    let mut encoder = builder.build().map_err(|e| build(&e))?;

    let mut out = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(pcm.len()) + 7200);
    encoder
        .encode_to_vec(MonoPcm(pcm.as_slice()), &mut out)
        .map_err(|e| Mp3Error::Encode(e.to_string()))?;
    out.reserve(7200);
    encoder
        .flush_to_vec::<FlushGap>(&mut out)
        .map_err(|e| Mp3Error::Encode(e.to_string()))?;

    // Keep exactly `frames` whole frames; later frames never feed earlier ones.
    let cut = frame_offsets(&out).get(frames).copied().unwrap_or(out.len());
    out.truncate(cut);
    Ok(out)
}

/// Byte offsets of the MPEG audio layer III frames in `data`, in order, stopping at the
/// first byte that is not a frame header (or a frame that runs past the end).
pub fn frame_offsets(data: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut pos = 0usize;
    while let Some(len) = data.get(pos..pos + 4).and_then(frame_len) {
        if pos + len > data.len() {
            break;
        }
        offsets.push(pos);
        pos += len;
    }
    offsets
}

/// Length of a layer III frame from its 4-byte header.
fn frame_len(h: &[u8]) -> Option<usize> {
    if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (h[1] >> 3) & 0b11; // 00 = 2.5, 10 = 2, 11 = 1
    let layer = (h[1] >> 1) & 0b11; // 01 = layer III
    if layer != 0b01 || version == 0b01 {
        return None;
    }
    let bitrate_idx = usize::from(h[2] >> 4);
    let rate_idx = usize::from((h[2] >> 2) & 0b11);
    let padding = usize::from((h[2] >> 1) & 1);
    const BR_V1: [u32; 15] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
    const BR_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let (bitrate, rates, coeff) = match version {
        0b11 => (BR_V1.get(bitrate_idx)?, [44_100u32, 48_000, 32_000], 144u32),
        0b10 => (BR_V2.get(bitrate_idx)?, [22_050, 24_000, 16_000], 72),
        _ => (BR_V2.get(bitrate_idx)?, [11_025, 12_000, 8_000], 72),
    };
    let rate = *rates.get(rate_idx)?;
    if *bitrate == 0 {
        return None;
    }
    usize::try_from(coeff * bitrate * 1000 / rate).ok().map(|l| l + padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_matches_plan_and_frames_are_cbr() {
        let plan = AudioPlan {
            duration_ms: 10_000,
            span_starts_ms: vec![4_000],
        };
        let audio = render(&plan).unwrap();
        let offsets = frame_offsets(&audio.bytes);
        assert_eq!(offsets.len() as u64, plan.frames());
        assert_eq!(audio.bytes.len(), offsets.len() * 144);
        assert!(audio.duration_ms.abs_diff(10_000) <= u64::from(FRAME_MS));
    }
}
