//! The contact import of Contact Center 2.0 through the Source port, against the
//! simulator: a connector is connected with `WebexCc2Kind::connect` and driven only
//! through `Arc<dyn Source>` — listing by end time, planning (captures ready, pending,
//! batched), downloading captures (kept links, links that die early), the feature
//! switches and mapping, and what each API failure becomes.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use wfo_domain::Secret;
use wfo_domain::config::{ConnectorConfig, LanguageConfig, MetadataMapping};
use wfo_domain::mapping::MetadataRule;
use wfo_domain::segment::{MediaSlice, SegmentContext};
use wfo_domain::wfo::ContactType;
use wfo_http::RetryPolicy;
use wfo_ports::{
    AuthError, ConnectorSecrets, CredentialScheme, Credentials, ItemPlan, Listed, RefreshOutcome, Source, SourceDeps,
    SourceError, SourceKind, StoredConnector,
};
use wfo_sim_wxcc::{
    CONFIG_READ, DEFAULT_CLIENT_ID, RunningWxccSim, Scenario, ScenarioAgent, ScenarioIds, SimTask, TaskFault,
    TaskPlane, TaskRoute, WxccSim, WxccSimConfig, expected_contacts, generate_tasks,
};
use wfo_webex_cc2::WebexCc2Kind;

/// A token issued by the simulator; renewals are counted (and change nothing).
struct SimToken {
    token: Secret,
    renewals: AtomicU32,
}

#[async_trait]
impl Credentials for SimToken {
    fn scheme(&self) -> CredentialScheme {
        CredentialScheme::OAuth
    }
    async fn current(&self) -> Result<Secret, AuthError> {
        Ok(self.token.clone())
    }
    async fn renew(&self) -> Result<RefreshOutcome, AuthError> {
        self.renewals.fetch_add(1, Ordering::SeqCst);
        Ok(RefreshOutcome::AlreadyFresh)
    }
    async fn ready(&self) -> Result<(), AuthError> {
        Ok(())
    }
}

/// One simulator and the source of a connector pointed at it.
struct Bench {
    sim: RunningWxccSim,
    source: Arc<dyn Source>,
    credentials: Arc<SimToken>,
}

impl Bench {
    /// A simulator and a connector named `name` (its client id, so every test has a rate
    /// limit of its own), configured by `change`.
    async fn start(name: &str, change: impl FnOnce(&mut ConnectorConfig)) -> Bench {
        let sim = WxccSim::start(WxccSimConfig::default()).await.unwrap();
        let (source, credentials) = connect(&sim, name, change);
        Bench {
            sim,
            source,
            credentials,
        }
    }

    fn plane(&self) -> &TaskPlane {
        self.sim.tasks().expect("the simulator serves its task plane")
    }

    /// Plays `scenario` from `ago` before now.
    fn play(&self, scenario: &str, ago: Duration) -> SimTask {
        self.plane()
            .play(scenario, Utc::now() - ago, &agents(), &ScenarioIds::default())
            .unwrap()
    }

    fn count(&self, route: TaskRoute) -> u64 {
        self.plane().request_counts().get(&route).copied().unwrap_or(0)
    }

    async fn plan(&self, task: &SimTask) -> Result<ItemPlan, SourceError> {
        self.source.plan(&task.id, &ctx(Vec::new()), None).await
    }
}

/// A `webex-cc-2` connector for `sim` (valid TOML as the harness writes it), changed by
/// `change`, connected with a fast retry policy.
fn connect(
    sim: &RunningWxccSim,
    name: &str,
    change: impl FnOnce(&mut ConnectorConfig),
) -> (Arc<dyn Source>, Arc<SimToken>) {
    let mut config = ConnectorConfig::from_toml(&format!(
        r#"
id = "{name}"
acd_name = "Import test"
kind = "webex-cc-2"
acd_server_id = 3

[source]
api_url = "{cc}"
identity_url = "{cc}"
tenant_id = "{org}"
username = "cc.admin@sim.example"
client_id = "{name}"
client_secret = "not-used"

[wfo]
api_url = "https://wfo.example"
username = "wfo"
password = "not-used"
"#,
        cc = sim.base_url(),
        org = sim.org_id(),
    ))
    .unwrap();
    change(&mut config);
    let credentials = Arc::new(SimToken {
        token: Secret::new(
            sim.issue_tokens(DEFAULT_CLIENT_ID, &[CONFIG_READ])
                .unwrap()
                .access_token,
        ),
        renewals: AtomicU32::new(0),
    });
    let connector = StoredConnector {
        config,
        secrets: ConnectorSecrets::generate(),
        created_at: Utc::now(),
    };
    let source = WebexCc2Kind
        .connect(
            &connector,
            SourceDeps {
                http: reqwest::Client::new(),
                policy: RetryPolicy::fast(),
                credentials: credentials.clone(),
                quota: None,
            },
        )
        .unwrap();
    (source, credentials)
}

