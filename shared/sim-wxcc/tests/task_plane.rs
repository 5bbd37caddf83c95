//! The task plane over HTTP: Search shapes and errors, paging, captures and their
//! links, WAV audio, scenario layouts (reference §2.4) and events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wfo_sim_wxcc::scenario::{Scenario, build};
use wfo_sim_wxcc::wav::{CONSULT_TONES_HZ, parse_header};
use wfo_sim_wxcc::{
    ScenarioAgent, ScenarioIds, SimClock, SimTask, TaskEventKind, TaskFault, TaskPlane, TaskRoute, generate_tasks,
};

struct Server {
    base: String,
    plane: TaskPlane,
    http: reqwest::Client,
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

async fn start() -> Server {
    let plane = TaskPlane::new(SimClock::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = plane.router();
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    plane.set_public_base_url(base.clone());
    Server {
        base,
        plane,
        http: reqwest::Client::new(),
        handle,
    }
}

impl Server {
    async fn gql(&self, query: &str) -> Value {
        let r = self
            .http
            .post(format!("{}/search", self.base))
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn captures(&self, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/v1/captures/query", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    fn now(&self) -> DateTime<Utc> {
        self.plane.clock().now()
    }
}

fn agents() -> Vec<ScenarioAgent> {
    ["Alice", "Bob", "Carol"]
        .iter()
        .enumerate()
        .map(|(i, n)| ScenarioAgent {
            ci_user_id: format!("0000000{i}-aaaa-4bbb-8ccc-00000000000{i}"),
            name: n.to_string(),
        })
        .collect()
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn play(s: &Server, name: &str, ago_minutes: i64) -> SimTask {
    let base = s.now() - chrono::Duration::minutes(ago_minutes);
    s.plane.play(name, base, &agents(), &ScenarioIds::default()).unwrap()
}

#[tokio::test]
async fn search_answers_the_reference_task_list_query() {
    let s = start().await;
    let task = play(&s, "blind-transfer", 60);
    let from = ms(s.now()) - 3_600_000 * 2;
    let to = ms(s.now());
    let body = s
        .gql(&format!(
            r#"{{ taskDetails(from: {from}, to: {to}, timeComparator: endedTime,
              filter: {{ channelType: {{ equals: telephony }} }}, pagination: {{ cursor: "NA" }}) {{
                tasks {{ id createdTime endedTime direction origin destination terminationType captureRequested
                        owner {{ id name }} lastQueue {{ id name }} lastTeam {{ id name }}
                        holdCount holdDuration consultCount conferenceCount transferCount blindTransferCount }}
                pageInfo {{ hasNextPage endCursor }} }} }}"#
        ))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let t = &body["data"]["taskDetails"]["tasks"][0];
    assert_eq!(t["id"], task.id.as_str());
    assert_eq!(t["createdTime"], ms(task.created_time));
    assert_eq!(t["endedTime"], ms(task.ended_time));
    assert_eq!(t["direction"], "inbound");
    assert_eq!(t["captureRequested"], true);
    assert_eq!(t["owner"]["id"], agents()[1].ci_user_id.as_str());
    assert_eq!(t["lastQueue"]["name"], "Q_Sim_Main");
    assert_eq!(
        (t["transferCount"].as_i64(), t["blindTransferCount"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(body["data"]["taskDetails"]["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn search_per_task_activities_query_returns_car_nodes() {
    let s = start().await;
    let task = play(&s, "consult-transfer", 30);
    let from = ms(s.now()) - 86_400_000;
    let to = ms(s.now());
    let body = s
        .gql(&format!(
            r#"{{ taskDetails(from: {from}, to: {to}, filter: {{ id: {{ equals: "{}" }} }}) {{
                tasks {{ id activities(first: 100) {{ totalCount
                  nodes {{ id eventName createdTime(sort: asc) endedTime duration agentId agentName agentSessionId
                          queueId teamId transferType destinationAgentId destinationQueueId childContactId }}
                  pageInfo {{ hasNextPage endCursor }} }} }} }} }}"#,
            task.id
        ))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let acts = &body["data"]["taskDetails"]["tasks"][0]["activities"];
    assert_eq!(acts["totalCount"], task.activities.len() as i64);
    assert_eq!(acts["pageInfo"]["hasNextPage"], false);
    let consulting = acts["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["eventName"] == "consulting")
        .unwrap();
    assert_eq!(consulting["agentId"], agents()[0].ci_user_id.as_str());
    assert_eq!(consulting["destinationAgentId"], agents()[1].ci_user_id.as_str());
    assert_eq!(consulting["duration"], 29_000);
}

#[tokio::test]
async fn search_takes_typed_variables_and_match_filters() {
    let s = start().await;
    let task = play(&s, "hold", 30);
    let query = r#"query Tasks($from: Long!, $to: Long!, $cmp: QueryTimeType, $f: TaskDetailsFilters, $p: Pagination) {
        taskDetails(from: $from, to: $to, timeComparator: $cmp, filter: $f, pagination: $p) {
            tasks { id origin } pageInfo { hasNextPage endCursor } } }"#;
    let vars = |pattern: &str| {
        json!({ "from": ms(s.now()) - 3_600_000, "to": ms(s.now()), "cmp": "endedTime",
                "f": { "origin": { "match": pattern } }, "p": { "cursor": "NA" } })
    };
    for (pattern, hits) in [("+1408555.+", 1), ("+1409.*", 0)] {
        let r = s
            .http
            .post(format!("{}/search", s.base))
            .json(&json!({ "query": query, "variables": vars(pattern), "operationName": "Tasks" }))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        let tasks = body["data"]["taskDetails"]["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), hits, "{pattern}");
        if hits == 1 {
            assert_eq!(tasks[0]["id"], task.id.as_str());
        }
    }
}

#[tokio::test]
async fn search_window_rules_are_graphql_errors() {
    let s = start().await;
    let now = ms(s.now());
    let day = 86_400_000i64;
    let cases = [
        (now - day, now - 2 * day, "tasks { id }"),
        (now - 37 * 31 * day, now - 37 * 30 * day, "tasks { id }"),
        (now - 400 * day, now, "tasks { id }"),
        (now - 40 * day, now, "tasks { id activities { nodes { id } } }"),
    ];
    for (from, to, sel) in cases {
        let body = s
            .gql(&format!("{{ taskDetails(from: {from}, to: {to}) {{ {sel} }} }}"))
            .await;
        assert!(
            body["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{from} {to}: {body}"
        );
        assert!(body["data"].is_null(), "{body}");
    }
    // 40 days without activities is fine; a future `to` is clamped.
    let ok = s
        .gql(&format!(
            "{{ taskDetails(from: {}, to: {}) {{ tasks {{ id }} }} }}",
            now - 40 * day,
            now + day
        ))
        .await;
    assert!(ok.get("errors").is_none(), "{ok}");
    // Unknown arguments are validation errors.
    let bad = s
        .gql(&format!(
            "{{ taskDetails(from: {}, to: {now}, bogus: 1) {{ tasks {{ id }} }} }}",
            now - day
        ))
        .await;
    assert!(bad["errors"].as_array().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn search_pages_600_tasks_by_250_with_cursors() {
    let s = start().await;
    let now = s.now();
    let tasks = generate_tasks(
        600,
        (now - chrono::Duration::days(10), now - chrono::Duration::hours(1)),
        &agents(),
        7,
    );
    let want: BTreeSet<String> = tasks.iter().map(|t| t.id.clone()).collect();
    s.plane.insert_history(tasks);
    let (from, to) = (ms(now) - 11 * 86_400_000, ms(now));
    let mut cursor = "NA".to_owned();
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let body = s
            .gql(&format!(
                r#"{{ taskDetails(from: {from}, to: {to}, pagination: {{ cursor: "{cursor}" }}) {{
                    tasks {{ id createdTime }} pageInfo {{ hasNextPage endCursor }} }} }}"#
            ))
            .await;
        let d = &body["data"]["taskDetails"];
        let page = d["tasks"].as_array().unwrap();
        sizes.push(page.len());
        seen.extend(page.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        if d["pageInfo"]["hasNextPage"] != true {
            break;
        }
        cursor = d["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
        assert!(sizes.len() < 5);
    }
    assert_eq!(sizes, vec![250, 250, 100]);
    assert_eq!(seen.len(), 600);
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), want);

    // A tampered cursor is an error, not a page.
    let mut chars: Vec<char> = cursor.chars().collect();
    chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let body = s
        .gql(&format!(
            r#"{{ taskDetails(from: {from}, to: {to}, pagination: {{ cursor: "{tampered}" }}) {{ tasks {{ id }} }} }}"#
        ))
        .await;
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("cursor"),
        "{body}"
    );
}

