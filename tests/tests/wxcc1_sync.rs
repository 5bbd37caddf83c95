//! The Contact Center 1.0 configuration sync against the WFO and 1.0 simulators: users,
//! teams and queues from the auxiliary-data lists kept in step with WFO by the WxCC
//! integration guide's rules ("Core Configuration Data"), the users narrowed by its "ACD
//! Filtering" (`[[acd_filter]]`). The connector signs with its API key: there is no token
//! to store. Each test starts its own simulators and store on 127.0.0.1 and shuts them
//! down.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;
use wfo_client::{WfoApi, WfoClient, WfoClientConfig};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::sync::canonical_acd_id;
use wfo_domain::wfo::{ChannelType, Person};
use wfo_http::RetryPolicy;
use wfo_pipeline::connections::Connections;
use wfo_pipeline::ports::{ConnectorStore, StoredConnector};
use wfo_pipeline::sync::{SyncDeps, SyncError, SyncRun, SyncSettings, load_status, sync_connector};
use wfo_sim_wfo::{RunningSim, SimConfig, WfoSim};
use wfo_sim_wxcc1::{
    AuxItem, AuxResource, DEFAULT_API_KEY, DEFAULT_TENANT_ID, DEFAULT_USERNAME, RunningWxcc1Sim, Wxcc1Sim,
    Wxcc1SimConfig,
};
use wfo_store::SqliteStore;

const CONNECTOR: &str = "acme-cc1";
const SERVER: i64 = 6;
const WFO_USER: &str = "api-user@acme.example";
const WFO_PASSWORD: &str = "wfo-pass-9";

/// Auxiliary-data user ids (what CARs name agents by, and the persons' ACD ids).
const ANA: &str = "ag-ana";
const BEN: &str = "ag-ben";
const CHLOE: &str = "ag-chloe";
const NAT: &str = "ag-nat";
const DORA: &str = "ag-dora";

const EMEA: &str = "t-emea";
const US: &str = "t-us";
const SUPPORT: &str = "t-support";

/// A user as the tenant lists them; `site` is the raw `siteName__s` attribute.
fn user(id: &str, first: &str, last: &str, team: Option<&str>, site: &str) -> AuxItem {
    let login = format!("{}@acme.example", first.to_lowercase());
    let mut u = AuxItem::user(id, &login, first, last, team, true);
    u.attributes.insert("siteName__s".into(), site.into());
    u
}

fn ana_item() -> AuxItem {
    user(ANA, "Ana", "Lima", Some(EMEA), "Lisbon")
}

fn ben_item() -> AuxItem {
    user(BEN, "Ben", "Okafor", Some(US), "Boston")
}

fn queue(id: &str, name: &str, channel: &str) -> AuxItem {
    let mut q = AuxItem::named(id, name, true);
    q.attributes.insert("channelType__s".into(), channel.into());
    q
}

/// What the connector's configuration may change between tests.
struct Setup {
    api_key: &'static str,
    tenant_id: &'static str,
    /// `[[acd_filter]]` tables, as TOML.
    filters: &'static str,
}

const PLAIN: Setup = Setup {
    api_key: DEFAULT_API_KEY,
    tenant_id: DEFAULT_TENANT_ID,
    filters: "",
};

const SALES_ONLY: Setup = Setup {
    filters: "[[acd_filter]]\nfield = \"team_name\"\npattern = \"Sales*\"\n",
    ..PLAIN
};

struct World {
    wfo: RunningSim,
    cc: RunningWxcc1Sim,
    store: Arc<SqliteStore>,
    connector: StoredConnector,
    connections: Arc<Connections>,
    wfo_client: Arc<dyn WfoApi>,
    _dir: tempfile::TempDir,
}

