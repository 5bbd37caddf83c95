//! Recording audio (reference §6.3, §6.4): `GET {media}?sessionId=<sid>` → `200 audio/wav`,
//! mono 8 kHz 16-bit PCM, `404` until the recording is ready.
//!
//! The 2.0 simulator's generator ([`wfo_sim_wxcc::wav`]) is stereo only; [`MonoWav`] mixes
//! its two channels into one (only one party speaks at a time, so the mix is the speaker's
//! tone), computed on demand for any byte range and streamed in fixed-size chunks, so no
//! recording is held in memory.
//!
//! UNCONFIRMED choices: ready `capture_delay` after the session's `cetts` (simulator
//! clock); a session without a recording, an unknown session and one not ready all answer
//! `404`; a missing `sessionId` answers `400`; no `Range` support.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use wfo_sim_wxcc::wav::{BITS_PER_SAMPLE, HEADER_LEN, SAMPLE_RATE, WavSource};

use crate::error::ApiError;
use crate::state::{Route, SharedRef};

/// Channels of a 1.0 recording.
pub const CHANNELS: u16 = 1;
/// Bytes per sample frame.
pub const FRAME_BYTES: u64 = 2;
/// Bytes per streamed chunk.
const CHUNK: usize = 64 * 1024;

/// A mono rendering of a (stereo) [`WavSource`].
#[derive(Debug, Clone, PartialEq)]
pub struct MonoWav {
    pub source: WavSource,
}

impl MonoWav {
    /// Bytes of the whole file, header included.
    pub fn len(&self) -> u64 {
        HEADER_LEN + self.source.frames() * FRAME_BYTES
    }

    /// Never true: even an empty recording has its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn header(&self) -> [u8; HEADER_LEN as usize] {
        let data_len = u32::try_from(self.source.frames() * FRAME_BYTES).unwrap_or(u32::MAX - 36);
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

    /// The sample of frame `n`: both channels of the source mixed.
    pub fn sample(&self, n: u64) -> i16 {
        let [a, b] = self.source.frame(n);
        a.saturating_add(b)
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
            let bytes = self.sample((pos - HEADER_LEN) / FRAME_BYTES).to_le_bytes();
            let within = ((pos - HEADER_LEN) % FRAME_BYTES) as usize;
            let take = (FRAME_BYTES as usize - within).min(usize::try_from(end - pos).unwrap_or(0));
            out.extend_from_slice(&bytes[within..within + take]);
            pos += take as u64;
        }
        out
    }

    /// The whole file as a stream of chunks.
    fn into_body(self) -> Body {
        let stream = futures::stream::unfold((self, 0u64), |(wav, pos)| async move {
            let chunk = wav.read_at(pos, CHUNK);
            if chunk.is_empty() {
                return None;
            }
            let next = pos + chunk.len() as u64;
            Some((Ok::<Bytes, Infallible>(Bytes::from(chunk)), (wav, next)))
        });
        Body::from_stream(stream)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct MediaParams {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

/// `GET /media?sessionId=<sid>`
pub(crate) async fn get(State(shared): State<SharedRef>, Query(p): Query<MediaParams>) -> Response {
    if let Some(status) = shared.admit(Route::Media) {
        return ApiError::new(status, format!("injected fault on {}", Route::Media.as_str())).into_response();
    }
    let Some(sid) = p.session_id.filter(|s| !s.is_empty()) else {
        return ApiError::bad_request("missing query parameter sessionId").into_response();
    };
    let now = shared.clock.now();
    let (session, delay) = {
        let st = shared.lock();
        (st.sessions.get(&sid).cloned(), st.capture_delay)
    };
    let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
    let ready = session.as_ref().and_then(|s| {
        let ended = chrono::DateTime::from_timestamp_millis(s.csr.cetts)?;
        let ready_at = ended.checked_add_signed(delay)?;
        (ready_at <= now).then_some(s.recording.clone()).flatten()
    });
    let Some(recording) = ready else {
        return ApiError::not_found(format!("no recording ready for session {sid}")).into_response();
    };
    let wav = MonoWav {
        source: recording.source,
    };
    let len = wav.len();
    let mut response = wav.into_body().into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfo_sim_wxcc::wav::{MAIN_TONES_HZ, parse_header};

    fn wav() -> MonoWav {
        MonoWav {
            source: WavSource {
                origin_ms: 1_000_000,
                from_ms: 1_000_000,
                to_ms: 1_010_000,
                tones_hz: MAIN_TONES_HZ,
                silences: vec![(1_007_000, 1_008_000)],
            },
        }
    }

    #[test]
    fn header_says_mono_8khz_16bit_of_the_span() {
        let w = wav();
        let fmt = parse_header(&w.read_at(0, 44)).unwrap();
        assert_eq!((fmt.channels, fmt.sample_rate, fmt.bits_per_sample), (1, 8000, 16));
        assert_eq!(fmt.duration_ms(), 10_000);
        assert_eq!(w.len(), 44 + 10_000 * 8 * 2);
    }

    #[test]
    fn both_parties_are_heard_and_pauses_are_silent() {
        let w = wav();
        assert!((800..900).any(|n| w.sample(n) != 0));
        assert!((24_800..24_900).any(|n| w.sample(n) != 0));
        assert!((60_000..60_100).all(|n| w.sample(n) == 0));
    }

    #[test]
    fn any_range_equals_the_same_bytes_of_the_whole_file() {
        let w = wav();
        let whole = w.read_at(0, usize::MAX);
        assert_eq!(whole.len() as u64, w.len());
        for (off, len) in [(0u64, 45usize), (43, 7), (1001, 4093), (w.len() - 3, 10)] {
            assert_eq!(
                w.read_at(off, len),
                whole[off as usize..(off as usize + len).min(whole.len())]
            );
        }
    }
}