fn agents() -> Vec<ScenarioAgent> {
    (0..2)
        .map(|i| ScenarioAgent {
            ci_user_id: format!("1a2b3c4d-0000-4000-8000-00000000000{i}"),
            name: format!("Agent{i} Sim"),
        })
        .collect()
}

fn ctx(metadata: Vec<MetadataRule>) -> SegmentContext {
    SegmentContext {
        acd_server_id: 3,
        metadata,
    }
}

/// `t` as Search reports it (epoch milliseconds).
fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

/// Bytes of the simulator's WAV of `[start, stop)`: 44 header bytes, then 8 kHz × 2
/// channels × 16 bits.
fn wav_len(start: DateTime<Utc>, stop: DateTime<Utc>) -> u64 {
    44 + u64::try_from((stop - start).num_milliseconds()).unwrap() * 8 * 4
}

// --- 1. listing ------------------------------------------------------------------------

#[tokio::test]
async fn listing_names_every_ended_task_once_with_its_end_checkpoints_each_window_and_leaves_the_delay_out() {
    let b = Bench::start("cc2-import-list", |c| c.sync.capture_delay_minutes = 30).await;
    let now = Utc::now();
    let history = generate_tasks(60, (now - Duration::days(11), now - Duration::hours(2)), &agents(), 5);
    b.plane().insert_history(history.clone());
    // Ended about 40 minutes ago: past the delay, listed.
    let past_delay = b.play("basic-inbound", Duration::minutes(44));
    // Ended about 6 minutes ago (inside the 30-minute delay), and one still running.
    let in_delay = b.play("basic-inbound", Duration::minutes(10));
    let running = b.play("hold", Duration::minutes(1));

    let from = now - Duration::days(12);
    let before = Utc::now();
    let listed: Vec<Listed> = b.source.list_items(from, Utc::now()).try_collect().await.unwrap();
    let after = Utc::now();

    let mut expected: BTreeMap<String, DateTime<Utc>> =
        history.iter().map(|t| (t.id.clone(), ms(t.ended_time))).collect();
    expected.insert(past_delay.id.clone(), ms(past_delay.ended_time));
    let mut seen = BTreeMap::new();
    let mut checkpoints = Vec::new();
    let mut window_start = from;
    for l in &listed {
        match l {
            Listed::Item(item) => {
                assert!(item.unreadable.is_none(), "{item:?}");
                assert!(
                    seen.insert(item.id.clone(), item.time).is_none(),
                    "{} listed twice",
                    item.id
                );
                assert!(item.time >= window_start, "{item:?} before its window");
            }
            Listed::Checkpoint(at) => {
                assert!(*at > window_start, "checkpoints move forward");
                assert!(*at - window_start <= Duration::days(7), "a window is at most a week");
                // Every item of the window came before its checkpoint.
                assert!(seen.values().all(|t| t < at));
                checkpoints.push(*at);
                window_start = *at;
            }
        }
    }
    assert_eq!(
        seen, expected,
        "every ended task past the delay, once, with its end time"
    );
    assert!(!seen.contains_key(&in_delay.id) && !seen.contains_key(&running.id));
    assert_eq!(
        checkpoints.len(),
        2,
        "12 days to now − 30 min: two windows, {checkpoints:?}"
    );
    assert!(
        matches!(listed.last(), Some(Listed::Checkpoint(_))),
        "the walk ends on a checkpoint"
    );
    let last = *checkpoints.last().unwrap();
    assert!(
        last >= before - Duration::minutes(30) && last <= after - Duration::minutes(30),
        "the walk stops at now − capture delay: {last}"
    );
    b.sim.shutdown().await;
}

// --- 2. plan: captures ready, captures pending ----------------------------------------

