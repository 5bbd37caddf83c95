//! Converged-recording objects (reference §1.5), decoded leniently: unknown fields are
//! ignored, unknown enum values kept, timestamps with any offset normalised to UTC.
//!
//! Only `id` and `createTime` are required (identity and the sweep cursor); everything
//! else the spec calls required is optional here, so one odd item never stops a sync.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::lenient::{de_datetime, de_opt_datetime, de_opt_u64, lenient_enum};

lenient_enum!(
    /// Who owns a recording. Lists use camelCase, metadata upper case; both decode.
    OwnerType {
        User => "user",
        Place => "place",
        VirtualLine => "virtualLine",
        CallQueue => "callQueue",
    }
);

lenient_enum!(
    /// Recording lifecycle: `available` → `deleted` (recycle bin) → `purged`.
    RecordingStatus {
        Available => "available",
        Deleted => "deleted",
        Purged => "purged",
    }
);

lenient_enum!(
    /// The product that recorded the call.
    ServiceType {
        Calling => "calling",
        CustomerAssist => "customerAssist",
    }
);

/// `serviceData` of a list item or details object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// "Call ID for which recording was done"; the same id as metadata
    /// `serviceData.callSessionId`. Groups recordings into conversations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_session_id: Option<String>,
}

/// A list item of `GET /v1/admin/convergedRecordings` (`RecordingObject`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingSummary {
    /// Recording id (UUID or hex, not a base64 Webex id).
    pub id: String,
    #[serde(default)]
    pub topic: String,
    /// When the file was generated (after the call), not when recording started.
    #[serde(deserialize_with = "de_datetime")]
    pub create_time: DateTime<Utc>,
    /// When recording started.
    #[serde(
        default,
        deserialize_with = "de_opt_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub time_recorded: Option<DateTime<Utc>>,
    /// Plain UUID (see [`crate::webex_id_to_uuid`] to join with People ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_type: Option<OwnerType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    /// `MP3` (the only documented value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, deserialize_with = "de_opt_u64", skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    /// Size of the MP3; check it after the download.
    #[serde(default, deserialize_with = "de_opt_u64", skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RecordingStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_data: Option<ServiceData>,
}

impl RecordingSummary {
    /// `serviceData.callSessionId`, when present and non-empty.
    pub fn call_session_id(&self) -> Option<&str> {
        self.service_data
            .as_ref()
            .and_then(|d| d.call_session_id.as_deref())
            .filter(|s| !s.is_empty())
    }
}

/// How long Webex keeps a temporary link valid after the details request (§1.5). Used
/// only when a details answer carries links without `expiration`.
pub const LINK_LIFETIME: TimeDelta = TimeDelta::hours(3);

/// `temporaryDirectDownloadLinks` of a details object. Every link expires (3 h after
/// the details request); never store them.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadLinks {
    /// The MP3, self-authorising (see [`crate::AUDIO_LINK_SELF_AUTHORISING`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_download_link: Option<String>,
    /// Missing when there is no transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_download_link: Option<String>,
    /// AI notes links: these need the user access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_notes_download_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_notes_download_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_items_download_link: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_opt_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration: Option<DateTime<Utc>>,
}

/// Links carry a `ticket=`: a bearer credential in all but name. Debug shows only
/// which links are present.
impl std::fmt::Debug for DownloadLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |l: &Option<String>| l.as_ref().map(|_| "[link]");
        f.debug_struct("DownloadLinks")
            .field("audio_download_link", &shown(&self.audio_download_link))
            .field("transcript_download_link", &shown(&self.transcript_download_link))
            .field(
                "suggested_notes_download_link",
                &shown(&self.suggested_notes_download_link),
            )
            .field("short_notes_download_link", &shown(&self.short_notes_download_link))
            .field("action_items_download_link", &shown(&self.action_items_download_link))
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// `GET /v1/convergedRecordings/{id}` (`RecordingObjectWithDirectDownloadLinks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingDetails {
    #[serde(flatten)]
    pub summary: RecordingSummary,
    /// Absent for admin tokens and for recordings with "Prevent Downloading".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_direct_download_links: Option<DownloadLinks>,
    /// When this answer was decoded; bounds link validity when `expiration` is missing.
    #[serde(skip, default = "Utc::now")]
    pub fetched_at: DateTime<Utc>,
}

