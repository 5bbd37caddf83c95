//! The scenario player: turns a fixture scenario (one §2.4 metadata document per
//! recording plus `expected.json`) into a fresh call.
//!
//! Layout of a fixture root (embedded `fixtures/webex-calling`, or any folder):
//! `users.json` (`[{"id","firstName","lastName","email"}]`) and
//! `scenarios/<name>/*.json`: every JSON object with a `serviceData` member is a metadata
//! document, `expected.json` is the array of expected contacts; other files are ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration as ChronoDuration, FixedOffset, SecondsFormat, SubsecRound, Utc};
use include_dir::{Dir, include_dir};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::mp3::{self, AudioPlan, Mp3Audio};

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../fixtures/webex-calling");

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("unknown scenario {0:?}")]
    UnknownScenario(String),
    #[error("scenario {scenario}: {file} is not valid JSON: {error}")]
    Json {
        scenario: String,
        file: String,
        error: String,
    },
    #[error("scenario {0} has no metadata documents")]
    Empty(String),
    #[error("scenario {scenario}: {file}: {problem}")]
    Invalid {
        scenario: String,
        file: String,
        problem: String,
    },
    #[error("reading fixtures at {path}: {error}")]
    Io { path: PathBuf, error: String },
    #[error(transparent)]
    Mp3(#[from] mp3::Mp3Error),
}

/// One entry of `users.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureUser {
    pub id: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    pub email: String,
}

/// A list item of `GET /v1/admin/convergedRecordings` (§1.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingSummary {
    pub id: String,
    pub topic: String,
    pub create_time: DateTime<Utc>,
    pub time_recorded: DateTime<Utc>,
    pub owner_id: String,
    /// List form: `user | place | virtualLine | callQueue`.
    pub owner_type: String,
    pub owner_email: String,
    pub format: String,
    pub duration_seconds: u64,
    pub size_bytes: u64,
    pub service_type: String,
    pub storage_region: String,
    /// `available | deleted | purged`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_data: Option<SummaryServiceData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryServiceData {
    pub location_id: String,
    pub call_session_id: String,
}

/// One recording of an instantiated call.
#[derive(Debug, Clone)]
pub struct InstanceRecording {
    pub summary: RecordingSummary,
    /// The full metadata document (as with `showAllTypes=true`).
    pub metadata: Value,
    pub audio: Mp3Audio,
}

/// A scenario rewritten into a fresh call.
#[derive(Debug, Clone)]
pub struct ScenarioInstance {
    pub scenario: String,
    /// Fresh ids, keyed by the fixture's ids (recording ids, call session ids, call ids, ...).
    pub id_map: BTreeMap<String, String>,
    pub recordings: Vec<InstanceRecording>,
    /// `expected.json`, rewritten (an empty array when the scenario has none).
    pub expected: Value,
}

impl ScenarioInstance {
    pub fn recording_ids(&self) -> Vec<String> {
        self.recordings.iter().map(|r| r.summary.id.clone()).collect()
    }
    pub fn metadata_docs(&self) -> Vec<Value> {
        self.recordings.iter().map(|r| r.metadata.clone()).collect()
    }
}

#[derive(Debug, Clone, Default)]
struct ScenarioFiles {
    /// (file name, contents), sorted by file name.
    docs: Vec<(String, String)>,
    expected: Option<String>,
}

/// Scenarios and users loaded from the embedded fixtures or a folder. Files are parsed
/// when a scenario is instantiated, so one broken fixture does not break the others.
#[derive(Debug, Clone, Default)]
pub struct ScenarioLibrary {
    scenarios: BTreeMap<String, ScenarioFiles>,
    users_json: Option<String>,
}

