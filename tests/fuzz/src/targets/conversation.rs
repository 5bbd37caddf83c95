//! Conversations: the real Webex and WFO clients, talking to the loopback answer server
//! ([`crate::answers`]), which answers from the fuzz input.
//!
//! Each target calls one public entry point the pipeline calls, so every byte of every
//! answer goes through production code: status classification, `Retry-After`, `Link`
//! paging and its loop guard, tracking ids, error bodies, JSON decoding of pages and
//! objects, unreadable-item handling and redaction, download links, audio bodies, and
//! the WFO session (login answer, cookie, re-login on `401`).
//!
//! | target | entry point |
//! |---|---|
//! | `webex_list_items` | `Source::list_items` over 40 days (two windows) |
//! | `webex_plan` | `Source::plan`: metadata answer → timeline → contacts |
//! | `webex_open_media` | `Source::open_media`: details answer, then the audio download it links to |
//! | `webex_list_users` | `Source::list_users`: licenses, roster, people pages, recording settings |
//! | `webex_identity` | `Source::identity` (`people/me`) |
//! | `webex_ensure_webhook` | `Source::ensure_webhook`: list, then create or update |
//! | `wfo_answers` | a `WfoApi` call of `WfoClient` (directive `@<call>`), or an `ensure_*` helper |
//! | `oauth_token` | `wfo_pipeline::auth::exchange_code`: the identity service's token answer |
//!
//! The retry policy waits zero between attempts and allows three of them for one input in
//! four (one otherwise, see `policy`); a `Retry-After` longer than zero ends the call as
//! the client would in production when the wait is too long.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use serde_json::Value;
use url::Url;
use wfo_client::{AudioBody, NewAgent, WfoApi, WfoClient, WfoClientConfig, WfoError};
use wfo_domain::Secret;
use wfo_domain::segment::MediaSlice;
use wfo_domain::sync::Listing;
use wfo_domain::webex_id::canonical_webex_id;
use wfo_domain::wfo::{
    AgentRef, AudioFormat, AudioSpec, ContactImport, ContactType, Direction, PersonInput, TeamInput,
};
use wfo_http::RetryPolicy;
use wfo_ports::{
    AuthError, CredentialScheme, Credentials, KeepAlive, KvStore, Listed, RefreshOutcome, Registration, Source,
    SourceCalls, SourceError, StoreResult, SyncSettings, UserListingRequest,
};
use wfo_webex_calling::{WebexCallingClient, WebexCallingSource};

use crate::answers::AnswerServer;
use crate::mutate::RECORD_SEPARATOR;
use crate::targets::runtime;

/// The server and the HTTP clients of this thread, made once.
struct Net {
    server: AnswerServer,
    /// The client the sources and WFO use.
    http: reqwest::Client,
    /// The client of token requests.
    token_http: reqwest::Client,
    /// The example connector, its identity service at the server.
    connector: wfo_ports::StoredConnector,
}

fn net() -> &'static Net {
    thread_local! {
        static NET: &'static Net = {
            let server = runtime().block_on(AnswerServer::start()).expect("bind a loopback port");
            let http = wfo_http::client_builder(Duration::from_secs(10))
                .build()
                .expect("an HTTP client");
            let token_http = wfo_pipeline::auth::token_http_client(Duration::from_secs(10)).expect("an HTTP client");
            let mut connector = crate::targets::webhook::connector().clone();
            connector.config.source.identity_url = server.origin().to_owned();
            Box::leak(Box::new(Net {
                server,
                http,
                token_http,
                connector,
            }))
        };
    }
    NET.with(|n| *n)
}

/// No waiting between attempts. One input in four gets three attempts, the others one: a
/// retry needs a timer tick (a zero backoff still waits for tokio's next millisecond), so
/// retrying every input would make the conversations several times slower. The choice
/// follows from the input, so a replay behaves the same.
fn policy(input: &[u8]) -> RetryPolicy {
    RetryPolicy {
        max_attempts: if retries(input) { 3 } else { 1 },
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        max_retry_after: Duration::ZERO,
        budget: Duration::from_secs(30),
        attempt_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(5),
        rate_limit: None,
    }
}

/// Whether this input's conversation retries failed calls.
fn retries(input: &[u8]) -> bool {
    crate::rng::fnv1a(input).is_multiple_of(4)
}

