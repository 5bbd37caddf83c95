//! The Contact Center 2.0 configuration sync against both simulators: users, teams and
//! queues kept in step with WFO by the WxCC integration guide's rules ("Core
//! Configuration Data"). Each test starts its own simulators and store on 127.0.0.1 and
//! shuts them down.

use std::sync::Arc;

use chrono::Utc;
use wfo_client::{WfoApi, WfoClient, WfoClientConfig};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::wfo::{ChannelType, Person};
use wfo_http::RetryPolicy;
use wfo_pipeline::connections::Connections;
use wfo_pipeline::ports::{ConnectorStore, StoredConnector, TokenRecord, TokenSet, TokenStore};
use wfo_pipeline::sync::{SyncDeps, SyncError, SyncRun, SyncSettings, load_status, sync_connector};
use wfo_sim_wfo::{RunningSim, SimConfig, WfoSim};
use wfo_sim_wxcc::{
    AdminAccount, CONFIG_READ, CONFIG_WRITE, ConfigKind, Corruption, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    RunningWxccSim, SimQueue, SimTeam, SimUser, WxccSim, WxccSimConfig,
};
use wfo_store::SqliteStore;

const CONNECTOR: &str = "acme-cc";
const SERVER: i64 = 4;
const WFO_USER: &str = "api-user@acme.example";
const WFO_PASSWORD: &str = "wfo-pass-9";

/// CI user ids (what tasks and captures name agents by) differ from the user ids.
const ANA: (&str, &str) = ("u-ana", "1a2b3c4d-0000-4000-8000-00000000a001");
const BEN: (&str, &str) = ("u-ben", "1a2b3c4d-0000-4000-8000-00000000b002");
const CHLOE: (&str, &str) = ("u-chloe", "1a2b3c4d-0000-4000-8000-00000000c003");
const DORMANT: (&str, &str) = ("u-dormant", "1a2b3c4d-0000-4000-8000-00000000d004");
const SUPERVISOR: (&str, &str) = ("u-sup", "1a2b3c4d-0000-4000-8000-00000000e005");

fn user(who: (&str, &str), first: &str, last: &str) -> SimUser {
    let mut u = SimUser::new(who.0, first, last, &format!("{}@acme.example", first.to_lowercase()));
    u.ci_user_id = who.1.to_owned();
    u
}

struct World {
    wfo: RunningSim,
    cc: RunningWxccSim,
    store: Arc<SqliteStore>,
    connector: StoredConnector,
    connections: Arc<Connections>,
    wfo_client: Arc<dyn WfoApi>,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start() -> Self {
        Self::start_with(WxccSimConfig::default()).await
    }

