//! Verification of audio on its way through: what it looks like, how long it is, and its
//! SHA-256, so nothing that is not audio (an empty body, an HTML error page, a truncated
//! download) is ever counted as uploaded, and what WFO says it stored can be compared
//! with what was sent.
//!
//! [`inspect`] passes the stream through unchanged (nothing is buffered beyond the first
//! 12 bytes it looks at) and fails it with an [`AudioError`] item as soon as it is sure:
//! at the start for content that is not the expected container, when it runs over the
//! announced length, and at its end when it is empty or short.
//!
//! A WAV's header is read on the way too (by the crate's push parser, which keeps at most
//! [`crate::SCRATCH_LEN`] bytes of it): [`InspectHandle::wav_format`] then tells its
//! encoding, channels, rate and duration. A WAV whose header cannot be read is still
//! passed (uploading a recording whole does not need its header); why it could not be
//! read is in [`InspectHandle::wav_problem`].

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::wav::HeaderParser;
use crate::{AudioError, ByteStream, WavFormat};

/// The container a stream must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// MPEG audio: an ID3v2 tag (`ID3`) or a frame sync (11 set bits) at byte 0.
    Mp3,
    /// `RIFF....WAVE`.
    Wav,
}

/// How many leading bytes decide the container.
const SNIFF_LEN: usize = 12;

/// What an inspected stream saw.
#[derive(Debug, Clone, Default)]
pub struct InspectHandle(Arc<Mutex<Seen>>);

#[derive(Debug, Default)]
struct Seen {
    bytes: u64,
    sha256: Option<String>,
    error: Option<AudioError>,
    wav: Option<WavFormat>,
    wav_problem: Option<AudioError>,
}

impl InspectHandle {
    /// Bytes passed through so far.
    pub fn bytes(&self) -> u64 {
        self.0.lock().map(|s| s.bytes).unwrap_or(0)
    }

    /// Hex SHA-256 of everything passed through, once the stream reached its end cleanly.
    pub fn sha256(&self) -> Option<String> {
        self.0.lock().ok().and_then(|s| s.sha256.clone())
    }

    /// The header of a WAV stream, once read: encoding, channels, sample rate, and (with
    /// [`WavFormat::duration_ms`]) duration. For a streamed WAV (no data size in its
    /// header) the data length is filled in from the bytes seen when the stream ends.
    pub fn wav_format(&self) -> Option<WavFormat> {
        self.0.lock().ok().and_then(|s| s.wav)
    }

    /// Why a stream that starts `RIFF…WAVE` has no readable WAV header (malformed,
    /// truncated), if so.
    pub fn wav_problem(&self) -> Option<AudioError> {
        self.0.lock().ok().and_then(|s| s.wav_problem.clone())
    }

    /// The check that failed the stream, if one did, or the audio error of the stage in
    /// front of it (a slicer) that ended the input.
    pub fn error(&self) -> Option<AudioError> {
        self.0.lock().ok().and_then(|s| s.error.clone())
    }
}

/// Pass `input` through, checking it is a non-empty `container` (when given) of exactly
/// `expected_len` bytes (when given), and hashing it.
pub fn inspect(
    input: ByteStream,
    container: Option<Container>,
    expected_len: Option<u64>,
) -> (ByteStream, InspectHandle) {
    inspect_with(input, container, expected_len, true)
}

/// [`inspect`] without the hash ([`InspectHandle::sha256`] stays `None`): for a stream
/// whose bytes are held against nothing (a download on its way to a slicer, whose output
/// is what gets hashed).
pub fn check(
    input: ByteStream,
    container: Option<Container>,
    expected_len: Option<u64>,
) -> (ByteStream, InspectHandle) {
    inspect_with(input, container, expected_len, false)
}