#[tokio::test]
async fn activities_page_inside_a_task_and_first_is_capped_at_100() {
    let s = start().await;
    let task = play(&s, "conference", 30);
    let (from, to) = (ms(s.now()) - 3_600_000, ms(s.now()));
    let mut after = String::new();
    let mut names = Vec::new();
    for _ in 0..10 {
        let arg = if after.is_empty() {
            String::new()
        } else {
            format!(", after: \"{after}\"")
        };
        let body = s
            .gql(&format!(
                r#"{{ taskDetails(from: {from}, to: {to}, filter: {{ id: {{ equals: "{}" }} }}) {{
                    tasks {{ activities(first: 4{arg}) {{ totalCount nodes {{ eventName }} pageInfo {{ hasNextPage endCursor }} }} }} }} }}"#,
                task.id
            ))
            .await;
        let a = &body["data"]["taskDetails"]["tasks"][0]["activities"];
        let nodes = a["nodes"].as_array().unwrap();
        assert!(nodes.len() <= 4);
        names.extend(nodes.iter().map(|n| n["eventName"].as_str().unwrap().to_owned()));
        if a["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = a["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    }
    let want: Vec<String> = task.activities.iter().map(|a| a.event_name.clone()).collect();
    assert_eq!(names, want);

    let body = s
        .gql(&format!(
            r#"{{ taskDetails(from: {from}, to: {to}) {{ tasks {{ id activities(first: 101) {{ totalCount }} }} }} }}"#
        ))
        .await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("100"), "{body}");
    assert!(body["data"]["taskDetails"]["tasks"][0]["activities"].is_null());
}