#[tokio::test]
async fn a_recorded_task_whose_captures_are_ready_plans_contacts_with_their_slices() {
    let b = Bench::start("cc2-import-ready", |_| {}).await;
    let task = b.play("consult-transfer", Duration::minutes(10));
    let plan = b.plan(&task).await.unwrap();

    assert_eq!(plan.interaction_id.as_deref(), Some(task.id.as_str()));
    assert!(plan.keep.is_none() && plan.audio_wait.is_none(), "nothing to wait for");
    assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
    let expected = expected_contacts(Scenario::ConsultTransfer, &task);
    assert_eq!(plan.contacts.len(), expected.len(), "{:?}", plan.contacts);
    let mut contacts: Vec<_> = plan.contacts.iter().collect();
    contacts.sort_by_key(|c| (c.contact.contact.start_time, c.contact.contact.call_duration));
    for (got, want) in contacts.iter().zip(&expected) {
        let c = &got.contact;
        assert_eq!(c.contact.contact_type, ContactType::Call);
        assert_eq!(c.contact.assoc_call_id, task.id);
        assert_eq!(
            (c.contact.start_time, c.contact.call_duration),
            (want.start_ms, want.duration_ms)
        );
        let audio = c.contact.audio.as_ref().expect("recorded: audio");
        assert_eq!(audio.channels, 2);
        let slice = c.media.as_ref().expect("captures ready: a slice");
        let rec = task
            .recordings
            .iter()
            .find(|r| r.id == slice.recording_id)
            .unwrap_or_else(|| panic!("{} is no capture of the task", slice.recording_id));
        assert_eq!(
            rec.call_type == wfo_sim_wxcc::CallType::Consult,
            want.consult_capture,
            "{slice:?}"
        );
        assert_eq!(slice.offset_ms, want.start_ms - rec.start_time.timestamp_millis());
        assert_eq!(slice.duration_ms, want.duration_ms);
        assert!(got.agent_name.is_some(), "CAR nodes name the agent");
    }
    b.sim.shutdown().await;
}

#[tokio::test]
async fn captures_not_ready_wait_and_the_kept_task_plans_again_without_search() {
    let b = Bench::start("cc2-import-pending", |_| {}).await;
    b.plane().set_capture_delay(std::time::Duration::from_secs(3600));
    let task = b.play("basic-inbound", Duration::minutes(10));
    let before = Utc::now();
    let plan = b.plan(&task).await.unwrap();

    assert_eq!(plan.contacts.len(), 1);
    let c = &plan.contacts[0].contact;
    assert!(c.media.is_none(), "no capture yet: no slice");
    assert!(
        c.contact.audio.as_ref().is_some_and(|a| a.expected),
        "audio still expected"
    );
    let wait = plan.audio_wait.as_ref().expect("the plan waits for the audio");
    assert!(wait.requested, "captureRequested: true");
    assert!(wait.next_check > before, "{wait:?}");
    assert_eq!(wait.give_up_at, ms(task.ended_time) + Duration::hours(48));
    let kept = plan.keep.clone().expect("the task is kept for the next plan");

    b.plane().set_capture_delay(std::time::Duration::ZERO);
    let (searches, captures) = (b.count(TaskRoute::Search), b.count(TaskRoute::Captures));
    let again = b.source.plan(&task.id, &ctx(Vec::new()), Some(&kept)).await.unwrap();
    assert_eq!(
        b.count(TaskRoute::Search),
        searches,
        "the kept task is not searched again"
    );
    assert_eq!(b.count(TaskRoute::Captures), captures + 1);
    assert!(again.keep.is_none() && again.audio_wait.is_none());
    let slice = again.contacts[0]
        .contact
        .media
        .as_ref()
        .expect("the capture is there now");
    assert_eq!(slice.recording_id, task.recordings[0].id);
    assert_eq!(slice.offset_ms, 0);
    assert_eq!(slice.duration_ms, again.contacts[0].contact.contact.call_duration);
    b.sim.shutdown().await;
}

// --- 3. batching ---------------------------------------------------------------------

