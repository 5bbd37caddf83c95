//! Wire model of the WFO ingest API (`shared/specs/wfo-ingest-api.md`).
//!
//! These types are shared by the WFO client, the WFO simulator and the segmentation
//! output, so the JSON shape is written down exactly once. Field names follow the spec
//! (camelCase). Unknown fields are tolerated on input everywhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `POST /api/rest/authorize` body.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeRequest {
    pub user_id: String,
    pub password: String,
    #[serde(default = "default_language")]
    pub language: String,
}

fn default_language() -> String {
    "en".to_owned()
}

impl std::fmt::Debug for AuthorizeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeRequest")
            .field("user_id", &self.user_id)
            .field("password", &"[redacted]")
            .field("language", &self.language)
            .finish()
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeResponse {
    pub session_id: String,
}

impl std::fmt::Debug for AuthorizeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthorizeResponse { session_id: [redacted] }")
    }
}

/// Error body: `{"errorMessage": "...", "requestId": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub is_default: bool,
    pub acd_id: Option<String>,
    pub acd_server_id: Option<i64>,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamInput {
    pub name: String,
    pub acd_id: Option<String>,
    pub acd_server_id: Option<i64>,
    pub read_only: bool,
}

/// A WFO queue (an ACD service queue, `specs/wfo-ingest-api.md` §3a).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    pub id: i64,
    pub name: String,
    pub acd_id: String,
    pub acd_server_id: i64,
    pub channel_type: ChannelType,
    pub active: bool,
}

/// `POST /api/rest/org/acd/queue` body: a [`Queue`] without its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueInput {
    pub name: String,
    pub acd_id: String,
    pub acd_server_id: i64,
    pub channel_type: ChannelType,
    pub active: bool,
}

/// The channel a queue serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelType {
    Telephony,
    Chat,
    Email,
    Sms,
    Social,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub is_agent_default: bool,
    #[serde(default)]
    pub is_supervisor_default: bool,
    #[serde(default)]
    pub is_admin_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRef {
    pub id: i64,
    pub name: String,
}