#[tokio::test]
async fn id_filter_equals_and_or_select_tasks() {
    let s = start().await;
    let a = play(&s, "basic-inbound", 30);
    let b = play(&s, "hold", 20);
    let _c = play(&s, "outbound", 10);
    let (from, to) = (ms(s.now()) - 3_600_000, ms(s.now()));
    let ids = |body: &Value| -> BTreeSet<String> {
        body["data"]["taskDetails"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let one = s
        .gql(&format!(
            r#"{{ taskDetails(from: {from}, to: {to}, filter: {{ id: {{ equals: "{}" }} }}) {{ tasks {{ id }} }} }}"#,
            a.id
        ))
        .await;
    assert_eq!(ids(&one), BTreeSet::from([a.id.clone()]));
    let two = s
        .gql(&format!(
            r#"{{ taskDetails(from: {from}, to: {to}, filter: {{ or: [{{ id: {{ equals: "{}" }} }}, {{ id: {{ equals: "{}" }} }}] }}) {{ tasks {{ id }} }} }}"#,
            a.id, b.id
        ))
        .await;
    assert_eq!(ids(&two), BTreeSet::from([a.id.clone(), b.id.clone()]));
    let all = s
        .gql(&format!(
            "{{ taskDetails(from: {from}, to: {to}) {{ tasks {{ id }} }} }}"
        ))
        .await;
    assert_eq!(ids(&all).len(), 3);
}

#[tokio::test]
async fn running_task_has_no_ended_time_and_ended_comparator_skips_it() {
    let s = start().await;
    let task = play(&s, "basic-inbound", 1); // started a minute ago, lasts ~4 minutes
    let (from, to) = (ms(s.now()) - 3_600_000, ms(s.now()));
    let by_created = s
        .gql(&format!(
            "{{ taskDetails(from: {from}, to: {to}) {{ tasks {{ id endedTime isActive status activities(first: 100) {{ totalCount }} }} }} }}"
        ))
        .await;
    let t = &by_created["data"]["taskDetails"]["tasks"][0];
    assert_eq!(t["id"], task.id.as_str());
    assert!(t["endedTime"].is_null());
    assert_eq!(t["isActive"], true);
    assert!(t["activities"]["totalCount"].as_i64().unwrap() < task.activities.len() as i64);
    let by_ended = s
        .gql(&format!(
            "{{ taskDetails(from: {from}, to: {to}, timeComparator: endedTime) {{ tasks {{ id }} }} }}"
        ))
        .await;
    assert_eq!(by_ended["data"]["taskDetails"]["tasks"], json!([]));
}

#[tokio::test]
async fn captures_query_limits_are_400() {
    let s = start().await;
    let ids: Vec<String> = (0..11).map(|i| format!("task-{i}")).collect();
    let (status, body) = s
        .captures(json!({ "query": { "taskIds": ids, "urlExpiration": 30 } }))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["key"], "400");
    let (status, _) = s
        .captures(json!({ "query": { "taskIds": ["a"], "urlExpiration": 61 } }))
        .await;
    assert_eq!(status, 400);
    let (status, _) = s.captures(json!({ "taskIds": ["a"] })).await;
    assert_eq!(status, 400);
    // Ten unknown ids: 200, each with an empty recording list.
    let ten: Vec<String> = (0..10).map(|i| format!("task-{i}")).collect();
    let (status, body) = s
        .captures(json!({ "query": { "taskIds": ten, "urlExpiration": 60 } }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 10);
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["recording"] == json!([]))
    );
}