/// A fixed token.
struct Token;

#[async_trait]
impl Credentials for Token {
    fn scheme(&self) -> CredentialScheme {
        CredentialScheme::OAuth
    }
    async fn current(&self) -> Result<Secret, AuthError> {
        Ok(Secret::new("fuzz-token"))
    }
    async fn renew(&self) -> Result<RefreshOutcome, AuthError> {
        Err(AuthError::Refused("fixed token".into()))
    }
    async fn ready(&self) -> Result<(), AuthError> {
        Ok(())
    }
}

fn webex_source(net: &Net, input: &[u8]) -> WebexCallingSource {
    let api = Url::parse(net.server.origin()).expect("the server's origin is a URL");
    WebexCallingSource::new(
        WebexCallingClient::new(net.http.clone(), api, policy(input)),
        Arc::new(Token),
    )
}

/// A class of source error for corpus feedback.
fn source_error_class(e: &SourceError) -> &'static str {
    match e {
        SourceError::Retry { .. } => "retry",
        SourceError::Unauthorized(_) => "unauthorized",
        SourceError::Credentials(_) => "credentials",
        SourceError::Operator(_) => "operator",
        SourceError::NotReady(_) | SourceError::NotReadyUntil { .. } => "not-ready",
        SourceError::Permanent(_) => "permanent",
    }
}

/// Loads the script and runs `call` with the source; the outcome class gets the number of
/// requests made and whether the script was used up appended.
fn converse<F, Fut>(input: &[u8], call: F) -> String
where
    F: FnOnce(WebexCallingSource) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let net = net();
    net.server.load(input);
    let class = runtime().block_on(call(webex_source(net, input)));
    format!(
        "{class}:{}:{}",
        net.server.requests().min(9),
        u8::from(net.server.unserved() == 0)
    )
}

fn window() -> (DateTime<Utc>, DateTime<Utc>) {
    let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
    (from, from + chrono::Duration::days(40))
}

pub fn webex_list_items(input: &[u8]) -> String {
    converse(input, |source| async move {
        let (from, to) = window();
        let listed: Vec<Result<Listed, SourceError>> = source.list_items(from, to).collect().await;
        let errors = listed.iter().filter(|l| l.is_err()).count();
        assert!(errors <= 1, "the walk goes on after an error");
        if errors == 1 {
            assert!(
                listed.last().is_some_and(Result::is_err),
                "the error is not the last item"
            );
        }
        let mut last_checkpoint = from;
        let mut items = 0;
        for l in listed.iter().flatten() {
            match l {
                Listed::Checkpoint(t) => {
                    assert!(from <= *t && *t <= to && last_checkpoint <= *t, "checkpoint {t}");
                    last_checkpoint = *t;
                }
                Listed::Item(item) => {
                    items += 1;
                    // The id is a ledger key, spelled as webhook deliveries spell it.
                    assert!(
                        !item.id.is_empty() && item.id.trim() == item.id,
                        "ledger id {:?}",
                        item.id
                    );
                }
            }
        }
        match listed.last() {
            Some(Err(e)) => format!("{}:{}", source_error_class(e), items.min(3)),
            _ => format!("ok:{}", items.min(3)),
        }
    })
}

pub fn webex_plan(input: &[u8]) -> String {
    converse(input, |source| async move {
        let ctx = crate::targets::metadata::context();
        match source.plan("13d6dbe1-b884-453f-95af-14c74ab1c315", &ctx, None).await {
            Ok(plan) => {
                for c in &plan.contacts {
                    let media = c.contact.media.as_ref().expect("a Webex Calling contact has audio");
                    assert!(media.offset_ms >= 0 && media.duration_ms >= 0);
                    if let Some(name) = &c.agent_name {
                        assert!(!name.first_name.is_empty());
                    }
                }
                format!("ok:{}", plan.contacts.len().min(3))
            }
            Err(e) => source_error_class(&e).to_owned(),
        }
    })
}

/// The most audio bytes read from one download.
const MAX_AUDIO: usize = 8 * 1024 * 1024;