impl ScenarioLibrary {
    /// The fixtures embedded at compile time (`fixtures/webex-calling`).
    pub fn embedded() -> Self {
        let mut lib = Self::default();
        if let Some(users) = EMBEDDED.get_file("users.json") {
            lib.users_json = users.contents_utf8().map(str::to_owned);
        }
        if let Some(scenarios) = EMBEDDED.get_dir("scenarios") {
            for dir in scenarios.dirs() {
                let Some(name) = dir.path().file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let mut files = ScenarioFiles::default();
                for file in dir.files() {
                    let Some(fname) = file.path().file_name().and_then(|n| n.to_str()) else {
                        continue;
                    };
                    let Some(text) = file.contents_utf8() else {
                        continue;
                    };
                    files.add(fname, text.to_owned());
                }
                files.docs.sort();
                lib.scenarios.insert(name.to_owned(), files);
            }
        }
        lib
    }

    /// A folder laid out like `fixtures/webex-calling`.
    pub fn from_dir(root: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let root = root.as_ref();
        let io = |path: &Path, e: std::io::Error| ScenarioError::Io {
            path: path.to_owned(),
            error: e.to_string(),
        };
        let mut lib = Self::default();
        let users = root.join("users.json");
        if users.is_file() {
            lib.users_json = Some(std::fs::read_to_string(&users).map_err(|e| io(&users, e))?);
        }
        let scenarios = root.join("scenarios");
        if scenarios.is_dir() {
            for entry in std::fs::read_dir(&scenarios).map_err(|e| io(&scenarios, e))? {
                let dir = entry.map_err(|e| io(&scenarios, e))?.path();
                if !dir.is_dir() {
                    continue;
                }
                let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                    continue;
                };
                let mut files = ScenarioFiles::default();
                for file in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
                    let path = file.map_err(|e| io(&dir, e))?.path();
                    let Some(fname) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                        continue;
                    };
                    if path.is_file() && fname.ends_with(".json") {
                        files.add(&fname, std::fs::read_to_string(&path).map_err(|e| io(&path, e))?);
                    }
                }
                files.docs.sort();
                lib.scenarios.insert(name, files);
            }
        }
        Ok(lib)
    }

    /// Names of the scenarios, sorted.
    pub fn names(&self) -> Vec<String> {
        self.scenarios.keys().cloned().collect()
    }

    /// The users of `users.json` (empty when missing or unreadable).
    pub fn users(&self) -> Vec<FixtureUser> {
        self.users_json
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    /// The scenario's documents as stored (before rewriting).
    pub fn raw_docs(&self, scenario: &str) -> Result<Vec<Value>, ScenarioError> {
        Ok(self.parse(scenario)?.0.into_iter().map(|(_, doc)| doc).collect())
    }

    fn parse(&self, scenario: &str) -> Result<(Vec<(String, Value)>, Value), ScenarioError> {
        let files = self
            .scenarios
            .get(scenario)
            .ok_or_else(|| ScenarioError::UnknownScenario(scenario.to_owned()))?;
        let parse = |file: &str, text: &str| {
            serde_json::from_str::<Value>(text).map_err(|e| ScenarioError::Json {
                scenario: scenario.to_owned(),
                file: file.to_owned(),
                error: e.to_string(),
            })
        };
        let mut docs = Vec::new();
        for (file, text) in &files.docs {
            let doc = parse(file, text)?;
            if doc.get("serviceData").is_some_and(Value::is_object) {
                docs.push((file.clone(), doc));
            }
        }
        if docs.is_empty() {
            return Err(ScenarioError::Empty(scenario.to_owned()));
        }
        let expected = match &files.expected {
            Some(text) => parse("expected.json", text)?,
            None => Value::Array(Vec::new()),
        };
        Ok((docs, expected))
    }

    /// Rewrites `scenario` into a fresh call starting at `base_time` (whole seconds):
    /// per-call ids replaced by fresh ones everywhere (also inside strings), user ids
    /// kept, every timestamp shifted by the same amount, owner emails taken from
    /// `users.json`, and one MP3 rendered per recording.
    pub fn instantiate<R: Rng + ?Sized>(
        &self,
        scenario: &str,
        base_time: DateTime<Utc>,
        rng: &mut R,
    ) -> Result<ScenarioInstance, ScenarioError> {
        self.instantiate_shrunk(scenario, base_time, rng, 1)
    }

    /// [`Self::instantiate`] with every span of the call `shrink` times shorter (at least
    /// 1): instants move toward the call's start, and the expected contacts' durations
    /// and audio offsets shrink with them, so the same segmentation comes out of a
    /// recording `shrink` times smaller. For benchmarks that measure the pipeline, not
    /// the bytes of multi-minute recordings.
    pub fn instantiate_shrunk<R: Rng + ?Sized>(
        &self,
        scenario: &str,
        base_time: DateTime<Utc>,
        rng: &mut R,
        shrink: u32,
    ) -> Result<ScenarioInstance, ScenarioError> {
        let (docs, mut expected) = self.parse(scenario)?;
        let invalid = |file: &str, problem: &str| ScenarioError::Invalid {
            scenario: scenario.to_owned(),
            file: file.to_owned(),
            problem: problem.to_owned(),
        };

        // 1. Fresh ids.
        let mut old_ids = Vec::new();
        for (_, doc) in &docs {
            if let Some(id) = doc.get("id").and_then(Value::as_str) {
                old_ids.push(id.to_owned());
            }
            collect_call_ids(doc, &mut old_ids);
        }
        old_ids.retain(|id| is_real_id(id));
        old_ids.sort();
        old_ids.dedup();
        let id_map: BTreeMap<String, String> = old_ids.iter().map(|old| (old.clone(), fresh_like(old, rng))).collect();
        // Longest first, so an id that contains another is replaced whole.
        let mut replacements: Vec<(&String, &String)> = id_map.iter().collect();
        replacements.sort_by_key(|(old, _)| std::cmp::Reverse(old.len()));

        // 2. Time shift: the earliest session start becomes base_time.
        let start = docs
            .iter()
            .filter_map(|(_, d)| parse_time(d.pointer("/serviceData/session/startTime")?.as_str()?))
            .min()
            .or_else(|| docs.iter().filter_map(|(_, d)| earliest_time(d)).min())
            .ok_or_else(|| invalid("*", "no session.startTime and no timestamp at all"))?;
        let times = TimeMap {
            from: start.trunc_subsecs(0),
            to: base_time.trunc_subsecs(0),
            shrink: i32::try_from(shrink.max(1)).unwrap_or(i32::MAX),
        };

        let users = self.users();
        let mut recordings = Vec::with_capacity(docs.len());
        for (file, mut doc) in docs {
            rewrite(&mut doc, &replacements, &times, None);
            let user = doc
                .get("ownerId")
                .and_then(Value::as_str)
                .and_then(|owner| users.iter().find(|u| u.id.eq_ignore_ascii_case(owner)));
            if let (Some(user), Some(obj)) = (user, doc.as_object_mut()) {
                obj.insert("ownerEmail".into(), Value::String(user.email.clone()));
                if !obj.contains_key("ownerName") {
                    let name = format!("{} {}", user.first_name, user.last_name);
                    obj.insert("ownerName".into(), Value::String(name.trim().to_owned()));
                }
            }
            let plan = audio_plan(&doc).map_err(|p| invalid(&file, &p))?;
            let audio = mp3::render(&plan)?;
            let summary = summarize(&doc, &audio).map_err(|p| invalid(&file, &p))?;
            recordings.push(InstanceRecording {
                summary,
                metadata: doc,
                audio,
            });
        }
        rewrite(&mut expected, &replacements, &times, Some(""));

        Ok(ScenarioInstance {
            scenario: scenario.to_owned(),
            id_map,
            recordings,
            expected,
        })
    }
}

