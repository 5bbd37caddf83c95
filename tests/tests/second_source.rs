//! The Source port is enough: a second source, written here in a few dozen lines and
//! registered beside the built-in ones, imports a call through the real webhook route,
//! ledger, queue, worker and WFO simulator — with an API key instead of OAuth, two agents
//! named by the plan, and each agent's slice of the audio: MP3, or (calls named `wav-…`)
//! Contact Center stereo PCM WAV cut at sample frames.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use wfo_domain::Secret;
use wfo_domain::config::{ConnectorConfig, ConnectorKind};
use wfo_domain::ledger::{AgentName, Stage};
use wfo_domain::segment::{MediaSlice, SegmentContext, SegmentedContact};
use wfo_domain::wfo::{AgentRef, AudioFormat, AudioSpec, ContactImport, ContactType, Direction};
use wfo_pipeline::import::ImportSettings;
use wfo_pipeline::ports::*;
use wfo_pipeline::runtime::{RunningRuntime, RuntimeConfig};
use wfo_sim_wfo::{SimConfig, WfoSim};

const CALL_MS: i64 = 10_000;

/// The fake source system: deliveries carry the webhook secret in a header and name a
/// call; every call is a transfer from agent "a-1" (0–6 s) to agent "b-2" (6–10 s).
struct FakeKind;

struct FakeSource {
    credentials: Arc<dyn Credentials>,
}

impl SourceKind for FakeKind {
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
        Ok(Arc::new(FakeSource {
            credentials: deps.credentials,
        }))
    }
}

fn contact(
    call: &str,
    n: usize,
    agent: &str,
    offset_ms: i64,
    duration_ms: i64,
    ctx: &SegmentContext,
) -> SegmentedContact {
    SegmentedContact {
        contact: ContactImport {
            external_id: format!("fake:{call}:{n}"),
            assoc_call_id: call.to_owned(),
            contact_type: ContactType::Call,
            start_time: 1_900_000_000_000 + offset_ms,
            call_duration: duration_ms,
            ani: Some("+15550100".into()),
            dnis: Some("+15550199".into()),
            direction: Direction::Inbound,
            agent: AgentRef {
                acd_id: agent.to_owned(),
                acd_server_id: ctx.acd_server_id,
            },
            language: None,
            events: Vec::new(),
            metadata: Default::default(),
            audio: Some(if call.starts_with("wav") {
                AudioSpec {
                    expected: true,
                    format: AudioFormat::Wav,
                    channels: 2,
                }
            } else {
                AudioSpec {
                    expected: true,
                    format: AudioFormat::Mp3,
                    channels: 1,
                }
            }),
        },
        media: Some(MediaSlice {
            recording_id: format!("{call}-audio"),
            offset_ms,
            duration_ms,
        }),
    }
}