pub fn webex_open_media(input: &[u8]) -> String {
    converse(input, |source| async move {
        let media = MediaSlice {
            recording_id: "13d6dbe1-b884-453f-95af-14c74ab1c315".to_owned(),
            offset_ms: 0,
            duration_ms: 60_000,
        };
        match source.open_media(&media.recording_id, &media).await {
            Ok(mut opened) => {
                if let Some(ms) = opened.duration_ms {
                    assert!(ms >= 0, "the recording lasts {ms} ms");
                }
                let mut read = 0usize;
                let mut failed = false;
                while let Some(chunk) = opened.stream.next().await {
                    match chunk {
                        Ok(c) => read += c.len(),
                        Err(_) => {
                            failed = true;
                            break;
                        }
                    }
                    if read > MAX_AUDIO {
                        break;
                    }
                }
                if !failed && read <= MAX_AUDIO {
                    assert!(
                        opened.length.is_none_or(|l| l == read as u64),
                        "announced {:?} bytes, read {read}",
                        opened.length
                    );
                }
                format!("ok:{}", u8::from(read > 0))
            }
            Err(e) => source_error_class(&e).to_owned(),
        }
    })
}

/// Values and quota counters in memory; every lock is granted.
#[derive(Default)]
struct Memory(Mutex<HashMap<(String, String), Value>>);

#[async_trait]
impl KvStore for Memory {
    async fn get_value(&self, c: &str, k: &str) -> StoreResult<Option<Value>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.get(&(c.to_owned(), k.to_owned())).cloned())
    }
    async fn put_value(&self, c: &str, k: &str, v: &Value) -> StoreResult<()> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((c.to_owned(), k.to_owned()), v.clone());
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

struct Alive;

#[async_trait]
impl KeepAlive for Alive {
    async fn renew(&self) -> Result<(), SourceError> {
        Ok(())
    }
}

pub fn webex_list_users(input: &[u8]) -> String {
    converse(input, move |source| async move {
        let connector = crate::targets::webhook::connector();
        let calls = Mutex::new(SourceCalls::default());
        let settings = SyncSettings {
            page_attempts: if retries(input) { 2 } else { 1 },
            page_retry_wait: Duration::ZERO,
            max_page_wait: Duration::ZERO,
            read_concurrency: 1,
            ..SyncSettings::fast()
        };
        let kv = Memory::default();
        let req = UserListingRequest {
            connector,
            kv: &kv,
            settings: &settings,
            keep_alive: &Alive,
            calls: &calls,
            now: window().0,
        };
        match source.list_users(req).await {
            Ok(listing) => {
                for u in &listing.users {
                    assert!(!u.acd_id.is_empty(), "a user without an id");
                    assert_eq!(canonical_webex_id(&u.acd_id), u.acd_id, "user id not canonical");
                }
                if listing.listing == Listing::Partial {
                    assert!(listing.incomplete.is_some(), "a partial listing says why");
                }
                format!(
                    "ok:{}:{}",
                    u8::from(listing.listing == Listing::Complete),
                    listing.users.len().min(3)
                )
            }
            Err(e) => source_error_class(&e).to_owned(),
        }
    })
}

pub fn webex_identity(input: &[u8]) -> String {
    converse(input, |source| async move {
        match source.identity().await {
            Ok(id) => {
                assert!(!id.org_id.trim().is_empty());
                "ok".to_owned()
            }
            Err(e) => source_error_class(&e).to_owned(),
        }
    })
}

pub fn webex_ensure_webhook(input: &[u8]) -> String {
    converse(input, |source| async move {
        let target = "https://hooks.example/webhooks/acme-calling";
        match source
            .ensure_webhook("wfo-connect", target, &Secret::new("s3cret"))
            .await
        {
            Ok(reg) => {
                assert!(!reg.webhook_id().is_empty() || matches!(reg, Registration::Created(_)));
                format!("{reg:?}").split('(').next().unwrap_or_default().to_owned()
            }
            Err(e) => source_error_class(&e).to_owned(),
        }
    })
}

// ---- OAuth --------------------------------------------------------------------------

/// Tokens the seeds' answers carry: no error may quote them.
const SEED_TOKENS: [&str; 2] = [
    "ZmFrZS1hY2Nlc3MtdG9rZW4tZm9yLWZ1enppbmctb25seQ",
    "ZmFrZS1yZWZyZXNoLXRva2VuLWZvci1mdXp6aW5nLW9ubHk",
];