    async fn start_with(cc_config: WxccSimConfig) -> Self {
        let wfo = WfoSim::start(SimConfig {
            users: vec![(WFO_USER.to_owned(), Secret::new(WFO_PASSWORD))],
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let cc = WxccSim::start(cc_config).await.unwrap();
        cc.upsert_user(user(ANA, "Ana", "Lima"));
        cc.upsert_user(user(BEN, "Ben", "Okafor"));
        cc.upsert_user(user(CHLOE, "Chloé", "Martin"));
        let mut dormant = user(DORMANT, "Dora", "Mant");
        dormant.active = false;
        cc.upsert_user(dormant);
        let mut sup = user(SUPERVISOR, "Sam", "Visor");
        sup.contact_center_enabled = false;
        sup.user_profile_type = "SUPERVISOR".into();
        cc.upsert_user(sup);
        cc.upsert_team(SimTeam::new("team-sales", "Sales"));
        cc.upsert_team(SimTeam::new("team-care", "Care"));
        let mut closed = SimTeam::new("team-closed", "Closed");
        closed.active = false;
        cc.upsert_team(closed);
        cc.upsert_queue(SimQueue::new("q-main", "Main line", "TELEPHONY"));
        cc.upsert_queue(SimQueue::new("q-chat", "Web chat", "CHAT"));

        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let config = ConnectorConfig::from_toml(&format!(
            r#"
id = "{CONNECTOR}"
acd_name = "Acme Contact Center"
kind = "webex-cc-2"
acd_server_id = {SERVER}

[source]
api_url = "{cc}"
identity_url = "{cc}"
tenant_id = "{org}"
client_id = "{DEFAULT_CLIENT_ID}"
client_secret = "{DEFAULT_CLIENT_SECRET}"

[wfo]
api_url = "{wfo}"
username = "{WFO_USER}"
password = "{WFO_PASSWORD}"

[sync]
interval_minutes = 10
"#,
            cc = cc.base_url(),
            org = cc.org_id(),
            wfo = wfo.base_url(),
        ))
        .unwrap();
        let connector = store.put_connector(&config, Utc::now()).await.unwrap();
        let world_http = reqwest::Client::new();
        let connections = Connections::with_clients(
            store.clone(),
            wfo_sources::Sources::shared(),
            RetryPolicy::fast(),
            world_http.clone(),
            world_http.clone(),
        );
        let mut wfo_cfg = WfoClientConfig::new(wfo.base_url(), WFO_USER, Secret::new(WFO_PASSWORD));
        wfo_cfg.policy = RetryPolicy::fast();
        let wfo_client: Arc<dyn WfoApi> = Arc::new(WfoClient::with_http_client(wfo_cfg, world_http));
        let w = Self {
            wfo,
            cc,
            store,
            connector,
            connections,
            wfo_client,
            _dir: dir,
        };
        w.store_tokens(0).await;
        w
    }

    /// Tokens of the simulator's current admin, stored as the connector's.
    async fn store_tokens(&self, version: i64) {
        let granted = self
            .cc
            .issue_tokens(DEFAULT_CLIENT_ID, &[CONFIG_READ, CONFIG_WRITE, "spark:people_read"])
            .unwrap();
        let now = Utc::now();
        let record = TokenRecord {
            tokens: Some(TokenSet {
                access_token: Secret::new(granted.access_token),
                access_expires_at: now + chrono::Duration::seconds(granted.expires_in as i64),
                refresh_token: Some(Secret::new(granted.refresh_token)),
                refresh_expires_at: Some(now + chrono::Duration::seconds(granted.refresh_token_expires_in as i64)),
                scopes: granted.scope.split(' ').map(str::to_owned).collect(),
                obtained_at: now,
            }),
            reauth_required: None,
            version,
        };
        self.store.put_tokens(CONNECTOR, &record, version).await.unwrap();
    }

    async fn sync(&self) -> Result<SyncRun, SyncError> {
        let deps = SyncDeps {
            connections: &self.connections,
            wfo: self.wfo_client.as_ref(),
        };
        sync_connector(&deps, &self.connector, &SyncSettings::fast()).await
    }

    async fn persons(&self) -> Vec<Person> {
        self.wfo_client
            .list_persons()
            .await
            .unwrap()
            .into_iter()
            .filter(|p| p.input.acd_server_id == Some(SERVER))
            .collect()
    }

    async fn person(&self, ci: &str) -> Option<Person> {
        self.persons()
            .await
            .into_iter()
            .find(|p| p.input.acd_id.as_deref() == Some(ci))
    }

    async fn shutdown(self) {
        self.cc.shutdown().await;
        let _ = self.wfo.shutdown().await;
    }
}

fn counts(r: &Option<wfo_pipeline::org_sync::KindRun>) -> (u64, u64, u64, u64) {
    let c = &r.as_ref().expect("a contact-center run has this kind").counts;
    (c.created, c.updated, c.deactivated, c.unchanged)
}

#[tokio::test]
async fn new_users_teams_and_queues_arrive_by_the_guides_rules_and_a_second_run_writes_nothing() {
    let w = World::start().await;
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(counts(&run.teams), (2, 0, 0, 0), "the two active teams");
    assert_eq!(counts(&run.queues), (2, 0, 0, 0));
    assert_eq!(
        run.counts.created, 4,
        "every active user, the one not contact-center enabled too"
    );
    assert_eq!(run.counts.skipped, 1, "the Not Active user is not imported");

    // Persons: ACD id = CI user id, this ACD server, start dates = the sync date, the
    // default team, the agent role only for contact-center enabled users.
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let ana = w.person(ANA.1).await.expect("Ana keyed on her CI user id");
    assert_eq!(
        (ana.input.first_name.as_str(), ana.input.last_name.as_str()),
        ("Ana", "Lima")
    );
    assert_eq!(ana.input.company_start_date.as_deref(), Some(today.as_str()));
    assert_eq!(ana.input.department_start_date.as_deref(), Some(today.as_str()));
    let teams = w.wfo_client.list_teams().await.unwrap();
    let default_team = teams.iter().find(|t| t.is_default).unwrap();
    assert_eq!(
        ana.input.group_id, default_team.id,
        "new persons go to the default team"
    );
    assert!(
        !ana.input.roles.is_empty(),
        "contact-center enabled: the default agent role"
    );
    let sam = w
        .person(SUPERVISOR.1)
        .await
        .expect("an active user who is not an agent");
    assert!(sam.input.roles.is_empty(), "not contact-center enabled: no agent role");
    assert!(w.person(DORMANT.1).await.is_none(), "Not Active users are not imported");
    assert!(w.person(DORMANT.0).await.is_none());

    // Teams: read-only, same name, acdId = team id; the inactive one is not created.
    let sales = teams
        .iter()
        .find(|t| t.acd_id.as_deref() == Some("team-sales"))
        .unwrap();
    assert!(sales.read_only && sales.name == "Sales" && sales.acd_server_id == Some(SERVER));
    assert!(!teams.iter().any(|t| t.acd_id.as_deref() == Some("team-closed")));
    // Queues: keyed on (acdServerId, acdId), with their channel.
    let queues = w.wfo_client.list_queues(SERVER).await.unwrap();
    let chat = queues.iter().find(|q| q.acd_id == "q-chat").unwrap();
    assert!(chat.active && chat.channel_type == ChannelType::Chat && chat.name == "Web chat");

    let second = w.sync().await.unwrap();
    assert!(second.complete);
    assert_eq!(second.wfo_writes, 0, "no source change, no WFO write: {second:?}");
    assert_eq!(counts(&second.teams), (0, 0, 0, 2));
    assert_eq!(counts(&second.queues), (0, 0, 0, 2));
    assert_eq!(second.counts.unchanged, 4);
    w.shutdown().await;
}

#[tokio::test]
async fn renames_deletions_and_restorations_follow_the_source() {
    let w = World::start().await;
    w.sync().await.unwrap();
    w.cc.update_user(ANA.0, |u| u.last_name = Some("Lima-Souza".into()))
        .unwrap();
    assert!(w.cc.remove_user(BEN.0), "Ben is deleted at the source");
    w.cc.update_team("team-sales", |t| t.name = "Sales EMEA".into())
        .unwrap();
    assert!(w.cc.remove_team("team-care"));
    assert!(w.cc.remove_queue("q-chat"));
    w.cc.update_queue("q-main", |q| q.name = "Main line (24/7)".into())
        .unwrap();

    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(run.counts.updated, 1, "Ana's new name");
    assert_eq!(run.counts.deactivated, 1, "Ben");
    assert_eq!(
        counts(&run.teams),
        (0, 1, 0, 0),
        "a rename follows; a deleted team changes nothing"
    );
    assert_eq!(counts(&run.queues), (0, 1, 1, 0), "renamed; gone → deactivated");
    let ben = w
        .person(BEN.1)
        .await
        .expect("a deleted user is deactivated, never removed");
    assert!(ben.input.deactivated.is_some());
    assert_eq!(w.person(ANA.1).await.unwrap().input.last_name, "Lima-Souza");
    let teams = w.wfo_client.list_teams().await.unwrap();
    assert!(teams.iter().any(|t| t.acd_id.as_deref() == Some("team-care")), "kept");
    assert!(teams.iter().any(|t| t.name == "Sales EMEA" && t.read_only));
    let chat = w
        .wfo_client
        .list_queues(SERVER)
        .await
        .unwrap()
        .into_iter()
        .find(|q| q.acd_id == "q-chat")
        .unwrap();
    assert!(!chat.active, "deactivated, not deleted");

    // Restored: the queue is reactivated, the user too.
    w.cc.upsert_queue(SimQueue::new("q-chat", "Web chat", "CHAT"));
    w.cc.upsert_user(user(BEN, "Ben", "Okafor"));
    let run = w.sync().await.unwrap();
    assert_eq!(run.queues.as_ref().unwrap().counts.reactivated, 1);
    assert_eq!(run.counts.reactivated, 1);
    assert!(w.person(BEN.1).await.unwrap().input.deactivated.is_none());

    // A queue made inactive at the source is deactivated in WFO.
    w.cc.update_queue("q-main", |q| q.active = false).unwrap();
    let run = w.sync().await.unwrap();
    assert_eq!(counts(&run.queues), (0, 0, 1, 1));

    // A user switched to Not Active is left alone until restored.
    w.cc.update_user(CHLOE.0, |u| u.active = false).unwrap();
    let run = w.sync().await.unwrap();
    assert_eq!(run.wfo_writes, 0, "{run:?}");
    w.shutdown().await;
}

#[tokio::test]
async fn an_agent_role_removed_by_hand_is_added_back_at_the_next_sync() {
    let w = World::start().await;
    w.sync().await.unwrap();
    let mut ana = w.person(ANA.1).await.unwrap();
    ana.input.roles.clear();
    w.wfo_client.update_person(&ana).await.unwrap();
    let run = w.sync().await.unwrap();
    assert_eq!(run.counts.updated, 1);
    assert!(
        !w.person(ANA.1).await.unwrap().input.roles.is_empty(),
        "the guide: re-added"
    );
    w.shutdown().await;
}

#[tokio::test]
async fn a_page_that_fails_midway_deactivates_nobody() {
    let w = World::start().await;
    for i in 0..1500 {
        w.cc.upsert_user(SimUser::new(
            &format!("bulk-{i:04}"),
            "Bulk",
            &format!("User {i}"),
            &format!("bulk{i}@acme.example"),
        ));
    }
    w.sync().await.unwrap();
    let active_before = w
        .persons()
        .await
        .iter()
        .filter(|p| p.input.deactivated.is_none())
        .count();
    // The second page of users fails every time: the listing is partial.
    w.cc.fail_page(ConfigKind::Users, 1, 500, 100);
    let run = w.sync().await.unwrap();
    assert!(!run.complete);
    assert!(run.error.as_deref().unwrap_or("").contains("page 2"), "{:?}", run.error);
    assert_eq!(
        run.counts.deactivated, 0,
        "nobody is deactivated on an incomplete listing"
    );
    let active_after = w
        .persons()
        .await
        .iter()
        .filter(|p| p.input.deactivated.is_none())
        .count();
    assert_eq!(active_before, active_after);
    let status = load_status(w.store.as_ref(), CONNECTOR).await.unwrap().unwrap();
    assert!(!status.last_run.complete && status.last_complete_at.is_some());
    w.shutdown().await;
}

#[tokio::test]
async fn malformed_entries_and_users_without_names_are_skipped_or_named_and_the_rest_synced() {
    let w = World::start().await;
    let mut nameless = user(("u-nameless", "1a2b3c4d-0000-4000-8000-00000000f006"), "x", "y");
    nameless.first_name = None;
    nameless.last_name = None;
    nameless.email = "zoe.quinn@acme.example".into();
    w.cc.upsert_user(nameless);
    w.cc.corrupt_user(BEN.0, Corruption::NameNotString);
    w.cc.corrupt_item(ConfigKind::Queues, "q-chat", Corruption::NameNotString);
    let run = w.sync().await.unwrap();
    assert!(
        run.complete,
        "skipped entries do not make a listing partial: {:?}",
        run.error
    );
    assert!(
        run.warning_samples.iter().any(|s| s.contains("u-ben")),
        "the skipped user is named: {:?}",
        run.warning_samples
    );
    assert_eq!(run.queues.as_ref().unwrap().rejected.len(), 1);
    assert!(w.person(BEN.1).await.is_none(), "an unreadable entry is not guessed at");
    assert!(w.person(ANA.1).await.is_some(), "the rest is synced");
    let zoe = w.person("1a2b3c4d-0000-4000-8000-00000000f006").await.unwrap();
    assert_eq!(
        (zoe.input.first_name.as_str(), zoe.input.last_name.as_str()),
        ("zoe", "quinn"),
        "the e-mail's local part, as the engine names every source's nameless users"
    );
    w.shutdown().await;
}

#[tokio::test]
async fn a_429_storm_is_waited_out_and_the_run_completes() {
    let w = World::start().await;
    w.cc.push_429(3, 1);
    let started = std::time::Instant::now();
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "Retry-After honoured"
    );
    assert!(w.cc.peak_requests_per_minute(DEFAULT_CLIENT_ID) <= 300);
    w.shutdown().await;
}

#[tokio::test]
async fn re_authorizing_with_another_admin_of_the_same_org_creates_nothing_new() {
    let w = World::start().await;
    let first = w.sync().await.unwrap();
    assert!(first.counts.created > 0);
    w.cc.set_admin(AdminAccount {
        id: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a".into(),
        email: "other.admin@acme.example".into(),
        display_name: "Other Admin".into(),
    });
    w.store_tokens(1).await;
    let run = w.sync().await.unwrap();
    assert!(run.complete);
    assert_eq!(run.counts.created, 0, "no new persons");
    assert_eq!(run.teams.as_ref().unwrap().counts.created, 0, "no new teams");
    assert_eq!(run.queues.as_ref().unwrap().counts.created, 0, "no new queues");
    assert_eq!(run.wfo_writes, 0);
    w.shutdown().await;
}

/// The identity check (issue "No one in"): a Contact Center admin of another org who
/// opens the connector's Authorization URL binds nothing.
#[tokio::test]
async fn a_token_of_another_org_is_refused_at_authorization_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let h = wfo_harness::Harness::start(wfo_harness::HarnessConfig::new(dir.path().to_path_buf()))
        .await
        .unwrap();
    let cc = h.add_contact_center(5, 1, 1).await.unwrap();
    cc.sim.set_consenting_account(Some(wfo_sim_wxcc::ForeignAccount {
        id: "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c".into(),
        email: "stranger@elsewhere.example".into(),
        org_id: "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9".into(),
    }));
    let refused = h.authorize_connector(&cc.connector.id).await;
    let text = format!("{refused:?}");
    assert!(refused.is_err(), "a foreign org's consent is refused: {text}");
    assert!(text.contains("403"), "{text}");
    let tokens = h.store.get_tokens(&cc.connector.id).await.unwrap();
    assert!(tokens.tokens.is_none(), "nothing stored");
    assert!(cc.sim.subscriptions().is_empty(), "no subscription made for a stranger");

