//! Audio made on the fly, for simulators, tests and benchmarks: any length, no encoder,
//! constant memory.
//!
//! - [`SilentMp3`]: valid, silent MPEG audio Layer III streams. Each frame is a correct
//!   header followed by zeros: zero side information means no main data and no bit
//!   reservoir, which every decoder plays as silence.
//! - [`PcmWav`]: canonical PCM WAV files whose every sample is a known function of its
//!   frame and channel ([`PcmWav::sample`]), so a test can tell from any byte of a slice
//!   which frame and channel it came from.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::ByteStream;

/// The shape of a constant-bitrate Layer III stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SilentMp3 {
    sample_rate: u32,
    bitrate_kbps: u32,
    mono: bool,
    header: [u8; 4],
}

impl SilentMp3 {
    /// MPEG-1 (32/44.1/48 kHz), MPEG-2 (16/22.05/24 kHz) or MPEG-2.5 (8/11.025/12 kHz) Layer
    /// III at one of that version's bitrates; `None` for any other combination.
    pub fn new(sample_rate: u32, bitrate_kbps: u32, mono: bool) -> Option<Self> {
        const MPEG1: [u32; 14] = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
        const MPEG2: [u32; 14] = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
        let (version_bits, rate_index, bitrates) = match sample_rate {
            44_100 => (0b11, 0, &MPEG1),
            48_000 => (0b11, 1, &MPEG1),
            32_000 => (0b11, 2, &MPEG1),
            22_050 => (0b10, 0, &MPEG2),
            24_000 => (0b10, 1, &MPEG2),
            16_000 => (0b10, 2, &MPEG2),
            11_025 => (0b00, 0, &MPEG2),
            12_000 => (0b00, 1, &MPEG2),
            8_000 => (0b00, 2, &MPEG2),
            _ => return None,
        };
        let bitrate_index = bitrates.iter().position(|rate| *rate == bitrate_kbps)? as u8 + 1;
        let mode: u8 = if mono { 0b11 } else { 0b00 };
        // 0xFFE sync, version, layer III (01), no CRC (1).
        let header = [
            0xff,
            0xe0 | (version_bits << 3) | 0b010 | 1,
            (bitrate_index << 4) | (rate_index << 2),
            mode << 6,
        ];
        Some(SilentMp3 {
            sample_rate,
            bitrate_kbps,
            mono,
            header,
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Samples per frame: 1152 for MPEG-1, 576 for MPEG-2 and 2.5.
    pub fn samples_per_frame(&self) -> u32 {
        if self.sample_rate >= 32_000 { 1152 } else { 576 }
    }

    /// How many frames cover `duration_ms` (rounded up).
    pub fn frames_for(&self, duration_ms: u64) -> u64 {
        let samples = duration_ms * u64::from(self.sample_rate);
        samples.div_ceil(1000 * u64::from(self.samples_per_frame()))
    }

    /// Frame lengths in order, with padding spread as an encoder does to hold the bitrate.
    pub fn frame_lens(&self) -> impl Iterator<Item = usize> + use<> {
        let slot_bytes = u64::from(self.samples_per_frame()) / 8 * u64::from(self.bitrate_kbps) * 1000;
        let rate = u64::from(self.sample_rate);
        let (base, remainder) = (slot_bytes / rate, slot_bytes % rate);
        let mut carry = 0u64;
        std::iter::repeat(()).map(move |()| {
            carry += remainder;
            let padded = carry >= rate;
            if padded {
                carry -= rate;
            }
            (base + u64::from(padded)) as usize
        })
    }

    /// `frames` frames as one buffer (for small fixtures).
    pub fn bytes(&self, frames: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for len in self.frame_lens().take(frames as usize) {
            self.push_frame(&mut out, len);
        }
        out
    }

    /// `frames` frames as a stream of `chunk_len`-byte chunks (the last may be shorter),
    /// generated as they are polled: each chunk is its own allocation of `chunk_len` bytes,
    /// and nothing else is kept between chunks but the unsent end of one frame.
    pub fn stream(&self, frames: u64, chunk_len: usize) -> ByteStream {
        let chunk_len = chunk_len.max(1);
        let this = *self;
        let lens = this.frame_lens().take(usize::try_from(frames).unwrap_or(usize::MAX));
        futures::stream::unfold((lens, Vec::new()), move |(mut lens, mut carry)| async move {
            let mut chunk = BytesMut::with_capacity(chunk_len);
            let take = carry.len().min(chunk_len);
            chunk.extend_from_slice(&carry[..take]);
            carry.drain(..take);
            while chunk.len() < chunk_len {
                let Some(len) = lens.next() else { break };
                let mut frame = Vec::with_capacity(len);
                this.push_frame(&mut frame, len);
                let fits = frame.len().min(chunk_len - chunk.len());
                chunk.extend_from_slice(&frame[..fits]);
                carry.extend_from_slice(&frame[fits..]);
            }
            if chunk.is_empty() {
                return None;
            }
            let chunk: Bytes = chunk.freeze();
            Some((Ok(chunk), (lens, carry)))
        })
        .boxed()
    }

    fn push_frame<B: Extend<u8>>(&self, out: &mut B, len: usize) {
        let mut header = self.header;
        if len > self.unpadded_len() {
            header[2] |= 0b10;
        }
        out.extend(header);
        out.extend(std::iter::repeat_n(0u8, len - header.len()));
    }

    fn unpadded_len(&self) -> usize {
        let slot_bytes = u64::from(self.samples_per_frame()) / 8 * u64::from(self.bitrate_kbps) * 1000;
        (slot_bytes / u64::from(self.sample_rate)) as usize
    }
}

/// The shape of a canonical PCM WAV (44-byte header, then interleaved samples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmWav {
    channels: u16,
    sample_rate: u32,
    bits: u16,
}

impl PcmWav {
    /// 1 to 8 channels of 8, 16, 24 or 32 bits at 1 Hz to 384 kHz; `None` otherwise.
    pub fn new(channels: u16, sample_rate: u32, bits: u16) -> Option<Self> {
        let valid = (1..=crate::MAX_CHANNELS).contains(&channels)
            && (1..=crate::MAX_SAMPLE_RATE).contains(&sample_rate)
            && matches!(bits, 8 | 16 | 24 | 32);
        valid.then_some(PcmWav {
            channels,
            sample_rate,
            bits,
        })
    }

    /// Contact Center 2.0 captures: 8 kHz, 16-bit, two channels (caller, agent).
    pub fn contact_center() -> Self {
        PcmWav {
            channels: 2,
            sample_rate: 8_000,
            bits: 16,
        }
    }

    pub fn channels(&self) -> u16 {
        self.channels
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn bits(&self) -> u16 {
        self.bits
    }

    /// Bytes of one sample frame.
    pub fn block_align(&self) -> usize {
        usize::from(self.channels) * usize::from(self.bits / 8)
    }

    /// Frames in `duration_ms` (rounded down).
    pub fn frames_for(&self, duration_ms: u64) -> u64 {
        duration_ms * u64::from(self.sample_rate) / 1000
    }

    /// Bytes of a file of `frames` frames, header included.
    pub fn len(&self, frames: u64) -> u64 {
        crate::WAV_HEADER_LEN as u64 + frames * self.block_align() as u64
    }

    /// The raw sample of `channel` in `frame`: its container's bits, little-endian when
    /// written (`bits` wide; for 8 bits the unsigned byte). A hash of both, so no two
    /// neighbouring samples are alike and a shifted or swapped byte shows.
    pub fn sample(&self, frame: u64, channel: u16) -> u32 {
        let mut mixed = frame
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(u64::from(channel).wrapping_mul(0xD6E8_FEB8_6659_FD93));
        mixed ^= mixed >> 31;
        mixed = mixed.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed ^= mixed >> 29;
        let value = (mixed >> 32) as u32;
        if self.bits == 32 {
            value
        } else {
            value & ((1u32 << self.bits) - 1)
        }
    }

    /// The file of `frames` frames as one buffer (for small fixtures).
    pub fn bytes(&self, frames: u64) -> Vec<u8> {
        let len = usize::try_from(self.len(frames)).unwrap_or(usize::MAX);
        let mut out = vec![0u8; len];
        self.fill(frames, 0, &mut out);
        out
    }

    /// The file of `frames` frames as a stream of `chunk_len`-byte chunks (the last may be
    /// shorter), each generated when polled: nothing is kept between chunks.
    pub fn stream(&self, frames: u64, chunk_len: usize) -> ByteStream {
        let chunk_len = chunk_len.max(1) as u64;
        let this = *self;
        let total = self.len(frames);
        futures::stream::unfold(0u64, move |pos| async move {
            if pos >= total {
                return None;
            }
            let len = chunk_len.min(total - pos) as usize;
            let mut chunk = BytesMut::zeroed(len);
            this.fill(frames, pos, &mut chunk);
            Some((Ok(chunk.freeze()), pos + len as u64))
        })
        .boxed()
    }

    /// Writes the bytes of the file at `pos..pos + out.len()`.
    fn fill(&self, frames: u64, pos: u64, out: &mut [u8]) {
        let header_len = crate::WAV_HEADER_LEN as u64;
        let mut at = 0usize;
        if pos < header_len {
            let data_len = u32::try_from(frames * self.block_align() as u64).unwrap_or(u32::MAX - 37);
            let header = crate::pcm_header(&self.format(), data_len);
            let n = (header_len - pos).min(out.len() as u64) as usize;
            out[..n].copy_from_slice(&header[pos as usize..pos as usize + n]);
            at = n;
        }
        let width = usize::from(self.bits / 8);
        let block = self.block_align() as u64;
        while at < out.len() {
            let offset = pos + at as u64 - header_len;
            let frame = offset / block;
            let within = (offset % block) as usize;
            let channel = (within / width) as u16;
            let byte = within % width;
            out[at] = self.sample(frame, channel).to_le_bytes()[byte];
            at += 1;
        }
    }

    fn format(&self) -> crate::WavFormat {
        crate::WavFormat {
            format_tag: 1,
            extensible: false,
            channels: self.channels,
            sample_rate: self.sample_rate,
            bits_per_sample: self.bits,
            block_align: self.block_align() as u16,
            data_offset: crate::WAV_HEADER_LEN as u64,
            data_len: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_khz_mono_32_kbps_frames_are_144_bytes() {
        let shape = SilentMp3::new(16_000, 32, true);
        assert!(shape.is_some_and(|s| s.frame_lens().take(3).all(|len| len == 144)));
        assert_eq!(
            shape.map(|s| s.bytes(1)[..4].to_vec()),
            Some(vec![0xff, 0xf3, 0x48, 0xc0])
        );
    }

    #[test]
    fn padding_holds_the_bitrate_at_44_1_khz() {
        let Some(shape) = SilentMp3::new(44_100, 128, false) else {
            panic!("valid shape")
        };
        let total: usize = shape.frame_lens().take(44_100).sum();
        // 44100 frames × 1152 samples at 44.1 kHz = 1152 s at 128 kbit/s.
        assert_eq!(total as u64, 1152 * 128_000 / 8);
    }

    #[test]
    fn the_stream_carries_the_same_bytes_as_the_buffer_in_chunks_of_the_asked_length() {
        let Some(shape) = SilentMp3::new(44_100, 128, false) else {
            panic!("valid shape")
        };
        for chunk_len in [1, 100, 418, 5000] {
            let chunks: Vec<Bytes> =
                futures::executor::block_on(shape.stream(30, chunk_len).map(|c| c.unwrap_or_default()).collect());
            assert!(chunks.iter().rev().skip(1).all(|c| c.len() == chunk_len));
            assert_eq!(chunks.concat(), shape.bytes(30), "chunks of {chunk_len}");
        }
    }

    #[test]
    fn the_wav_stream_carries_the_same_bytes_as_the_buffer() {
        let shape = PcmWav::new(3, 44_100, 24).expect("valid shape");
        let whole = shape.bytes(1000);
        assert_eq!(whole.len() as u64, shape.len(1000));
        for chunk_len in [1, 7, 44, 4096] {
            let chunks: Vec<Bytes> =
                futures::executor::block_on(shape.stream(1000, chunk_len).map(|c| c.unwrap_or_default()).collect());
            assert_eq!(chunks.concat(), whole, "chunks of {chunk_len}");
        }
        // Frame 1, channel 2, 3 bytes each: at 44 + 9 + 6.
        assert_eq!(&whole[59..62], &shape.sample(1, 2).to_le_bytes()[..3]);
        assert_ne!(shape.sample(1, 0), shape.sample(1, 1));
    }

    #[test]
    fn unsupported_shapes_are_refused() {
        assert!(PcmWav::new(0, 8_000, 16).is_none());
        assert!(PcmWav::new(2, 8_000, 12).is_none());
        assert!(SilentMp3::new(16_000, 320, true).is_none());
        assert!(SilentMp3::new(96_000, 128, true).is_none());
    }
}