/// A WFO person (user). `deactivated != None` means inactive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub id: i64,
    #[serde(flatten)]
    pub input: PersonInput,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonInput {
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub email: Option<String>,
    pub display_name: String,
    pub group_id: i64,
    #[serde(default)]
    pub acd_id: Option<String>,
    #[serde(default)]
    pub acd_server_id: Option<i64>,
    #[serde(default)]
    pub roles: Vec<RoleRef>,
    #[serde(default)]
    pub company_start_date: Option<String>,
    #[serde(default)]
    pub department_start_date: Option<String>,
    #[serde(default)]
    pub activated: Option<i64>,
    #[serde(default)]
    pub deactivated: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MetadataKeyType {
    Text,
    Date,
    Number,
    Hyperlink,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataKey {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub key_type: MetadataKeyType,
    #[serde(default)]
    pub exportable: bool,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ContactType {
    Call,
    Chat,
    Email,
    Sms,
    Social,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Direction {
    Inbound,
    Outbound,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRef {
    pub acd_id: String,
    pub acd_server_id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Pause,
    Resume,
    Hold,
    Retrieve,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContactEvent {
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// epoch ms
    pub time: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AudioFormat {
    Mp3,
    Wav,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioSpec {
    pub expected: bool,
    pub format: AudioFormat,
    pub channels: u8,
}

/// `POST /api/rest/wfo/contact/import` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactImport {
    pub external_id: String,
    pub assoc_call_id: String,
    pub contact_type: ContactType,
    /// epoch ms
    pub start_time: i64,
    /// ms
    pub call_duration: i64,
    pub ani: Option<String>,
    pub dnis: Option<String>,
    pub direction: Direction,
    pub agent: AgentRef,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub events: Vec<ContactEvent>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub audio: Option<AudioSpec>,
}

/// `GET /api/rest/recording/contact/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: i64,
    #[serde(flatten)]
    pub import: ContactImport,
    pub audio_uploaded: bool,
    pub audio_bytes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactCreated {
    pub contact_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub id: i64,
}

/// One entry of the metadata PUT body: `{"<key>": {"key": "<key>", "value": "<text>"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioUploaded {
    pub audio_uploaded: bool,
    pub bytes: i64,
    pub sha256: String,
}

/// The documented label → key rule of the Metadata Manager: spaces become hyphens,
/// `&` and `=` are removed, `-key` is appended, at most 39 characters.
///
/// The spec does not say whether the 39 characters include the `-key` suffix; we read
/// it as the whole key being at most 39 characters, truncating the label part.
pub fn metadata_key_from_label(label: &str) -> String {
    const MAX: usize = 39;
    const SUFFIX: &str = "-key";
    let base: String = label
        .trim()
        .chars()
        .filter(|c| *c != '&' && *c != '=')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect();
    let room = MAX - SUFFIX.len();
    let base: String = base.chars().take(room).collect();
    format!("{base}{SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_rule_matches_the_documented_example() {
        assert_eq!(metadata_key_from_label("example text"), "example-text-key");
    }

    #[test]
    fn label_rule_drops_ampersand_and_equals_and_caps_length() {
        assert_eq!(metadata_key_from_label("Q&A = yes"), "QA--yes-key");
        let long = "a".repeat(60);
        let key = metadata_key_from_label(&long);
        assert_eq!(key.len(), 39);
        assert!(key.ends_with("-key"));
    }

    #[test]
    fn contact_import_round_trips_with_spec_field_names() {
        let json = serde_json::json!({
            "externalId": "wxc:r1:0", "assocCallId": "s1", "contactType": "CALL",
            "startTime": 1, "callDuration": 2, "ani": null, "dnis": "100",
            "direction": "INBOUND", "agent": {"acdId": "u", "acdServerId": 3},
            "language": null, "events": [{"type": "HOLD", "time": 5}],
            "metadata": {"k-key": "v"}, "audio": {"expected": true, "format": "MP3", "channels": 1},
            "someFutureField": 1
        });
        let c: ContactImport = serde_json::from_value(json).unwrap();
        assert_eq!(c.events[0].event_type, EventType::Hold);
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["externalId"], "wxc:r1:0");
        assert_eq!(back["agent"]["acdServerId"], 3);
    }

    #[test]
    fn queue_has_exactly_the_spec_field_names() {
        let q = Queue {
            id: 12,
            name: "Billing".into(),
            acd_id: "q-1".into(),
            acd_server_id: 3,
            channel_type: ChannelType::Telephony,
            active: true,
        };
        let json = serde_json::json!({
            "id": 12, "name": "Billing", "acdId": "q-1", "acdServerId": 3,
            "channelType": "TELEPHONY", "active": true
        });
        assert_eq!(serde_json::to_value(&q).unwrap(), json);
        assert_eq!(serde_json::from_value::<Queue>(json).unwrap(), q);
    }

    #[test]
    fn queue_input_is_a_queue_without_its_id() {
        let q = QueueInput {
            name: "Chat support".into(),
            acd_id: "q-2".into(),
            acd_server_id: 3,
            channel_type: ChannelType::Chat,
            active: false,
        };
        let json = serde_json::json!({
            "name": "Chat support", "acdId": "q-2", "acdServerId": 3,
            "channelType": "CHAT", "active": false
        });
        assert_eq!(serde_json::to_value(&q).unwrap(), json);
        assert_eq!(serde_json::from_value::<QueueInput>(json).unwrap(), q);
    }

    #[test]
    fn channel_types_are_the_five_spec_strings() {
        let all = [
            (ChannelType::Telephony, "TELEPHONY"),
            (ChannelType::Chat, "CHAT"),
            (ChannelType::Email, "EMAIL"),
            (ChannelType::Sms, "SMS"),
            (ChannelType::Social, "SOCIAL"),
        ];
        for (ch, text) in all {
            assert_eq!(serde_json::to_value(ch).unwrap(), text);
            assert_eq!(serde_json::from_value::<ChannelType>(text.into()).unwrap(), ch);
        }
        assert!(serde_json::from_value::<ChannelType>("VOICE".into()).is_err());
    }

    #[test]
    fn a_queue_without_channel_type_or_active_is_rejected() {
        let no_channel = serde_json::json!({"id": 1, "name": "n", "acdId": "a", "acdServerId": 3, "active": true});
        assert!(serde_json::from_value::<Queue>(no_channel).is_err());
        let no_active = serde_json::json!({"name": "n", "acdId": "a", "acdServerId": 3, "channelType": "SMS"});
        assert!(serde_json::from_value::<QueueInput>(no_active).is_err());
    }
}