    // The org's own admin then authorizes, and the sync runs.
    cc.sim.set_consenting_account(None);
    h.authorize_connector(&cc.connector.id).await.unwrap();
    let status = h
        .wait_for_sync_of(&cc.connector.id, std::time::Duration::from_secs(30))
        .await
        .expect("the first sync runs after authorization");
    assert!(status.last_run.complete, "{:?}", status.last_run.error);
    cc.sim.shutdown().await;
    h.shutdown().await;
}

/// `POST /webhooks/{id}` for a Contact Center connector (`specs/interfaces.md` §2, §4):
/// a genuine signed delivery is acknowledged; a bad signature, a stale timestamp, a
/// foreign org and a body that is no envelope are refused, and nothing is recorded.
#[tokio::test]
async fn contact_center_deliveries_are_verified_on_the_webhook_route() {
    use wfo_pipeline::ports::Ledger;
    use wfo_sim_wxcc::{ScenarioAgent, ScenarioIds, TestDelivery, TestSignature};
    let dir = tempfile::tempdir().unwrap();
    let h = wfo_harness::Harness::start(wfo_harness::HarnessConfig::new(dir.path().to_path_buf()))
        .await
        .unwrap();
    let cc = h.add_contact_center(3, 1, 1).await.unwrap();
    h.authorize_connector(&cc.connector.id).await.unwrap();
    let stored = h.store.get_connector(&cc.connector.id).await.unwrap().unwrap();
    let secret = stored.secrets.webhook_secret.expose().to_owned();
    let url = format!("{}/webhooks/{}", h.runtime.public_url, cc.connector.id);
    // The subscription is registered after authorization; a played call is delivered.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while cc.sim.subscriptions().is_empty() && std::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!cc.sim.subscriptions().is_empty(), "subscription registered");
    let agent = cc.sim.users().into_iter().next().unwrap();
    cc.sim
        .tasks()
        .unwrap()
        .play(
            "basic-inbound",
            Utc::now() - chrono::Duration::minutes(20),
            &[ScenarioAgent {
                ci_user_id: agent.ci_user_id.clone(),
                name: "Agent".into(),
            }],
            &ScenarioIds::default(),
        )
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while cc.sim.deliveries().is_empty() && std::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let sent = cc.sim.deliveries();
    assert!(!sent.is_empty(), "capture:available delivered");
    assert!(
        format!("{:?}", sent[0].outcome).contains("200"),
        "a genuine delivery is acknowledged: {:?}",
        sent[0].outcome
    );

    let now = Utc::now().timestamp_millis();
    let envelope = |org: &str, ts: i64| {
        serde_json::json!({ "id": "e1", "specversion": "1.0", "type": "capture:available", "source": "/com/cisco/wxcc/s1",
            "comciscoorgid": org, "comciscotimestamp": ts.to_string(), "data": { "taskId": "t-1" } })
        .to_string()
    };
    let send = |body: String, signature: TestSignature, ts: Option<i64>| {
        cc.sim.send_test_delivery(
            &url,
            TestDelivery {
                body,
                signature,
                timestamp_ms: ts,
                webhook_version: Some("capture:1.0.0".into()),
            },
        )
    };
    let org = cc.sim.org_id();
    let valid = || TestSignature::Valid { secret: secret.clone() };
    assert_eq!(send(envelope(&org, now), valid(), Some(now)).await.unwrap(), 200);
    assert_eq!(
        send(envelope(&org, now), TestSignature::Wrong, Some(now))
            .await
            .unwrap(),
        401
    );
    assert_eq!(
        send(envelope(&org, now), TestSignature::None, Some(now)).await.unwrap(),
        401
    );
    let stale = now - 6 * 60 * 1000;
    assert_eq!(
        send(envelope(&org, stale), valid(), Some(stale)).await.unwrap(),
        401,
        "older than 5 minutes"
    );
    let foreign = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    assert_eq!(
        send(envelope(foreign, now), valid(), Some(now)).await.unwrap(),
        401,
        "another org"
    );
    assert_eq!(send("not json".into(), valid(), None).await.unwrap(), 400);
    // Only the genuine deliveries are recorded: the played task and `t-1`, once each.
    let mut items: Vec<String> = h
        .store
        .list(&cc.connector.id, false, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.item_id)
        .collect();
    items.sort();
    let mut want = vec![sent[0].task_id.clone(), "t-1".to_owned()];
    want.sort();
    assert_eq!(items, want);
    cc.sim.shutdown().await;
    h.shutdown().await;
}