impl World {
    /// Teams Sales EMEA, Sales US, Support and an inactive one; two queues; Ana (Sales
    /// EMEA), Ben (Sales US), Chloé (Support), Nat (no team) and Dora (Sales EMEA, not
    /// active).
    async fn start(setup: Setup) -> Self {
        let wfo = WfoSim::start(SimConfig {
            users: vec![(WFO_USER.to_owned(), Secret::new(WFO_PASSWORD))],
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let cc = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
        cc.upsert_aux(AuxResource::Team, AuxItem::named(EMEA, "Sales EMEA", true));
        cc.upsert_aux(AuxResource::Team, AuxItem::named(US, "Sales US", true));
        cc.upsert_aux(AuxResource::Team, AuxItem::named(SUPPORT, "Support", true));
        cc.upsert_aux(AuxResource::Team, AuxItem::named("t-closed", "Closed", false));
        cc.upsert_aux(AuxResource::VirtualTeam, queue("q-main", "Main line", "TELEPHONY"));
        cc.upsert_aux(AuxResource::VirtualTeam, queue("q-chat", "Web chat", "CHAT"));
        cc.upsert_aux(AuxResource::User, ana_item());
        cc.upsert_aux(AuxResource::User, ben_item());
        cc.upsert_aux(
            AuxResource::User,
            user(CHLOE, "Chloé", "Martin", Some(SUPPORT), "Lisbon"),
        );
        cc.upsert_aux(AuxResource::User, user(NAT, "Nat", "Solo", None, "Boston"));
        let mut dora = user(DORA, "Dora", "Mant", Some(EMEA), "Lisbon");
        dora.attributes.insert("active__b".into(), false.into());
        cc.upsert_aux(AuxResource::User, dora);

        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let connector = store
            .put_connector(&config(&cc, &wfo, &setup), Utc::now())
            .await
            .unwrap();
        let http = reqwest::Client::new();
        let connections = Connections::with_clients(
            store.clone(),
            wfo_sources::Sources::shared(),
            RetryPolicy::fast(),
            http.clone(),
            http.clone(),
        );
        let mut wfo_cfg = WfoClientConfig::new(wfo.base_url(), WFO_USER, Secret::new(WFO_PASSWORD));
        wfo_cfg.policy = RetryPolicy::fast();
        let wfo_client: Arc<dyn WfoApi> = Arc::new(WfoClient::with_http_client(wfo_cfg, http));
        Self {
            wfo,
            cc,
            store,
            connector,
            connections,
            wfo_client,
            _dir: dir,
        }
    }

    /// The operator adds the connector again with another configuration.
    async fn re_add(&mut self, setup: Setup) {
        self.connector = self
            .store
            .put_connector(&config(&self.cc, &self.wfo, &setup), Utc::now())
            .await
            .unwrap();
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

    async fn person(&self, id: &str) -> Option<Person> {
        let acd_id = canonical_acd_id(id);
        self.persons()
            .await
            .into_iter()
            .find(|p| p.input.acd_id.as_deref() == Some(acd_id.as_str()))
    }

    /// Whether `id` has a person in WFO that is not deactivated.
    async fn active(&self, id: &str) -> bool {
        self.person(id).await.is_some_and(|p| p.input.deactivated.is_none())
    }

    /// The ACD ids of the active persons, sorted.
    async fn active_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .persons()
            .await
            .into_iter()
            .filter(|p| p.input.deactivated.is_none())
            .filter_map(|p| p.input.acd_id)
            .collect();
        ids.sort();
        ids
    }

    async fn shutdown(self) {
        self.cc.shutdown().await;
        let _ = self.wfo.shutdown().await;
    }
}

fn config(cc: &RunningWxcc1Sim, wfo: &RunningSim, setup: &Setup) -> ConnectorConfig {
    ConnectorConfig::from_toml(&format!(
        r#"
id = "{CONNECTOR}"
acd_name = "Acme Contact Center 1.0"
kind = "webex-cc-1"
acd_server_id = {SERVER}

[source]
api_url = "{api}"
media_api_url = "{media}"
tenant_id = "{tenant}"
username = "{DEFAULT_USERNAME}"
api_key = "{key}"

[wfo]
api_url = "{wfo}"
username = "{WFO_USER}"
password = "{WFO_PASSWORD}"

[sync]
interval_minutes = 10

{filters}"#,
        api = cc.base_url(),
        media = cc.media_url(),
        tenant = setup.tenant_id,
        key = setup.api_key,
        wfo = wfo.base_url(),
        filters = setup.filters,
    ))
    .unwrap()
}

fn ids(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|i| canonical_acd_id(i)).collect();
    v.sort();
    v
}

fn counts(r: &Option<wfo_pipeline::org_sync::KindRun>) -> (u64, u64, u64, u64) {
    let c = &r.as_ref().expect("a contact-center run has this kind").counts;
    (c.created, c.updated, c.deactivated, c.unchanged)
}

#[tokio::test]
async fn new_users_teams_and_queues_arrive_by_the_guides_rules_and_a_second_run_writes_nothing() {
    let w = World::start(PLAIN).await;
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(counts(&run.teams), (3, 0, 0, 0), "the three active teams");
    assert_eq!(counts(&run.queues), (2, 0, 0, 0));
    assert_eq!(run.counts.created, 4, "every active user, the one on no team too");
    assert_eq!(run.counts.skipped, 1, "the Not Active user is not imported");
    assert!(
        run.source_calls.team_pages > 0 && run.source_calls.queue_pages > 0 && run.source_calls.people_pages > 0,
        "{:?}",
        run.source_calls
    );

    // Persons: ACD id = the auxiliary-data id, this ACD server, start dates = the sync
    // date, the default team (the user's 1.0 team is not kept), the agent role.
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let ana = w.person(ANA).await.expect("Ana keyed on her auxiliary-data id");
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
        "new persons go to the default team, not their Sales EMEA team"
    );
    assert!(!ana.input.roles.is_empty(), "the default agent role");
    let chloe = w.person(CHLOE).await.unwrap();
    assert_eq!(chloe.input.first_name, "Chloé", "names kept as written");
    assert!(w.person(NAT).await.is_some(), "a user on no team is synced");
    assert!(w.person(DORA).await.is_none(), "Not Active users are not imported");

