//! Generated capture audio: PCM WAV, 8 kHz, 16-bit, two channels (channel 1 = the
//! recording's `channel1` party, for a main capture the caller; channel 2 = `channel2`,
//! the agent side), as long as the recording's span.
//!
//! Nothing is stored: a [`WavSource`] is a few numbers, and any byte range of the file is
//! computed on demand ([`WavSource::read_at`]), so thousands of tasks cost no audio memory
//! and a download streams in fixed-size chunks.
//!
//! The signal says who speaks: the recording is cut into turns of [`TURN_MS`]; even turns
//! are channel 1's (a sine of its tone, channel 2 silent), odd turns channel 2's, and the
//! last [`GAP_MS`] of every turn are silence on both channels. Tones differ per channel
//! and per capture kind ([`MAIN_TONES_HZ`], [`CONSULT_TONES_HZ`]), so a test can tell which
//! channel is which and which capture a slice came from. Spans where the recording was
//! paused are silence on both channels (captures keep wall-clock time, reference §2.4).
//!
//! UNCONFIRMED choices (the reference states no sample rate, channel count or codec, §3.1):
//! 8 kHz / 16-bit / stereo PCM; channel 1 = caller on main captures (the reference's
//! `channel1: Caller`), channel 1 = the consulting agent on consult captures.

use std::f64::consts::TAU;

/// Samples per second.
pub const SAMPLE_RATE: u32 = 8_000;
/// Channels: 1 = caller (or consulting agent), 2 = agent (or consulted agent).
pub const CHANNELS: u16 = 2;
/// Bits per sample.
pub const BITS_PER_SAMPLE: u16 = 16;
/// Size of the RIFF/WAVE header in front of the samples.
pub const HEADER_LEN: u64 = 44;
/// Bytes per sample frame (both channels).
pub const FRAME_BYTES: u64 = 4;
/// Length of one speaking turn.
pub const TURN_MS: i64 = 3_000;
/// Silence at the end of every turn.
pub const GAP_MS: i64 = 500;
/// Tones (channel 1, channel 2) of a `main` capture.
pub const MAIN_TONES_HZ: [f64; 2] = [440.0, 660.0];
/// Tones (channel 1, channel 2) of a `consult` capture.
pub const CONSULT_TONES_HZ: [f64; 2] = [550.0, 770.0];
const AMPLITUDE: f64 = 8_000.0;

/// Everything needed to render one capture file (or one segment of it).
#[derive(Debug, Clone, PartialEq)]
pub struct WavSource {
    /// The capture's `startTime` (epoch ms): turns count from here, so a segment is
    /// exactly the matching slice of the stitched capture.
    pub origin_ms: i64,
    /// First instant of this file (epoch ms), `>= origin_ms`.
    pub from_ms: i64,
    /// End of this file (epoch ms).
    pub to_ms: i64,
    /// Tones of channel 1 and channel 2.
    pub tones_hz: [f64; 2],
    /// Paused spans (epoch ms, start inclusive, end exclusive): silence.
    pub silences: Vec<(i64, i64)>,
}

impl WavSource {
    /// Sample frames in the file: 8 per millisecond of span.
    pub fn frames(&self) -> u64 {
        u64::try_from(self.to_ms.saturating_sub(self.from_ms)).unwrap_or(0) * u64::from(SAMPLE_RATE) / 1000
    }

    /// Bytes of the whole file, header included.
    pub fn len(&self) -> u64 {
        HEADER_LEN + self.frames() * FRAME_BYTES
    }

    /// Never true: even an empty recording has its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn header(&self) -> [u8; HEADER_LEN as usize] {
        let data_len = u32::try_from(self.frames() * FRAME_BYTES).unwrap_or(u32::MAX - 36);
        let mut h = [0u8; HEADER_LEN as usize];
        h[0..4].copy_from_slice(b"RIFF");
        h[4..8].copy_from_slice(&(data_len.saturating_add(36)).to_le_bytes());
        h[8..12].copy_from_slice(b"WAVE");
        h[12..16].copy_from_slice(b"fmt ");
        h[16..20].copy_from_slice(&16u32.to_le_bytes());
        h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
        h[22..24].copy_from_slice(&CHANNELS.to_le_bytes());
        h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
        let block_align = CHANNELS * BITS_PER_SAMPLE / 8;
        h[28..32].copy_from_slice(&(SAMPLE_RATE * u32::from(block_align)).to_le_bytes());
        h[32..34].copy_from_slice(&block_align.to_le_bytes());
        h[34..36].copy_from_slice(&BITS_PER_SAMPLE.to_le_bytes());
        h[36..40].copy_from_slice(b"data");
        h[40..44].copy_from_slice(&data_len.to_le_bytes());
        h
    }

    /// The two samples of frame `n` (channel 1, channel 2).
    pub fn frame(&self, n: u64) -> [i16; 2] {
        // Position in eighths of a millisecond, so nothing is rounded away.
        let n = i64::try_from(n).unwrap_or(i64::MAX / 2);
        let at_ms = self.from_ms + n / 8;
        if self.silences.iter().any(|&(a, b)| at_ms >= a && at_ms < b) {
            return [0, 0];
        }
        let since_origin_ms = at_ms - self.origin_ms;
        let turn = since_origin_ms.div_euclid(TURN_MS);
        if since_origin_ms.rem_euclid(TURN_MS) >= TURN_MS - GAP_MS {
            return [0, 0];
        }
        let speaker = usize::from(turn.rem_euclid(2) == 1);
        // Time since origin in seconds, from whole sample counts.
        let origin_offset_frames = (self.from_ms - self.origin_ms) * 8 + n;
        let t = origin_offset_frames as f64 / f64::from(SAMPLE_RATE);
        let value = (AMPLITUDE * (TAU * self.tones_hz[speaker] * t).sin()).round() as i16;
        let mut out = [0i16; 2];
        out[speaker] = value;
        out
    }

    /// Up to `len` bytes of the file starting at byte `offset` (fewer at the end).
    pub fn read_at(&self, offset: u64, len: usize) -> Vec<u8> {
        let total = self.len();
        if offset >= total {
            return Vec::new();
        }
        let end = total.min(offset.saturating_add(len as u64));
        let mut out = Vec::with_capacity(usize::try_from(end - offset).unwrap_or(0));
        let mut pos = offset;
        if pos < HEADER_LEN {
            let header = self.header();
            let stop = end.min(HEADER_LEN);
            out.extend_from_slice(&header[pos as usize..stop as usize]);
            pos = stop;
        }
        while pos < end {
            let frame = (pos - HEADER_LEN) / FRAME_BYTES;
            let [a, b] = self.frame(frame);
            let mut bytes = [0u8; 4];
            bytes[0..2].copy_from_slice(&a.to_le_bytes());
            bytes[2..4].copy_from_slice(&b.to_le_bytes());
            let within = ((pos - HEADER_LEN) % FRAME_BYTES) as usize;
            let take = (FRAME_BYTES as usize - within).min(usize::try_from(end - pos).unwrap_or(0));
            out.extend_from_slice(&bytes[within..within + take]);
            pos += take as u64;
        }
        out
    }
}

