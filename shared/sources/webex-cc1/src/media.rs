//! **Media** (reference §6.3, §6.4; UNCONFIRMED as a whole): `GET {media_api_url}?sessionId=<sid>`
//! with the signed headers → `200 audio/wav`, mono (1.0 has no stereo); `404` until the
//! recording is ready, and for a session that has none.
//!
//! What the answer must be: a RIFF/WAVE file. An answer that is HTML or JSON means the
//! Media API URL points somewhere else (a login page, the reporting API): the connector
//! waits for an operator. Any other answer that is not WAV fails the item with what came.

use futures::{StreamExt, TryStreamExt};
use reqwest::Response;
use wfo_domain::Secret;
use wfo_domain::wfo::AudioFormat;
use wfo_ports::{ByteStream, Media, MediaFormat, SourceError};

use crate::client::Cc1Client;
use crate::error::cc1_error;

/// Bytes of a WAV header read to check the format (`RIFF` size `WAVE`).
const MAGIC_LEN: usize = 12;

/// What the media API says of a session's recording.
pub enum Recording {
    /// `200` with a WAV body.
    Ready(Media),
    /// `404`: not ready yet, or none.
    NotThere,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recording::Ready(m) => f.debug_tuple("Ready").field(m).finish(),
            Recording::NotThere => f.write_str("NotThere"),
        }
    }
}

/// Whether the first bytes are a WAV file's.
pub fn is_wav(head: &[u8]) -> bool {
    head.len() >= MAGIC_LEN && &head[0..4] == b"RIFF" && &head[8..12] == b"WAVE"
}

/// Why an answer is not audio, and whether an operator must act.
fn refuse(sid: &str, content_type: Option<&str>, head: &[u8]) -> SourceError {
    let shown: String = String::from_utf8_lossy(&head[..head.len().min(32)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    let ct = content_type.unwrap_or("no content type");
    let lower = ct.to_ascii_lowercase();
    if lower.contains("html") || lower.contains("json") || shown.trim_start().starts_with('<') {
        SourceError::Operator(format!(
            "the media API answered {ct} for session {sid}, not a WAV recording: check source.media_api_url (it must be the Media API, e.g. https://rd-<tenant>.ccone.net/cr/get-decrypted-recording)"
        ))
    } else {
        SourceError::Permanent(format!(
            "the media API answered session {sid} with {ct} that is not a WAV file (it starts with '{shown}')"
        ))
    }
}

impl Cc1Client {
    /// The recording of session `sid`, its format checked from its first bytes.
    pub async fn recording(&self, key: &Secret, sid: &str) -> Result<Recording, SourceError> {
        let Some(resp) = self.media(sid, key).await.map_err(cc1_error)? else {
            return Ok(Recording::NotThere);
        };
        open_wav(sid, resp).await.map(Recording::Ready)
    }
}

/// Reads the head of `resp`, checks it is WAV, and streams the whole body (head first).
async fn open_wav(sid: &str, resp: Response) -> Result<Media, SourceError> {
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let length = resp.content_length();
    let mut body = resp.bytes_stream().map_err(std::io::Error::other).boxed();
    let mut head = Vec::with_capacity(MAGIC_LEN);
    let mut first = Vec::new();
    while head.len() < MAGIC_LEN {
        match body.next().await {
            Some(Ok(chunk)) => {
                let take = (MAGIC_LEN - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
                first.push(chunk);
            }
            Some(Err(e)) => {
                return Err(SourceError::retry(format!(
                    "media of session {sid}: the download failed: {e}"
                )));
            }
            None => break,
        }
    }
    if !is_wav(&head) {
        return Err(refuse(sid, content_type.as_deref(), &head));
    }
    let stream: ByteStream = futures::stream::iter(first.into_iter().map(Ok)).chain(body).boxed();
    Ok(Media {
        stream,
        length,
        format: MediaFormat {
            format: AudioFormat::Wav,
            channels: 1,
        },
        duration_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_is_recognised_by_its_riff_header() {
        assert!(is_wav(b"RIFF\x24\x00\x00\x00WAVEfmt "));
        assert!(!is_wav(b"RIFF\x24\x00\x00\x00AVI "));
        assert!(!is_wav(b"<html>"));
    }

    #[test]
    fn html_asks_for_an_operator_and_other_bytes_fail_the_item() {
        assert!(
            matches!(refuse("s", Some("text/html"), b"<html><body>"), SourceError::Operator(m) if m.contains("media_api_url"))
        );
        assert!(
            matches!(refuse("s", Some("audio/mpeg"), b"ID3\x04\x00"), SourceError::Permanent(m) if m.contains("audio/mpeg"))
        );
    }
}