    // Teams: read-only, same name, acdId = team id; the inactive one is not created.
    let emea = teams.iter().find(|t| t.acd_id.as_deref() == Some(EMEA)).unwrap();
    assert!(emea.read_only && emea.name == "Sales EMEA" && emea.acd_server_id == Some(SERVER));
    assert!(!teams.iter().any(|t| t.acd_id.as_deref() == Some("t-closed")));
    // Queues (virtual teams): keyed on (acdServerId, acdId), with their channel.
    let queues = w.wfo_client.list_queues(SERVER).await.unwrap();
    let chat = queues.iter().find(|q| q.acd_id == "q-chat").unwrap();
    assert!(chat.active && chat.channel_type == ChannelType::Chat && chat.name == "Web chat");
    let main = queues.iter().find(|q| q.acd_id == "q-main").unwrap();
    assert_eq!(main.channel_type, ChannelType::Telephony);

    let second = w.sync().await.unwrap();
    assert!(second.complete, "{:?}", second.error);
    assert_eq!(second.wfo_writes, 0, "no source change, no WFO write: {second:?}");
    assert_eq!(counts(&second.teams), (0, 0, 0, 3));
    assert_eq!(counts(&second.queues), (0, 0, 0, 2));
    assert_eq!(second.counts.unchanged, 4);
    w.shutdown().await;
}

#[tokio::test]
async fn a_team_name_filter_syncs_only_its_teams_users_and_follows_a_move_out_and_back() {
    let w = World::start(SALES_ONLY).await;
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(
        w.active_ids().await,
        ids(&[ANA, BEN]),
        "Sales EMEA and Sales US; not Support, not the user on no team"
    );
    assert_eq!(run.counts.created, 2);
    assert_eq!(
        counts(&run.teams),
        (3, 0, 0, 0),
        "filters narrow the users only: every active team is synced"
    );
    assert!(
        run.warning_samples
            .iter()
            .any(|s| s.contains("ACD filters") && s.contains("team_name = \"Sales*\"")),
        "the run says the filter left users out: {:?}",
        run.warning_samples
    );

    // Ben moves to Support: he no longer matches and is deactivated, never removed.
    w.cc.upsert_aux(AuxResource::User, user(BEN, "Ben", "Okafor", Some(SUPPORT), "Boston"));
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(run.counts.deactivated, 1, "{run:?}");
    let ben = w.person(BEN).await.expect("deactivated, not deleted");
    assert!(ben.input.deactivated.is_some());
    assert!(w.active(ANA).await);

    // Back on a Sales team: reactivated.
    w.cc.upsert_aux(AuxResource::User, ben_item());
    let run = w.sync().await.unwrap();
    assert_eq!(run.counts.reactivated, 1, "{run:?}");
    assert!(w.active(BEN).await);
    assert_eq!(w.active_ids().await, ids(&[ANA, BEN]));
    w.shutdown().await;
}