impl ScenarioFiles {
    fn add(&mut self, name: &str, text: String) {
        if name == "expected.json" {
            self.expected = Some(text);
        } else if name.ends_with(".json") {
            self.docs.push((name.to_owned(), text));
        }
    }
}

/// Keys whose string values are per-call ids (besides the top-level `id`).
fn is_call_id_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "streamid" || k.ends_with("callid") || k.ends_with("sessionid") || k.ends_with("recordingid")
}

fn collect_call_ids(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if is_call_id_key(k) => out.push(s.clone()),
                    _ => collect_call_ids(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_call_ids(v, out)),
        _ => {}
    }
}

/// Not empty, not masked (`****`), long enough to be replaced safely inside strings.
fn is_real_id(id: &str) -> bool {
    id.len() >= 6 && id.chars().any(|c| c.is_ascii_alphanumeric())
}

/// A fresh id shaped like `old`: UUIDs (hyphenated or 32 hex, either case) become fresh
/// UUIDs; anything else keeps its letters and punctuation and gets fresh digits in every
/// run of three or more digits (`callhalf-581329:0` → `callhalf-904417:0`); an id with no
/// such run gets a fresh hex suffix.
fn fresh_like<R: Rng + ?Sized>(old: &str, rng: &mut R) -> String {
    let uuid = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
    let upper = old.chars().any(|c| c.is_ascii_uppercase());
    let case = |s: String| if upper { s.to_ascii_uppercase() } else { s };
    if old.len() == 36 && uuid::Uuid::try_parse(old).is_ok() {
        return case(uuid.hyphenated().to_string());
    }
    if old.len() == 32 && old.chars().all(|c| c.is_ascii_hexdigit()) {
        return case(uuid.simple().to_string());
    }
    let chars: Vec<char> = old.chars().collect();
    let mut out = String::with_capacity(old.len());
    let mut replaced = false;
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run >= 3 {
            out.push(char::from(b'1' + rng.random_range(0..9u8)));
            for _ in 1..run {
                out.push(char::from(b'0' + rng.random_range(0..10u8)));
            }
            replaced = true;
            i += run;
        } else if run > 0 {
            out.extend(&chars[i..i + run]);
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    if !replaced {
        out.push('-');
        out.push_str(&uuid.simple().to_string()[..12]);
    }
    out
}

/// Strict enough that ordinary text is never taken for a time.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if s.len() < 20 || !s.as_bytes()[0].is_ascii_digit() || s.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn earliest_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => parse_time(s),
        Value::Object(map) => map.values().filter_map(earliest_time).min(),
        Value::Array(items) => items.iter().filter_map(earliest_time).min(),
        _ => None,
    }
}