fn inspect_with(
    input: ByteStream,
    container: Option<Container>,
    expected_len: Option<u64>,
    hashed: bool,
) -> (ByteStream, InspectHandle) {
    let handle = InspectHandle::default();
    let stream = Inspect {
        input,
        seen: Arc::clone(&handle.0),
        container,
        expected: expected_len,
        head: BytesMut::new(),
        sniffed: container.is_none(),
        hasher: hashed.then(Sha256::new),
        wav: Some(Box::default()),
        total: 0,
        done: false,
    };
    (stream.boxed(), handle)
}

/// Whether `head` (the first bytes, at most [`SNIFF_LEN`]) can start a `container`; with
/// fewer bytes than needed, whether they are a prefix of one.
fn looks_like(container: Container, head: &[u8]) -> bool {
    match container {
        Container::Mp3 => {
            let id3 = b"ID3";
            let n = head.len().min(3);
            if head[..n] == id3[..n] {
                return true;
            }
            match head {
                [] => true,
                [b0] => *b0 == 0xFF,
                [b0, b1, ..] => *b0 == 0xFF && b1 & 0xE0 == 0xE0,
            }
        }
        Container::Wav => {
            let riff = b"RIFF";
            let n = head.len().min(4);
            if head[..n] != riff[..n] {
                return false;
            }
            head.len() < SNIFF_LEN || &head[8..12] == b"WAVE"
        }
    }
}

/// A short, safe description of what arrived instead (for the error text).
pub(crate) fn describe(head: &[u8]) -> String {
    let text: String = head
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    let lower = text.to_ascii_lowercase();
    if lower.starts_with('<') {
        format!("markup (an HTML/XML page?) starting {text:?}")
    } else if lower.starts_with('{') || lower.starts_with('[') {
        format!("JSON starting {text:?}")
    } else {
        format!("bytes {text:?}")
    }
}

struct Inspect {
    input: ByteStream,
    seen: Arc<Mutex<Seen>>,
    container: Option<Container>,
    expected: Option<u64>,
    /// The first bytes, held back until the container is decided.
    head: BytesMut,
    sniffed: bool,
    hasher: Option<Sha256>,
    /// Reads a WAV header as the bytes pass, until it is read or is not one.
    wav: Option<Box<HeaderParser>>,
    total: u64,
    done: bool,
}

impl Inspect {
    fn fail(&mut self, error: AudioError) -> Poll<Option<std::io::Result<Bytes>>> {
        self.done = true;
        if let Ok(mut s) = self.seen.lock() {
            s.error.get_or_insert(error.clone());
            s.sha256 = None;
        }
        Poll::Ready(Some(Err(error.into_io())))
    }

    fn pass(&mut self, chunk: Bytes) -> Poll<Option<std::io::Result<Bytes>>> {
        if let Some(h) = self.hasher.as_mut() {
            h.update(&chunk);
        }
        if let Ok(mut s) = self.seen.lock() {
            s.bytes += chunk.len() as u64;
        }
        self.read_wav_header(&chunk);
        // A consumer that knows the length (an upload with Content-Length) may stop
        // polling once it has it: the stream is complete at its announced length.
        if self.expected == Some(self.total) && self.sniffed {
            self.finish();
        }
        Poll::Ready(Some(Ok(chunk)))
    }

    fn read_wav_header(&mut self, chunk: &[u8]) {
        let Some(parser) = self.wav.as_mut() else { return };
        let (format, problem) = match parser.feed(chunk) {
            Ok((_, None)) => return,
            Ok((_, Some(format))) => (Some(format), None),
            Err(AudioError::NotAudio { .. }) => (None, None),
            Err(problem) => (None, Some(problem)),
        };
        self.wav = None;
        if let Ok(mut s) = self.seen.lock() {
            s.wav = format;
            s.wav_problem = problem;
        }
    }

