//! Pass-through streams for whole-file uploads: count the bytes, check the length.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::{AudioError, ByteStream};

/// Passes `input` through unchanged and counts its bytes as they go by.
///
/// Nothing is buffered: each chunk is handed on as it arrives. Read the count (and whether
/// the stream reached its end) from the [`CountHandle`] once the consumer is done, e.g.
/// after an upload, with [`CountHandle::check_len`].
pub fn counted(input: ByteStream) -> (ByteStream, CountHandle) {
    let handle = CountHandle::default();
    let stream = Counted {
        input,
        state: Arc::clone(&handle.0),
        expected: None,
        done: false,
    };
    (stream.boxed(), handle)
}

/// Passes `input` through unchanged, and fails the stream when it does not carry exactly
/// `expected` bytes: with [`AudioError::LengthMismatch`] as soon as it runs over, or at its
/// end when it falls short. Put it in front of an upload body so that a truncated download
/// aborts the upload instead of storing a truncated recording.
pub fn with_expected_len(input: ByteStream, expected: u64) -> (ByteStream, CountHandle) {
    let handle = CountHandle::default();
    let stream = Counted {
        input,
        state: Arc::clone(&handle.0),
        expected: Some(expected),
        done: false,
    };
    (stream.boxed(), handle)
}

/// What a counting stream has seen (cheap to clone; all clones see the same values).
#[derive(Debug, Clone, Default)]
pub struct CountHandle(Arc<CountState>);

#[derive(Debug, Default)]
struct CountState {
    bytes: AtomicU64,
    ended: AtomicBool,
    failed: AtomicBool,
}

impl CountHandle {
    /// Bytes passed through so far.
    pub fn bytes(&self) -> u64 {
        self.0.bytes.load(Ordering::Relaxed)
    }

    /// The input reached its end without an error.
    pub fn is_complete(&self) -> bool {
        self.0.ended.load(Ordering::Relaxed) && !self.0.failed.load(Ordering::Relaxed)
    }

    /// `Ok(bytes)` when the stream was read to its end and carried `expected` bytes.
    pub fn check_len(&self, expected: u64) -> Result<u64, AudioError> {
        let actual = self.bytes();
        if !self.is_complete() {
            return Err(AudioError::Incomplete { read: actual });
        }
        if actual != expected {
            return Err(AudioError::LengthMismatch { expected, actual });
        }
        Ok(actual)
    }
}

struct Counted {
    input: ByteStream,
    state: Arc<CountState>,
    expected: Option<u64>,
    done: bool,
}

impl Counted {
    fn fail(&mut self, error: AudioError) -> Poll<Option<std::io::Result<Bytes>>> {
        self.done = true;
        self.state.failed.store(true, Ordering::Relaxed);
        Poll::Ready(Some(Err(error.into_io())))
    }
}

impl Stream for Counted {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.input.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                let total = self.state.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
                match self.expected {
                    Some(expected) if total > expected => self.fail(AudioError::LengthMismatch {
                        expected,
                        actual: total,
                    }),
                    _ => Poll::Ready(Some(Ok(chunk))),
                }
            }
            Poll::Ready(Some(Err(error))) => {
                self.done = true;
                self.state.failed.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => {
                self.state.ended.store(true, Ordering::Relaxed);
                let actual = self.state.bytes.load(Ordering::Relaxed);
                match self.expected {
                    Some(expected) if actual != expected => self.fail(AudioError::LengthMismatch { expected, actual }),
                    _ => {
                        self.done = true;
                        Poll::Ready(None)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::stream;

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        let items: Vec<_> = parts.iter().map(|part| Ok(Bytes::from_static(part))).collect();
        stream::iter(items).boxed()
    }

    fn collect(stream: ByteStream) -> (Vec<u8>, Option<std::io::Error>) {
        block_on(async {
            let mut out = Vec::new();
            let mut stream = stream;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(chunk) => out.extend_from_slice(&chunk),
                    Err(error) => return (out, Some(error)),
                }
            }
            (out, None)
        })
    }

    #[test]
    fn counted_passes_bytes_through_unchanged_and_counts_them() {
        let (stream, handle) = counted(chunks(&[b"ab", b"", b"cde"]));
        let (out, error) = collect(stream);
        assert_eq!(out, b"abcde");
        assert!(error.is_none());
        assert_eq!(handle.bytes(), 5);
        assert_eq!(handle.check_len(5), Ok(5));
        assert_eq!(
            handle.check_len(6),
            Err(AudioError::LengthMismatch { expected: 6, actual: 5 })
        );
    }

    #[test]
    fn counted_reports_incomplete_before_the_end_and_after_an_input_error() {
        let (stream, handle) = counted(chunks(&[b"ab"]));
        assert_eq!(handle.check_len(2), Err(AudioError::Incomplete { read: 0 }));
        drop(stream);

        let failing = stream::iter(vec![Ok(Bytes::from_static(b"ab")), Err(std::io::Error::other("reset"))]).boxed();
        let (stream, handle) = counted(failing);
        let (_, error) = collect(stream);
        assert_eq!(error.map(|e| e.to_string()), Some("reset".to_string()));
        assert_eq!(handle.check_len(2), Err(AudioError::Incomplete { read: 2 }));
    }

    #[test]
    fn expected_len_fails_a_short_stream_at_its_end() {
        let (stream, _) = with_expected_len(chunks(&[b"abc"]), 4);
        let (out, error) = collect(stream);
        assert_eq!(out, b"abc");
        let error = error.map(|e| AudioError::from_io(&e).cloned());
        assert_eq!(error, Some(Some(AudioError::LengthMismatch { expected: 4, actual: 3 })));
    }

    #[test]
    fn expected_len_fails_a_long_stream_as_soon_as_it_runs_over() {
        let (stream, handle) = with_expected_len(chunks(&[b"ab", b"cd", b"ef"]), 3);
        let (out, error) = collect(stream);
        assert_eq!(out, b"ab");
        assert!(error.is_some_and(|e| AudioError::from_io(&e).is_some()));
        assert!(!handle.is_complete());
    }

    #[test]
    fn expected_len_passes_an_exact_stream() {
        let (stream, handle) = with_expected_len(chunks(&[b"ab", b"cd"]), 4);
        let (out, error) = collect(stream);
        assert_eq!(out, b"abcd");
        assert!(error.is_none());
        assert_eq!(handle.check_len(4), Ok(4));
    }
}
