//! Contact Center 1.0 through the Source port, against its simulator: a connector is
//! connected with `WebexCc1Kind::connect` and driven only through `Arc<dyn Source>` —
//! CSR listing (windows by end, paging past 500 records, a dataset that cannot progress),
//! planning (recording there, not yet there, kept records), the media API (mono WAV, not
//! WAV at all), and what a refused key or another tenant becomes.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::segment::SegmentContext;
use wfo_domain::wfo::ContactType;
use wfo_http::RetryPolicy;
use wfo_ports::{
    AuthError, ConnectorSecrets, CredentialScheme, Credentials, Listed, RefreshOutcome, Source, SourceDeps,
    SourceError, SourceKind, StoredConnector,
};
use wfo_sim_wxcc::{Scenario, ScenarioAgent, expected_contacts};
use wfo_sim_wxcc1::{Fault, Route, RunningWxcc1Sim, Wxcc1Sim, Wxcc1SimConfig};
use wfo_webex_cc1::WebexCc1Kind;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The key of the configuration; renewing it is an operator's job.
struct Key(Secret);

#[async_trait]
impl Credentials for Key {
    fn scheme(&self) -> CredentialScheme {
        CredentialScheme::ApiKey
    }
    async fn current(&self) -> Result<Secret, AuthError> {
        Ok(self.0.clone())
    }
    async fn renew(&self) -> Result<RefreshOutcome, AuthError> {
        Err(AuthError::ApiKey {
            connector: "t".to_owned(),
            reason: "refused".to_owned(),
        })
    }
    async fn ready(&self) -> Result<(), AuthError> {
        Ok(())
    }
}

fn agents() -> Vec<ScenarioAgent> {
    vec![
        ScenarioAgent {
            ci_user_id: "agent-a".to_owned(),
            name: "Ann Agent".to_owned(),
        },
        ScenarioAgent {
            ci_user_id: "agent-b".to_owned(),
            name: "Bob Bauer".to_owned(),
        },
    ]
}

fn ctx() -> SegmentContext {
    SegmentContext {
        acd_server_id: 5,
        metadata: Vec::new(),
    }
}

/// A `webex-cc-1` connector for `sim` with `key`, media at `media` (the simulator's by
/// default), changed by `change`.
fn connect(
    sim: &RunningWxcc1Sim,
    name: &str,
    key: &str,
    media: Option<String>,
    change: impl FnOnce(&mut ConnectorConfig),
) -> Arc<dyn Source> {
    let creds = sim.credentials();
    let mut config = ConnectorConfig::from_toml(&format!(
        r#"
id = "{name}"
acd_name = "CC1 test"
kind = "webex-cc-1"
acd_server_id = 5

[source]
api_url = "{api}"
tenant_id = "{tenant}"
username = "{user}"
media_api_url = "{media}"
api_key = "{key}"

[wfo]
api_url = "https://wfo.example"
username = "wfo"
password = "not-used"

[features]
qm_digital = true
"#,
        api = sim.base_url(),
        tenant = creds.tenant_id,
        user = creds.username,
        media = media.unwrap_or_else(|| sim.media_url()),
    ))
    .unwrap();
    change(&mut config);
    let connector = StoredConnector {
        config,
        secrets: ConnectorSecrets::generate(),
        created_at: Utc::now(),
    };
    WebexCc1Kind
        .connect(
            &connector,
            SourceDeps {
                http: reqwest::Client::new(),
                policy: RetryPolicy::fast(),
                credentials: Arc::new(Key(Secret::new(key))),
                quota: None,
            },
        )
        .unwrap()
}

async fn sim() -> RunningWxcc1Sim {
    Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap()
}

fn good(sim: &RunningWxcc1Sim, name: &str) -> Arc<dyn Source> {
    connect(sim, name, &sim.credentials().api_key, None, |_| {})
}

