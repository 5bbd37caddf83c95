//! The audio path: MP3 and PCM WAV recordings streamed from the source to WFO with memory bounded
//! independently of the file size, and cut at frame boundaries when a contact covers only
//! part of a recording.
//!
//! - [`slice_mp3`]: the frames whose start time lies in a span, unchanged, as a stream
//!   ([`slice_mp3_reference`]: the same through symphonia, the tests' oracle).
//! - [`slice_wav`]: the PCM sample frames of a span, behind a fresh 44-byte header, as a
//!   stream; [`wav_format`] reads a WAV header (see the `wav` module).
//! - [`counted`] / [`with_expected_len`]: whole-file pass-through with length checking.
//! - [`inspect`]: container sniffing (MP3/WAV), length and SHA-256 of audio on its way.
//! - [`mp3_duration_ms`]: duration of an MP3 in memory (tests, inspection).
//! - [`synthetic`]: valid silent MP3 streams of any length, for simulators and tests.
//!
//! # Framing: a hand-written scanner, checked against symphonia
//!
//! [`slice_mp3`] finds frames with a scanner written here (the `scan` module): the MPEG
//! audio header (MPEG-1, 2 and 2.5, Layers I, II and III: length, samples per frame,
//! sample rate), the sync search and resynchronisation over junk, ID3v2 tags skipped by
//! counting, Xing/Info/VBRI frames skipped, the first-frame search limit. It is hand-written
//! for speed: it runs on the input chunks where they are, inside the output stream's
//! `poll_next`, and sends runs of selected frames as views of those chunks (`Bytes::slice`),
//! so the sliced path costs what a copy costs (see "Speed"). symphonia's demuxer allocated a
//! packet per frame (144 bytes for phone audio), was fed through a blocking thread and a
//! channel, and left a copy of every frame; that held the sliced path to 0.35–0.70× of
//! `curl SRC | curl -T - DST`.
//!
//! The scanner finds the frames symphonia finds: it reproduces `MpaReader`'s choices (which
//! sync it accepts, the look-ahead check on the first frame only, where it resumes after a
//! rejected header, when a Xing/Info tag counts as one, how far the first frame is looked
//! for), and property tests (`tests/scanner_oracle.rs`) check byte for byte, error for
//! error, over random streams, junk, tags, chunkings and spans, that it emits what the
//! symphonia-based slicer emits. Where they differ is when the input fails: the scanner
//! has sent every whole frame before the failure (the old slicer dropped the output chunk
//! it was filling), and it reports a failure met while looking past the first frame for
//! the next header, which symphonia takes for the end of the input (and, when that frame
//! lies after the span, reports the span instead).
//!
//! What symphonia still does (the `frames` module: `MpaReader` over a forward-only
//! `MediaSourceStream`, behind this crate's ID3v2 skipping and search limit):
//! [`mp3_duration_ms`] (tests, inspection, the fuzz target's cross-check), and
//! [`slice_mp3_reference`], the previous slicer, kept as the oracle of those tests and the
//! baseline of the benchmarks. Its decoder checks in the tests that slices play.
//!
//! # Speed (`benches/relay.rs`)
//!
//! A 200 MiB recording relayed over loopback HTTP (reqwest download → slicer → reqwest
//! upload, minute 1 to one minute before the end) against `curl SRC | curl -T - DST`, on 2
//! shared cores (medians of 7 alternating rounds, load average 3–4; figures and noise in
//! the bench's header):
//!
//! | | curl | sliced | whole file | peak RSS (sliced) |
//! |---|---|---|---|---|
//! | MP3, 144-byte frames | 397 MiB/s | 653 MiB/s (1.65×) | 884 MiB/s (2.23×) | 8.3 MiB |
//! | WAV, 8 kHz 16-bit stereo | 398 MiB/s | 921 MiB/s (2.31×) | 881 MiB/s (2.22×) | 7.9 MiB |
//!
//! The symphonia slicer ran the same MP3 relay at 203 MiB/s (0.51×). Peak RSS is the whole
//! process, 5.2 MiB of it before the transfer starts.

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
pub use inspect::{Container, InspectHandle, check, inspect};
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
