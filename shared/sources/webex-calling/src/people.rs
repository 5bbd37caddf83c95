//! What the user sync reads (reference §5): People, Licenses, the org's call-recording
//! roster (`vendorUsers`), one person's call-recording setting, and the admin audit
//! events that say whose setting changed.
//!
//! Models are lenient: only `id` is required, every other field tolerates absence,
//! `null` and the wrong JSON type (read as absent), so one odd person never fails a page
//! (a failed page would make the whole listing incomplete, see the user sync).

use serde::{Deserialize, Deserializer, Serialize};
use wfo_domain::Secret;
use wfo_http::Idempotency;

use crate::client::{Call, Page, WebexCallingClient, non_empty_id};
use crate::error::WebexError;
use crate::lenient::lenient_enum;

/// `max` of `GET /v1/people` with `callingData=true` (the API's limit).
pub const PEOPLE_PAGE_SIZE: u32 = 100;
/// `max` of `GET /v1/telephony/config/callRecording/vendorUsers` (the API's default).
pub const ROSTER_PAGE_SIZE: u32 = 2000;
/// The license name of Webex Calling Professional (reference §5.2).
pub const PROFESSIONAL_LICENSE_NAME: &str = "Webex Calling - Professional";

const SCOPE_PEOPLE: &str = "spark-admin:people_read";
const SCOPE_LICENSES: &str = "spark-admin:licenses_read";
const SCOPE_TELEPHONY: &str = "spark-admin:telephony_config_read";
/// The scope of the admin audit events (granted by a full administrator).
pub const SCOPE_AUDIT_EVENTS: &str = "audit:events_read";
/// `max` of `GET /v1/adminAudit/events` (the API's limit).
pub const AUDIT_PAGE_SIZE: u32 = 1000;

/// A string, or absent when missing, `null`, empty or not a string/number.
fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// The strings of an array; anything else (missing, `null`, a scalar) is empty.
fn de_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| match v {
                serde_json::Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// `true`/`false`, also as the strings `"true"`/`"false"`; anything else is absent.
fn de_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(serde_json::Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// A person of `GET /v1/people` (reference §5.1). `id` is the base64 REST id: use
/// `wfo_domain::sync::canonical_acd_id` for the plain UUID recordings carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebexPerson {
    pub id: String,
    #[serde(default, deserialize_with = "de_strings")]
    pub emails: Vec<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub nick_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub last_name: Option<String>,
    /// License ids (the same ids `GET /v1/licenses` lists).
    #[serde(default, deserialize_with = "de_strings")]
    pub licenses: Vec<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub location_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub extension: Option<String>,
    /// `person | bot | appuser`.
    #[serde(default, rename = "type", deserialize_with = "de_opt_string")]
    pub person_type: Option<String>,
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub login_enabled: Option<bool>,
}

impl WebexPerson {
    /// A human user (not a bot or app user); an absent type counts as a person.
    pub fn is_person(&self) -> bool {
        self.person_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("person"))
    }

    /// The first e-mail address, if any.
    pub fn email(&self) -> Option<&str> {
        self.emails.iter().map(|e| e.trim()).find(|e| !e.is_empty())
    }
}

/// A license of `GET /v1/licenses` (reference §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct License {
    pub id: String,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub subscription_id: Option<String>,
}

/// Whether a license name is Webex Calling Professional: compared trimmed, ignoring
/// case, runs of spaces and the dash ("Webex Calling Professional" matches too).
pub fn is_calling_professional(name: &str) -> bool {
    let norm = |s: &str| {
        s.split(|c: char| c.is_whitespace() || c == '-' || c == '–')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    norm(name) == norm(PROFESSIONAL_LICENSE_NAME)
}

/// The ids of every Professional license (one per subscription).
pub fn professional_license_ids(licenses: &[License]) -> Vec<String> {
    licenses
        .iter()
        .filter(|l| l.name.as_deref().is_some_and(is_calling_professional))
        .map(|l| l.id.clone())
        .collect()
}

/// A member of the org's call-recording roster (`vendorUsers`, reference §5.3): a user
/// or workspace assigned to the org's default recording vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RosterMember {
    pub id: String,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub last_name: Option<String>,
    /// `PEOPLE | PLACE`.
    #[serde(default, rename = "type", deserialize_with = "de_opt_string")]
    pub member_type: Option<String>,
    /// `PROFESSIONAL_USER | BASIC_USER | WORKSPACE …` (informational: eligibility is
    /// decided from the license *name*).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub license_type: Option<String>,
}