#[tokio::test]
async fn twenty_five_concurrent_plans_share_three_captures_calls_and_each_gets_its_own_task() {
    let b = Bench::start("cc2-import-batch", |_| {}).await;
    let tasks: Vec<SimTask> = (0..25)
        .map(|i| b.play("basic-inbound", Duration::minutes(10) + Duration::seconds(i)))
        .collect();
    let plans = futures::future::join_all(tasks.iter().map(|t| b.plan(t))).await;

    let calls = b.count(TaskRoute::Captures);
    assert!(calls <= 3, "25 tasks, ten a call: {calls} captures/query calls");
    for (task, plan) in tasks.iter().zip(plans) {
        let plan = plan.unwrap();
        assert_eq!(plan.interaction_id.as_deref(), Some(task.id.as_str()));
        let slice = plan.contacts[0].contact.media.as_ref().expect("its capture");
        assert_eq!(slice.recording_id, task.recordings[0].id, "its own task's capture");
    }
    b.sim.shutdown().await;
}

// --- 4. media ------------------------------------------------------------------------

/// The whole stream of `media`.
async fn read_all(media: wfo_ports::Media) -> Vec<u8> {
    media
        .stream
        .try_fold(Vec::new(), |mut acc, chunk| async move {
            acc.extend_from_slice(&chunk);
            Ok(acc)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_capture_downloads_as_its_wav_through_the_kept_link_then_a_fresh_one_once_links_die() {
    let b = Bench::start("cc2-import-media", |_| {}).await;
    let task = b.play("basic-inbound", Duration::minutes(10));
    let plan = b.plan(&task).await.unwrap();
    let slice = plan.contacts[0].contact.media.clone().expect("a slice");
    let rec = &task.recordings[0];
    let captures = b.count(TaskRoute::Captures);

    let media = b.source.open_media(&task.id, &slice).await.unwrap();
    assert_eq!(b.count(TaskRoute::Captures), captures, "the plan's link is used");
    let want = wav_len(rec.start_time, rec.stop_time);
    assert_eq!(media.length, Some(want));
    assert_eq!(media.format.channels, 2);
    assert_eq!(
        media.duration_ms,
        Some((rec.stop_time - rec.start_time).num_milliseconds())
    );
    let bytes = read_all(media).await;
    assert_eq!(bytes.len() as u64, want);
    let header = wfo_sim_wxcc::wav::parse_header(&bytes).expect("a WAV header");
    assert_eq!((header.channels, header.sample_rate), (2, 8000));
    assert_eq!(u64::from(header.data_len), want - 44);

    // Every link dies before its stated time: a fresh one is asked for, once.
    b.plane().expire_links();
    let media = b.source.open_media(&task.id, &slice).await.unwrap();
    assert_eq!(b.count(TaskRoute::Captures), captures + 1, "one fresh link");
    assert_eq!(read_all(media).await.len() as u64, want);

    let unknown = MediaSlice {
        recording_id: "no-such-capture".to_owned(),
        ..slice
    };
    let e = b
        .source
        .open_media(&task.id, &unknown)
        .await
        .expect_err("no such capture");
    assert!(matches!(e, SourceError::Permanent(_)), "{e:?}");
    b.sim.shutdown().await;
}

#[tokio::test]
async fn a_link_that_lives_shorter_than_it_says_is_replaced_and_the_download_succeeds() {
    let b = Bench::start("cc2-import-short-links", |_| {}).await;
    b.plane().set_link_lifetime(Some(std::time::Duration::from_secs(1)));
    let task = b.play("basic-inbound", Duration::minutes(10));
    let plan = b.plan(&task).await.unwrap();
    let slice = plan.contacts[0].contact.media.clone().expect("a slice");
    let captures = b.count(TaskRoute::Captures);
    let media_requests = b.count(TaskRoute::Media);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let media = b.source.open_media(&task.id, &slice).await.unwrap();
    let rec = &task.recordings[0];
    assert_eq!(
        read_all(media).await.len() as u64,
        wav_len(rec.start_time, rec.stop_time)
    );
    assert_eq!(b.count(TaskRoute::Captures), captures + 1, "a fresh link");
    assert_eq!(
        b.count(TaskRoute::Media),
        media_requests + 2,
        "refused, then downloaded"
    );
    b.sim.shutdown().await;
}

// --- 5. what the task and the configuration say ---------------------------------------

#[tokio::test]
async fn a_task_search_does_not_know_is_not_ready() {
    let b = Bench::start("cc2-import-unknown", |_| {}).await;
    let e = b
        .source
        .plan("0f0f0f0f-0000-4000-8000-000000000000", &ctx(Vec::new()), None)
        .await
        .expect_err("unknown task");
    assert!(matches!(e, SourceError::NotReady(_)), "{e:?}");
    assert_eq!(b.count(TaskRoute::Captures), 0);
    b.sim.shutdown().await;
}

#[tokio::test]
async fn a_task_not_recorded_plans_contacts_without_audio_and_asks_for_no_captures() {
    let b = Bench::start("cc2-import-not-recorded", |_| {}).await;
    let task = b.play("not-recorded", Duration::minutes(10));
    let plan = b.plan(&task).await.unwrap();
    assert_eq!(plan.contacts.len(), 1);
    let c = &plan.contacts[0].contact;
    assert!(c.contact.audio.is_none() && c.media.is_none(), "{c:?}");
    assert!(plan.audio_wait.is_none() && plan.keep.is_none());
    assert_eq!(b.count(TaskRoute::Captures), 0, "captureRequested: false");
    b.sim.shutdown().await;
}

#[tokio::test]
async fn quality_management_switches_decide_which_tasks_become_contacts() {
    let voice_off = Bench::start("cc2-import-qm-voice-off", |c| c.features.qm_voice = false).await;
    let task = voice_off.play("basic-inbound", Duration::minutes(10));
    let plan = voice_off.plan(&task).await.unwrap();
    assert!(plan.contacts.is_empty());
    assert!(
        plan.skipped.iter().any(|s| s.contains("qm_voice")),
        "{:?}",
        plan.skipped
    );
    assert_eq!(voice_off.count(TaskRoute::Captures), 0);
    voice_off.sim.shutdown().await;

    // Digital off (the default): a chat is skipped.
    let digital_off = Bench::start("cc2-import-qm-digital-off", |_| {}).await;
    let chat = digital_off.play("chat", Duration::minutes(10));
    let plan = digital_off.plan(&chat).await.unwrap();
    assert!(plan.contacts.is_empty());
    assert!(
        plan.skipped.iter().any(|s| s.contains("qm_digital")),
        "{:?}",
        plan.skipped
    );
    digital_off.sim.shutdown().await;

    // Digital on: a chat contact in the fallback language, else English.
    let digital = Bench::start("cc2-import-qm-digital-on", |c| {
        c.features.qm_digital = true;
        c.language = Some(LanguageConfig {
            metadata_label: None,
            fallback: "de-DE".to_owned(),
        });
    })
    .await;
    let chat = digital.play("chat", Duration::minutes(10));
    let plan = digital.plan(&chat).await.unwrap();
    assert_eq!(plan.contacts.len(), 1, "{plan:?}");
    let c = &plan.contacts[0].contact;
    assert_eq!(c.contact.contact_type, ContactType::Chat);
    assert_eq!(c.contact.language.as_deref(), Some("de-DE"));
    assert!(c.media.is_none() && c.contact.audio.is_none(), "a chat has no audio");
    assert_eq!(digital.count(TaskRoute::Captures), 0);
    let (english, _) = connect(&digital.sim, "cc2-import-qm-digital-en", |c| {
        c.features.qm_digital = true;
    });
    let plan = english.plan(&chat.id, &ctx(Vec::new()), None).await.unwrap();
    assert_eq!(
        plan.contacts[0].contact.contact.language.as_deref(),
        Some("en"),
        "no [language] table"
    );
    // `[language] metadata_label` names a mapping: its value comes first.
    let (labelled, _) = connect(&digital.sim, "cc2-import-qm-digital-label", |c| {
        c.features.qm_digital = true;
        c.metadata_mapping = vec![MetadataMapping {
            acd_field: "lastQueue.name".to_owned(),
            label: "Language".to_owned(),
        }];
        c.language = Some(LanguageConfig {
            metadata_label: Some("language".to_owned()),
            fallback: "de-DE".to_owned(),
        });
    });
    let plan = labelled.plan(&chat.id, &ctx(Vec::new()), None).await.unwrap();
    assert_eq!(
        plan.contacts[0].contact.contact.language.as_deref(),
        Some(ScenarioIds::default().queue_name.as_str()),
        "the mapped field's value, its label matched without case"
    );
    digital.sim.shutdown().await;
}

#[tokio::test]
async fn without_media_import_contacts_have_no_audio_and_no_captures_are_asked_for() {
    let b = Bench::start("cc2-import-no-media", |c| c.features.media_import = false).await;
    let task = b.play("consult-transfer", Duration::minutes(10));
    let plan = b.plan(&task).await.unwrap();
    assert_eq!(plan.contacts.len(), 2);
    for c in &plan.contacts {
        assert!(c.contact.media.is_none() && c.contact.contact.audio.is_none(), "{c:?}");
    }
    assert!(plan.audio_wait.is_none() && plan.keep.is_none(), "nothing to wait for");
    assert_eq!(b.count(TaskRoute::Captures), 0);
    b.sim.shutdown().await;
}

#[tokio::test]
async fn a_task_inside_the_capture_delay_is_not_ready_until_its_end_plus_the_delay() {
    let b = Bench::start("cc2-import-delay", |c| c.sync.capture_delay_minutes = 30).await;
    let task = b.play("basic-inbound", Duration::minutes(10));
    match b.plan(&task).await {
        Err(SourceError::NotReadyUntil { at, .. }) => {
            assert_eq!(at, ms(task.ended_time) + Duration::minutes(30));
        }
        other => panic!("expected NotReadyUntil, got {other:?}"),
    }
    assert_eq!(b.count(TaskRoute::Captures), 0);
    b.sim.shutdown().await;
}

#[tokio::test]
async fn the_simulator_refuses_a_field_search_does_not_have() {
    let sim = WxccSim::start(WxccSimConfig::default()).await.unwrap();
    let token = sim
        .issue_tokens(DEFAULT_CLIENT_ID, &[CONFIG_READ])
        .unwrap()
        .access_token;
    let now = Utc::now();
    let query = format!(
        "{{ taskDetails(from: {}, to: {}) {{ tasks {{ id noSuchField }} }} }}",
        (now - Duration::days(1)).timestamp_millis(),
        now.timestamp_millis()
    );
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/search", sim.base_url()))
        .bearer_auth(token)
        .header("TrackingId", "import-test")
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let errors = answer["errors"].as_array().expect("GraphQL errors");
    assert!(
        errors
            .iter()
            .any(|e| e["message"].as_str().is_some_and(|m| m.contains("noSuchField"))),
        "{answer}"
    );
    sim.shutdown().await;
}

/// A connector mapping `path` to the WFO key `key`, in its configuration and its rules.
fn mapped(path: &str, key: &str) -> (impl FnOnce(&mut ConnectorConfig), SegmentContext) {
    let (p, k) = (path.to_owned(), key.to_owned());
    let change = move |c: &mut ConnectorConfig| {
        c.metadata_mapping = vec![MetadataMapping { acd_field: p, label: k }];
    };
    let rules = vec![MetadataRule {
        acd_field: path.to_owned(),
        wfo_key: key.to_owned(),
    }];
    (change, ctx(rules))
}

#[tokio::test]
async fn a_mapped_path_search_refuses_is_left_out_with_a_note() {
    let (change, ctx) = mapped("noSuchField", "Nothing");
    let b = Bench::start("cc2-import-map-refused", change).await;
    let task = b.play("basic-inbound", Duration::minutes(10));
    let plan = b.source.plan(&task.id, &ctx, None).await.unwrap();
    assert_eq!(plan.contacts.len(), 1);
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("Search refused the mapped fields")),
        "{:?}",
        plan.notes
    );
    assert!(plan.mapping_misses.iter().any(|m| m.path == "noSuchField"));
    assert!(!plan.contacts[0].contact.contact.metadata.contains_key("Nothing"));
    b.sim.shutdown().await;
}

#[tokio::test]
async fn a_mapped_search_field_lands_in_the_contact_metadata() {
    let (change, ctx) = mapped("lastQueue.name", "Queue");
    let b = Bench::start("cc2-import-map-queue", change).await;
    let task = b.play("basic-inbound", Duration::minutes(10));
    let plan = b.source.plan(&task.id, &ctx, None).await.unwrap();
    assert!(!plan.notes.iter().any(|n| n.contains("refused")), "{:?}", plan.notes);
    assert!(plan.mapping_misses.is_empty(), "{:?}", plan.mapping_misses);
    let metadata = &plan.contacts[0].contact.contact.metadata;
    assert_eq!(
        metadata.get("Queue").map(String::as_str),
        Some(ScenarioIds::default().queue_name.as_str()),
        "{metadata:?}"
    );
    b.sim.shutdown().await;
}

// --- 6. failures ---------------------------------------------------------------------

fn fault(route: TaskRoute, times: u32, status: u16) -> TaskFault {
    TaskFault {
        route,
        skip: 0,
        times,
        status,
    }
}

#[tokio::test]
async fn search_and_captures_outages_are_retried_then_handed_back_as_retry() {
    let b = Bench::start("cc2-import-5xx", |_| {}).await;
    let task = b.play("basic-inbound", Duration::minutes(10));

    // Short outages are absorbed by the HTTP layer's retries.
    b.plane().push_fault(fault(TaskRoute::Search, 2, 503));
    b.plane().push_fault(fault(TaskRoute::Captures, 2, 500));
    let plan = b.plan(&task).await.unwrap();
    assert!(plan.contacts[0].contact.media.is_some());

    // Longer ones are the pipeline's to retry (faults left over do not matter: each
    // route's outage comes last for that route).
    b.plane().push_fault(fault(TaskRoute::Captures, 50, 502));
    let e = b.plan(&task).await.expect_err("captures down");
    assert!(matches!(e, SourceError::Retry { .. }), "{e:?}");
    b.plane().push_fault(fault(TaskRoute::Search, 50, 503));
    let e = b.plan(&task).await.expect_err("Search down");
    assert!(matches!(e, SourceError::Retry { .. }), "{e:?}");
    let e = b
        .source
        .list_items(Utc::now() - Duration::days(1), Utc::now())
        .filter_map(|r| std::future::ready(r.err()))
        .next()
        .await
        .expect("the listing fails");
    assert!(matches!(e, SourceError::Retry { .. }), "{e:?}");
    b.sim.shutdown().await;
}

#[tokio::test]
async fn a_429_waits_its_retry_after_or_hands_it_back() {
    let b = Bench::start("cc2-import-429", |_| {}).await;
    let task = b.play("basic-inbound", Duration::minutes(10));

    // Within the policy's longest wait (2 s): waited out.
    b.sim.push_429(1, 1);
    let started = std::time::Instant::now();
    b.plan(&task).await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "Retry-After honoured"
    );

    // Longer: handed back with the wait.
    b.sim.push_429(1, 30);
    match b.plan(&task).await {
        Err(SourceError::Retry { after, .. }) => {
            assert_eq!(after, Some(std::time::Duration::from_secs(30)));
        }
        other => panic!("expected Retry, got {other:?}"),
    }
    b.sim.shutdown().await;
}

