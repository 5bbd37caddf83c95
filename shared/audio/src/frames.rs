//! MP3 frame boundaries and timestamps from symphonia's MPEG audio demuxer
//! ([`MpaReader`]), run over a forward-only source.
//!
//! # Why symphonia works here
//!
//! `MpaReader` needs a `MediaSourceStream`, which reads its source through `std::io::Read`
//! into a fixed ring buffer (here [`RING_LEN`] bytes, allocated once) and never seeks when
//! the source says it is not seekable: the demuxer only moves backwards inside that ring
//! (`seek_buffered_rev`), so a forward-only source is enough. Each `next_packet` returns
//! one whole frame, header included, byte for byte, with its timestamp in samples; the
//! Xing/Info/VBRI frame at the start (which carries no audio and whose counts would be
//! wrong for a slice) is consumed and not returned, nor counted in timestamps.
//!
//! What symphonia does not do for us, and this module adds:
//! - ID3v2 tags are skipped here (tags in front of the audio), without reading them into
//!   memory; `MpaReader` itself would try to sync inside the tag. (symphonia's `Probe`
//!   skips them too, but parses the whole tag into memory first.)
//! - A bound on the search for the first frame: `MpaReader` would scan a non-MP3 input to
//!   its end. [`Guarded`] cuts the input off after [`SYNC_SEARCH_LIMIT`] bytes until the
//!   first frame is found, so garbage fails fast with [`AudioError::NotMp3`].
//! - Input errors are kept aside and given back unchanged, instead of as the demuxer's
//!   copy of their text.
//!
//! The demuxer is synchronous (`Read`); the reference slicer runs it on a blocking thread
//! (see `reference.rs`). [`crate::slice_mp3`] does not use it: its hand-written scanner
//! (`scan.rs`) reproduces these decisions and is tested against them. The scanner shares
//! [`SYNC_SEARCH_LIMIT`], [`MAX_FRAME_LEN`] and [`id3v2_tag_len`] with this module.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions, ReadBytes, SeekBuffered};
use symphonia::default::formats::MpaReader;

use crate::AudioError;

/// Size of symphonia's read-ahead ring: the smallest it accepts (a power of two larger than
/// its 32 KiB read block). Allocated once per stream, whatever the file size.
pub(crate) const RING_LEN: usize = 64 * 1024;

/// How far past the start (and past any ID3v2 tag) the first frame must be found.
pub(crate) const SYNC_SEARCH_LIMIT: u64 = 256 * 1024;

/// Largest MPEG audio frame, header included (MPEG-1 Layer II/III at 384/320 kbit/s, 32 kHz,
/// padded; Layer I is smaller).
pub const MAX_FRAME_LEN: usize = 2881;

/// One MPEG audio frame as it was in the input.
pub(crate) struct Frame {
    /// Start time in samples since the first audio frame.
    pub ts: u64,
    /// Duration in samples (576 or 1152 for Layer III).
    pub dur: u64,
    /// The frame's bytes, header included, unchanged.
    pub data: Box<[u8]>,
}

/// Why reading frames stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The input itself failed: passed on unchanged.
    Input(io::Error),
    /// The input is not (or stopped being) an MP3 stream.
    Audio(AudioError),
}

impl From<ReadError> for AudioError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Audio(e) => e,
            ReadError::Input(e) => AudioError::Malformed(e.to_string()),
        }
    }
}

/// State shared between [`Guarded`] (owned by symphonia) and [`FrameReader`].
struct Shared {
    /// Bytes handed to symphonia so far.
    delivered: AtomicU64,
    /// `delivered` may not pass this while the first frame has not been found.
    deadline: AtomicU64,
    /// The first error of the input, kept to be returned as it was.
    input_error: Mutex<Option<io::Error>>,
}

impl Shared {
    fn take_input_error(&self) -> Option<io::Error> {
        match self.input_error.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    fn keep_input_error(&self, error: io::Error) {
        let mut slot = match self.input_error.lock() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        if slot.is_none() {
            *slot = Some(error);
        }
    }
}

/// A forward-only `MediaSource` over any reader, with the first-frame search limit.
///
/// The `Mutex` only makes a `Send` reader `Sync` (as `MediaSource` demands); it is never
/// contended: `get_mut` is used.
struct Guarded<R> {
    inner: Mutex<R>,
    shared: Arc<Shared>,
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let delivered = self.shared.delivered.load(Ordering::Relaxed);
        let allowed = self.shared.deadline.load(Ordering::Relaxed).saturating_sub(delivered);
        if allowed == 0 {
            // Looks like the end of the input to the demuxer, which then fails to sync.
            return Ok(0);
        }
        let len = usize::try_from(allowed).map_or(buf.len(), |allowed| allowed.min(buf.len()));
        let inner = match self.inner.get_mut() {
            Ok(inner) => inner,
            Err(poisoned) => poisoned.into_inner(),
        };
        match inner.read(&mut buf[..len]) {
            Ok(n) => {
                self.shared.delivered.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(error) => {
                self.shared.keep_input_error(error);
                Err(io::Error::other("the input stream failed"))
            }
        }
    }
}

impl<R> Seek for Guarded<R> {
    fn seek(&mut self, _pos: SeekFrom) -> io::Result<u64> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "forward-only audio source"))
    }
}

impl<R: Read + Send> MediaSource for Guarded<R> {
    fn is_seekable(&self) -> bool {
        false
    }

