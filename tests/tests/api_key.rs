//! A connector that authenticates with an API key (`webex-cc-1`): it has no Authorization
//! URL (the route and the callback answer that there is nothing to authorize, and store
//! nothing), `status` says whether the key works by asking the source once, and a wrong
//! key holds the connector's items for an operator — not dead, no attempt spent — until the
//! connector is added again with a good key, when they import.
//!
//! The source is a fake of the `webex-cc-1` kind (as in `second_source.rs`): every call
//! presents the key from [`Credentials::current`]; the source accepts [`GOOD_KEY`], is
//! silent for [`SLOW_KEY`] and refuses anything else with a `401` that echoes the key (so
//! the tests can see that the key is never printed back).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use wfo_domain::Secret;
use wfo_domain::config::{ConnectorConfig, ConnectorKind};
use wfo_domain::ledger::{Health, LedgerItem, Stage};
use wfo_domain::segment::{MediaSlice, SegmentContext, SegmentedContact};
use wfo_domain::wfo::{AgentRef, ContactImport, ContactType, Direction};
use wfo_pipeline::auth::{self, AuthError};
use wfo_pipeline::authorization::{self, Refusal};
use wfo_pipeline::connections::Connections;
use wfo_pipeline::health;
use wfo_pipeline::import::ImportSettings;
use wfo_pipeline::ports::*;
use wfo_pipeline::runtime::{RunningRuntime, RuntimeConfig};
use wfo_sim_wfo::{SimConfig, WfoSim};

const CONNECTOR: &str = "keyed-cc";
const TENANT: &str = "tenant-1";
const GOOD_KEY: &str = "good-key-0123456789";
const WRONG_KEY: &str = "wrong-key-9876543210";
const SLOW_KEY: &str = "slow-key-5555555555";

/// The fake `webex-cc-1` source system.
struct KeyedKind;

struct KeyedSource {
    credentials: Arc<dyn Credentials>,
}

impl KeyedSource {
    /// What the source says about the key presented: the `401` echoes it, as a careless
    /// server might.
    async fn check_key(&self) -> Result<(), SourceError> {
        let key = self.credentials.current().await?;
        match key.expose() {
            GOOD_KEY => Ok(()),
            SLOW_KEY => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            }
            other => Err(SourceError::Unauthorized(format!(
                "HTTP 401: API key {other} is not valid"
            ))),
        }
    }
}

impl SourceKind for KeyedKind {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::WebexCc1
    }
    fn credential_scheme(&self) -> CredentialScheme {
        CredentialScheme::ApiKey
    }
    fn parse_delivery(
        &self,
        c: &StoredConnector,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
    ) -> Result<Delivery, DeliveryError> {
        if header("x-fake-secret").as_deref() != Some(c.secrets.webhook_secret.expose()) {
            return Err(DeliveryError::Unauthenticated("wrong secret".into()));
        }
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| DeliveryError::Malformed(e.to_string()))?;
        let id = v["call"]
            .as_str()
            .ok_or_else(|| DeliveryError::Malformed("no call".into()))?;
        Ok(Delivery::Item(id.to_owned()))
    }
    fn segment_file(&self, _: &serde_json::Value, _: &SegmentContext) -> Result<Vec<SegmentedContact>, SourceError> {
        Err(SourceError::Permanent("no offline form".into()))
    }
    fn connect(&self, _: &StoredConnector, deps: SourceDeps) -> Result<Arc<dyn Source>, SourceError> {
        Ok(Arc::new(KeyedSource {
            credentials: deps.credentials,
        }))
    }
}

