//! The one error type of the audio path.

use std::io;

/// What went wrong reading, slicing or counting audio.
///
/// Streams carry `std::io::Error` items (that is what an HTTP body takes), so an
/// `AudioError` travels inside an `io::Error`: get it back with [`AudioError::from_io`].
/// Errors of the *input* stream are not wrapped: they come out of the output stream as
/// they went in.
///
/// | variant | retry? | typical reaction |
/// |---|---|---|
/// | `NotMp3` | no | the source sent something else (HTML error page, WAV, …): park the item |
/// | `WavUnsupported` | no | a compressed or non-PCM WAV: uploaded whole or not at all, never mis-sliced |
/// | `WavMalformed` | no | the WAV header contradicts itself or announces absurd sizes |
/// | `WavTruncated` | yes | the WAV ends before its header or the slice's audio: fetch again |
/// | `WavLengthUnknown` | no | a streamed WAV (no data size) whose total length nobody stated |
/// | `WavSliceTooLarge` | no | the slice holds more audio than a WAV header can state |
/// | `InvalidSlice` | no | a segmentation bug: the contact has no positive duration |
/// | `SliceBeyondEnd` | no (yes once the source has the full recording) | the timeline and the file disagree |
/// | `SliceBetweenFrames` | no | the contact is shorter than one MP3 frame: drop or merge it |
/// | `Malformed` | no | the demuxer gave up in the middle of the stream |
/// | `LengthMismatch` | yes | the download was cut short (or grew): fetch again |
/// | `Empty` / `NotAudio` | yes | the download host sent nothing or an error page (or, for WAV, no `RIFF…WAVE`): fetch again later |
/// | `Incomplete` | yes | the byte stream never reached its end |
/// | `NoRuntime` / `Worker` | no | a bug in the caller / in this crate |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// No MPEG audio frame could be found where the stream should start.
    #[error("not an MP3 stream: no frame sync in the first {scanned} bytes")]
    NotMp3 { scanned: u64 },
    /// The requested slice cannot contain anything (duration zero or negative).
    #[error("invalid slice: offset {offset_ms} ms, duration {duration_ms} ms (duration must be positive)")]
    InvalidSlice { offset_ms: i64, duration_ms: i64 },
    /// No frame starts inside the slice because the audio ends before it.
    #[error(
        "slice at {offset_ms} ms lasting {duration_ms} ms is past the end of the audio ({audio_ms} ms): \
         no frame to emit"
    )]
    SliceBeyondEnd {
        offset_ms: i64,
        duration_ms: i64,
        audio_ms: i64,
    },
    /// The slice lies between two frame starts (it is shorter than one frame).
    #[error(
        "slice at {offset_ms} ms lasting {duration_ms} ms contains no frame start \
         (frames here last {frame_ms} ms): no frame to emit"
    )]
    SliceBetweenFrames {
        offset_ms: i64,
        duration_ms: i64,
        frame_ms: i64,
    },
    /// The MP3 demuxer failed after the stream had been recognised.
    #[error("malformed MP3 stream: {0}")]
    Malformed(String),
    /// A whole-file transfer did not carry the announced number of bytes.
    #[error("audio length mismatch: expected {expected} bytes, the stream carried {actual}")]
    LengthMismatch { expected: u64, actual: u64 },
    /// The stream ended without a single byte.
    #[error("the audio is empty (0 bytes)")]
    Empty,
    /// The stream is not the container it should be (an error page, JSON, another format).
    #[error("not {expected} audio: the download is {found}")]
    NotAudio { expected: &'static str, found: String },
    /// A counted stream was checked before it had been read to its end.
    #[error("audio stream not read to its end: {read} bytes so far")]
    Incomplete { read: u64 },
    /// The WAV is not linear PCM (μ-law, A-law, ADPCM, float, …) or uses a sample size other
    /// than 8, 16, 24 or 32 bits: it is never cut, so it is never mis-sliced.
    #[error(
        "WAV audio encoded as {encoding} cannot be sliced: only linear PCM of 8, 16, 24 or 32 bits is cut \
         at sample frames (the recording is kept as it is, never mis-sliced)"
    )]
    WavUnsupported { encoding: String },
    /// The WAV header is inconsistent or announces sizes no recording has.
    #[error("malformed WAV header: {0}")]
    WavMalformed(String),
    /// The WAV ended (or, by its stated length, ends) before what it announces.
    #[error("truncated WAV: {part} needs {expected} bytes, only {got} are there ({} missing)", expected.saturating_sub(*got))]
    WavTruncated { part: String, expected: u64, got: u64 },
    /// A streamed WAV (its `data` chunk size is 0 or 0xFFFFFFFF) with no known total length:
    /// the slice's length cannot be written in its header without buffering the file.
    #[error(
        "the WAV's data chunk states no size (0 or 0xFFFFFFFF: written while streaming) and the total length of \
         the download is unknown: the slice's header cannot be written without buffering the whole file"
    )]
    WavLengthUnknown,
    /// The slice holds more bytes than the 32-bit sizes of a WAV header can state.
    #[error("a WAV slice of {bytes} bytes of audio does not fit the 32-bit sizes of a WAV header")]
    WavSliceTooLarge { bytes: u64 },
    /// A slicing stream was polled outside a tokio runtime.
    #[error("slice_mp3 must be polled inside a tokio runtime")]
    NoRuntime,
    /// The blocking worker behind a slicing stream stopped without finishing.
    #[error("the MP3 slicing worker stopped unexpectedly: {0}")]
    Worker(String),
}

impl AudioError {
    /// Transient: worth trying the same thing again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AudioError::LengthMismatch { .. }
                | AudioError::Incomplete { .. }
                | AudioError::Empty
                | AudioError::NotAudio { .. }
                | AudioError::WavTruncated { .. }
        )
    }

    /// Wraps this error in an `io::Error` of a fitting kind (what stream items carry).
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            AudioError::NotMp3 { .. }
            | AudioError::Malformed(_)
            | AudioError::NotAudio { .. }
            | AudioError::WavUnsupported { .. }
            | AudioError::WavMalformed(_)
            | AudioError::WavLengthUnknown => io::ErrorKind::InvalidData,
            AudioError::InvalidSlice { .. }
            | AudioError::SliceBeyondEnd { .. }
            | AudioError::SliceBetweenFrames { .. }
            | AudioError::WavSliceTooLarge { .. } => io::ErrorKind::InvalidInput,
            AudioError::LengthMismatch { .. }
            | AudioError::Incomplete { .. }
            | AudioError::Empty
            | AudioError::WavTruncated { .. } => io::ErrorKind::UnexpectedEof,
            AudioError::NoRuntime | AudioError::Worker(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }

    /// The `AudioError` inside an `io::Error` produced by this crate, if it is one.
    pub fn from_io(error: &io::Error) -> Option<&AudioError> {
        error.get_ref().and_then(|inner| inner.downcast_ref::<AudioError>())
    }
}

impl From<AudioError> for io::Error {
    fn from(error: AudioError) -> Self {
        error.into_io()
    }
}