pub fn oauth_token(input: &[u8]) -> String {
    let net = net();
    let script = net.server.load(input);
    let now = window().0;
    let result = runtime().block_on(wfo_pipeline::auth::exchange_code(
        &net.connector,
        &net.token_http,
        "authorization-code",
        "https://hooks.example",
        now,
    ));
    let class = match &result {
        Ok(set) => {
            let max_access = chrono::Duration::from_std(wfo_pipeline::auth::MAX_ACCESS_LIFETIME).unwrap_or_default();
            let max_refresh = chrono::Duration::from_std(wfo_pipeline::auth::MAX_REFRESH_LIFETIME).unwrap_or_default();
            assert!(now <= set.access_expires_at && set.access_expires_at <= now + max_access);
            if let Some(at) = set.refresh_expires_at {
                assert!(now <= at && at <= now + max_refresh, "refresh token expires {at}");
            }
            assert_eq!(set.obtained_at, now);
            format!("ok:{}", u8::from(set.refresh_token.is_some()))
        }
        Err(e) => {
            // What the identity service said goes into errors and logs: never its tokens
            // (a header is the server's own business, and may be quoted).
            let text = e.to_string();
            let in_headers = |t: &str| {
                script.answers.iter().any(|a| {
                    a.headers
                        .iter()
                        .any(|(_, v)| v.windows(t.len()).any(|w| w == t.as_bytes()))
                })
            };
            for token in SEED_TOKENS {
                assert!(
                    !text.contains(token) || in_headers(token),
                    "a token in an error: {text}"
                );
            }
            let kind = format!("{e:?}");
            kind.split(['(', ' ', '{']).next().unwrap_or_default().to_owned()
        }
    };
    format!("{class}:{}", net.server.requests().min(9))
}

pub fn oauth_seeds() -> Vec<Vec<u8>> {
    let [access, refresh] = SEED_TOKENS;
    vec![
        script(
            None,
            &[ok(&format!(
                r#"{{"access_token":"{access}","expires_in":1209599,"refresh_token":"{refresh}","refresh_token_expires_in":7775999,"token_type":"Bearer","scope":"spark-compliance:recordings_read spark:people_read"}}"#
            ))],
        ),
        script(
            None,
            &[ok(&format!(
                r#"{{"access_token":"{access}","expires_in":"soon","token_type":"Bearer","refresh_token":"{refresh}"}}"#
            ))],
        ),
        script(
            None,
            &[format!(
                r#"400
Content-Type: application/json
{{"error":"invalid_grant","error_description":"code already used for {access}"}}"#
            )],
        ),
        script(
            None,
            &["503
Content-Type: text/html
<html>Service Unavailable</html>"
                .to_owned()],
        ),
        script(
            None,
            &[ok(&format!(
                r#"{{"access_token":"{access}","expires_in":18446744073709551615,"token_type":"bearer","refresh_token_expires_in":18446744073709551615,"refresh_token":"{refresh}"}}"#
            ))],
        ),
    ]
}

// ---- WFO ----------------------------------------------------------------------------

/// The calls of `wfo_answers`, named by the script's directive.
pub const WFO_CALLS: &[&str] = &[
    "list_teams",
    "create_team",
    "list_roles",
    "list_persons",
    "get_person",
    "create_person",
    "list_metadata_keys",
    "import_contact",
    "find_contacts",
    "get_contact",
    "put_metadata",
    "upload_audio",
    "ensure_contact",
    "ensure_agent_person",
    "logout",
];

fn contact() -> ContactImport {
    ContactImport {
        external_id: "wxc:13d6dbe1-b884-453f-95af-14c74ab1c315:0".to_owned(),
        assoc_call_id: "a751de79-3706-479a-a93f-b86d90447da7".to_owned(),
        contact_type: ContactType::Call,
        start_time: 1_773_232_244_120,
        call_duration: 325_750,
        ani: Some("+16025550127".to_owned()),
        dnis: Some("+14085550104".to_owned()),
        direction: Direction::Inbound,
        agent: AgentRef {
            acd_id: "e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44".to_owned(),
            acd_server_id: 3,
        },
        language: None,
        events: Vec::new(),
        metadata: BTreeMap::from([("Recording-Id-key".to_owned(), "13d6dbe1".to_owned())]),
        audio: Some(AudioSpec {
            expected: true,
            format: AudioFormat::Mp3,
            channels: 1,
        }),
    }
}