async fn listed(
    source: &dyn Source,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (Vec<(String, DateTime<Utc>)>, Vec<DateTime<Utc>>) {
    let all: Vec<Listed> = source.list_items(from, to).try_collect().await.unwrap();
    let mut items = Vec::new();
    let mut checkpoints = Vec::new();
    for l in all {
        match l {
            Listed::Item(i) => {
                assert!(i.unreadable.is_none(), "{i:?}");
                items.push((i.id, i.time));
            }
            Listed::Checkpoint(t) => checkpoints.push(t),
        }
    }
    (items, checkpoints)
}

#[tokio::test]
async fn sessions_are_listed_by_their_end_once_each_across_pages_and_windows() {
    let sim = sim().await;
    let source = good(&sim, "list");
    let now = Utc::now();
    // 620 sessions ending within the last 3 hours (more than one 500-record page).
    let mut sids = Vec::new();
    for i in 0..620i64 {
        let task = sim
            .play(
                Scenario::BasicInbound,
                now - Duration::minutes(200) + Duration::seconds(i * 15),
                &agents(),
            )
            .unwrap();
        if task.ended_time < now - Duration::minutes(1) {
            sids.push((task.id.clone(), task.ended_time));
        }
    }
    // A long session that started 5 h ago and ended in the window, and one that ended
    // before it.
    let long = sim
        .play(Scenario::BasicInbound, now - Duration::hours(5), &agents())
        .unwrap();
    let from = now - Duration::hours(4);
    let (items, checkpoints) = listed(source.as_ref(), from, now - Duration::minutes(1)).await;
    let mut want: Vec<String> = sids
        .iter()
        .filter(|(_, e)| *e >= from)
        .map(|(s, _)| s.clone())
        .collect();
    want.sort();
    let mut got: Vec<String> = items.iter().map(|(s, _)| s.clone()).collect();
    got.sort();
    assert_eq!(got.len(), want.len(), "each session once");
    assert_eq!(got, want);
    assert!(!got.contains(&long.id), "ended before the window");
    for (sid, t) in &items {
        let s = sim.session(sid).unwrap();
        assert_eq!(t.timestamp_millis(), s.csr.cetts, "listed at its end");
    }
    assert_eq!(checkpoints, vec![now - Duration::minutes(1)]);
    let csr_calls = sim.request_counts()[&Route::Csrs];
    assert!((2..=4).contains(&csr_calls), "{csr_calls} CSR queries for 620 sessions");

    // A session that started 5 h before the window's start but ended inside it is found
    // (the window reaches MAX_SESSION back by start).
    let late = sim
        .play(Scenario::BasicInbound, now - Duration::hours(30), &agents())
        .unwrap();
    let (items, _) = listed(
        source.as_ref(),
        late.ended_time - Duration::minutes(1),
        late.ended_time + Duration::minutes(1),
    )
    .await;
    assert_eq!(
        items.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        [late.id.as_str()]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dataset_that_cannot_progress_is_an_error_with_what_was_listed_kept() {
    let sim = sim().await;
    let source = good(&sim, "stuck");
    let base = Utc::now() - Duration::hours(1);
    // 501 sessions starting in the same millisecond: a 500-record page marked incomplete
    // cannot move dateBegin past them.
    for _ in 0..501 {
        sim.play(Scenario::BasicInbound, base, &agents()).unwrap();
    }
    let out: Vec<Result<Listed, SourceError>> = source
        .list_items(base - Duration::minutes(1), Utc::now() - Duration::minutes(1))
        .collect()
        .await;
    let items = out.iter().filter(|r| matches!(r, Ok(Listed::Item(_)))).count();
    let err = out.iter().find_map(|r| r.as_ref().err()).expect("an error");
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("does not end"), "{err}");
    assert_eq!(items, 500, "what came before the error is listed");
    assert!(
        !out.iter().any(|r| matches!(r, Ok(Listed::Checkpoint(_)))),
        "the window is not complete"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_recorded_session_becomes_the_scenarios_contacts_with_mono_slices_of_one_recording() {
    let sim = sim().await;
    let source = good(&sim, "plan");
    for scenario in Scenario::ALL {
        let task = sim.play(scenario, Utc::now() - Duration::hours(1), &agents()).unwrap();
        let plan = source.plan(&task.id, &ctx(), None).await.unwrap();
        let want = expected_contacts(scenario, &task);
        assert_eq!(plan.contacts.len(), want.len(), "{scenario:?}: {:?}", plan.notes);
        let session = sim.session(&task.id).unwrap();
        for (c, w) in plan.contacts.iter().zip(&want) {
            let ci = &c.contact.contact;
            assert_eq!(
                (ci.agent.acd_id.as_str(), ci.start_time, ci.call_duration),
                (w.agent_ci_id.as_str(), w.start_ms, w.duration_ms),
                "{scenario:?}"
            );
            assert_eq!(ci.assoc_call_id, task.id);
            assert!(ci.external_id.starts_with(&format!("wxcc1:{}:", task.id)));
            assert_eq!(c.contact.media.is_some(), w.has_audio, "{scenario:?}");
            if let Some(m) = &c.contact.media {
                let rec = session.recording.as_ref().unwrap();
                assert_eq!(m.recording_id, task.id);
                assert_eq!(m.offset_ms, ci.start_time - rec.start_ms, "{scenario:?}");
                assert_eq!(ci.audio.as_ref().unwrap().channels, 1);
            }
            if ci.contact_type != ContactType::Call {
                assert!(ci.audio.is_none() && ci.language.is_some());
            }
        }
        // Names come from the CARs (an agent only ever named as a destination has none).
        assert!(
            plan.contacts.first().is_none_or(|c| c.agent_name.is_some()),
            "{scenario:?}"
        );
        if scenario == Scenario::NotRecorded {
            // 1.0 has no "capture requested" flag: a telephony session's audio is awaited
            // until the wait gives up (WXCC1-A04), its contacts already in WFO.
            let wait = plan.audio_wait.as_ref().expect("awaited");
            assert!(!wait.requested);
            assert!(
                plan.contacts
                    .iter()
                    .all(|c| c.contact.contact.audio.as_ref().is_some_and(|a| a.expected))
            );
        } else {
            assert!(plan.audio_wait.is_none() && plan.keep.is_none(), "{scenario:?}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn audio_comes_later_from_the_kept_records_without_asking_for_them_again() {
    let sim = sim().await;
    let source = good(&sim, "late");
    sim.set_capture_delay(std::time::Duration::from_secs(3 * 3600));
    let task = sim
        .play(Scenario::ConsultTransfer, Utc::now() - Duration::hours(1), &agents())
        .unwrap();
    let first = source.plan(&task.id, &ctx(), None).await.unwrap();
    assert!(!first.contacts.is_empty());
    assert!(first.contacts.iter().all(|c| {
        c.contact.media.is_none()
            && c.contact
                .contact
                .audio
                .as_ref()
                .is_some_and(|a| a.expected && a.channels == 1)
    }));
    let wait = first.audio_wait.expect("audio awaited");
    assert!(!wait.requested, "a 404 that outlasts the wait means no recording");
    let kept = first.keep.expect("CSR and CARs kept");
    assert!(kept["csr"].is_object() && kept["cars"].is_array());
    let media = Wxcc1Test::slice_of(&sim, &task.id).await;
    assert!(media.is_err(), "not ready yet: {media:?}");

    sim.set_capture_delay(std::time::Duration::ZERO);
    let before = sim.request_counts();
    let again = source.plan(&task.id, &ctx(), Some(&kept)).await.unwrap();
    let after = sim.request_counts();
    assert_eq!(before.get(&Route::Cars), after.get(&Route::Cars), "no CAR query");
    assert_eq!(before.get(&Route::Csrs), after.get(&Route::Csrs), "no CSR query");
    assert!(again.audio_wait.is_none());
    assert_eq!(again.contacts.len(), first.contacts.len());
    for (a, b) in again.contacts.iter().zip(&first.contacts) {
        assert_eq!(
            a.contact.contact.external_id, b.contact.contact.external_id,
            "same contacts"
        );
        assert!(a.contact.media.is_some());
    }
    // The slice opens as mono WAV.
    let m = &again.contacts[0].contact.media.as_ref().unwrap().clone();
    let opened = source.open_media(&task.id, m).await.unwrap();
    assert_eq!(opened.format.channels, 1);
    let bytes: Vec<u8> = opened
        .stream
        .try_fold(Vec::new(), |mut v, b| async move {
            v.extend_from_slice(&b);
            Ok(v)
        })
        .await
        .unwrap();
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1, "mono");
    sim.shutdown().await;
}

/// Small helpers over the simulator.
struct Wxcc1Test;

impl Wxcc1Test {
    /// The media API's answer for `sid`, signed as a client would.
    async fn slice_of(sim: &RunningWxcc1Sim, sid: &str) -> Result<u16, u16> {
        let c = sim.credentials();
        let r = reqwest::Client::new()
            .get(format!("{}?sessionId={sid}", sim.media_url()))
            .header("From", c.username.as_str())
            .header("Authorization", sim.authorization())
            .send()
            .await
            .unwrap();
        if r.status().is_success() {
            Ok(r.status().as_u16())
        } else {
            Err(r.status().as_u16())
        }
    }
}

#[tokio::test]
async fn a_refused_key_asks_for_renewal_and_another_tenant_for_an_operator() {
    let sim = sim().await;
    let task = sim
        .play(Scenario::BasicInbound, Utc::now() - Duration::hours(1), &agents())
        .unwrap();
    let wrong = connect(&sim, "wrong-key", "not-the-key", None, |_| {});
    let e = wrong.plan(&task.id, &ctx(), None).await.unwrap_err();
    assert!(matches!(e, SourceError::Unauthorized(_)), "{e}");
    assert!(
        e.to_string().contains("source.api_key") && !e.to_string().contains("not-the-key"),
        "{e}"
    );
    let e = wrong.identity().await.unwrap_err();
    assert!(matches!(e, SourceError::Unauthorized(_)), "{e}");

    let other = connect(&sim, "other-tenant", &sim.credentials().api_key, None, |c| {
        c.source.tenant_id = "someone-else".to_owned();
    });
    let e = other.plan(&task.id, &ctx(), None).await.unwrap_err();
    assert!(e.needs_operator(), "{e}");
    assert!(e.to_string().contains("tenant"), "{e}");

    let ok = good(&sim, "right");
    let id = ok.identity().await.unwrap();
    assert_eq!(id.org_id, sim.credentials().tenant_id);
    sim.shutdown().await;
}

#[tokio::test]
async fn csrs_of_another_tenant_stop_the_listing_for_an_operator() {
    let sim = sim().await;
    let task = sim
        .play(Scenario::BasicInbound, Utc::now() - Duration::hours(1), &agents())
        .unwrap();
    let mut s = sim.session(&task.id).unwrap();
    s.csr.tid = "tenant-of-someone-else".to_owned();
    sim.insert_session(s);
    let source = good(&sim, "mismatch");
    let out: Vec<Result<Listed, SourceError>> = source
        .list_items(Utc::now() - Duration::hours(2), Utc::now())
        .collect()
        .await;
    let e = out.into_iter().find_map(Result::err).expect("an error");
    assert!(
        e.needs_operator() && e.to_string().contains("tenant-of-someone-else"),
        "{e}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_media_answer_that_is_not_wav_is_named() {
    let sim = sim().await;
    let task = sim
        .play(Scenario::BasicInbound, Utc::now() - Duration::hours(1), &agents())
        .unwrap();
    let html = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html><body>Sign in</body></html>", "text/html"))
        .mount(&html)
        .await;
    let source = connect(&sim, "html-media", &sim.credentials().api_key, Some(html.uri()), |_| {});
    let e = source.plan(&task.id, &ctx(), None).await.unwrap_err();
    assert!(e.needs_operator() && e.to_string().contains("media_api_url"), "{e}");

    let mp3 = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(b"ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(), "audio/mpeg"),
        )
        .mount(&mp3)
        .await;
    let source = connect(&sim, "mp3-media", &sim.credentials().api_key, Some(mp3.uri()), |_| {});
    let e = source.plan(&task.id, &ctx(), None).await.unwrap_err();
    assert!(
        matches!(&e, SourceError::Permanent(m) if m.contains("not a WAV")),
        "{e}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn transient_failures_are_retried_by_the_http_layer() {
    let sim = sim().await;
    let source = good(&sim, "faults");
    let task = sim
        .play(Scenario::Conference, Utc::now() - Duration::hours(1), &agents())
        .unwrap();
    for route in [Route::Cars, Route::Csrs, Route::Media] {
        sim.push_fault(Fault {
            route,
            skip: 0,
            times: 2,
            status: 503,
        });
    }
    let plan = source.plan(&task.id, &ctx(), None).await.unwrap();
    assert_eq!(
        plan.contacts.len(),
        expected_contacts(Scenario::Conference, &task).len()
    );
    assert!(plan.contacts.iter().all(|c| c.contact.media.is_some()));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_offline_segmenter_reads_a_session_file() {
    let task = wfo_sim_wxcc::scenario::build(
        Scenario::ConsultTransfer,
        Utc::now() - Duration::hours(1),
        &agents(),
        &wfo_sim_wxcc::ScenarioIds::default(),
        &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7),
    )
    .unwrap();
    let s = wfo_sim_wxcc1::Session::from_task(&task, "t");
    let doc = serde_json::json!({ "csr": s.csr, "cars": s.cars });
    let contacts = WebexCc1Kind.segment_file(&doc, &ctx()).unwrap();
    let want = expected_contacts(Scenario::ConsultTransfer, &task);
    assert_eq!(contacts.len(), want.len());
    for (c, w) in contacts.iter().zip(&want) {
        assert_eq!(
            (c.contact.start_time, c.contact.call_duration),
            (w.start_ms, w.duration_ms)
        );
        assert_eq!(
            c.media.as_ref().map(|m| m.recording_id.as_str()),
            Some(task.id.as_str())
        );
    }
    let e = WebexCc1Kind
        .segment_file(&serde_json::json!({"cars": []}), &ctx())
        .unwrap_err();
    assert!(e.to_string().contains("csr"), "{e}");
}