/// Moves an RFC 3339 string as `times` says, keeping its offset and fraction precision.
/// Where an instant of the fixture lands in the instance: `from` (the call's start)
/// becomes `to`, and every span after it is `shrink` times shorter.
struct TimeMap {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    shrink: i32,
}

impl TimeMap {
    fn span(&self, d: ChronoDuration) -> ChronoDuration {
        if self.shrink == 1 { d } else { d / self.shrink }
    }

    fn map<Tz: chrono::TimeZone>(&self, t: &DateTime<Tz>) -> Option<DateTime<Utc>> {
        let since = t.with_timezone(&Utc).signed_duration_since(self.from);
        self.to.checked_add_signed(self.span(since))
    }

    fn map_ms(&self, ms: i64) -> i64 {
        let since = ms - self.from.timestamp_millis();
        self.to.timestamp_millis() + since / i64::from(self.shrink)
    }
}

fn shift_time_string(s: &str, times: &TimeMap) -> Option<String> {
    parse_time(s)?;
    let t: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(s).ok()?;
    let shifted = times.map(&t)?.with_timezone(t.offset());
    let frac_digits = s
        .get(19..)
        .filter(|rest| rest.starts_with('.'))
        .map(|rest| rest[1..].chars().take_while(char::is_ascii_digit).count())
        .unwrap_or(0);
    // A shrunk call's instants fall between seconds: written with milliseconds then.
    let frac_digits = if shifted.timestamp_subsec_millis() != 0 {
        frac_digits.max(3)
    } else {
        frac_digits
    };
    let format = match frac_digits {
        0 => SecondsFormat::Secs,
        1..=3 => SecondsFormat::Millis,
        4..=6 => SecondsFormat::Micros,
        _ => SecondsFormat::Nanos,
    };
    let use_z = s.ends_with('Z') || s.ends_with('z');
    Some(shifted.to_rfc3339_opts(format, use_z))
}