impl RosterMember {
    pub fn is_person(&self) -> bool {
        self.member_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("PEOPLE"))
    }
}

lenient_enum!(
    /// `record` of a person's call-recording setting (reference §5.3).
    RecordMode {
        Always => "Always",
        Never => "Never",
        AlwaysWithPauseResume => "Always with Pause/Resume",
        OnDemand => "On Demand with User Initiated Start",
    }
);

/// `GET /v1/people/{id}/features/callRecording`, the fields the sync needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecordingSetting {
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub record: Option<RecordMode>,
}

impl CallRecordingSetting {
    /// Recording is on: not disabled and `record` is not `Never` (an unknown mode counts
    /// as on: it is some way of recording).
    pub fn records(&self) -> bool {
        self.enabled != Some(false) && self.record.as_ref().is_none_or(|r| *r != RecordMode::Never)
    }
}

/// An admin audit event of `GET /v1/adminAudit/events` (Webex Admin API, "Admin Audit
/// Events"): the fields that say what was changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub created: Option<String>,
    #[serde(default, deserialize_with = "de_audit_data")]
    pub data: AuditEventData,
}

/// `data` of an [`AuditEvent`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventData {
    #[serde(default, deserialize_with = "de_opt_string")]
    pub event_category: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub event_description: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub action_text: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub target_type: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub target_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub target_name: Option<String>,
}

/// `data` when it is an object; anything else reads as empty (the event then says
/// nothing about call recording).
fn de_audit_data<'de, D: Deserializer<'de>>(d: D) -> Result<AuditEventData, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(v @ serde_json::Value::Object(_)) => serde_json::from_value(v).unwrap_or_default(),
        _ => AuditEventData::default(),
    })
}

/// What an audit event says about call-recording settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingChange {
    /// Nothing (another kind of admin action).
    None,
    /// One person's setting changed: their REST id or UUID.
    Person(String),
    /// A change whose people cannot be told from the event (a location's or the org's
    /// recording, a bulk change): every candidate's setting must be read again.
    Wider,
}

impl AuditEvent {
    /// **Working assumption** (the reference does not confirm the event names, see
    /// docs/user-sync.md): an event is about call recording when its category,
    /// description or action text mentions "call recording" (case, spaces and
    /// punctuation ignored: `callRecording`, `Call Recording`, `call-recording`); it
    /// names one person when `targetType` is `USER`/`PEOPLE`/`PERSON` and `targetId` is
    /// set. The only place that decides this.
    pub fn recording_change(&self) -> RecordingChange {
        let d = &self.data;
        let mentions = [&d.event_category, &d.event_description, &d.action_text]
            .into_iter()
            .flatten()
            .any(|t| {
                let squashed: String = t
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .flat_map(char::to_lowercase)
                    .collect();
                squashed.contains("callrecording")
            });
        if !mentions {
            return RecordingChange::None;
        }
        let person = d.target_type.as_deref().is_some_and(|t| {
            ["USER", "PEOPLE", "PERSON"]
                .iter()
                .any(|k| t.trim().eq_ignore_ascii_case(k))
        });
        match (&d.target_id, person) {
            (Some(id), true) if !id.trim().is_empty() => RecordingChange::Person(id.trim().to_owned()),
            _ => RecordingChange::Wider,
        }
    }
}

