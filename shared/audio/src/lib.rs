//! The audio path: MP3 and PCM WAV recordings streamed from the source to WFO with memory bounded
//! independently of the file size, and cut at frame boundaries when a contact covers only
//! part of a recording.
//!
//! - [`slice_mp3`]: the frames whose start time lies in a span, unchanged, as a stream.
//! - [`slice_wav`]: the PCM sample frames of a span, behind a fresh 44-byte header, as a
//!   stream; [`wav_format`] reads a WAV header (see the `wav` module).
//! - [`counted`] / [`with_expected_len`]: whole-file pass-through with length checking.
//! - [`inspect`]: container sniffing (MP3/WAV), length and SHA-256 of audio on its way.
//! - [`mp3_duration_ms`]: duration of an MP3 in memory (tests, inspection).
//! - [`synthetic`]: valid silent MP3 streams of any length, for simulators and tests.
//!
//! # Framing: symphonia, not a hand-rolled parser
//!
//! Frame boundaries and timestamps come from symphonia's MPEG audio demuxer
//! (`symphonia::default::formats::MpaReader`). It works on a forward-only source: its
//! `MediaSourceStream` reads through `std::io::Read` into a fixed 64 KiB ring and never
//! seeks a source that says it is unseekable, and every packet it returns is one whole
//! frame, header included, byte for byte, with its timestamp. It also recognises the
//! Xing/Info/VBRI frame and resynchronises over junk. Being synchronous, it runs on a tokio
//! blocking thread fed chunk by chunk (see [`slice_mp3`]). This crate adds ID3v2 skipping
//! without buffering the tag, a limit on the search for the first frame, and unchanged
//! propagation of input errors (see the `frames` module).

mod counted;
mod error;
mod frames;
mod inspect;
mod reference;
mod scan;
mod slice;
pub mod synthetic;
mod wav;

pub use counted::{CountHandle, counted, with_expected_len};
pub use error::AudioError;
pub use frames::MAX_FRAME_LEN;
pub use inspect::{Container, InspectHandle, inspect};
pub use reference::{slice_mp3_reference, slice_mp3_reference_with_stats};
pub use slice::{CHANNEL_CAP, OUT_CHUNK, Slice, SliceStats, slice_mp3, slice_mp3_with_stats};
pub use wav::{
    HEADER_LIMIT, MAX_CHANNELS, MAX_SAMPLE_RATE, SCRATCH_LEN, WAV_HEADER_LEN, WavFormat, WavStats, pcm_header,
    slice_wav, slice_wav_with_stats, wav_format,
};

/// A stream of audio bytes, as it comes from a source download and goes to an upload body.
pub type ByteStream = futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>;

/// Duration of the MP3 audio in `bytes`, in milliseconds (rounded): the sum of its frames'
/// durations, not counting ID3v2 tags or a Xing/Info frame. For tests and inspection; the
/// data is already in memory, and it is copied once.
pub fn mp3_duration_ms(bytes: &[u8]) -> Result<i64, AudioError> {
    let mut frames = frames::FrameReader::open(std::io::Cursor::new(bytes.to_vec()))?;
    let mut samples = 0u64;
    while let Some(frame) = frames.next_frame()? {
        samples += frame.dur;
    }
    Ok(frames::samples_to_ms(samples, frames.sample_rate()))
}