    fn byte_len(&self) -> Option<u64> {
        None
    }
}

/// Reads MPEG audio frames, in order, from a forward-only reader.
pub(crate) struct FrameReader {
    reader: MpaReader,
    shared: Arc<Shared>,
    sample_rate: u32,
}

impl FrameReader {
    /// Skips ID3v2 tags, then finds the first frame (within [`SYNC_SEARCH_LIMIT`] bytes)
    /// and reads a Xing/Info header if that first frame is one.
    pub fn open<R: Read + Send + 'static>(inner: R) -> Result<Self, ReadError> {
        let shared = Arc::new(Shared {
            delivered: AtomicU64::new(0),
            deadline: AtomicU64::new(SYNC_SEARCH_LIMIT),
            input_error: Mutex::new(None),
        });
        let source = Guarded {
            inner: Mutex::new(inner),
            shared: Arc::clone(&shared),
        };
        let mut mss = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions { buffer_len: RING_LEN });
        let opened =
            skip_id3v2_tags(&mut mss, &shared).and_then(|()| MpaReader::try_new(mss, &FormatOptions::default()));
        let reader = match opened {
            Ok(reader) => reader,
            Err(_) => {
                return Err(match shared.take_input_error() {
                    Some(input) => ReadError::Input(input),
                    None => ReadError::Audio(AudioError::NotMp3 {
                        scanned: shared.delivered.load(Ordering::Relaxed),
                    }),
                });
            }
        };
        shared.deadline.store(u64::MAX, Ordering::Relaxed);
        let sample_rate = reader
            .tracks()
            .first()
            .and_then(|track| track.codec_params.sample_rate)
            .filter(|rate| *rate > 0)
            .ok_or_else(|| ReadError::Audio(AudioError::Malformed("first frame has no sample rate".into())))?;
        Ok(FrameReader {
            reader,
            shared,
            sample_rate,
        })
    }

    /// Sample rate of the first frame: the unit of [`Frame::ts`] and [`Frame::dur`].
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The next frame, or `None` at the end of the input. A truncated last frame is not a
    /// frame: it ends the stream like the end of the input does.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ReadError> {
        match self.reader.next_packet() {
            Ok(packet) => Ok(Some(Frame {
                ts: packet.ts,
                dur: packet.dur,
                data: packet.data,
            })),
            Err(error) => {
                if let Some(input) = self.shared.take_input_error() {
                    return Err(ReadError::Input(input));
                }
                match error {
                    SymphoniaError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
                    other => Err(ReadError::Audio(AudioError::Malformed(other.to_string()))),
                }
            }
        }
    }
}

/// Skips every ID3v2 tag at the current position, moving the first-frame search limit past
/// each one. Leaves the stream at the first byte that is not part of a tag.
fn skip_id3v2_tags(mss: &mut MediaSourceStream, shared: &Shared) -> symphonia::core::errors::Result<()> {
    loop {
        let mut head = [0u8; 10];
        ReadBytes::read_buf_exact(mss, &mut head)?;
        let Some(tag_len) = id3v2_tag_len(&head) else {
            mss.seek_buffered_rev(head.len());
            return Ok(());
        };
        let tag_end = mss.pos() - head.len() as u64 + tag_len;
        shared
            .deadline
            .store(tag_end.saturating_add(SYNC_SEARCH_LIMIT), Ordering::Relaxed);
        mss.ignore_bytes(tag_len - head.len() as u64)?;
    }
}

/// Total length (header, body and footer) of the ID3v2 tag whose 10-byte header this is.
pub(crate) fn id3v2_tag_len(head: &[u8; 10]) -> Option<u64> {
    let valid =
        &head[..3] == b"ID3" && head[3] != 0xff && head[4] != 0xff && head[6..].iter().all(|byte| byte & 0x80 == 0);
    if !valid {
        return None;
    }
    let body = head[6..].iter().fold(0u64, |acc, byte| (acc << 7) | u64::from(*byte));
    let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + body + footer)
}

/// Milliseconds in `samples` at `sample_rate`, rounded to the nearest.
pub(crate) fn samples_to_ms(samples: u64, sample_rate: u32) -> i64 {
    let rate = u128::from(sample_rate.max(1));
    let ms = (u128::from(samples) * 1000 + rate / 2) / rate;
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id3v2_length_is_syncsafe_and_counts_header_and_footer() {
        let head = *b"ID3\x04\x00\x00\x00\x00\x02\x01";
        assert_eq!(id3v2_tag_len(&head), Some(10 + 257));
        let with_footer = *b"ID3\x04\x00\x10\x00\x00\x00\x0a";
        assert_eq!(id3v2_tag_len(&with_footer), Some(30));
    }

    #[test]
    fn id3v2_header_with_a_non_syncsafe_size_is_not_a_tag() {
        assert_eq!(id3v2_tag_len(b"ID3\x04\x00\x00\x00\x00\x80\x00"), None);
        assert_eq!(id3v2_tag_len(b"\xff\xf3\x48\xc0\x00\x00\x00\x00\x00\x00"), None);
    }

    #[test]
    fn samples_round_to_the_nearest_millisecond() {
        assert_eq!(samples_to_ms(576, 16_000), 36);
        assert_eq!(samples_to_ms(1152, 44_100), 26);
        assert_eq!(samples_to_ms(0, 8_000), 0);
    }
}
