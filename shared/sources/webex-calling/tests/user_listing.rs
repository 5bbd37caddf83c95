//! The Webex Calling user listing behind the Source port, against wiremock: someone the
//! People listing shows but cannot read makes the listing partial, so the sync
//! deactivates nobody on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use url::Url;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::sync::{Eligibility, Listing};
use wfo_ports::*;
use wfo_webex_calling::{RetryPolicy, WebexCallingClient, WebexCallingSource};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Values and quota counters in memory; every lock is granted.
#[derive(Default)]
struct Memory(Mutex<HashMap<(String, String), Value>>);

#[async_trait]
impl KvStore for Memory {
    async fn get_value(&self, c: &str, k: &str) -> StoreResult<Option<Value>> {
        Ok(self.0.lock().unwrap().get(&(c.to_owned(), k.to_owned())).cloned())
    }
    async fn put_value(&self, c: &str, k: &str, v: &Value) -> StoreResult<()> {
        self.0.lock().unwrap().insert((c.to_owned(), k.to_owned()), v.clone());
        Ok(())
    }
    async fn try_lock(&self, _: &str, _: &str, _: Duration, _: DateTime<Utc>) -> StoreResult<bool> {
        Ok(true)
    }
    async fn unlock(&self, _: &str, _: &str) -> StoreResult<()> {
        Ok(())
    }
    /// Counters kept beside the values, under `quota#{bucket}`; they never expire.
    async fn take_quota(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
        n: u32,
        limit: u32,
        _: Duration,
    ) -> StoreResult<Option<u32>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let key = (format!("quota#{bucket}"), window_start.timestamp_millis().to_string());
        let before = map.get(&key).and_then(Value::as_u64).unwrap_or(0);
        let total = before + u64::from(n);
        if total > u64::from(limit) {
            return Ok(None);
        }
        map.insert(key, Value::from(total));
        Ok(u32::try_from(total).ok())
    }
}

/// A fixed token.
struct Token;

#[async_trait]
impl Credentials for Token {
    fn scheme(&self) -> CredentialScheme {
        CredentialScheme::OAuth
    }
    async fn current(&self) -> Result<Secret, AuthError> {
        Ok(Secret::new("t"))
    }
    async fn renew(&self) -> Result<RefreshOutcome, AuthError> {
        Err(AuthError::Refused("no".into()))
    }
    async fn ready(&self) -> Result<(), AuthError> {
        Ok(())
    }
}

struct Alive;

#[async_trait]
impl KeepAlive for Alive {
    async fn renew(&self) -> Result<(), SourceError> {
        Ok(())
    }
}

const ANN: &str = "00000000-0000-4000-8000-00000000000a";
const BO: &str = "00000000-0000-4000-8000-00000000000b";

async fn mock(server: &MockServer, route: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

/// The listing of a Webex org whose People answer is `people` (Ann and Bo are on the
/// recording roster and hold the Professional license).
async fn listing(people: Value) -> UserListing {
    let server = MockServer::start().await;
    mock(
        &server,
        "/v1/licenses",
        json!({"items": [{"id": "LIC-PRO", "name": "Webex Calling - Professional"}]}),
    )
    .await;
    mock(
        &server,
        "/v1/telephony/config/callRecording/vendorUsers",
        json!({"members": [{"id": ANN, "type": "PEOPLE"}, {"id": BO, "type": "PEOPLE"}]}),
    )
    .await;
    mock(&server, "/v1/people", people).await;
    let source = WebexCallingSource::new(
        WebexCallingClient::new(
            reqwest::Client::new(),
            Url::parse(&server.uri()).unwrap(),
            RetryPolicy::fast(),
        ),
        Arc::new(Token),
    );
    let config = ConnectorConfig::from_toml(&format!(
        "id = \"c\"\nacd_name = \"C\"\nkind = \"webex-calling\"\nacd_server_id = 3\n[source]\napi_url = \"{u}\"\nidentity_url = \"{u}\"\nclient_id = \"i\"\nclient_secret = \"s\"\n[wfo]\napi_url = \"{u}\"\nusername = \"u\"\npassword = \"p\"\n",
        u = server.uri()
    ))
    .unwrap();
    let connector = StoredConnector {
        config,
        secrets: ConnectorSecrets::generate(),
        created_at: Utc::now(),
    };
    let calls = Mutex::new(SourceCalls::default());
    let settings = SyncSettings {
        record_mode_ttl: None,
        ..SyncSettings::fast()
    };
    source
        .list_users(UserListingRequest {
            connector: &connector,
            kv: &Memory::default(),
            settings: &settings,
            keep_alive: &Alive,
            calls: &calls,
            now: Utc::now(),
        })
        .await
        .unwrap()
}

fn assert_partial_with_only_ann(listing: &UserListing) {
    assert_eq!(listing.listing, Listing::Partial, "{:?}", listing.incomplete);
    let why = listing.incomplete.as_deref().unwrap();
    assert!(
        why.contains("could not be read") && why.contains("nobody was deactivated"),
        "{why}"
    );
    assert_eq!(listing.users.len(), 1);
    assert_eq!(listing.users[0].acd_id, ANN);
    assert_eq!(listing.users[0].eligibility, Eligibility::Eligible);
}

#[tokio::test]
async fn a_person_the_listing_shows_but_cannot_read_makes_it_partial_so_nobody_is_deactivated() {
    // Bo's id is a number, not a string: unreadable.
    let listing = listing(json!({"items": [
        {"id": ANN, "emails": ["ann@x.example"], "firstName": "Ann", "lastName": "A", "licenses": ["LIC-PRO"], "type": "person"},
        {"id": 7, "emails": ["bo@x.example"], "firstName": "Bo", "lastName": "B", "licenses": ["LIC-PRO"], "type": "person"}
    ]}))
    .await;
    assert_partial_with_only_ann(&listing);
}

#[tokio::test]
async fn a_person_with_a_blank_id_is_unreadable_too() {
    // Found by fuzzing: a blank id became a user with an empty ACD id, which the sync
    // skips, while the listing still called itself complete (so whoever it was could be
    // deactivated).
    let listing = listing(json!({"items": [
        {"id": ANN, "emails": ["ann@x.example"], "firstName": "Ann", "lastName": "A", "licenses": ["LIC-PRO"], "type": "person"},
        {"id": "   ", "emails": ["bo@x.example"], "firstName": "Bo", "lastName": "B", "licenses": ["LIC-PRO"], "type": "person"}
    ]}))
    .await;
    assert_partial_with_only_ann(&listing);
    assert!(listing.incomplete.unwrap().contains("blank id"));
}