fn wfo_error_class(e: &WfoError) -> String {
    let name = format!("{e:?}");
    let name = name.split([' ', '(', '{']).next().unwrap_or_default().to_owned();
    match e.status() {
        Some(s) => format!("{name}:{}", s / 100),
        None => name,
    }
}

/// Runs the call named by `directive` (or picked by `pick`) and checks what it returned.
async fn wfo_call(api: &WfoClient, call: &str) -> Result<String, WfoError> {
    Ok(match call {
        "list_teams" => format!("{}", api.list_teams().await?.len().min(3)),
        "create_team" => {
            let team = TeamInput {
                name: "Acme Webex Calling".to_owned(),
                acd_id: Some("acme".to_owned()),
                acd_server_id: Some(3),
                read_only: true,
            };
            api.create_team(&team).await?;
            "created".to_owned()
        }
        "list_roles" => format!("{}", api.list_roles().await?.len().min(3)),
        "list_persons" => format!("{}", api.list_persons().await?.len().min(3)),
        "get_person" => format!("{}", api.get_person(7).await?.is_some()),
        "create_person" => {
            let person = PersonInput {
                first_name: "Dave".to_owned(),
                last_name: "Kowalski".to_owned(),
                email: None,
                display_name: "Dave Kowalski".to_owned(),
                group_id: 1,
                acd_id: Some("e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44".to_owned()),
                acd_server_id: Some(3),
                roles: Vec::new(),
                company_start_date: None,
                department_start_date: None,
                activated: None,
                deactivated: None,
            };
            api.create_person(&person).await?;
            "created".to_owned()
        }
        "list_metadata_keys" => format!("{}", api.list_metadata_keys().await?.len().min(3)),
        "import_contact" => {
            api.import_contact(&contact()).await?;
            "imported".to_owned()
        }
        "find_contacts" => {
            let found = api.find_contacts_by_external_id(&contact().external_id).await?;
            format!("{}", found.len().min(3))
        }
        "get_contact" => format!("{}", api.get_contact(42).await?.is_some()),
        "put_metadata" => {
            api.put_contact_metadata(42, &contact().metadata).await?;
            "put".to_owned()
        }
        "upload_audio" => {
            let body = AudioBody::from_bytes(vec![0xffu8, 0xf3, 0x48, 0xc0, 0, 0, 0, 0]);
            let done = api.upload_audio(42, AudioFormat::Mp3, body).await?;
            format!("{}", done.bytes.min(9))
        }
        "ensure_contact" => {
            wfo_client::ensure_contact(api, &contact()).await?;
            "ensured".to_owned()
        }
        "ensure_agent_person" => {
            let agent = NewAgent {
                acd_id: "e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44".to_owned(),
                acd_server_id: 3,
                first_name: "Dave".to_owned(),
                last_name: "Kowalski".to_owned(),
                email: None,
            };
            let p = wfo_client::ensure_agent_person(api, &agent).await?;
            assert_eq!(p.input.acd_id.as_deref(), Some(agent.acd_id.as_str()));
            "ensured".to_owned()
        }
        _ => {
            api.logout().await?;
            "logout".to_owned()
        }
    })
}

pub fn wfo_answers(input: &[u8]) -> String {
    let net = net();
    let script = net.server.load(input);
    let call = match script.directive.as_deref() {
        Some(d) if WFO_CALLS.contains(&d) => d.to_owned(),
        _ => WFO_CALLS[crate::rng::fnv1a(input) as usize % WFO_CALLS.len()].to_owned(),
    };
    let config = WfoClientConfig {
        policy: policy(input),
        request_timeout: Duration::from_secs(10),
        ..WfoClientConfig::new(net.server.origin(), "api-user@acme.example", Secret::new("pw"))
    };
    let api = WfoClient::with_http_client(config, net.http.clone());
    let result = runtime().block_on(async {
        // `logout` only talks when there is a session: log in first.
        if call == "logout" {
            let _ = api.list_teams().await;
        }
        wfo_call(&api, &call).await
    });
    let class = match &result {
        Ok(what) => format!("ok:{what}"),
        Err(e) => wfo_error_class(e),
    };
    format!("{call}:{class}:{}", net.server.requests().min(9))
}