/// The format fields of a WAV header, for tests and callers that check what they got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    pub channels: u16,
    pub sample_rate: u32,
    pub bits_per_sample: u16,
    /// Bytes of sample data announced by the `data` chunk.
    pub data_len: u32,
}

impl WavFormat {
    /// Milliseconds of audio the data chunk holds.
    pub fn duration_ms(&self) -> u64 {
        let frame = u64::from(self.channels) * u64::from(self.bits_per_sample / 8);
        if frame == 0 || self.sample_rate == 0 {
            return 0;
        }
        u64::from(self.data_len) / frame * 1000 / u64::from(self.sample_rate)
    }
}

/// Reads the canonical 44-byte header this module writes; `None` when `bytes` is not one.
pub fn parse_header(bytes: &[u8]) -> Option<WavFormat> {
    let h = bytes.get(..HEADER_LEN as usize)?;
    if &h[0..4] != b"RIFF" || &h[8..12] != b"WAVE" || &h[12..16] != b"fmt " || &h[36..40] != b"data" {
        return None;
    }
    let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    if u16_at(20) != 1 {
        return None;
    }
    Some(WavFormat {
        channels: u16_at(22),
        sample_rate: u32_at(24),
        bits_per_sample: u16_at(34),
        data_len: u32_at(40),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> WavSource {
        WavSource {
            origin_ms: 1_000_000,
            from_ms: 1_000_000,
            to_ms: 1_010_000,
            tones_hz: MAIN_TONES_HZ,
            silences: vec![(1_007_000, 1_008_000)],
        }
    }

    #[test]
    fn header_announces_8khz_stereo_16bit_of_the_span() {
        let src = source();
        let bytes = src.read_at(0, 64);
        let fmt = parse_header(&bytes).expect("a WAV header");
        assert_eq!((fmt.channels, fmt.sample_rate, fmt.bits_per_sample), (2, 8000, 16));
        assert_eq!(fmt.duration_ms(), 10_000);
        assert_eq!(src.len(), 44 + 10_000 * 8 * 4);
    }

    #[test]
    fn turns_alternate_between_channels_and_pauses_are_silent() {
        let src = source();
        // 0.1 s: channel 1's turn.
        let caller: Vec<[i16; 2]> = (800..900).map(|n| src.frame(n)).collect();
        assert!(caller.iter().any(|f| f[0] != 0) && caller.iter().all(|f| f[1] == 0));
        // 3.1 s: channel 2's turn.
        let agent: Vec<[i16; 2]> = (24_800..24_900).map(|n| src.frame(n)).collect();
        assert!(agent.iter().all(|f| f[0] == 0) && agent.iter().any(|f| f[1] != 0));
        // 2.7 s: the gap at the end of a turn.
        assert!((21_600..21_700).all(|n| src.frame(n) == [0, 0]));
        // 7.5 s: paused.
        assert!((60_000..60_100).all(|n| src.frame(n) == [0, 0]));
    }

    #[test]
    fn any_range_equals_the_same_bytes_of_the_whole_file() {
        let src = source();
        let whole = src.read_at(0, usize::MAX);
        assert_eq!(whole.len() as u64, src.len());
        for (off, len) in [(0u64, 45usize), (43, 7), (1001, 4093), (src.len() - 3, 10)] {
            assert_eq!(
                src.read_at(off, len),
                whole[off as usize..(off as usize + len).min(whole.len())]
            );
        }
    }

    #[test]
    fn a_segment_is_the_slice_of_the_stitched_file() {
        let whole = source();
        let seg = WavSource {
            from_ms: 1_004_000,
            to_ms: 1_006_000,
            ..source()
        };
        let skip = 4_000 * 8;
        for n in (0..seg.frames()).step_by(97) {
            assert_eq!(seg.frame(n), whole.frame(n + skip));
        }
    }
}