impl std::ops::Deref for RecordingDetails {
    type Target = RecordingSummary;
    fn deref(&self) -> &RecordingSummary {
        &self.summary
    }
}

impl RecordingDetails {
    /// The audio link, when Webex returned a non-empty one.
    pub fn audio_link(&self) -> Option<&str> {
        self.temporary_direct_download_links
            .as_ref()
            .and_then(|l| l.audio_download_link.as_deref())
            .map(str::trim)
            .filter(|l| !l.is_empty())
    }

    /// When the links stop working: `expiration`, else [`LINK_LIFETIME`] after the fetch.
    pub fn links_expire_at(&self) -> DateTime<Utc> {
        self.temporary_direct_download_links
            .as_ref()
            .and_then(|l| l.expiration)
            .unwrap_or(self.fetched_at + LINK_LIFETIME)
    }
}

/// The JSON body of a list answer: `items`, or `members` (telephony rosters).
#[derive(Debug, Deserialize)]
pub(crate) struct Items {
    #[serde(default = "Vec::new")]
    pub items: Vec<serde_json::Value>,
    #[serde(default = "Vec::new")]
    pub members: Vec<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SPEC_LIST_ITEM: &str = r#"{
      "id": "baa93e55c62e4663ae24f13fbfdb247f",
      "topic": "call with title",
      "createTime": "2023-10-31T16:24:12+08:00",
      "timeRecorded": "2023-10-31T10:41:28+08:00",
      "ownerId": "d7468402-e95f-42a9-92c8-dd65f45d40ba",
      "ownerType": "virtualLine",
      "ownerEmail": "Rbs_TA_Admin@wbxlab.us",
      "format": "MP3",
      "durationSeconds": 60,
      "sizeBytes": 244333,
      "serviceType": "calling",
      "storageRegion": "US",
      "status": "available",
      "serviceData": {"locationId": "US", "callSessionId": "7ba2967530164bf0af1966cf2854b000"}
    }"#;

    #[test]
    fn spec_list_item_decodes_with_utc_times() {
        let r: RecordingSummary = serde_json::from_str(SPEC_LIST_ITEM).unwrap();
        assert_eq!(r.create_time, Utc.with_ymd_and_hms(2023, 10, 31, 8, 24, 12).unwrap());
        assert_eq!(
            r.time_recorded,
            Some(Utc.with_ymd_and_hms(2023, 10, 31, 2, 41, 28).unwrap())
        );
        assert_eq!(r.owner_type, Some(OwnerType::VirtualLine));
        assert_eq!(r.status, Some(RecordingStatus::Available));
        assert_eq!(r.service_type, Some(ServiceType::Calling));
        assert_eq!(r.size_bytes, Some(244333));
        assert_eq!(r.call_session_id(), Some("7ba2967530164bf0af1966cf2854b000"));
    }

    #[test]
    fn minimal_item_with_only_id_and_create_time_decodes() {
        let r: RecordingSummary = serde_json::from_str(r#"{"id":"x","createTime":"2024-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(r.owner_id, None);
        assert_eq!(r.call_session_id(), None);
    }

    #[test]
    fn item_without_create_time_is_an_error_naming_the_field() {
        let e = serde_json::from_str::<RecordingSummary>(r#"{"id":"x"}"#).unwrap_err();
        assert!(e.to_string().contains("createTime"), "{e}");
    }

    #[test]
    fn links_debug_hides_tickets() {
        let l = DownloadLinks {
            audio_download_link: Some("https://x/?ticket=SECRET".into()),
            ..Default::default()
        };
        assert!(!format!("{l:?}").contains("SECRET"));
    }
}