/// Epoch-ms number fields of expected contacts that are instants (not durations).
fn is_epoch_ms_key(key: &str) -> bool {
    key == "time" || key.ends_with("Time") || key.ends_with("At")
}

/// Millisecond spans of expected contacts (shrunk with the call).
fn is_span_ms_key(key: &str) -> bool {
    matches!(key, "callDuration" | "durationMs" | "offsetMs")
}

/// Replaces ids and shifts times everywhere in `value`. `numbers` enables shifting
/// epoch-ms number fields (expected contacts) and shrinking their spans.
fn rewrite(value: &mut Value, ids: &[(&String, &String)], times: &TimeMap, numbers: Option<&str>) {
    match value {
        Value::String(s) => {
            if let Some(shifted) = shift_time_string(s, times) {
                *s = shifted;
                return;
            }
            for (old, new) in ids {
                if s.contains(old.as_str()) {
                    *s = s.replace(old.as_str(), new);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, ids, times, numbers)),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if numbers.is_some()
                    && is_epoch_ms_key(k)
                    && let Some(ms) = v.as_i64()
                    && ms > 100_000_000_000
                {
                    *v = json!(times.map_ms(ms));
                    continue;
                }
                if numbers.is_some()
                    && times.shrink > 1
                    && is_span_ms_key(k)
                    && let Some(ms) = v.as_i64()
                {
                    *v = json!(ms / i64::from(times.shrink));
                    continue;
                }
                rewrite(v, ids, times, numbers);
            }
        }
        _ => {}
    }
}

fn str_at<'a>(doc: &'a Value, pointer: &str) -> Option<&'a str> {
    doc.pointer(pointer).and_then(Value::as_str)
}

/// Recorded audio = session span minus paused intervals; voice changes at every
/// `callActivity` entry after the first.
pub(crate) fn audio_plan(doc: &Value) -> Result<AudioPlan, String> {
    let start = str_at(doc, "/serviceData/session/startTime")
        .and_then(parse_time)
        .ok_or("serviceData.session.startTime missing or not RFC 3339")?;
    let stop = str_at(doc, "/serviceData/session/stopTime")
        .and_then(parse_time)
        .ok_or("serviceData.session.stopTime missing or not RFC 3339")?;
    if stop < start {
        return Err("session.stopTime before startTime".into());
    }
    let paused = paused_intervals(doc, start, stop);
    let offset = |t: DateTime<Utc>| -> u64 {
        let t = t.clamp(start, stop);
        let elapsed = (t - start).num_milliseconds();
        let paused_before: i64 = paused
            .iter()
            .map(|(a, b)| ((*b).min(t) - *a).num_milliseconds().max(0))
            .sum();
        u64::try_from(elapsed - paused_before).unwrap_or(0)
    };
    let duration_ms = offset(stop);
    let mut times: Vec<DateTime<Utc>> = doc
        .pointer("/serviceData/callActivity")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|a| a.get("timeStamp").and_then(Value::as_str).and_then(parse_time))
                .collect()
        })
        .unwrap_or_default();
    times.sort();
    let mut span_starts_ms: Vec<u64> = times
        .iter()
        .skip(1)
        .map(|t| offset(*t))
        .filter(|&o| o > 0 && o < duration_ms)
        .collect();
    span_starts_ms.dedup();
    Ok(AudioPlan {
        duration_ms,
        span_starts_ms,
    })
}

/// `PAUSE`/`STOP` open a gap, `RESUME`/`START` close it; an open gap runs to the stop.
fn paused_intervals(doc: &Value, start: DateTime<Utc>, stop: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut actions: Vec<(DateTime<Utc>, String)> = doc
        .pointer("/serviceData/recordingActions")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|a| {
                    let t = parse_time(a.get("time")?.as_str()?)?;
                    Some((t.clamp(start, stop), a.get("action")?.as_str()?.to_ascii_uppercase()))
                })
                .collect()
        })
        .unwrap_or_default();
    actions.sort();
    let mut out = Vec::new();
    let mut paused_since: Option<DateTime<Utc>> = None;
    for (t, action) in actions {
        match action.as_str() {
            "PAUSE" | "STOP" => {
                paused_since.get_or_insert(t);
            }
            "RESUME" | "START" => {
                if let Some(since) = paused_since.take() {
                    out.push((since, t));
                }
            }
            _ => {}
        }
    }
    if let Some(since) = paused_since {
        out.push((since, stop));
    }
    out
}