impl WebexCallingClient {
    /// First page of `GET /v1/adminAudit/events?orgId=&from=&to=&max=1000` (events in
    /// `[from, to)`; `audit:events_read`, full administrator). Follow `Link` with
    /// [`WebexCallingClient::next_page`].
    pub async fn admin_audit_events_page(
        &self,
        token: &Secret,
        org_id: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Page<AuditEvent>, WebexError> {
        let url = self.endpoint(&["v1", "adminAudit", "events"])?;
        let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // The API takes milliseconds: `to` is rounded up so an event of the last
        // millisecond is not cut off (one read again next time costs nothing).
        let to = to + chrono::Duration::microseconds(999);
        let query = [
            ("orgId", org_id.to_owned()),
            ("from", at(from)),
            ("to", at(to)),
            ("max", AUDIT_PAGE_SIZE.to_string()),
        ];
        self.fetch_list_page(token, "list admin audit events", SCOPE_AUDIT_EVENTS, url, &query)
            .await
    }

    /// First page of `GET /v1/people?callingData=true&max=100&excludeStatus=true` (the
    /// whole org for an admin token); [`WebexCallingClient::next_page`] follows `Link`.
    pub async fn list_people_page(&self, token: &Secret) -> Result<Page<WebexPerson>, WebexError> {
        let url = self.endpoint(&["v1", "people"])?;
        let query = [
            ("callingData", "true".to_owned()),
            ("max", PEOPLE_PAGE_SIZE.to_string()),
            ("excludeStatus", "true".to_owned()),
        ];
        self.fetch_list_page(token, "list people", SCOPE_PEOPLE, url, &query)
            .await
    }

    /// Every license of the org (`GET /v1/licenses`, every page).
    pub async fn list_licenses(&self, token: &Secret) -> Result<Vec<License>, WebexError> {
        let url = self.endpoint(&["v1", "licenses"])?;
        let mut page: Page<License> = self
            .fetch_list_page(token, "list licenses", SCOPE_LICENSES, url, &[])
            .await?;
        let mut out = std::mem::take(&mut page.items);
        while let Some(mut next) = self.next_page(token, &page).await? {
            out.append(&mut next.items);
            page = next;
        }
        Ok(out)
    }

    /// One page of the org's call-recording roster,
    /// `GET /v1/telephony/config/callRecording/vendorUsers?max=&start=` (members come in
    /// `members`, not `items`). Follow `Link` with `next_page`; when an answer carries no
    /// `Link` but a full page, ask again with `start` + `max`.
    pub async fn recording_roster_page(
        &self,
        token: &Secret,
        start: u32,
        max: u32,
    ) -> Result<Page<RosterMember>, WebexError> {
        let url = self.endpoint(&["v1", "telephony", "config", "callRecording", "vendorUsers"])?;
        let mut query = vec![("max", max.clamp(1, ROSTER_PAGE_SIZE).to_string())];
        if start > 0 {
            query.push(("start", start.to_string()));
        }
        self.fetch_list_page(token, "list call recording vendor users", SCOPE_TELEPHONY, url, &query)
            .await
    }

    /// `GET /v1/people/me`: who the token was issued to (the person and their org).
    pub async fn people_me(&self, token: &Secret) -> Result<Me, WebexError> {
        let url = self.endpoint(&["v1", "people", "me"])?;
        let call = Call {
            operation: "who authorized",
            scope: "spark:people_read",
            what: "person me".to_owned(),
        };
        let (resp, tracking) = self
            .send_api(&call, token, Idempotency::Idempotent, || self.http().get(url.clone()))
            .await?;
        self.decode(&call, resp, &tracking).await
    }

    /// `GET /v1/people/{personId}`: one person with their licenses. `Ok(None)` when the
    /// org has no such person (`404`: deleted, or not a person).
    pub async fn get_person(&self, token: &Secret, person_id: &str) -> Result<Option<WebexPerson>, WebexError> {
        let id = non_empty_id(person_id)?;
        let url = self.endpoint(&["v1", "people", id])?;
        let call = Call {
            operation: "get person",
            scope: SCOPE_PEOPLE,
            what: format!("person {id}"),
        };
        let sent = self
            .send_api(&call, token, Idempotency::Idempotent, || self.http().get(url.clone()))
            .await;
        match sent {
            Ok((resp, tracking)) => self.decode(&call, resp, &tracking).await.map(Some),
            Err(WebexError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/people/{personId}/features/callRecording`.
    pub async fn person_call_recording(
        &self,
        token: &Secret,
        person_id: &str,
    ) -> Result<CallRecordingSetting, WebexError> {
        let id = non_empty_id(person_id)?;
        let url = self.endpoint(&["v1", "people", id, "features", "callRecording"])?;
        let call = Call {
            operation: "person call recording",
            scope: SCOPE_PEOPLE,
            what: format!("person {id}"),
        };
        let (resp, tracking) = self
            .send_api(&call, token, Idempotency::Idempotent, || self.http().get(url.clone()))
            .await?;
        self.decode(&call, resp, &tracking).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: serde_json::Value) -> AuditEvent {
        serde_json::from_value(serde_json::json!({ "id": "e1", "data": data })).unwrap()
    }

    #[test]
    fn an_audit_event_about_one_persons_call_recording_names_them_and_others_name_nobody() {
        let e = event(serde_json::json!({
            "eventCategory": "USERS", "eventDescription": "User call recording settings modified",
            "targetType": "USER", "targetId": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hYmM"
        }));
        assert_eq!(
            e.recording_change(),
            RecordingChange::Person("Y2lzY29zcGFyazovL3VzL1BFT1BMRS9hYmM".into())
        );
        let location = event(serde_json::json!({
            "eventCategory": "LOCATIONS", "actionText": "Admin changed callRecording of location HQ",
            "targetType": "LOCATION", "targetId": "loc-1"
        }));
        assert_eq!(location.recording_change(), RecordingChange::Wider);
        let rename = event(serde_json::json!({
            "eventCategory": "USERS", "eventDescription": "User display name modified",
            "targetType": "USER", "targetId": "abc"
        }));
        assert_eq!(rename.recording_change(), RecordingChange::None);
        let odd: AuditEvent = serde_json::from_value(serde_json::json!({ "id": "e2", "data": 7 })).unwrap();
        assert_eq!(odd.recording_change(), RecordingChange::None);
    }

    #[test]
    fn professional_is_matched_by_name_tolerantly_and_other_calling_licenses_are_not() {
        for name in [
            "Webex Calling - Professional",
            "  webex calling - professional ",
            "Webex Calling Professional",
            "WEBEX  CALLING -  PROFESSIONAL",
        ] {
            assert!(is_calling_professional(name), "{name}");
        }
        for name in [
            "Webex Calling - Basic",
            "Webex Calling - Workspaces",
            "Customer Experience - Essential",
            "Professional",
        ] {
            assert!(!is_calling_professional(name), "{name}");
        }
    }

    #[test]
    fn several_professional_subscriptions_all_count() {
        let l = |id: &str, name: &str| License {
            id: id.into(),
            name: Some(name.into()),
            subscription_id: None,
        };
        let all = [
            l("P1", "Webex Calling - Professional"),
            l("B1", "Webex Calling - Basic"),
            l("P2", "Webex Calling - Professional"),
        ];
        assert_eq!(professional_license_ids(&all), vec!["P1", "P2"]);
    }

    #[test]
    fn a_person_with_odd_field_types_still_decodes() {
        let p: WebexPerson = serde_json::from_value(serde_json::json!({
            "id": "X", "emails": null, "firstName": 7, "lastName": {"a": 1}, "licenses": ["L1", 3],
            "type": "person", "loginEnabled": "false", "status": "active"
        }))
        .unwrap();
        assert_eq!(p.emails, Vec::<String>::new());
        assert_eq!(p.first_name.as_deref(), Some("7"));
        assert_eq!(p.last_name, None);
        assert_eq!(p.licenses, vec!["L1"]);
        assert_eq!(p.login_enabled, Some(false));
        assert!(p.is_person());
    }

    #[test]
    fn record_never_or_disabled_is_not_recording_and_other_modes_are() {
        let s = |enabled: Option<bool>, record: &str| CallRecordingSetting {
            enabled,
            record: Some(RecordMode::from(record)),
        };
        assert!(!s(Some(true), "Never").records());
        assert!(!s(Some(false), "Always").records());
        assert!(s(Some(true), "Always").records());
        assert!(s(Some(true), "Always with Pause/Resume").records());
        assert!(s(None, "On Demand with User Initiated Start").records());
        assert!(s(Some(true), "Some Future Mode").records());
    }
}

/// The answer of `GET /v1/people/me`, the fields the connector reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    /// base64 `ciscospark://<region>/ORGANIZATION/<uuid>`.
    #[serde(default)]
    pub org_id: Option<String>,
}