#[tokio::test]
async fn any_of_two_filters_lets_a_user_through_and_patterns_ignore_case() {
    let w = World::start(Setup {
        filters: "[[acd_filter]]\nfield = \"team_name\"\npattern = \"sales us\"\n\n\
                  [[acd_filter]]\nfield = \"login\"\npattern = \"CHLOÉ@*\"\n",
        ..PLAIN
    })
    .await;
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(
        w.active_ids().await,
        ids(&[BEN, CHLOE]),
        "Ben by his team's name, Chloé by her login; Ana's Sales EMEA matches neither"
    );
    w.shutdown().await;
}

#[tokio::test]
async fn a_raw_attribute_filter_tests_that_attribute() {
    let w = World::start(Setup {
        filters: "[[acd_filter]]\nfield = \"siteName__s\"\npattern = \"Lis*\"\n",
        ..PLAIN
    })
    .await;
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(
        w.active_ids().await,
        ids(&[ANA, CHLOE]),
        "the Lisbon users (Dora too, but she is not active)"
    );
    w.shutdown().await;
}

#[tokio::test]
async fn a_team_page_that_fails_under_a_team_name_filter_deactivates_nobody() {
    let w = World::start(SALES_ONLY).await;
    // A hundred old teams first (ids sort before the live ones), so the Sales teams are
    // on the second page of the team list.
    for i in 0..100 {
        w.cc.upsert_aux(
            AuxResource::Team,
            AuxItem::named(&format!("t-a{i:03}"), &format!("Old team {i}"), false),
        );
    }
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(w.active_ids().await, ids(&[ANA, BEN]));

    // The second team page keeps failing: Ana's and Ben's team names are unknown, so the
    // filter cannot say they match; the users listing is partial and nobody goes.
    w.cc.fail_aux_page(AuxResource::Team, 1, 503);
    let run = w.sync().await.unwrap();
    assert!(!run.complete);
    let error = run.error.as_deref().unwrap_or("");
    assert!(
        error.contains("team_name ACD filter") && error.contains("page 2"),
        "{error}"
    );
    assert_eq!(run.counts.deactivated, 0, "{run:?}");
    assert_eq!(w.active_ids().await, ids(&[ANA, BEN]));
    let status = load_status(w.store.as_ref(), CONNECTOR).await.unwrap().unwrap();
    assert!(!status.last_run.complete && status.last_complete_at.is_some());

    w.cc.clear_aux_page_faults();
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(run.wfo_writes, 0, "{run:?}");
    w.shutdown().await;
}