/// Metadata `ownerType` (upper case) → list form.
pub(crate) fn list_owner_type(metadata_type: &str) -> String {
    match metadata_type.to_ascii_uppercase().replace(['_', '-'], "").as_str() {
        "USER" | "PEOPLE" => "user".into(),
        "PLACE" | "WORKSPACE" => "place".into(),
        "VIRTUALLINE" => "virtualLine".into(),
        "CALLQUEUE" => "callQueue".into(),
        _ => metadata_type.to_owned(),
    }
}

fn summarize(doc: &Value, audio: &Mp3Audio) -> Result<RecordingSummary, String> {
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .ok_or("top-level id missing")?
        .to_owned();
    let start = str_at(doc, "/serviceData/session/startTime")
        .and_then(parse_time)
        .ok_or("no session.startTime")?;
    let stop = str_at(doc, "/serviceData/session/stopTime")
        .and_then(parse_time)
        .ok_or("no session.stopTime")?;
    let text = |key: &str| doc.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let owner_name = text("ownerName");
    let topic = doc
        .get("topic")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if owner_name.is_empty() {
                "Call recording".into()
            } else {
                format!("Call recording of {owner_name}")
            }
        });
    let service_data = match (
        str_at(doc, "/serviceData/locationId"),
        str_at(doc, "/serviceData/callSessionId"),
    ) {
        (loc, Some(session)) => Some(SummaryServiceData {
            location_id: loc.unwrap_or_default().to_owned(),
            call_session_id: session.to_owned(),
        }),
        _ => None,
    };
    let region = text("storageRegion");
    Ok(RecordingSummary {
        id,
        topic,
        create_time: (stop + ChronoDuration::seconds(60)).trunc_subsecs(0),
        time_recorded: start.trunc_subsecs(0),
        owner_id: text("ownerId"),
        owner_type: list_owner_type(&text("ownerType")),
        owner_email: text("ownerEmail"),
        format: "MP3".into(),
        duration_seconds: (audio.duration_ms + 500) / 1000,
        size_bytes: audio.bytes.len() as u64,
        service_type: "calling".into(),
        storage_region: if region.is_empty() { "US".into() } else { region },
        status: "available".into(),
        service_data,
    })
}

/// The metadata document as served without `showAllTypes=true`.
pub(crate) fn hide_detail(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(activities) = doc
        .pointer_mut("/serviceData/callActivity")
        .and_then(Value::as_array_mut)
    {
        for activity in activities {
            if let Some(obj) = activity.as_object_mut() {
                for key in ["mediaStreams", "participants", "redirectInfo", "redirectedCall"] {
                    obj.remove(key);
                }
            }
        }
    }
    doc
}