#[tokio::test]
async fn a_401_from_search_is_unauthorized_and_one_from_captures_renews_the_token_once() {
    let b = Bench::start("cc2-import-401", |_| {}).await;
    let task = b.play("basic-inbound", Duration::minutes(10));

    b.plane().push_fault(fault(TaskRoute::Search, 1, 401));
    let e = b.plan(&task).await.expect_err("Search refused the token");
    assert!(matches!(e, SourceError::Unauthorized(_)), "{e:?}");

    b.plane().push_fault(fault(TaskRoute::Captures, 1, 401));
    let plan = b.plan(&task).await.unwrap();
    assert!(plan.contacts[0].contact.media.is_some());
    assert_eq!(b.credentials.renewals.load(Ordering::SeqCst), 1, "renewed once");

    b.plane().push_fault(fault(TaskRoute::Captures, 2, 401));
    let e = b.plan(&task).await.expect_err("refused after renewing");
    assert!(matches!(e, SourceError::Unauthorized(_)), "{e:?}");
    b.sim.shutdown().await;
}

/// Every scenario the simulator plays becomes the contacts it expects of it, with audio
/// exactly when the scenario is recorded.
#[tokio::test]
async fn every_scenario_plans_the_contacts_the_simulator_expects_of_it() {
    let b = Bench::start("cc2-import-scenarios", |c| c.features.qm_digital = true).await;
    let mut ids = HashSet::new();
    for scenario in Scenario::ALL {
        let task = b.play(scenario.name(), Duration::minutes(10));
        let plan = b.plan(&task).await.unwrap();
        let expected = expected_contacts(scenario, &task);
        assert_eq!(plan.contacts.len(), expected.len(), "{}: {plan:?}", scenario.name());
        for c in &plan.contacts {
            assert_eq!(
                c.contact.media.is_some(),
                expected.iter().any(|e| e.has_audio),
                "{}",
                scenario.name()
            );
            assert!(
                ids.insert(c.contact.contact.external_id.clone()),
                "external ids are unique"
            );
        }
    }
    b.sim.shutdown().await;
}