#[async_trait]
impl Source for KeyedSource {
    fn list_items(&self, _: DateTime<Utc>, _: DateTime<Utc>) -> BoxStream<'_, Result<Listed, SourceError>> {
        futures::stream::once(async move { self.check_key().await })
            .filter_map(|r| async move { r.err().map(Err) })
            .boxed()
    }
    async fn plan(
        &self,
        item_id: &str,
        ctx: &SegmentContext,
        _: Option<&serde_json::Value>,
    ) -> Result<ItemPlan, SourceError> {
        self.check_key().await?;
        // One chat-like contact without audio: all that matters here is that it arrives.
        let contact = SegmentedContact {
            contact: ContactImport {
                external_id: format!("keyed:{item_id}"),
                assoc_call_id: item_id.to_owned(),
                contact_type: ContactType::Call,
                start_time: 1_900_000_000_000,
                call_duration: 5_000,
                ani: Some("+15550100".into()),
                dnis: Some("+15550199".into()),
                direction: Direction::Inbound,
                agent: AgentRef {
                    acd_id: "agent-1".to_owned(),
                    acd_server_id: ctx.acd_server_id,
                },
                language: None,
                events: Vec::new(),
                metadata: Default::default(),
                audio: None,
            },
            media: None,
        };
        Ok(ItemPlan {
            interaction_id: Some(item_id.to_owned()),
            contacts: vec![PlannedContact {
                contact,
                agent_name: wfo_domain::ledger::AgentName::from_display("Ada Lovelace", None),
            }],
            ..ItemPlan::default()
        })
    }
    async fn open_media(&self, _: &str, _: &MediaSlice) -> Result<Media, SourceError> {
        Err(SourceError::Permanent("no media in this fake".into()))
    }
    fn user_sync(&self) -> Option<UserSyncProfile> {
        None
    }
    async fn list_users(&self, _: UserListingRequest<'_>) -> Result<UserListing, SourceError> {
        Err(SourceError::Operator("no users".into()))
    }
    async fn identity(&self) -> Result<Identity, SourceError> {
        self.check_key().await?;
        Ok(Identity {
            org_id: TENANT.to_owned(),
            account: None,
        })
    }
    async fn ensure_webhook(&self, _: &str, _: &str, _: &Secret) -> Result<Registration, SourceError> {
        Err(SourceError::Operator("no webhooks".into()))
    }
}

/// The built-in sources, with the fake for `webex-cc-1`.
struct WithKeyed;

impl Registry for WithKeyed {
    fn source_kind(&self, kind: ConnectorKind) -> Option<Arc<dyn SourceKind>> {
        match kind {
            ConnectorKind::WebexCc1 => Some(Arc::new(KeyedKind)),
            other => wfo_sources::Sources.source_kind(other),
        }
    }
}

fn config(wfo_url: &str, key: &str) -> ConnectorConfig {
    ConnectorConfig::from_toml(&format!(
        r#"
id = "{CONNECTOR}"
acd_name = "Keyed contact center"
kind = "webex-cc-1"
acd_server_id = 6

[source]
api_url = "http://127.0.0.1:9"
media_api_url = "http://127.0.0.1:9"
tenant_id = "{TENANT}"
username = "admin@keyed.example"
api_key = "{key}"

[wfo]
api_url = "{wfo_url}"
username = "{}"
password = "{}"

[features]
webhook = false
user_sync = false
"#,
        wfo_sim_wfo::DEFAULT_USER,
        wfo_sim_wfo::DEFAULT_PASSWORD
    ))
    .unwrap()
}

struct World {
    wfo: wfo_sim_wfo::RunningSim,
    store: Arc<wfo_store::SqliteStore>,
    rt: RunningRuntime,
    _dir: tempfile::TempDir,
}

async fn start(key: &str) -> World {
    let wfo = WfoSim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(wfo_store::SqliteStore::open(dir.path()).unwrap());
    store
        .put_connector(&config(&wfo.base_url(), key), Utc::now())
        .await
        .unwrap();
    let rt = RunningRuntime::start(
        store.clone(),
        Arc::new(WithKeyed),
        RuntimeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            import: ImportSettings::fast(),
            sweep_interval: Duration::from_millis(100),
            ..RuntimeConfig::default()
        },
    )
    .await
    .unwrap();
    World {
        wfo,
        store,
        rt,
        _dir: dir,
    }
}

impl World {
    fn connections(&self) -> Arc<Connections> {
        Connections::new(self.store.clone(), Arc::new(WithKeyed), wfo_http::RetryPolicy::fast()).unwrap()
    }

    async fn connector(&self) -> StoredConnector {
        self.store.get_connector(CONNECTOR).await.unwrap().unwrap()
    }

