//! Streaming the MP3 behind `temporaryDirectDownloadLinks.audioDownloadLink`.

use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use url::Url;
use wfo_http::{HttpError, Idempotency};

use crate::client::{WebexCallingClient, log_failure, request_error};
use crate::error::{AUDIO_UNAVAILABLE_HINT, WebexError};
use crate::model::RecordingDetails;

/// The audio link carries its own `ticket=` and is fetched **without** a bearer token.
///
/// UNCONFIRMED (reference §1.5): Webex does not say whether the link needs an
/// `Authorization` header. Keeping the token off it also means the token never goes to
/// the download host. If a sandbox shows the link needs the token, this is the one
/// place the assumption lives: `download_audio` must then take the token.
pub const AUDIO_LINK_SELF_AUTHORISING: bool = true;

// Flipping the assumption needs an API change (a token parameter), not just the constant.
const _: () = assert!(
    AUDIO_LINK_SELF_AUTHORISING,
    "download_audio sends no bearer token: add a token parameter before changing this"
);

/// A link that expires within this margin is refused before any request: the download
/// of a long call must not outlive the ticket.
pub const LINK_SAFETY_MARGIN: TimeDelta = TimeDelta::minutes(5);

const DOWNLOAD_SERVICE: &str = "webex-audio";

/// A running audio download. Bytes arrive as they are read; nothing is buffered.
pub struct AudioDownload {
    /// The MP3 body; a broken connection mid-body is an `io::Error` item.
    pub stream: BoxStream<'static, Result<Bytes, std::io::Error>>,
    /// `Content-Length`, when the server sent one.
    pub length: Option<u64>,
}

impl std::fmt::Debug for AudioDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioDownload")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl WebexCallingClient {
    /// Start downloading the recording's MP3 from its temporary link.
    ///
    /// - no link (admin token, "Prevent Downloading") → [`WebexError::AudioUnavailable`];
    /// - link expired or expiring within [`LINK_SAFETY_MARGIN`] → [`WebexError::LinkExpired`]
    ///   without any request;
    /// - 401/403/404/410 from the download host → [`WebexError::LinkExpired`].
    ///
    /// `LinkExpired` is retryable: fetch the details again and download once more.
    /// Never keep links around.
    pub async fn download_audio(&self, details: &RecordingDetails) -> Result<AudioDownload, WebexError> {
        let id = details.summary.id.as_str();
        let Some(link) = details.audio_link() else {
            return Err(WebexError::AudioUnavailable {
                recording_id: id.to_owned(),
                message: AUDIO_UNAVAILABLE_HINT.to_owned(),
            });
        };
        let expires = details.links_expire_at();
        let now = Utc::now();
        if expires <= now + LINK_SAFETY_MARGIN {
            return Err(WebexError::LinkExpired {
                recording_id: id.to_owned(),
                reason: format!(
                    "link expires at {}, less than {} min from now",
                    crate::client::format_time(expires),
                    LINK_SAFETY_MARGIN.num_minutes()
                ),
            });
        }
        let url =
            Url::parse(link).map_err(|e| request_error(format!("recording {id}: invalid audio download link: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(request_error(format!(
                "recording {id}: audio download link is not HTTP(S)"
            )));
        }

        let tracking = wfo_http::new_tracking_id();
        let result = wfo_http::send(DOWNLOAD_SERVICE, self.policy(), Idempotency::Idempotent, || {
            // Self-authorising link: no bearer (see AUDIO_LINK_SELF_AUTHORISING).
            self.http()
                .get(url.clone())
                .header(crate::client::TRACKING_HEADER, &tracking)
        })
        .await;
        let resp = match result {
            Ok(resp) => resp,
            Err(e) => {
                log_failure("download audio", &tracking, &e);
                return Err(classify_download(id, e));
            }
        };
        let length = resp.content_length();
        let stream = resp.bytes_stream().map_err(std::io::Error::other).boxed();
        Ok(AudioDownload { stream, length })
    }
}

fn classify_download(id: &str, e: HttpError) -> WebexError {
    match e.status() {
        Some(status @ (401 | 403 | 404 | 410)) => {
            if status == 401 {
                tracing::warn!(
                    recording_id = id,
                    "webex: audio link answered 401; if this persists the link may need a bearer \
                     token (see AUDIO_LINK_SELF_AUTHORISING)"
                );
            }
            WebexError::LinkExpired {
                recording_id: id.to_owned(),
                reason: format!("download host answered {status}"),
            }
        }
        _ => WebexError::from(e),
    }
}