#[async_trait]
impl Source for FakeSource {
    fn list_items(&self, from: DateTime<Utc>, _: DateTime<Utc>) -> BoxStream<'_, Result<Listed, SourceError>> {
        // The listing shows one call it cannot read, completes its first window, then breaks.
        futures::stream::iter([
            Ok(Listed::Item(ListedItem {
                id: "listed-bad".into(),
                time: from,
                unreadable: Some("list calls: an item could not be read (startTime: null)".into()),
            })),
            Ok(Listed::Checkpoint(from + chrono::Duration::minutes(1))),
            Err(SourceError::retry("the listing broke after its first window")),
        ])
        .boxed()
    }
    async fn plan(
        &self,
        item_id: &str,
        ctx: &SegmentContext,
        kept: Option<&serde_json::Value>,
    ) -> Result<ItemPlan, SourceError> {
        if item_id == "call-panics" {
            panic!("a bug in a source, met by call {item_id}");
        }
        assert_eq!(self.credentials.current().await?.expose(), "fake-api-key");
        let name = |f: &str| AgentName::from_display(f, None);
        let mut contacts = vec![
            PlannedContact {
                contact: contact(item_id, 0, "a-1", 0, 6_000, ctx),
                agent_name: name("Ada Lovelace"),
            },
            PlannedContact {
                contact: contact(item_id, 1, "b-2", 6_000, 4_000, ctx),
                agent_name: name("Bo Diddley"),
            },
        ];
        // `late-…` calls: the audio is not there when the contacts are planned. A
        // `late-ready-…` call has it when planned again (with what the first plan kept);
        // `late-never-recorded-…` and `late-never-…` never do, and their wait runs out.
        let (mut keep, mut audio_wait) = (None, None);
        let late = item_id.starts_with("late-") && !(item_id.starts_with("late-ready") && kept.is_some());
        if let Some(k) = kept {
            assert_eq!(k["call"], item_id, "the pipeline hands back what this item's plan kept");
        }
        if late {
            for c in &mut contacts {
                c.contact.media = None;
            }
            // The wait is counted from the first plan (what a source keeps it for).
            let now = Utc::now();
            let since = kept
                .and_then(|k| k["since"].as_i64())
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or(now);
            keep = Some(serde_json::json!({ "call": item_id, "since": since.timestamp_millis() }));
            audio_wait = Some(wfo_domain::ledger::AudioWait {
                next_check: now + chrono::Duration::milliseconds(100),
                give_up_at: since + chrono::Duration::milliseconds(800),
                requested: item_id.starts_with("late-never-recorded") || item_id.starts_with("late-ready"),
                checks: 0,
            });
        }
        Ok(ItemPlan {
            interaction_id: Some(item_id.to_owned()),
            contacts,
            notes: Vec::new(),
            skipped: Vec::new(),
            mapping_misses: Vec::new(),
            keep,
            audio_wait,
        })
    }
    async fn open_media(&self, _item_id: &str, media: &MediaSlice) -> Result<Media, SourceError> {
        if media.recording_id.starts_with("wav") {
            // Caller and agent on two channels, as Contact Center 2.0 records them; a
            // `wav-ulaw-…` call says its samples are μ-law.
            let wav = wfo_audio::synthetic::PcmWav::contact_center();
            let frames = wav.frames_for(CALL_MS as u64);
            let stream = if media.recording_id.starts_with("wav-ulaw") {
                let mut bytes = wav.bytes(frames);
                bytes[20] = 7;
                futures::stream::iter([Ok(bytes.into())]).boxed()
            } else {
                wav.stream(frames, 4096)
            };
            return Ok(Media {
                stream,
                length: Some(wav.len(frames)),
                format: MediaFormat {
                    format: AudioFormat::Wav,
                    channels: 2,
                },
                duration_ms: Some(CALL_MS),
            });
        }
        let mp3 = wfo_audio::synthetic::SilentMp3::new(8_000, 16, true).expect("a valid shape");
        let frames = mp3.frames_for(CALL_MS as u64);
        Ok(Media {
            stream: mp3.stream(frames, 4096),
            length: None,
            format: MediaFormat {
                format: AudioFormat::Mp3,
                channels: 1,
            },
            duration_ms: Some(CALL_MS),
        })
    }
    fn user_sync(&self) -> Option<UserSyncProfile> {
        None
    }
    async fn list_users(&self, _: UserListingRequest<'_>) -> Result<UserListing, SourceError> {
        Err(SourceError::Operator("no users".into()))
    }
    async fn identity(&self) -> Result<Identity, SourceError> {
        Err(SourceError::Operator("an API key has no identity call".into()))
    }
    async fn ensure_webhook(&self, _: &str, _: &str, _: &Secret) -> Result<Registration, SourceError> {
        Err(SourceError::Operator("no webhooks".into()))
    }
}

/// The built-in sources, plus the fake one for its kind.
struct WithFake;

impl Registry for WithFake {
    fn source_kind(&self, kind: ConnectorKind) -> Option<Arc<dyn SourceKind>> {
        match kind {
            ConnectorKind::WebexCc1 => Some(Arc::new(FakeKind)),
            other => wfo_sources::Sources.source_kind(other),
        }
    }
}

struct World {
    wfo: wfo_sim_wfo::RunningSim,
    store: Arc<wfo_store::SqliteStore>,
    rt: RunningRuntime,
    secret: String,
    _dir: tempfile::TempDir,
}

async fn start() -> World {
    let wfo = WfoSim::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(wfo_store::SqliteStore::open(dir.path()).unwrap());
    let config = ConnectorConfig::from_toml(&format!(
        r#"
id = "fake-cc"
acd_name = "A second source"
kind = "webex-cc-1"
acd_server_id = 5

[source]
api_url = "http://127.0.0.1:9"
media_api_url = "http://127.0.0.1:9"
tenant_id = "tenant"
username = "admin@fake.example"
api_key = "fake-api-key"

[wfo]
api_url = "{}"
username = "{}"
password = "{}"

[features]
webhook = false
user_sync = false
"#,
        wfo.base_url(),
        wfo_sim_wfo::DEFAULT_USER,
        wfo_sim_wfo::DEFAULT_PASSWORD
    ))
    .unwrap();
    let stored = store.put_connector(&config, Utc::now()).await.unwrap();
    let rt = RunningRuntime::start(
        store.clone(),
        Arc::new(WithFake),
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
        secret: stored.secrets.webhook_secret.expose().to_owned(),
        _dir: dir,
    }
}