    async fn deliver(&self, call: &str) -> u16 {
        let secret = self.connector().await.secrets.webhook_secret.expose().to_owned();
        reqwest::Client::new()
            .post(format!("{}/webhooks/{CONNECTOR}", self.rt.public_url))
            .header("x-fake-secret", secret)
            .body(serde_json::json!({ "call": call }).to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn item_when(&self, call: &str, done: impl Fn(&LedgerItem) -> bool) -> LedgerItem {
        let mut item = None;
        for _ in 0..200 {
            item = self.store.get(CONNECTOR, call).await.unwrap();
            if item.as_ref().is_some_and(&done) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        item.expect("the delivery is in the ledger")
    }

    async fn key_line(&self, timeout: Duration) -> String {
        health::api_key_status(&self.connections(), &self.connector().await, timeout, Utc::now())
            .await
            .expect("an API-key connector has an api key line")
    }

    async fn stop(self) {
        self.rt.shutdown().await;
        self.wfo.shutdown().await.unwrap();
    }
}

fn assert_no_key(text: &str) {
    for key in [GOOD_KEY, WRONG_KEY, SLOW_KEY] {
        assert!(!text.contains(key), "the key is printed: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_url_of_an_api_key_connector_answers_409_that_there_is_nothing_to_authorize() {
    let w = start(GOOD_KEY).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}/oauth/{CONNECTOR}/authorize", w.rt.public_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    assert!(resp.headers().get("location").is_none(), "no redirect anywhere");
    let page = resp.text().await.unwrap();
    for said in [
        "Nothing to authorize",
        CONNECTOR,
        "webex-cc-1",
        "source.api_key",
        "nothing to authorize",
        "add the connector again",
    ] {
        assert!(page.contains(said), "{said:?} missing from {page}");
    }
    assert_no_key(&page);
    let tokens = w.store.get_tokens(CONNECTOR).await.unwrap();
    assert!(
        tokens.tokens.is_none() && tokens.reauth_required.is_none(),
        "nothing stored"
    );

    // Every caller gets the same refusal: the function behind the route, before any state
    // is stored, and the completion of a callback (whatever state it carried).
    let c = w.connector().await;
    let scheme = w.connections().credential_scheme(c.config.kind);
    assert_eq!(scheme, CredentialScheme::ApiKey);
    let err = auth::authorization_url(w.store.as_ref(), &c, scheme, &w.rt.public_url, Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::UsesApiKey { .. }), "{err:?}");
    assert!(
        !err.needs_operator() && !err.is_retryable(),
        "a usage error, not a connector state"
    );
    let refused = authorization::complete(&w.connections(), &c, "a-code", &w.rt.public_url, Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Refusal::Exchange(AuthError::UsesApiKey { .. })),
        "{refused:?}"
    );
    assert!(w.store.get_tokens(CONNECTOR).await.unwrap().tokens.is_none());
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_registry_knowing_the_kind_its_configuration_still_says_api_key() {
    struct Empty;
    impl Registry for Empty {
        fn source_kind(&self, _: ConnectorKind) -> Option<Arc<dyn SourceKind>> {
            None
        }
    }
    use wfo_pipeline::credentials::scheme_of;
    assert_eq!(scheme_of(&Empty, ConnectorKind::WebexCc1), CredentialScheme::ApiKey);
    assert_eq!(scheme_of(&Empty, ConnectorKind::WebexCalling), CredentialScheme::OAuth);
    assert_eq!(scheme_of(&Empty, ConnectorKind::WebexCc2), CredentialScheme::OAuth);
    assert_eq!(scheme_of(&WithKeyed, ConnectorKind::WebexCc1), CredentialScheme::ApiKey);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_whether_the_key_works_refused_or_unchecked_and_never_prints_it() {
    let w = start(GOOD_KEY).await;
    let works = w.key_line(Duration::from_secs(10)).await;
    assert!(
        works.starts_with("  api key:  works (tenant tenant-1 answered at "),
        "{works}"
    );
    assert_no_key(&works);

    w.store
        .put_connector(&config(&w.wfo.base_url(), WRONG_KEY), Utc::now())
        .await
        .unwrap();
    let refused = w.key_line(Duration::from_secs(10)).await;
    assert!(refused.starts_with("  api key:  REFUSED: HTTP 401"), "{refused}");
    assert!(refused.contains("put a valid key in source.api_key"), "{refused}");
    assert_no_key(&refused);

    w.store
        .put_connector(&config(&w.wfo.base_url(), SLOW_KEY), Utc::now())
        .await
        .unwrap();
    let began = std::time::Instant::now();
    let unchecked = w.key_line(Duration::from_millis(300)).await;
    assert!(began.elapsed() < Duration::from_secs(5), "the check is bounded");
    assert!(
        unchecked.starts_with("  api key:  could not be checked: the source did not answer within"),
        "{unchecked}"
    );

    // The store-only lines no longer pretend there is a token.
    let lines = health::access_lines(w.store.as_ref(), &w.connector().await, Utc::now())
        .await
        .unwrap()
        .join("\n");
    assert!(!lines.contains("token:"), "{lines}");
    assert_no_key(&lines);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_holds_items_for_an_operator_and_once_the_key_is_fixed_they_import() {
    let w = start(WRONG_KEY).await;
    assert_eq!(w.deliver("call-1").await, 200);

    // The source refused the key: the import renewed the credential, which for an API key
    // means an operator must change it. The item waits; no attempt is spent on it.
    let held = w.item_when("call-1", |i| i.health == Health::NeedsOperator).await;
    assert_eq!(held.health, Health::NeedsOperator, "{held:?}");
    assert_eq!(held.stage, Stage::Discovered);
    assert_eq!(held.attempts, 0, "holding for an operator spends no attempt: {held:?}");
    let why = held.last_error.clone().unwrap_or_default();
    assert!(
        why.contains("no usable API key") && why.contains("put a valid key in source.api_key"),
        "renew() answered AuthError::ApiKey: {why}"
    );
    assert_no_key(&why);
    // It stays so: held items look again (every paused_delay) without dying.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let still = w.store.get(CONNECTOR, "call-1").await.unwrap().unwrap();
    assert_eq!((still.health, still.attempts), (Health::NeedsOperator, 0), "{still:?}");
    let mark = wfo_pipeline::attention::load(w.store.as_ref(), CONNECTOR)
        .await
        .unwrap()
        .expect("the connector shows as needing an operator");
    assert!(mark.reason.contains("source.api_key"), "{mark:?}");
    assert_no_key(&mark.reason);
    assert!(w.wfo.contacts().is_empty());

    // The operator adds the connector again with a good key (what `connector add` does).
    w.store
        .put_connector(&config(&w.wfo.base_url(), GOOD_KEY), Utc::now())
        .await
        .unwrap();
    let woken = wfo_pipeline::reconcile::resume_held(w.store.as_ref(), CONNECTOR, Utc::now())
        .await
        .unwrap();
    assert!(woken <= 1);
    let done = w.item_when("call-1", |i| i.stage == Stage::Done).await;
    assert_eq!(done.stage, Stage::Done, "{done:?}");
    let contacts = w.wfo.contacts();
    assert_eq!(contacts.len(), 1, "nothing lost, nothing doubled: {contacts:?}");
    assert_eq!(contacts[0].contact.import.assoc_call_id, "call-1");
    let mut cleared = None;
    for _ in 0..100 {
        cleared = wfo_pipeline::attention::load(w.store.as_ref(), CONNECTOR)
            .await
            .unwrap();
        if cleared.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cleared.is_none(), "the mark clears once a step succeeds: {cleared:?}");
    w.stop().await;
}

/// A poll-only connector with a wrong key lists nothing, so no item is held to say so: the
/// poller marks the connector itself, the next poll that lists clears that mark, and a
/// poll never clears a mark an item set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_marks_a_poll_only_connector_and_the_first_poll_that_lists_clears_it() {
    use wfo_pipeline::attention;
    use wfo_pipeline::reconcile::{PollSettings, poll_if_due};
    use wfo_pipeline::schedule::Schedule;

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(wfo_store::SqliteStore::open(dir.path()).unwrap());
    // Polling reads only the source: WFO is never called.
    let put = |key: &'static str| {
        let (store, cfg) = (store.clone(), config("http://127.0.0.1:9", key));
        async move { store.put_connector(&cfg, Utc::now()).await.unwrap() }
    };
    let connections = Connections::new(store.clone(), Arc::new(WithKeyed), wfo_http::RetryPolicy::fast()).unwrap();
    let schedule = Schedule {
        tick: Duration::from_millis(10),
        poll_every: Some(Duration::from_millis(1)),
    };
    let poll = |c: StoredConnector| {
        let connections = connections.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            poll_if_due(&connections, &c, &schedule, &PollSettings::default(), Utc::now()).await
        }
    };

    let err = poll(put(WRONG_KEY).await).await.unwrap_err();
    assert!(err.needs_operator(), "{err}");
    let mark = attention::load(store.as_ref(), CONNECTOR)
        .await
        .unwrap()
        .expect("the poller marked the connector");
    assert!(mark.by_poller && mark.reason.contains("source.api_key"), "{mark:?}");
    assert_no_key(&mark.reason);
    // A second refused poll keeps the first mark (its since).
    poll(put(WRONG_KEY).await).await.unwrap_err();
    let again = attention::load(store.as_ref(), CONNECTOR).await.unwrap().unwrap();
    assert_eq!(again.since, mark.since);

    let good = put(GOOD_KEY).await;
    poll(good.clone()).await.unwrap().expect("the poll ran");
    assert!(
        attention::load(store.as_ref(), CONNECTOR).await.unwrap().is_none(),
        "the poll that listed cleared the poller's mark"
    );

    // An item's mark (here: WFO refused something) is not the poller's to clear.
    attention::Marks::default()
        .mark(store.as_ref(), CONNECTOR, "WFO has no default team", Utc::now())
        .await;
    poll(good).await.unwrap().expect("the poll ran");
    let kept = attention::load(store.as_ref(), CONNECTOR).await.unwrap();
    assert!(kept.is_some_and(|m| !m.by_poller && m.reason.contains("default team")));
}
