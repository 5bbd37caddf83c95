//! Configuration entries as the Contact Center lists them (reference §4), read leniently:
//! every field we do not use is ignored (new fields never stop a run), each entry is
//! read on its own (one unreadable entry is rejected with its reason, the page goes on).

use serde::Deserialize;
use serde_json::Value;
use wfo_domain::wfo::ChannelType;

/// The `meta` of a v2 list page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    #[serde(default)]
    pub page: Option<u64>,
    #[serde(default)]
    pub page_size: Option<u64>,
    #[serde(default)]
    pub total_pages: Option<u64>,
    #[serde(default)]
    pub total_records: Option<u64>,
}

/// One v2 list page: `{ "meta": {…}, "data": [ … ] }`.
#[derive(Debug, Clone, Deserialize)]
pub struct ListPage {
    #[serde(default)]
    pub meta: PageMeta,
    pub data: Vec<Value>,
}

/// A Contact Center user (`/v2/user`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CcUser {
    pub id: String,
    /// The CI (Common Identity) user id: what task activities and captures name agents by.
    #[serde(default)]
    pub ci_user_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Missing is read as active (the field is documented; an absent one proves nothing).
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub contact_center_enabled: Option<bool>,
}

/// A Contact Center team (`/v2/team`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CcTeam {
    pub id: String,
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// `IN_SERVICE` / `NOT_AVAILABLE`, when given (an active flag wins when both are).
    #[serde(default)]
    pub team_status: Option<String>,
}

/// A Contact Center queue (`/v2/contact-service-queue`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CcQueue {
    pub id: String,
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// `TELEPHONY`, `CHAT`, `EMAIL`, `SOCIAL_CHANNEL`, … (anything else: telephony).
    #[serde(default)]
    pub channel_type: Option<String>,
}

fn yes() -> bool {
    true
}

/// A queue's channel in WFO terms. UNCONFIRMED spellings beyond `TELEPHONY`, `CHAT`,
/// `EMAIL`: `SOCIAL_CHANNEL`/`SOCIAL` → social, `SMS` → SMS; unknown → telephony (the
/// channel WFO voice contacts use), noted by the caller.
pub fn channel_type(raw: Option<&str>) -> (ChannelType, bool) {
    match raw.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
        None | Some("TELEPHONY") | Some("VOICE") => (ChannelType::Telephony, true),
        Some("CHAT") => (ChannelType::Chat, true),
        Some("EMAIL") => (ChannelType::Email, true),
        Some("SMS") => (ChannelType::Sms, true),
        Some("SOCIAL") | Some("SOCIAL_CHANNEL") => (ChannelType::Social, true),
        Some(_) => (ChannelType::Telephony, false),
    }
}

/// Read one entry; the reason names the entry (its id when it has one) and the field.
pub fn read_entry<T: serde::de::DeserializeOwned>(kind: &str, index: usize, entry: Value) -> Result<T, String> {
    let id = entry.get("id").and_then(Value::as_str).map(str::to_owned);
    serde_json::from_value::<T>(entry).map_err(|e| match id {
        Some(id) => format!("{kind} {id}: {e}"),
        None => format!("{kind} #{index} of its page: {e}"),
    })
}