/// Field lookup for list filters and webhook filters (`ownerEmail`, `locationId`, ...).
pub(crate) fn summary_field(summary: &RecordingSummary, key: &str) -> Option<String> {
    let sd = summary.service_data.as_ref();
    Some(match key {
        "ownerId" => summary.owner_id.clone(),
        "ownerEmail" => summary.owner_email.clone(),
        "ownerType" => summary.owner_type.clone(),
        "serviceType" => summary.service_type.clone(),
        "storageRegion" => summary.storage_region.clone(),
        "format" => summary.format.clone(),
        "status" => summary.status.clone(),
        "topic" => summary.topic.clone(),
        "locationId" => sd?.location_id.clone(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fresh_ids_keep_their_shape() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let hyph = fresh_like("81bb582c-e93e-40aa-abf6-962b620f6db4", &mut rng);
        assert!(uuid::Uuid::try_parse(&hyph).is_ok() && hyph.len() == 36);
        let simple = fresh_like("baa93e55c62e4663ae24f13fbfdb247f", &mut rng);
        assert_eq!(simple.len(), 32);
        let call = fresh_like("callhalf-581329:0", &mut rng);
        assert!(call.starts_with("callhalf-") && call.ends_with(":0") && call != "callhalf-581329:0");
    }

    fn shift(by: ChronoDuration) -> TimeMap {
        let from = "2023-01-01T00:00:00Z".parse().unwrap();
        TimeMap {
            from,
            to: from + by,
            shrink: 1,
        }
    }

    #[test]
    fn times_keep_offset_and_precision() {
        let d = shift(ChronoDuration::seconds(3600));
        assert_eq!(
            shift_time_string("2023-11-07T08:50:21Z", &d).as_deref(),
            Some("2023-11-07T09:50:21Z")
        );
        assert_eq!(
            shift_time_string("2023-10-31T16:24:12.250+08:00", &d).as_deref(),
            Some("2023-10-31T17:24:12.250+08:00")
        );
        assert_eq!(shift_time_string("callhalf-581329:0", &d), None);
    }

    #[test]
    fn a_shrunk_call_has_every_span_and_its_audio_shorter_by_the_factor() {
        let library = ScenarioLibrary::embedded();
        let base: DateTime<Utc> = "2026-01-05T10:00:00Z".parse().unwrap();
        for name in library.names() {
            let whole = library
                .instantiate_shrunk(&name, base, &mut rand::rngs::StdRng::seed_from_u64(3), 1)
                .unwrap();
            let small = library
                .instantiate_shrunk(&name, base, &mut rand::rngs::StdRng::seed_from_u64(3), 20)
                .unwrap();
            for (w, s) in whole.recordings.iter().zip(&small.recordings) {
                let (w_ms, s_ms) = (w.audio.duration_ms, s.audio.duration_ms);
                assert!(
                    s_ms.abs_diff(w_ms / 20) <= 2 * u64::from(mp3::FRAME_MS),
                    "{name}: {w_ms} ms -> {s_ms} ms"
                );
                assert!(
                    s.audio.bytes.len() * 10 < w.audio.bytes.len().max(10 * 1024),
                    "{name}: audio not smaller"
                );
            }
            let spans = |v: &Value, key: &str| -> Vec<i64> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get(key).and_then(Value::as_i64))
                    .collect()
            };
            let whole_d = spans(&whole.expected, "callDuration");
            let small_d = spans(&small.expected, "callDuration");
            assert_eq!(small_d, whole_d.iter().map(|d| d / 20).collect::<Vec<_>>(), "{name}");
            // The call still starts at the base time.
            let starts = spans(&small.expected, "startTime");
            assert!(starts.iter().all(|&t| t >= base.timestamp_millis()), "{name}");
        }
        // Between seconds, an instant is written with milliseconds.
        let half = TimeMap {
            from: base,
            to: base,
            shrink: 2,
        };
        assert_eq!(
            shift_time_string("2026-01-05T10:00:01Z", &half).as_deref(),
            Some("2026-01-05T10:00:00.500Z")
        );
    }

    #[test]
    fn pauses_are_cut_from_the_audio() {
        let doc = json!({"serviceData": {
            "session": {"startTime": "2024-01-01T00:00:00Z", "stopTime": "2024-01-01T00:01:00Z"},
            "recordingActions": [
                {"action": "PAUSE", "time": "2024-01-01T00:00:10Z"},
                {"action": "RESUME", "time": "2024-01-01T00:00:25Z"}
            ],
            "callActivity": [
                {"timeStamp": "2024-01-01T00:00:00Z"},
                {"timeStamp": "2024-01-01T00:00:30Z"}
            ]
        }});
        let plan = audio_plan(&doc).unwrap();
        assert_eq!(plan.duration_ms, 45_000);
        assert_eq!(plan.span_starts_ms, vec![15_000]);
    }
}