impl World {
    async fn deliver(&self, secret: &str, call: &str) -> u16 {
        reqwest::Client::new()
            .post(format!("{}/webhooks/fake-cc", self.rt.public_url))
            .header("x-fake-secret", secret)
            .body(serde_json::json!({ "call": call }).to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn item_when(
        &self,
        call: &str,
        done: impl Fn(&wfo_domain::ledger::LedgerItem) -> bool,
    ) -> wfo_domain::ledger::LedgerItem {
        let mut item = None;
        for _ in 0..200 {
            item = self.store.get("fake-cc", call).await.unwrap();
            if item.as_ref().is_some_and(&done) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        item.expect("the delivery is in the ledger")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_source_imports_a_call_through_webhook_ledger_worker_and_wfo() {
    let w = start().await;
    assert_eq!(w.deliver("not-the-secret", "call-7").await, 401);
    assert!(
        w.store.get("fake-cc", "call-7").await.unwrap().is_none(),
        "a forged delivery records nothing"
    );
    for _ in 0..2 {
        assert_eq!(w.deliver(&w.secret, "call-7").await, 200);
    }
    let item = w.item_when("call-7", |i| i.stage == Stage::Done).await;
    assert_eq!(item.stage, Stage::Done, "{item:?}");
    let World { wfo, rt, _dir, .. } = w;

    let contacts = wfo.contacts();
    assert_eq!(contacts.len(), 2, "one contact per agent, once: {contacts:?}");
    for c in &contacts {
        let import = &c.contact.import;
        assert_eq!(import.assoc_call_id, "call-7");
        let bytes = wfo.audio_bytes(c.contact.id).expect("audio uploaded");
        let ms = wfo_audio::mp3_duration_ms(&bytes).expect("playable MP3");
        assert!(
            (ms - import.call_duration).abs() <= 100,
            "{} ms of audio for {} ms",
            ms,
            import.call_duration
        );
    }
    let mut names: Vec<String> = wfo
        .persons()
        .iter()
        .filter(|p| p.input.acd_server_id == Some(5))
        .map(|p| format!("{} {}", p.input.first_name, p.input.last_name))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["Ada Lovelace", "Bo Diddley"],
        "persons are named from the plan"
    );
    rt.shutdown().await;
    wfo.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stereo_wav_call_is_cut_per_agent_at_sample_frames_and_stays_stereo() {
    let w = start().await;
    assert_eq!(w.deliver(&w.secret, "wav-call-8").await, 200);
    let item = w.item_when("wav-call-8", |i| i.stage == Stage::Done).await;
    assert_eq!(item.stage, Stage::Done, "{item:?}");
    let shape = wfo_audio::synthetic::PcmWav::contact_center();
    let whole = shape.bytes(shape.frames_for(CALL_MS as u64));
    let contacts = w.wfo.contacts();
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    for c in &contacts {
        let import = &c.contact.import;
        let spec = import.audio.as_ref().expect("audio announced");
        assert_eq!((spec.format, spec.channels), (AudioFormat::Wav, 2));
        let bytes = w.wfo.audio_bytes(c.contact.id).expect("audio uploaded");
        let format = wfo_audio::wav_format(&bytes).expect("a WAV");
        assert_eq!(
            (format.channels, format.sample_rate, format.bits_per_sample),
            (2, 8_000, 16)
        );
        assert_eq!(format.duration_ms(), Some(import.call_duration));
        // Exactly the agent's frames of the recording, both channels, in order.
        let offset_ms = import.start_time - 1_900_000_000_000;
        let from = 44 + offset_ms as usize * 8 * 4;
        let len = import.call_duration as usize * 8 * 4;
        assert_eq!(bytes.len(), 44 + len);
        assert!(bytes[44..] == whole[from..from + len], "contact at {offset_ms} ms");
    }
    w.rt.shutdown().await;
    w.wfo.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mu_law_wav_is_never_cut_and_the_item_says_why() {
    let w = start().await;
    assert_eq!(w.deliver(&w.secret, "wav-ulaw-call-3").await, 200);
    let item = w
        .item_when("wav-ulaw-call-3", |i| {
            i.last_error.as_deref().is_some_and(|e| e.contains("μ-law"))
        })
        .await;
    let error = item.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("μ-law") && error.contains("never mis-sliced"),
        "{item:?}"
    );
    assert_ne!(item.stage, Stage::Done);
    for c in w.wfo.contacts() {
        assert!(w.wfo.audio_bytes(c.contact.id).is_none(), "no audio was stored");
    }
    w.rt.shutdown().await;
    w.wfo.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_one_items_work_is_recorded_on_the_item_and_the_worker_goes_on() {
    let w = start().await;
    assert_eq!(w.deliver(&w.secret, "call-panics").await, 200);
    let failed = w
        .item_when("call-panics", |i| i.health == wfo_domain::ledger::Health::Failed)
        .await;
    assert_eq!(failed.health, wfo_domain::ledger::Health::Failed, "{failed:?}");
    let error = failed.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("panicked") && error.contains("a bug in a source"),
        "{error}"
    );
    // The worker loop survived: the next call imports.
    assert_eq!(w.deliver(&w.secret, "call-7").await, 200);
    let done = w.item_when("call-7", |i| i.stage == Stage::Done).await;
    assert_eq!(done.stage, Stage::Done, "{done:?}");
    w.rt.shutdown().await;
    w.wfo.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_listed_item_becomes_a_visible_dead_item_and_the_poll_goes_on() {
    let w = start().await;
    let item = w
        .item_when("listed-bad", |i| i.health == wfo_domain::ledger::Health::Dead)
        .await;
    assert_eq!(item.health, wfo_domain::ledger::Health::Dead, "{item:?}");
    assert!(
        item.last_error.as_deref().unwrap_or("").contains("startTime: null"),
        "{item:?}"
    );
    // The poll failed after its first window, and still kept that window's progress.
    let state = common_poll_state(&w).await;
    assert!(!state.ok, "the poll is recorded as failed");
    let cursor: wfo_pipeline::reconcile::Cursor = serde_json::from_value(
        w.store
            .get_value("fake-cc", wfo_pipeline::reconcile::CURSOR_KEY)
            .await
            .unwrap()
            .expect("the checkpoint moved the cursor"),
    )
    .unwrap();
    assert!(
        cursor.newest_seen > Utc::now() - chrono::Duration::days(2),
        "{cursor:?}"
    );
    w.rt.shutdown().await;
    w.wfo.shutdown().await.unwrap();
}

async fn common_poll_state(w: &World) -> wfo_pipeline::schedule::PollState {
    for _ in 0..100 {
        if let Some(v) = w
            .store
            .get_value("fake-cc", wfo_pipeline::schedule::POLL_STATE_KEY)
            .await
            .unwrap()
        {
            return serde_json::from_value(v).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no poll attempt recorded")
}

/// Contacts first, audio later, through the port alone: the contacts are imported without
/// audio, the item waits, the next plan gets what the first one kept and brings the audio;
/// a wait that runs out finishes the item without audio — as a visible failure when the
/// source said the call was recorded, with a note when it did not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_that_comes_later_follows_its_contacts_and_a_wait_that_runs_out_is_said() {
    let w = start().await;
    for call in ["late-ready-1", "late-never-recorded-1", "late-never-1"] {
        assert_eq!(w.deliver(&w.secret, call).await, 200);
    }
    let ready = w.item_when("late-ready-1", |i| i.stage == Stage::Done).await;
    assert_eq!(ready.stage, Stage::Done, "{ready:?}");
    assert!(ready.contacts.iter().all(|c| c.audio_bytes.is_some_and(|b| b > 0)));
    assert!(ready.audio_wait.is_none() && ready.source_state.is_none());
    let recorded = w
        .item_when("late-never-recorded-1", |i| {
            i.health == wfo_domain::ledger::Health::Dead
        })
        .await;
    assert_eq!(recorded.health, wfo_domain::ledger::Health::Dead, "{recorded:?}");
    let why = recorded.last_error.clone().unwrap_or_default();
    assert!(why.contains("still have no audio") && why.contains("recorded"), "{why}");
    assert!(
        recorded.contacts.iter().all(|c| c.contact_id.is_some()),
        "the contacts stay in WFO"
    );
    // An operator's backfill revives it: the source is asked once more (with what it
    // kept), and the item is dead again with one more check counted.
    let checks = recorded.audio_wait.as_ref().map(|wait| wait.checks).unwrap_or(0);
    let mut revived = recorded.clone();
    revived.revive(Utc::now());
    w.store.put(&revived).await.unwrap();
    let again = w
        .item_when("late-never-recorded-1", |i| {
            i.health == wfo_domain::ledger::Health::Dead && i.audio_wait.as_ref().is_some_and(|a| a.checks > checks)
        })
        .await;
    assert!(
        again.audio_wait.as_ref().is_some_and(|a| a.checks == checks + 1),
        "looked once more: {again:?}"
    );
    let unknown = w.item_when("late-never-1", |i| i.stage == Stage::Done).await;
    assert_eq!(unknown.stage, Stage::Done, "{unknown:?}");
    assert!(
        unknown.notes.iter().any(|n| n.contains("imported without audio")),
        "{:?}",
        unknown.notes
    );
    let World { wfo, rt, _dir, .. } = w;
    let contacts = wfo.contacts();
    assert_eq!(contacts.len(), 6, "two contacts a call, once each");
    for c in &contacts {
        let with_audio = wfo.audio_bytes(c.contact.id).is_some();
        assert_eq!(
            with_audio,
            c.contact.import.assoc_call_id == "late-ready-1",
            "{}",
            c.contact.import.external_id
        );
    }
    rt.shutdown().await;
    wfo.shutdown().await.unwrap();
}