#[tokio::test]
async fn renames_deletions_and_restorations_follow_the_source() {
    let w = World::start(PLAIN).await;
    w.sync().await.unwrap();
    w.cc.upsert_aux(AuxResource::User, user(ANA, "Ana", "Lima-Souza", Some(EMEA), "Lisbon"));
    assert!(w.cc.remove_aux(AuxResource::User, BEN), "Ben is deleted at the source");
    w.cc.upsert_aux(AuxResource::Team, AuxItem::named(EMEA, "Sales Europe", true));
    assert!(w.cc.remove_aux(AuxResource::Team, SUPPORT));
    assert!(w.cc.remove_aux(AuxResource::VirtualTeam, "q-chat"));
    w.cc.upsert_aux(
        AuxResource::VirtualTeam,
        queue("q-main", "Main line (24/7)", "TELEPHONY"),
    );

    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(run.counts.updated, 1, "Ana's new name");
    assert_eq!(run.counts.deactivated, 1, "Ben");
    assert_eq!(
        counts(&run.teams),
        (0, 1, 0, 1),
        "a rename follows; a deleted team changes nothing"
    );
    assert_eq!(counts(&run.queues), (0, 1, 1, 0), "renamed; gone → deactivated");
    let ben = w
        .person(BEN)
        .await
        .expect("a deleted user is deactivated, never removed");
    assert!(ben.input.deactivated.is_some());
    assert_eq!(w.person(ANA).await.unwrap().input.last_name, "Lima-Souza");
    let teams = w.wfo_client.list_teams().await.unwrap();
    assert!(teams.iter().any(|t| t.acd_id.as_deref() == Some(SUPPORT)), "kept");
    assert!(teams.iter().any(|t| t.name == "Sales Europe" && t.read_only));
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
    w.cc.upsert_aux(AuxResource::VirtualTeam, queue("q-chat", "Web chat", "CHAT"));
    w.cc.upsert_aux(AuxResource::User, ben_item());
    let run = w.sync().await.unwrap();
    assert_eq!(run.queues.as_ref().unwrap().counts.reactivated, 1);
    assert_eq!(run.counts.reactivated, 1);
    assert!(w.active(BEN).await);

    // A queue made inactive at the source is deactivated in WFO.
    let mut main = queue("q-main", "Main line (24/7)", "TELEPHONY");
    main.attributes.insert("active__b".into(), false.into());
    w.cc.upsert_aux(AuxResource::VirtualTeam, main);
    let run = w.sync().await.unwrap();
    assert_eq!(counts(&run.queues), (0, 0, 1, 1));

    // A user switched to Not Active (`active__b: false`) is left alone until restored,
    // and a new Not Active user is not created.
    let mut chloe = user(CHLOE, "Chloé", "Martin-Renamed", Some(SUPPORT), "Lisbon");
    chloe.attributes.insert("active__b".into(), false.into());
    w.cc.upsert_aux(AuxResource::User, chloe);
    let mut eve = user("ag-eve", "Eve", "New", Some(EMEA), "Lisbon");
    eve.attributes.insert("active__b".into(), "false".into());
    w.cc.upsert_aux(AuxResource::User, eve);
    let run = w.sync().await.unwrap();
    assert_eq!(run.wfo_writes, 0, "{run:?}");
    assert!(w.active(CHLOE).await, "left as it was");
    assert_eq!(w.person(CHLOE).await.unwrap().input.last_name, "Martin");
    assert!(w.person("ag-eve").await.is_none());
    w.shutdown().await;
}

#[tokio::test]
async fn a_refused_api_key_stops_the_sync_for_an_operator_and_deactivates_nobody() {
    let mut w = World::start(PLAIN).await;
    w.sync().await.unwrap();
    let active_before = w.active_ids().await;
    assert_eq!(active_before.len(), 4);

    const WRONG: &str = "not-the-key-5f3a9c";
    w.re_add(Setup {
        api_key: WRONG,
        ..PLAIN
    })
    .await;
    let e = w.sync().await.expect_err("a refused key stops the run");
    let text = e.to_string();
    assert!(e.needs_operator(), "{text}");
    assert!(text.contains("source.api_key") && text.contains("refused"), "{text}");
    assert!(
        !text.contains(WRONG) && !text.contains(DEFAULT_API_KEY),
        "never the key: {text}"
    );
    assert!(
        w.cc.refused_requests() <= 2,
        "a key that cannot be renewed is not retried: {}",
        w.cc.refused_requests()
    );
    let status = load_status(w.store.as_ref(), CONNECTOR).await.unwrap().unwrap();
    assert!(!status.last_run.complete);
    let last = status.last_run.error.as_deref().unwrap_or("");
    assert!(
        last.contains("source.api_key") && last.contains("add the connector again") && !last.contains(WRONG),
        "status says what the operator must do: {last}"
    );
    assert_eq!(w.active_ids().await, active_before, "nobody deactivated");

    w.re_add(PLAIN).await;
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    assert_eq!(run.wfo_writes, 0, "{run:?}");
    let status = load_status(w.store.as_ref(), CONNECTOR).await.unwrap().unwrap();
    assert!(status.last_run.complete && status.last_run.error.is_none());
    w.shutdown().await;
}