    fn finish(&mut self) {
        let total = self.total;
        if let Some(parser) = self.wav.take()
            && let Ok(mut s) = self.seen.lock()
        {
            match parser.ended() {
                AudioError::NotAudio { .. } | AudioError::Empty => {}
                problem => s.wav_problem = Some(problem),
            }
        }
        if let Ok(mut s) = self.seen.lock()
            && let Some(format) = s.wav.as_mut()
            && format.data_len.is_none()
        {
            format.data_len = Some(total.saturating_sub(format.data_offset));
        }
        if let Some(h) = self.hasher.take() {
            let digest = hex(&h.finalize());
            if let Ok(mut s) = self.seen.lock() {
                s.sha256 = Some(digest);
            }
        }
    }

    fn not_audio(&mut self) -> Poll<Option<std::io::Result<Bytes>>> {
        let container = self.container.unwrap_or(Container::Mp3);
        let what = describe(&self.head);
        self.fail(AudioError::NotAudio {
            expected: match container {
                Container::Mp3 => "MP3",
                Container::Wav => "WAV",
            },
            found: what,
        })
    }
}

impl Stream for Inspect {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match self.input.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    self.done = true;
                    // An audio error of a stage before this one (a slicer) is what failed the
                    // stream: kept, so the caller can say why; it passes on unchanged.
                    if let Some(audio) = AudioError::from_io(&e)
                        && let Ok(mut s) = self.seen.lock()
                    {
                        s.error.get_or_insert(audio.clone());
                        s.sha256 = None;
                    }
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    self.total += chunk.len() as u64;
                    if let Some(expected) = self.expected
                        && self.total > expected
                    {
                        let actual = self.total;
                        return self.fail(AudioError::LengthMismatch { expected, actual });
                    }
                    if self.sniffed {
                        if chunk.is_empty() {
                            continue;
                        }
                        return self.pass(chunk);
                    }
                    self.head.extend_from_slice(&chunk);
                    let container = self.container.unwrap_or(Container::Mp3);
                    let n = self.head.len().min(SNIFF_LEN);
                    if !looks_like(container, &self.head[..n]) {
                        return self.not_audio();
                    }
                    if self.head.len() >= SNIFF_LEN {
                        self.sniffed = true;
                        let held = std::mem::take(&mut self.head).freeze();
                        return self.pass(held);
                    }
                }
                Poll::Ready(None) => {
                    if !self.sniffed && !self.head.is_empty() {
                        // Shorter than the sniff window: too short to be audio at all.
                        return self.not_audio();
                    }
                    if self.total == 0 {
                        return self.fail(AudioError::Empty);
                    }
                    if let Some(expected) = self.expected
                        && self.total != expected
                    {
                        let actual = self.total;
                        return self.fail(AudioError::LengthMismatch { expected, actual });
                    }
                    self.done = true;
                    self.finish();
                    return Poll::Ready(None);
                }
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::stream;

    fn chunks(parts: &[&[u8]]) -> ByteStream {
        let items: Vec<_> = parts.iter().map(|p| Ok(Bytes::copy_from_slice(p))).collect();
        stream::iter(items).boxed()
    }

    fn run(stream: ByteStream) -> (Vec<u8>, Option<AudioError>) {
        block_on(async {
            let mut out = Vec::new();
            let mut stream = stream;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(c) => out.extend_from_slice(&c),
                    Err(e) => return (out, AudioError::from_io(&e).cloned()),
                }
            }
            (out, None)
        })
    }

    fn mp3() -> Vec<u8> {
        crate::synthetic::SilentMp3::new(8000, 16, true).unwrap().bytes(20)
    }

    #[test]
    fn real_mp3_passes_unchanged_in_any_chunking_with_its_hash() {
        let data = mp3();
        let whole = {
            let (s, h) = inspect(chunks(&[&data]), Some(Container::Mp3), Some(data.len() as u64));
            let (out, err) = run(s);
            assert_eq!((out, err), (data.clone(), None));
            h.sha256().unwrap()
        };
        assert_eq!(whole.len(), 64);
        let parts: Vec<&[u8]> = data.chunks(5).collect();
        let (s, h) = inspect(chunks(&parts), Some(Container::Mp3), None);
        let (out, err) = run(s);
        assert_eq!((out, err), (data.clone(), None));
        assert_eq!(h.sha256().unwrap(), whole);
        assert_eq!(h.bytes(), data.len() as u64);
    }

    #[test]
    fn a_consumer_that_stops_at_the_announced_length_still_gets_the_hash() {
        let data = mp3();
        let (mut s, h) = inspect(
            chunks(&[&data[..100], &data[100..]]),
            Some(Container::Mp3),
            Some(data.len() as u64),
        );
        block_on(async {
            assert!(s.next().await.unwrap().is_ok());
            assert_eq!(h.sha256(), None, "not at the length yet");
            assert!(s.next().await.unwrap().is_ok());
        });
        assert_eq!(
            h.sha256().map(|x| x.len()),
            Some(64),
            "complete at its length, never polled to the end"
        );
    }

    #[test]
    fn an_empty_body_is_never_audio() {
        let (s, h) = inspect(chunks(&[]), Some(Container::Mp3), None);
        assert_eq!(run(s).1, Some(AudioError::Empty));
        assert_eq!(h.sha256(), None);
        let (s, _) = inspect(chunks(&[b"", b""]), None, None);
        assert_eq!(run(s).1, Some(AudioError::Empty), "even unchecked");
    }

    #[test]
    fn an_html_page_is_refused_before_a_byte_is_passed() {
        let (s, h) = inspect(
            chunks(&[b"<!DOCTYPE html><html><body>Access denied</body></html>"]),
            Some(Container::Mp3),
            None,
        );
        let (out, err) = run(s);
        assert!(out.is_empty());
        match err {
            Some(AudioError::NotAudio { expected, found }) => {
                assert_eq!(expected, "MP3");
                assert!(found.contains("HTML"), "{found}");
            }
            other => panic!("{other:?}"),
        }
        assert!(h.error().is_some());
    }

    #[test]
    fn a_truncated_or_overlong_download_fails_on_its_length() {
        let data = mp3();
        let (s, _) = inspect(
            chunks(&[&data[..data.len() - 10]]),
            Some(Container::Mp3),
            Some(data.len() as u64),
        );
        assert!(matches!(run(s).1, Some(AudioError::LengthMismatch { .. })));
        let (s, _) = inspect(chunks(&[&data]), Some(Container::Mp3), Some(10));
        assert!(matches!(run(s).1, Some(AudioError::LengthMismatch { .. })));
    }

    #[test]
    fn wav_needs_riff_and_wave() {
        let mut wav = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
        wav.extend_from_slice(&[0u8; 32]);
        let (s, _) = inspect(chunks(&[&wav[..3], &wav[3..]]), Some(Container::Wav), None);
        assert_eq!(run(s).1, None);
        let (s, _) = inspect(chunks(&[b"RIFF\x24\x00\x00\x00AVI LIST"]), Some(Container::Wav), None);
        assert!(matches!(run(s).1, Some(AudioError::NotAudio { .. })));
        let (s, _) = inspect(chunks(&[&mp3()]), Some(Container::Wav), None);
        assert!(matches!(run(s).1, Some(AudioError::NotAudio { .. })));
    }

    #[test]
    fn a_wav_on_its_way_reports_channels_rate_and_duration() {
        let wav = crate::synthetic::PcmWav::contact_center().bytes(8_000 * 3 + 4);
        let parts: Vec<&[u8]> = wav.chunks(5).collect();
        for container in [Some(Container::Wav), None] {
            let (s, h) = inspect(chunks(&parts), container, Some(wav.len() as u64));
            assert_eq!(run(s), (wav.clone(), None));
            let format = h.wav_format().expect("a WAV header");
            assert_eq!(
                (format.channels, format.sample_rate, format.bits_per_sample),
                (2, 8_000, 16)
            );
            assert_eq!(format.duration_ms(), Some(3_001));
            assert_eq!(h.wav_problem(), None);
        }
        let (s, h) = inspect(chunks(&[&mp3()]), Some(Container::Mp3), None);
        assert_eq!(run(s).1, None);
        assert_eq!((h.wav_format(), h.wav_problem()), (None, None), "not a WAV");
    }

    #[test]
    fn a_streamed_wav_gets_its_duration_from_the_bytes_seen() {
        let mut wav = crate::synthetic::PcmWav::contact_center().bytes(16_000);
        wav[40..44].copy_from_slice(&[0xff; 4]);
        let (s, h) = inspect(chunks(&[&wav]), Some(Container::Wav), None);
        assert_eq!(run(s).1, None);
        assert_eq!(h.wav_format().and_then(|f| f.duration_ms()), Some(2_000));
    }

    #[test]
    fn a_wav_with_a_broken_header_still_passes_and_says_why() {
        let mut ulaw = crate::synthetic::PcmWav::contact_center().bytes(100);
        ulaw[20] = 7;
        let (s, h) = inspect(chunks(&[&ulaw]), Some(Container::Wav), None);
        assert_eq!(run(s), (ulaw.clone(), None));
        assert_eq!(
            h.wav_format().map(|f| f.encoding_name()).as_deref(),
            Some("μ-law (G.711)")
        );

        let cut = &ulaw[..30];
        let (s, h) = inspect(chunks(&[cut]), Some(Container::Wav), None);
        assert_eq!(run(s).1, None, "uploading whole does not need the header");
        assert!(matches!(h.wav_problem(), Some(AudioError::WavTruncated { .. })));
        assert_eq!(h.wav_format(), None);
    }

    #[test]
    fn a_slicer_error_in_front_is_kept_as_the_reason() {
        let failing = stream::iter(vec![
            Ok(Bytes::from(mp3())),
            Err(AudioError::WavLengthUnknown.into_io()),
        ])
        .boxed();
        let (s, h) = inspect(failing, None, None);
        assert_eq!(run(s).1, Some(AudioError::WavLengthUnknown));
        assert_eq!(h.error(), Some(AudioError::WavLengthUnknown));
        assert_eq!(h.sha256(), None);
    }

    #[test]
    fn a_body_shorter_than_the_sniff_window_is_not_audio() {
        let (s, _) = inspect(chunks(&[b"\xFF\xFB\x90"]), Some(Container::Mp3), None);
        assert!(matches!(run(s).1, Some(AudioError::NotAudio { .. })));
    }

    #[test]
    fn input_errors_come_out_unchanged() {
        let failing = stream::iter(vec![Ok(Bytes::from(mp3())), Err(std::io::Error::other("reset"))]).boxed();
        let (s, h) = inspect(failing, Some(Container::Mp3), None);
        let mut s = s;
        block_on(async {
            assert!(s.next().await.unwrap().is_ok());
            assert_eq!(s.next().await.unwrap().unwrap_err().to_string(), "reset");
        });
        assert_eq!(h.sha256(), None, "no hash for an unfinished stream");
    }

    #[test]
    fn check_passes_and_checks_the_bytes_without_hashing() {
        let data = mp3();
        let (s, h) = check(chunks(&[&data]), Some(Container::Mp3), Some(data.len() as u64));
        assert_eq!(run(s), (data.clone(), None));
        assert_eq!(h.sha256(), None);
        let (s, h) = check(chunks(&[&data]), Some(Container::Mp3), Some(10));
        assert!(matches!(run(s).1, Some(AudioError::LengthMismatch { .. })));
        assert!(h.error().is_some());
        let (s, _) = check(chunks(&[b"<html>oops</html>"]), Some(Container::Mp3), None);
        assert!(matches!(run(s).1, Some(AudioError::NotAudio { .. })));
    }
}
