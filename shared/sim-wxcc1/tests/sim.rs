//! The 1.0 simulator over HTTP: API-key auth, CSR/CAR queries, aux-data paging, media
//! readiness and format, and 2.0 scenarios played as 1.0 sessions (reference §6.4).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wfo_sim_wxcc::wav::parse_header;
use wfo_sim_wxcc1::{
    AuxItem, AuxResource, Csr, Fault, Route, RunningWxcc1Sim, Scenario, ScenarioAgent, Session, Wxcc1Sim,
    Wxcc1SimConfig, authorization,
};

struct Client {
    http: reqwest::Client,
    from: String,
    auth: String,
}

impl Client {
    fn of(sim: &RunningWxcc1Sim) -> Client {
        Client {
            http: reqwest::Client::new(),
            from: sim.credentials().username,
            auth: sim.authorization(),
        }
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .header("From", &self.from)
            .header("Authorization", &self.auth)
            .send()
            .await
            .unwrap()
    }

    async fn json(&self, url: &str) -> (u16, Value) {
        let r = self.get(url).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn q_url(base: &str, resource: &str, q: &Value) -> String {
    let mut url = url::Url::parse(&format!("{base}/{resource}")).unwrap();
    url.query_pairs_mut().append_pair("q", &q.to_string());
    url.to_string()
}

fn csr_query(from: i64, to: i64, n: u64) -> Value {
    json!({"dateBegin": [from], "dateEnd": [to], "activityType": "CSR", "numberOfRecords": n, "timezone": "UTC"})
}

fn agents() -> Vec<ScenarioAgent> {
    vec![
        ScenarioAgent {
            ci_user_id: "ci-agent-a".into(),
            name: "Ann Agent".into(),
        },
        ScenarioAgent {
            ci_user_id: "ci-agent-b".into(),
            name: "Bob Agent".into(),
        },
    ]
}

fn plain_session(sid: &str, cstts: i64, cetts: i64) -> Session {
    Session {
        csr: Csr {
            sid: sid.into(),
            tid: "sim-tenant-1".into(),
            ani: "+14085550001".into(),
            dnis: "+18005550100".into(),
            cstts,
            cetts,
            call_direction: "inbound".into(),
            channel_type: "telephony".into(),
            agent_name: None,
            queue_id: None,
            team_id: None,
        },
        cars: Vec::new(),
        recording: None,
    }
}

/// `(event, cstts, cetts, agentId, destinationAgentId)` of one CAR.
type Interval = (String, i64, i64, Option<String>, Option<String>);

/// A base time far enough back that every scenario (≤ 236 s) has ended.
fn ten_minutes_ago(sim: &RunningWxcc1Sim) -> DateTime<Utc> {
    sim.now() - chrono::Duration::minutes(10)
}

#[tokio::test]
async fn signed_requests_pass_and_bad_signatures_or_foreign_tenants_are_refused() {
    let sim = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
    let url = format!("{}/auxiliary-data/resources/team?page=0&pageSize=100", sim.base_url());
    let c = sim.credentials();
    let http = reqwest::Client::new();
    let send = |from: &str, auth: Option<String>| {
        let mut r = http.get(&url).header("From", from);
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(send(&c.username, Some(sim.authorization())).await, 200);
    assert_eq!(
        send(&c.username, Some(authorization("wrong-key", &c.username, &c.tenant_id))).await,
        401
    );
    assert_eq!(
        send(
            "someone@else.example",
            Some(authorization(&c.api_key, "someone@else.example", &c.tenant_id))
        )
        .await,
        401
    );
    assert_eq!(send(&c.username, None).await, 401);
    assert_eq!(
        send(
            &c.username,
            Some(authorization(&c.api_key, &c.username, "other-tenant"))
        )
        .await,
        403
    );
    assert_eq!(sim.refused_requests(), 4);
    assert_eq!(sim.request_counts().get(&Route::AuxData), Some(&1));
    // Every route is guarded, the media host included.
    let media = http
        .get(format!("{}?sessionId=x", sim.media_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn csr_window_filters_on_start_and_pages_with_is_complete() {
    let sim = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
    let t0 = ten_minutes_ago(&sim).timestamp_millis();
    for i in 0..5 {
        sim.insert_session(plain_session(&format!("s{i}"), t0 + i * 1_000, t0 + i * 1_000 + 30_000));
    }
    // Started before the window (ends inside it): not returned.
    sim.insert_session(plain_session("early", t0 - 5_000, t0 + 60_000));
    // Started inside the window but not ended yet: not returned.
    let now = sim.now().timestamp_millis();
    sim.insert_session(plain_session("running", t0 + 2_500, now + 60_000));
    let client = Client::of(&sim);
    let end = t0 + 60_000;

    let mut seen = Vec::new();
    let mut begin = t0;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 10, "paging does not end");
        let (status, body) = client
            .json(&q_url(sim.base_url(), "csrs", &csr_query(begin, end, 2)))
            .await;
        assert_eq!(status, 200, "{body}");
        let meta = &body["datasetMetadata"];
        let data = body["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        assert_eq!(meta["numberOfRecordsInDataset"], data.len());
        let found = meta["numberOfRecordsFound"].as_u64().unwrap() as usize;
        assert_eq!(meta["isComplete"], data.len() == found);
        seen.extend(data.iter().map(|r| r["sid"].as_str().unwrap().to_owned()));
        if meta["isComplete"] == true {
            break;
        }
        begin = data.last().unwrap()["cstts"].as_i64().unwrap() + 1;
    }
    assert_eq!(seen, ["s0", "s1", "s2", "s3", "s4"]);
    assert_eq!(pages, 3);

    // The first page says how many there are in all.
    let (_, first) = client
        .json(&q_url(sim.base_url(), "csrs", &csr_query(t0, end, 2)))
        .await;
    assert_eq!(first["datasetMetadata"]["numberOfRecordsFound"], 5);
    assert_eq!(first["datasetMetadata"]["isComplete"], false);
    let row = &first["data"][0];
    for field in [
        "sid",
        "tid",
        "ani",
        "dnis",
        "cstts",
        "cetts",
        "callDirection",
        "channelType",
        "agentName",
        "queueId",
        "teamId",
    ] {
        assert!(row.get(field).is_some(), "CSR lacks {field}: {row}");
    }

    // Malformed queries name what is wrong.
    for (q, needle) in [
        (
            json!({"dateBegin": t0, "dateEnd": [end], "activityType": "CSR", "numberOfRecords": 2}),
            "dateBegin",
        ),
        (
            json!({"dateBegin": [t0], "dateEnd": [end], "activityType": "CSR"}),
            "numberOfRecords",
        ),
    ] {
        let (status, body) = client.json(&q_url(sim.base_url(), "csrs", &q)).await;
        assert_eq!(status, 400);
        assert!(body["message"].as_str().unwrap().contains(needle), "{body}");
    }
    let (status, body) = client.json(&format!("{}/csrs", sim.base_url())).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("missing query parameter q"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn cars_of_a_session_carry_ids_agents_and_intervals() {
    let sim = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
    let task = sim
        .play(Scenario::BasicInbound, ten_minutes_ago(&sim), &agents())
        .unwrap();
    let client = Client::of(&sim);
    let (status, body) = client
        .json(&q_url(
            sim.base_url(),
            "cars",
            &json!({"sid": task.id, "activityType": "CAR"}),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let cars = body["data"].as_array().unwrap();
    assert_eq!(cars.len(), task.activities.len());
    assert_eq!(body["datasetMetadata"]["isComplete"], true);
    for car in cars {
        let (cstts, event) = (car["cstts"].as_i64().unwrap(), car["event"].as_str().unwrap());
        assert_eq!(car["id"], format!("{}-{cstts}-{event}", task.id));
        assert_eq!(car["sid"], task.id.as_str());
    }
    let connected = cars.iter().find(|c| c["event"] == "connected").unwrap();
    assert_eq!(connected["agentId"], "ci-agent-a");
    assert_eq!(connected["agentName"], "Ann Agent");

    let (status, body) = client
        .json(&q_url(
            sim.base_url(),
            "cars",
            &json!({"sid": "unknown", "activityType": "CAR"}),
        ))
        .await;
    assert_eq!((status, body["data"].as_array().map(Vec::len)), (200, Some(0)));
    let (status, body) = client
        .json(&q_url(sim.base_url(), "cars", &json!({"activityType": "CAR"})))
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("sid"));
    sim.shutdown().await;
}

#[tokio::test]
async fn aux_data_pages_until_an_empty_list() {
    let sim = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
    for i in 0..250 {
        sim.upsert_aux(
            AuxResource::User,
            AuxItem::user(
                &format!("u{i:03}"),
                &format!("agent{i}@example.com"),
                "First",
                &format!("Last{i}"),
                Some("t1"),
                true,
            ),
        );
    }
    sim.upsert_aux(AuxResource::Team, AuxItem::named("t1", "Team One", true));
    sim.upsert_aux(AuxResource::VirtualTeam, AuxItem::named("q1", "Queue One", true));
    let client = Client::of(&sim);
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    for page in 0.. {
        let url = format!(
            "{}/auxiliary-data/resources/user?page={page}&pageSize=100",
            sim.base_url()
        );
        let (status, body) = client.json(&url).await;
        assert_eq!(status, 200);
        let list = body["auxiliaryDataList"].as_array().unwrap().clone();
        sizes.push(list.len());
        if list.is_empty() {
            break;
        }
        let first = &list[0]["attributes"];
        for attr in [
            "login__s",
            "firstName__s",
            "lastName__s",
            "name__s",
            "active__b",
            "teamId__s",
        ] {
            assert!(first.get(attr).is_some(), "user lacks {attr}: {first}");
        }
        ids.extend(list.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(sizes, [100, 100, 50, 0]);
    assert_eq!(ids.len(), 250);
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 250);

    let (_, teams) = client
        .json(&format!(
            "{}/auxiliary-data/resources/team?page=0&pageSize=100",
            sim.base_url()
        ))
        .await;
    assert_eq!(teams["auxiliaryDataList"][0]["attributes"]["name__s"], "Team One");
    let (_, queues) = client
        .json(&format!("{}/auxiliary-data/resources/virtualTeam", sim.base_url()))
        .await;
    assert_eq!(queues["auxiliaryDataList"][0]["id"], "q1");
    let (status, _) = client
        .json(&format!("{}/auxiliary-data/resources/routing-strategy", sim.base_url()))
        .await;
    assert_eq!(status, 404);
    let (status, body) = client
        .json(&format!("{}/auxiliary-data/resources/user?page=-1", sim.base_url()))
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("page"));
    sim.shutdown().await;
}

#[tokio::test]
async fn media_is_404_until_ready_then_a_mono_wav_of_the_recording_span() {
    let sim = Wxcc1Sim::start(Wxcc1SimConfig {
        capture_delay: Duration::from_secs(15 * 60),
        ..Wxcc1SimConfig::default()
    })
    .await
    .unwrap();
    let task = sim.play(Scenario::Hold, ten_minutes_ago(&sim), &agents()).unwrap();
    let session = sim.session(&task.id).unwrap();
    let first_connected = session
        .cars
        .iter()
        .find(|c| c.event == "connected" && c.agent_id.is_some())
        .unwrap()
        .cstts;
    let span_ms = session.csr.cetts - first_connected;
    let client = Client::of(&sim);
    let url = format!("{}?sessionId={}", sim.media_url(), task.id);

    // Ready 15 minutes after the session ended: a second before, still 404.
    assert_eq!(client.get(&url).await.status(), 404);
    let ready_at = session.csr.cetts + 15 * 60_000;
    let until_ready = ready_at - sim.now().timestamp_millis();
    assert!(until_ready > 2_000);
    sim.advance_clock(Duration::from_millis((until_ready - 1_000) as u64));
    assert_eq!(client.get(&url).await.status(), 404);
    sim.advance_clock(Duration::from_secs(2));

    let r = client.get(&url).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    let bytes = r.bytes().await.unwrap();
    let fmt = parse_header(&bytes).unwrap();
    assert_eq!((fmt.channels, fmt.sample_rate, fmt.bits_per_sample), (1, 8_000, 16));
    assert_eq!(fmt.duration_ms(), span_ms as u64);
    assert_eq!(bytes.len() as u64, 44 + span_ms as u64 * 8 * 2);
    // The recording starts at A's answer: the first 100 ms are the caller's tone.
    assert!(bytes[44..44 + 1_600].chunks(2).any(|s| s != [0, 0]));

    // A session without a recording never has media; a missing sessionId is a 400.
    let unrecorded = sim
        .play(Scenario::NotRecorded, ten_minutes_ago(&sim), &agents())
        .unwrap();
    let r = client
        .get(&format!("{}?sessionId={}", sim.media_url(), unrecorded.id))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(client.get(&sim.media_url()).await.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_consult_transfer_played_through_1_0_has_the_2_0_activities_as_cars() {
    let sim = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
    let base = ten_minutes_ago(&sim);
    let task = sim.play(Scenario::ConsultTransfer, base, &agents()).unwrap();
    let client = Client::of(&sim);
    let (_, body) = client
        .json(&q_url(
            sim.base_url(),
            "cars",
            &json!({"sid": task.id, "activityType": "CAR"}),
        ))
        .await;
    let mut got: Vec<Interval> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["event"].as_str().unwrap().to_owned(),
                c["cstts"].as_i64().unwrap(),
                c["cetts"].as_i64().unwrap(),
                c["agentId"].as_str().map(str::to_owned),
                c["destinationAgentId"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let mut want: Vec<_> = task
        .activities
        .iter()
        .map(|a| {
            (
                a.event_name.clone(),
                a.created_time.timestamp_millis(),
                a.ended_time.timestamp_millis(),
                a.agent.as_ref().map(|x| x.id.clone()),
                a.destination_agent.as_ref().map(|x| x.id.clone()),
            )
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert!(
        got.iter()
            .any(|c| c.0 == "consulting" && c.4.as_deref() == Some("ci-agent-b"))
    );

    // The CSR is the task's; the one recording starts at A's answer (26 s) and runs to cetts.
    let from = base.timestamp_millis();
    let (_, csrs) = client
        .json(&q_url(sim.base_url(), "csrs", &csr_query(from, from + 1, 10)))
        .await;
    let csr = &csrs["data"][0];
    assert_eq!(csr["sid"], task.id.as_str());
    assert_eq!(csr["cetts"], task.ended_time.timestamp_millis());
    assert_eq!(csr["callDirection"], "inbound");
    assert_eq!(csr["agentName"], "Bob Agent");
    let rec = sim.session(&task.id).unwrap().recording.unwrap();
    assert_eq!(
        (rec.start_ms, rec.end_ms),
        (from + 26_000, task.ended_time.timestamp_millis())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_outbound_call_is_an_outdial_session_and_faults_are_served_once() {
    let sim = Wxcc1Sim::start(Wxcc1SimConfig::default()).await.unwrap();
    let base = ten_minutes_ago(&sim);
    sim.play(Scenario::Outbound, base, &agents()).unwrap();
    sim.push_fault(Fault {
        route: Route::Csrs,
        skip: 0,
        times: 1,
        status: 503,
    });
    let client = Client::of(&sim);
    let from = base.timestamp_millis();
    let url = q_url(sim.base_url(), "csrs", &csr_query(from, from + 1, 10));
    assert_eq!(client.json(&url).await.0, 503);
    let (status, body) = client.json(&url).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["callDirection"], "outdial");
    assert_eq!(sim.request_counts().get(&Route::Csrs), Some(&2));
    sim.shutdown().await;
}