#[tokio::test]
async fn a_key_of_another_tenant_is_refused_naming_the_tenant_and_deactivates_nobody() {
    let mut w = World::start(PLAIN).await;
    w.sync().await.unwrap();
    let active_before = w.active_ids().await;

    w.re_add(Setup {
        tenant_id: "other-tenant-7",
        ..PLAIN
    })
    .await;
    let e = w.sync().await.expect_err("a foreign tenant stops the run");
    let text = e.to_string();
    assert!(e.needs_operator(), "{text}");
    assert!(
        text.contains("403") && text.contains("source.tenant_id 'other-tenant-7'"),
        "{text}"
    );
    assert!(!text.contains(DEFAULT_API_KEY), "{text}");
    let status = load_status(w.store.as_ref(), CONNECTOR).await.unwrap().unwrap();
    assert!(
        status
            .last_run
            .error
            .as_deref()
            .unwrap_or("")
            .contains("source.tenant_id"),
        "{:?}",
        status.last_run.error
    );
    assert_eq!(w.active_ids().await, active_before, "nobody deactivated");

    w.re_add(PLAIN).await;
    let run = w.sync().await.unwrap();
    assert!(run.complete, "{:?}", run.error);
    w.shutdown().await;
}

#[tokio::test]
async fn malformed_entries_are_named_and_skipped_and_the_rest_synced() {
    let w = World::start(PLAIN).await;
    w.cc.push_raw_aux(
        AuxResource::User,
        json!({"attributes": {"login__s": "ghost@acme.example", "firstName__s": "Ghost"}}),
    );
    w.cc.push_raw_aux(AuxResource::User, json!({"id": "ag-flat", "attributes": "Flat User"}));
    let mut numbered = user("ag-num", "Numa", "Ber", Some(EMEA), "Lisbon");
    numbered.attributes.insert("active__b".into(), json!(1));
    w.cc.upsert_aux(AuxResource::User, numbered);
    w.cc.push_raw_aux(AuxResource::Team, json!({"id": "t-list", "attributes": [1, 2]}));

    let run = w.sync().await.unwrap();
    assert!(
        run.complete,
        "skipped entries do not make a listing partial: {:?}",
        run.error
    );
    let samples = run.warning_samples.join("\n");
    for named in ["no id", "ag-flat", "ag-num", "active__b", "t-list"] {
        assert!(samples.contains(named), "'{named}' is named: {samples}");
    }
    assert_eq!(run.teams.as_ref().unwrap().rejected.len(), 1);
    assert!(
        w.person("ag-flat").await.is_none(),
        "an unreadable entry is not guessed at"
    );
    assert!(w.person("ag-num").await.is_none());
    assert_eq!(w.active_ids().await, ids(&[ANA, BEN, CHLOE, NAT]), "the rest is synced");
    assert_eq!(counts(&run.teams), (3, 0, 0, 0));
    w.shutdown().await;
}

fn with_filter(kind_and_source: &str, field: &str) -> String {
    format!(
        "id = \"c\"\nacd_name = \"C\"\nacd_server_id = 2\n{kind_and_source}\n\
         [wfo]\napi_url = \"https://wfo.example\"\nusername = \"u\"\npassword = \"p\"\n\
         [[acd_filter]]\nfield = \"{field}\"\npattern = \"Sales*\"\n"
    )
}

const CC1: &str = "kind = \"webex-cc-1\"\n[source]\napi_url = \"https://rest.example/aws/api\"\n\
                   media_api_url = \"https://rd.example/cr/get-decrypted-recording\"\n\
                   tenant_id = \"t1\"\nusername = \"api@acme.example\"\napi_key = \"k\"\n";
const CC2: &str = "kind = \"webex-cc-2\"\n[source]\napi_url = \"https://api.wxcc-us1.cisco.com\"\n\
                   tenant_id = \"t1\"\nclient_id = \"id\"\nclient_secret = \"s\"\n";

#[test]
fn acd_filters_name_a_known_field_and_belong_to_contact_center_1_0() {
    assert!(ConnectorConfig::from_toml(&with_filter(CC1, "team_name")).is_ok());
    assert!(ConnectorConfig::from_toml(&with_filter(CC1, "siteName__s")).is_ok());
    let e = ConnectorConfig::from_toml(&with_filter(CC1, "queue"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("acd_filter[0].field"), "{e}");
    assert!(e.contains("team_name"), "the error lists the fields: {e}");
    let e = ConnectorConfig::from_toml(&with_filter(CC2, "team_name"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("acd_filter") && e.contains("webex-cc-1"), "{e}");
}
