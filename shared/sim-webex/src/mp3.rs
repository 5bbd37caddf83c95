//! Real MP3 files for simulated recordings: LAME, mono, 16 kHz, 32 kbps CBR, no ID3 or
//! Xing/LAME tag, so the file is a plain run of 144-byte frames of 36 ms each.
//!
//! The signal is a voiced, syllable-modulated tone whose pitch changes at every
//! participant-span boundary, so an audio slice can be told apart from its neighbours.
//! Files are cached process-wide by (frame count, span boundaries): instantiating the
//! same scenario many times encodes once.

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

type Cache = Mutex<HashMap<(u64, Vec<u64>), Mp3Audio>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

impl AudioPlan {
    /// Frames the file will have: the duration rounded to whole frames, at least one.
    pub fn frames(&self) -> u64 {
        let frames = (self.duration_ms + u64::from(FRAME_MS) / 2) / u64::from(FRAME_MS);
        frames.max(1)
    }
}

/// Renders (or fetches from the cache) the MP3 for `plan`.
pub fn render(plan: &AudioPlan) -> Result<Mp3Audio, Mp3Error> {
    let frames = plan.frames();
    let key = (frames, plan.span_starts_ms.clone());
    if let Ok(guard) = cache().lock()
        && let Some(hit) = guard.get(&key)
    {
        return Ok(hit.clone());
    }
    let audio = encode(frames, &plan.span_starts_ms)?;
    if let Ok(mut guard) = cache().lock() {
        guard.insert(key, audio.clone());
    }
    Ok(audio)
}

/// Pitch of voice `k` (Hz): distinct, well inside the 8 kHz band.
fn voice_pitch(k: usize) -> f32 {
    const PITCHES: [f32; 8] = [220.0, 330.0, 495.0, 165.0, 600.0, 275.0, 410.0, 740.0];
    PITCHES[k % PITCHES.len()]
}

/// The signal at sample `n` (16 kHz) given the span starts in samples.
fn sample(n: u64, span_starts: &[u64]) -> i16 {
    let voice = span_starts.iter().take_while(|&&s| s <= n).count();
    let t = n as f32 / SAMPLE_RATE as f32;
    let f = voice_pitch(voice);
    // Voiced sound: fundamental plus two harmonics.
    let tone = (2.0 * PI * f * t).sin() + 0.5 * (2.0 * PI * 2.0 * f * t).sin()
        + 0.25 * (2.0 * PI * 3.0 * f * t).sin();
    // Syllables: ~4 per second, with a short gap between words every ~1.5 s.
    let syllable = 0.5 + 0.5 * (2.0 * PI * (3.7 + voice as f32 * 0.4) * t).sin();
    let word_phase = (t * 0.66 + voice as f32 * 0.13).fract();
    let word = if word_phase > 0.85 { 0.05 } else { 1.0 };
    let v = tone * syllable * word * 6_000.0;
    v.clamp(i16::MIN as f32, i16::MAX as f32) as i16
}

fn encode(frames: u64, span_starts_ms: &[u64]) -> Result<Mp3Audio, Mp3Error> {
    let rate = u64::from(SAMPLE_RATE);
    let span_starts: Vec<u64> = span_starts_ms.iter().map(|ms| ms * rate / 1000).collect();
    // Two frames more than needed: LAME holds the tail back; the excess is cut below.
    let total = (frames + 2) * u64::from(SAMPLES_PER_FRAME);
    let delay = u64::from(ENCODER_DELAY);
    let pcm: Vec<i16> = (delay..delay + total).map(|n| sample(n, &span_starts)).collect();

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

    // LAME emits a couple of frames more than asked for (its delay and padding):
    // keep exactly `frames` whole frames. Later frames never feed earlier ones.
    let cut = frame_offsets(&out)
        .get(usize::try_from(frames).unwrap_or(usize::MAX))
        .copied()
        .unwrap_or(out.len());
    out.truncate(cut);
    let kept = frame_offsets(&out).len() as u64;
    Ok(Mp3Audio { bytes: Bytes::from(out), duration_ms: kept * u64::from(FRAME_MS) })
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
        let plan = AudioPlan { duration_ms: 10_000, span_starts_ms: vec![4_000] };
        let audio = render(&plan).unwrap();
        let offsets = frame_offsets(&audio.bytes);
        assert_eq!(offsets.len() as u64, plan.frames());
        assert_eq!(audio.bytes.len(), offsets.len() * 144);
        assert!(audio.duration_ms.abs_diff(10_000) <= u64::from(FRAME_MS));
    }
}