// ---- seeds ------------------------------------------------------------------------------

/// A script from its records.
fn script(directive: Option<&str>, records: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(d) = directive {
        out.extend_from_slice(format!("@{d}\n").as_bytes());
    }
    let parts: Vec<Vec<u8>> = records.iter().map(|r| r.clone().into_bytes()).collect();
    out.extend_from_slice(&parts.join(RECORD_SEPARATOR));
    out
}

fn ok(body: &str) -> String {
    format!("200\nContent-Type: application/json\n{body}")
}

const SUMMARY: &str = r#"{"id":"13d6dbe1-b884-453f-95af-14c74ab1c315","topic":"call","createTime":"2026-01-03T10:00:00.000Z","timeRecorded":"2026-01-03T09:54:00.000Z","ownerId":"e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44","ownerType":"user","format":"MP3","durationSeconds":326,"sizeBytes":1303000,"serviceType":"calling","status":"available","serviceData":{"locationId":"US","callSessionId":"a751de79-3706-479a-a93f-b86d90447da7"}}"#;

pub fn list_seeds() -> Vec<Vec<u8>> {
    let page = |items: &str| ok(&format!(r#"{{"items":[{items}]}}"#));
    vec![
        script(
            None,
            &[
                format!(
                    "200\nLink: <{{{{ORIGIN}}}}/v1/admin/convergedRecordings?cursor=2>; rel=\"next\"\n{{\"items\":[{SUMMARY},{SUMMARY}]}}"
                ),
                page(&format!(r#"{SUMMARY},{{"id":7,"createTime":"x"}},{{"id":"bad","createTime":5}}"#)),
                page(""),
            ],
        ),
        script(
            None,
            &[
                "429\nRetry-After: 30\n{\"message\":\"slow down\",\"trackingId\":\"T1\"}".to_owned(),
                "503\n\n".to_owned(),
            ],
        ),
        script(
            None,
            &[format!(
                "200\nLink: <https://evil.example/v1/x>; rel=\"next\"\n{{\"items\":[{SUMMARY}]}}"
            )],
        ),
        script(
            None,
            &[
                "200\nLink: <{{ORIGIN}}/v1/admin/convergedRecordings>; rel=\"next\"\n{\"items\":[]}".to_owned(),
                "200\nLink: <{{ORIGIN}}/v1/admin/convergedRecordings>; rel=\"next\"\n{\"items\":[]}".to_owned(),
            ],
        ),
        script(None, &["401\n{\"message\":\"The request requires a valid access token set in the Authorization request header.\",\"trackingId\":\"ROUTER_1\"}".to_owned()]),
    ]
}

pub fn plan_seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = crate::seeds::metadata_documents()
        .into_iter()
        .take(20)
        .map(|doc| script(None, &[ok(&String::from_utf8_lossy(&doc))]))
        .collect();
    out.push(script(None, &["204\n".to_owned()]));
    out.push(script(None, &["404\n{\"message\":\"not found\"}".to_owned()]));
    out
}

pub fn media_seeds() -> Vec<Vec<u8>> {
    let details = |duration: &str, link: &str, expiration: &str| {
        ok(&format!(
            r#"{{"id":"13d6dbe1-b884-453f-95af-14c74ab1c315","createTime":"2026-01-03T10:00:00.000Z","durationSeconds":{duration},"temporaryDirectDownloadLinks":{{"audioDownloadLink":"{link}","expiration":"{expiration}"}}}}"#
        ))
    };
    let audio = {
        let mp3 = crate::seeds::silent_mp3s().into_iter().next().unwrap_or_default();
        let mut rec = b"200\nContent-Type: audio/mpeg\n".to_vec();
        rec.extend_from_slice(&mp3);
        String::from_utf8_lossy(&rec).into_owned()
    };
    vec![
        script(
            None,
            &[
                details("326", "{{ORIGIN}}/audio?ticket=T", "2099-01-01T00:00:00Z"),
                audio.clone(),
            ],
        ),
        script(
            None,
            &[
                details("326", "{{ORIGIN}}/audio?ticket=T", "2099-01-01T00:00:00Z"),
                "410\n".to_owned(),
                details("326", "{{ORIGIN}}/audio?ticket=T2", "2099-01-01T00:00:00Z"),
                audio.clone(),
            ],
        ),
        script(
            None,
            &[
                details("9223372036854775", "{{ORIGIN}}/a", "2099-01-01T00:00:00Z"),
                audio.clone(),
            ],
        ),
        script(None, &[details("1.5e3", "ftp://x/y", "2099-01-01T00:00:00Z")]),
        script(None, &[details("60", "{{ORIGIN}}/a", "2020-01-01T00:00:00Z")]),
        script(None, &[ok(r#"{"id":"r","createTime":"2026-01-03T10:00:00Z"}"#)]),
    ]
}

pub fn users_seeds() -> Vec<Vec<u8>> {
    let ann = "00000000-0000-4000-8000-00000000000a";
    let bo = "00000000-0000-4000-8000-00000000000b";
    vec![
        script(
            None,
            &[
                ok(r#"{"items":[{"id":"LIC-PRO","name":"Webex Calling - Professional"}]}"#),
                ok(&format!(
                    r#"{{"members":[{{"id":"{ann}","type":"PEOPLE"}},{{"id":"{bo}","type":"PEOPLE"}}]}}"#
                )),
                ok(&format!(
                    r#"{{"items":[{{"id":"{ann}","emails":["ann@x.example"],"firstName":"Ann","lastName":"A","licenses":["LIC-PRO"],"type":"person"}},{{"id":7,"emails":["bo@x.example"],"licenses":["LIC-PRO"]}}]}}"#
                )),
                ok(r#"{"enabled":true,"record":"Always"}"#),
                ok(r#"{"enabled":"false","record":"Never"}"#),
            ],
        ),
        script(
            None,
            &[ok(r#"{"items":[]}"#), "403\n{\"message\":\"missing scope\"}".to_owned()],
        ),
    ]
}

pub fn identity_seeds() -> Vec<Vec<u8>> {
    vec![
        script(
            None,
            &[ok(
                r#"{"id":"me","emails":["admin@acme.example"],"orgId":"Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8wZjNlMmQxYy00YjVhLTQ5ODctOGM2ZC01ZTRmM2EyYjFjMDA"}"#,
            )],
        ),
        script(None, &[ok(r#"{"emails":[],"orgId":" "}"#)]),
    ]
}

pub fn webhook_seeds() -> Vec<Vec<u8>> {
    let hook = |status: &str, secret: &str| {
        format!(
            r#"{{"id":"Y2lzY29zcGFyazovL3VzL1dFQkhPT0svZjRl","name":"wfo-connect","targetUrl":"https://hooks.example/webhooks/acme-calling","resource":"convergedRecordings","event":"created","secret":"{secret}","status":"{status}","ownedBy":"org"}}"#
        )
    };
    vec![
        script(None, &[ok(&format!(r#"{{"items":[{}]}}"#, hook("active", "s3cret")))]),
        script(
            None,
            &[
                ok(&format!(r#"{{"items":[{}]}}"#, hook("inactive", "old"))),
                ok(&hook("active", "s3cret")),
            ],
        ),
        script(None, &[ok(r#"{"items":[]}"#), ok(&hook("active", "s3cret"))]),
        script(
            None,
            &[ok(r#"{"items":[]}"#), "409\n{\"message\":\"exists\"}".to_owned()],
        ),
    ]
}

pub fn wfo_seeds() -> Vec<Vec<u8>> {
    let login = ok(r#"{"sessionId":"7f3a9c2e-session","userId":"api-user@acme.example"}"#);
    let person = r#"{"id":11,"firstName":"Dave","lastName":"Kowalski","displayName":"Dave Kowalski","groupId":1,"acdId":"e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44","acdServerId":3,"roles":[{"id":2,"name":"Agent"}],"activated":1773232244120}"#;
    let contact = r#"{"id":42,"externalId":"wxc:13d6dbe1-b884-453f-95af-14c74ab1c315:0","assocCallId":"a","contactType":"CALL","startTime":1,"callDuration":2,"direction":"INBOUND","agent":{"acdId":"e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44","acdServerId":3},"audioUploaded":false,"audioBytes":null}"#;
    let answers: Vec<(&str, Vec<String>)> = vec![
        ("list_teams", vec![ok(r#"[{"id":1,"name":"Default Team","isDefault":true,"readOnly":false}]"#)]),
        ("create_team", vec![ok(r#"{"id":5}"#)]),
        ("list_roles", vec![ok(r#"[{"id":2,"name":"Agent","isAgentDefault":true}]"#)]),
        ("list_persons", vec![ok(&format!("[{person}]"))]),
        ("get_person", vec!["404\n{\"errorMessage\":\"Not found: person 7\"}".to_owned()]),
        ("create_person", vec![ok(r#"{"id":12}"#)]),
        (
            "list_metadata_keys",
            vec![ok(r#"[{"key":"Recording-Id-key","label":"Recording Id","type":"TEXT"}]"#)],
        ),
        ("import_contact", vec![ok(r#"{"contactId":42}"#)]),
        (
            "import_contact",
            vec!["422\n{\"errorMessage\":\"Unknown agent: acdServerId=3 acdId=e9c47b28-3f15-4a6d-b7e2-8c1d0f4a6e44\",\"requestId\":\"r1\"}".to_owned()],
        ),
        (
            "import_contact",
            vec!["422\n{\"errorMessage\":\"Unknown metadata key: Recording-Id-key\"}".to_owned()],
        ),
        ("import_contact", vec!["502\n<html>bad gateway</html>".to_owned()]),
        ("find_contacts", vec![ok(&format!("[{contact},{contact}]"))]),
        ("get_contact", vec![ok(contact)]),
        ("put_metadata", vec!["204\n".to_owned()]),
        ("upload_audio", vec![ok(r#"{"audioUploaded":true,"bytes":8,"sha256":"5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"}"#)]),
        ("upload_audio", vec!["401\n{\"errorMessage\":\"Session expired or invalid\"}".to_owned()]),
        ("ensure_contact", vec![ok("[]"), "504\n".to_owned(), ok(&format!("[{contact}]"))]),
        (
            "ensure_agent_person",
            vec![
                ok("[]"),
                ok(r#"[{"id":1,"name":"Default Team","isDefault":true,"readOnly":false}]"#),
                ok(r#"[{"id":2,"name":"Agent","isAgentDefault":true}]"#),
                ok(r#"{"id":12}"#),
                ok(person),
            ],
        ),
        ("logout", vec![ok("[]"), "204\n".to_owned()]),
    ];
    let mut out: Vec<Vec<u8>> = answers
        .into_iter()
        .map(|(call, records)| {
            let mut all = vec![login.clone()];
            all.extend(records);
            script(Some(call), &all)
        })
        .collect();
    // A login refused, and a session id that is no cookie value.
    out.push(script(
        Some("list_teams"),
        &["401\n{\"errorMessage\":\"Invalid credentials\"}".to_owned()],
    ));
    out.push(script(Some("list_teams"), &[ok("{\"sessionId\":\"a\\nb; c\"}")]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_conversations_reach_success() {
        let media: Vec<String> = media_seeds().iter().map(|s| webex_open_media(s)).collect();
        assert!(media.iter().any(|o| o.starts_with("ok:1")), "{media:?}");
        let wfo: Vec<String> = wfo_seeds().iter().map(|s| wfo_answers(s)).collect();
        assert!(wfo.iter().filter(|o| o.contains(":ok:")).count() >= 10, "{wfo:?}");
        let listed: Vec<String> = list_seeds().iter().map(|s| webex_list_items(s)).collect();
        assert!(listed.iter().any(|o| o.starts_with("ok:3")), "{listed:?}");
        let users: Vec<String> = users_seeds().iter().map(|s| webex_list_users(s)).collect();
        assert!(users.iter().any(|o| o.starts_with("ok:")), "{users:?}");
        let tokens: Vec<String> = oauth_seeds().iter().map(|s| oauth_token(s)).collect();
        assert!(tokens.iter().any(|o| o.starts_with("ok:1")), "{tokens:?}");
        assert!(tokens.iter().any(|o| o.starts_with("Refused")), "{tokens:?}");
        assert!(tokens.iter().any(|o| o.starts_with("Transient")), "{tokens:?}");
    }
}