#[tokio::test]
async fn capture_appears_only_after_the_delay() {
    let s = start().await;
    s.plane.set_capture_delay(Duration::from_secs(600));
    let task = play(&s, "consult-transfer", 6);
    let q = json!({ "query": { "taskIds": [task.id], "urlExpiration": 30, "includeSegments": false } });
    let (status, body) = s.captures(q.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["taskId"], task.id.as_str());
    assert_eq!(body["data"][0]["recording"], json!([]));
    s.plane.clock().advance(chrono::Duration::minutes(10));
    let (_, body) = s.captures(q).await;
    assert_eq!(body["meta"]["urlExpiration"], 30);
    let recs = body["data"][0]["recording"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    let main = &recs[0];
    assert_eq!(main["segment"], false);
    assert_eq!(main["attributes"]["callType"], "main");
    assert_eq!(main["attributes"]["channel1"], "Caller");
    assert_eq!(main["attributes"]["channel2"], "Agent");
    assert_eq!(main["attributes"]["startTime"], ms(task.recordings[0].start_time));
    assert_eq!(main["attributes"]["stopTime"], ms(task.recordings[0].stop_time));
    assert_eq!(main["attributes"]["fileName"], "combinedRecordings.wav");
    assert!(
        main["attributes"]["filePath"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/sim-media/", s.base))
    );
    let participants = main["attributes"]["participants"].as_array().unwrap();
    assert!(participants.contains(&json!(agents()[0].ci_user_id)));
    let consult = &recs[1];
    assert_eq!(consult["attributes"]["callType"], "consult");
    assert_eq!(consult["segment"], false);

    // Segments: the main capture split at the hand-over, consult unchanged.
    let (_, seg) = s
        .captures(json!({ "query": { "taskIds": [task.id], "urlExpiration": 30, "includeSegments": true } }))
        .await;
    let recs = seg["data"][0]["recording"].as_array().unwrap();
    let mains: Vec<&Value> = recs.iter().filter(|r| r["attributes"]["callType"] == "main").collect();
    assert_eq!(mains.len(), 2);
    assert!(mains.iter().all(|r| r["segment"] == true));
    assert_eq!(mains[0]["attributes"]["stopTime"], mains[1]["attributes"]["startTime"]);
    assert_eq!(mains[0]["attributes"]["startTime"], ms(task.recordings[0].start_time));
}

#[tokio::test]
async fn links_serve_a_stereo_8khz_wav_and_expire_with_403() {
    let s = start().await;
    let task = play(&s, "consult-transfer", 10);
    let (_, body) = s
        .captures(json!({ "query": { "taskIds": [task.id], "urlExpiration": 1 } }))
        .await;
    let consult = &body["data"][0]["recording"][1]["attributes"];
    let url = consult["filePath"].as_str().unwrap().to_owned();
    let span = consult["stopTime"].as_i64().unwrap() - consult["startTime"].as_i64().unwrap();

    let r = s.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let declared = r.content_length().unwrap();
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, declared);
    let fmt = parse_header(&bytes).unwrap();
    assert_eq!((fmt.sample_rate, fmt.channels, fmt.bits_per_sample), (8000, 2, 16));
    assert_eq!(fmt.duration_ms() as i64, span);
    assert_eq!(bytes.len() as i64, 44 + span * 8 * 4);
    // Channel 1 speaks first: in the first 100 ms only channel 1 carries signal, at the
    // consult tone (a 550 Hz sine crosses zero 110 times in 100 ms).
    let frames: Vec<(i16, i16)> = bytes[44..44 + 800 * 4]
        .chunks(4)
        .map(|c| (i16::from_le_bytes([c[0], c[1]]), i16::from_le_bytes([c[2], c[3]])))
        .collect();
    assert!(frames.iter().all(|f| f.1 == 0));
    let crossings = frames.windows(2).filter(|w| (w[0].0 < 0) != (w[1].0 < 0)).count() as f64;
    assert!((crossings - CONSULT_TONES_HZ[0] / 5.0).abs() <= 3.0, "{crossings}");

    // Range requests.
    let r = s.http.get(&url).header("Range", "bytes=0-43").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), bytes.slice(0..44));

    // One minute of sim clock later the link is dead.
    s.plane.clock().advance(chrono::Duration::seconds(61));
    let r = s.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("<Code>AccessDenied</Code>") && text.contains("Request has expired"),
        "{text}"
    );

    // expire_links kills fresh links too.
    let (_, body) = s
        .captures(json!({ "query": { "taskIds": [task.id], "urlExpiration": 60 } }))
        .await;
    let url = body["data"][0]["recording"][0]["attributes"]["filePath"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.http.get(&url).send().await.unwrap().status(), 200);
    s.plane.expire_links();
    assert_eq!(s.http.get(&url).send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn main_capture_length_equals_its_span() {
    let s = start().await;
    let task = play(&s, "pause-resume", 10);
    let (_, body) = s.captures(json!({ "query": { "taskIds": [task.id] } })).await;
    assert_eq!(body["meta"]["urlExpiration"], 60);
    let url = body["data"][0]["recording"][0]["attributes"]["filePath"]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes = s.http.get(&url).send().await.unwrap().bytes().await.unwrap();
    let rec = &task.recordings[0];
    let span = (rec.stop_time - rec.start_time).num_milliseconds();
    assert_eq!(parse_header(&bytes).unwrap().duration_ms() as i64, span);
    // The paused minute-quarter (60 s–75 s into the capture) is silent on both channels.
    let at = |sec: i64| 44 + (sec * 8000 * 4) as usize;
    assert!(bytes[at(61)..at(74)].iter().all(|b| *b == 0));
    assert!(bytes[at(0)..at(2)].iter().any(|b| *b != 0));
}

// ----- §2.4: what the connector will read from each scenario.

/// On-call intervals of one agent, ms from the task's start.
type Spans = Vec<(i64, i64)>;
type AgentSpans<'a> = (&'a String, Spans);

/// The §2.4 reading of CAR nodes: agent → merged on-call intervals (ms from base).
fn contacts(task: &SimTask) -> BTreeMap<String, Vec<(i64, i64)>> {
    const ON: &[&str] = &[
        "connected",
        "on-hold",
        "hold-done",
        "consulting",
        "consult",
        "conferencing",
        "conference",
        "paused",
        "resumed",
    ];
    let base = task.created_time;
    let rel = |t: DateTime<Utc>| (t - base).num_milliseconds();
    let mut spans: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for n in &task.activities {
        let name = n.event_name.to_lowercase();
        let Some(agent) = &n.agent else { continue };
        if !ON.contains(&name.as_str()) {
            continue;
        }
        let span = (rel(n.created_time), rel(n.ended_time));
        spans.entry(agent.id.clone()).or_default().push(span);
        if (name == "consulting" || name == "conferencing")
            && let Some(d) = &n.destination_agent
        {
            spans.entry(d.id.clone()).or_default().push(span);
        }
    }
    for v in spans.values_mut() {
        v.sort();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (a, b) in v.drain(..) {
            match merged.last_mut() {
                Some(last) if a - last.1 < 2_000 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *v = merged;
    }
    spans
}

#[test]
fn scenarios_lay_out_nodes_as_section_2_4_reads_them() {
    let ag = agents();
    let (a, b) = (ag[0].ci_user_id.clone(), ag[1].ci_user_id.clone());
    let base = Utc::now();
    let mut rng = rand::rng();
    let expect: Vec<(&str, Vec<AgentSpans>, usize)> = vec![
        ("basic-inbound", vec![(&a, vec![(26_000, 206_000)])], 1),
        ("hold", vec![(&a, vec![(26_000, 206_000)])], 1),
        ("pause-resume", vec![(&a, vec![(26_000, 206_000)])], 1),
        (
            "blind-transfer",
            vec![(&a, vec![(26_000, 96_000)]), (&b, vec![(101_000, 206_000)])],
            1,
        ),
        (
            "consult-transfer",
            vec![(&a, vec![(26_000, 101_000)]), (&b, vec![(72_000, 206_000)])],
            2,
        ),
        (
            "conference",
            vec![(&a, vec![(26_000, 206_000)]), (&b, vec![(72_000, 146_000)])],
            2,
        ),
        ("outbound", vec![(&a, vec![(8_000, 128_000)])], 1),
        ("abandoned", vec![], 0),
    ];
    for (name, want, captures) in expect {
        let task = build(
            Scenario::from_name(name).unwrap(),
            base,
            &ag,
            &ScenarioIds::default(),
            &mut rng,
        )
        .unwrap();
        let got = contacts(&task);
        let want: BTreeMap<String, Vec<(i64, i64)>> = want.into_iter().map(|(k, v)| (k.clone(), v)).collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(task.recordings.len(), captures, "{name}");
        assert_eq!(
            task.ended_time,
            task.activities.iter().map(|n| n.ended_time).max().unwrap(),
            "{name}"
        );
        assert_eq!(task.activities.last().unwrap().event_name, "ended", "{name}");
        // Nodes come ordered by createdTime.
        assert!(
            task.activities
                .windows(2)
                .all(|w| w[0].created_time <= w[1].created_time),
            "{name}"
        );
        // The main capture starts at the first agent's contact.
        if let Some(main) = task.recordings.first() {
            let first = got.values().map(|v| v[0].0).min().unwrap();
            assert_eq!((main.start_time - base).num_milliseconds(), first, "{name}");
        }
    }
}

#[test]
fn scenario_event_sequences() {
    let ag = agents();
    let mut rng = rand::rng();
    let mut names = |s: &str| -> Vec<String> {
        build(
            Scenario::from_name(s).unwrap(),
            Utc::now(),
            &ag,
            &ScenarioIds::default(),
            &mut rng,
        )
        .unwrap()
        .activities
        .iter()
        .map(|n| n.event_name.clone())
        .collect()
    };
    assert_eq!(
        names("consult-transfer"),
        [
            "new",
            "ivr-connected",
            "parked",
            "connect",
            "recording-started",
            "connected",
            "consult",
            "on-hold",
            "consulting",
            "ConsultTransfer",
            "WrapUp",
            "connected",
            "WrapUp",
            "ended"
        ]
    );
    assert_eq!(
        names("hold"),
        [
            "new",
            "ivr-connected",
            "parked",
            "connect",
            "recording-started",
            "connected",
            "on-hold",
            "hold-done",
            "connected",
            "WrapUp",
            "ended"
        ]
    );
    assert_eq!(names("abandoned"), ["new", "ivr-connected", "parked", "ended"]);
    let abandoned = build(Scenario::Abandoned, Utc::now(), &[], &ScenarioIds::default(), &mut rng).unwrap();
    assert_eq!(
        (abandoned.capture_requested, abandoned.owner.is_none()),
        (Some(false), true)
    );
    assert_eq!(abandoned.status, "abandoned");
    assert!(
        build(
            Scenario::Conference,
            Utc::now(),
            &ag[..1],
            &ScenarioIds::default(),
            &mut rng
        )
        .is_err()
    );
    assert!(Scenario::from_name("nope").is_err());
}

#[test]
fn generator_is_deterministic_and_fast_enough() {
    let now = Utc::now();
    let window = (now - chrono::Duration::days(3), now);
    let started = std::time::Instant::now();
    let a = generate_tasks(3000, window, &agents(), 42);
    assert!(started.elapsed() < Duration::from_secs(10));
    let b = generate_tasks(3000, window, &agents(), 42);
    assert_eq!(a.len(), 3000);
    assert_eq!(a, b);
    assert!(a.iter().all(|t| t.created_time >= window.0 && t.ended_time <= window.1));
    let kinds: BTreeSet<usize> = a.iter().map(|t| t.recordings.len()).collect();
    assert_eq!(kinds, BTreeSet::from([0, 1, 2]));
}

#[tokio::test]
async fn events_are_emitted_once_when_due() {
    let s = start().await;
    s.plane.set_capture_delay(Duration::from_secs(300));
    let mut rx = s.plane.subscribe();
    let task = play(&s, "basic-inbound", 0);
    assert_eq!(s.plane.process_due(), 0);
    s.plane.clock().advance(chrono::Duration::seconds(240));
    assert_eq!(s.plane.process_due(), 1);
    assert_eq!(s.plane.process_due(), 0);
    let e = rx.try_recv().unwrap();
    assert_eq!(e.kind, TaskEventKind::TaskEnded);
    assert_eq!(e.task_id, task.id);
    assert_eq!(e.at, task.ended_time);
    assert_eq!(e.data["endedTime"], ms(task.ended_time));
    s.plane.clock().advance(chrono::Duration::seconds(300));
    assert_eq!(s.plane.process_due(), 1);
    assert_eq!(s.plane.process_due(), 0);
    let e = rx.try_recv().unwrap();
    assert_eq!(e.kind, TaskEventKind::CaptureAvailable);
    assert_eq!(e.data["taskId"], task.id.as_str());
    let url = e.data["filePath"].as_str().unwrap();
    assert_eq!(s.http.get(url).send().await.unwrap().status(), 200);
    assert!(rx.try_recv().is_err());

    // History loads never emit.
    let now = s.now();
    s.plane
        .insert_history(generate_tasks(20, (now - chrono::Duration::days(1), now), &agents(), 1));
    assert_eq!(s.plane.process_due(), 0);
}

#[tokio::test]
async fn scheduler_follows_the_sim_clock() {
    let s = start().await;
    let mut rx = s.plane.subscribe();
    let handle = s.plane.spawn_scheduler();
    let task = play(&s, "abandoned", 0);
    s.plane.clock().advance(chrono::Duration::minutes(5));
    let e = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (e.kind, e.task_id.as_str()),
        (TaskEventKind::TaskEnded, task.id.as_str())
    );
    // Abandoned: no capture event follows.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err()
    );
    handle.abort();
}

#[tokio::test]
async fn faults_fail_the_nth_request_and_requests_are_counted() {
    let s = start().await;
    s.plane.push_fault(TaskFault {
        route: TaskRoute::Search,
        skip: 1,
        times: 1,
        status: 503,
    });
    let now = ms(s.now());
    let q = json!({ "query": format!("{{ taskDetails(from: {}, to: {now}) {{ tasks {{ id }} }} }}", now - 1000) });
    let url = format!("{}/search", s.base);
    let statuses = [
        s.http.post(&url).json(&q).send().await.unwrap().status().as_u16(),
        s.http.post(&url).json(&q).send().await.unwrap().status().as_u16(),
        s.http.post(&url).json(&q).send().await.unwrap().status().as_u16(),
    ];
    assert_eq!(statuses, [200, 503, 200]);
    let r = s.http.post(&url).body("not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(s.plane.request_counts().get(&TaskRoute::Search), Some(&4));
}
