use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use wfo_sim_webex::mp3::{FRAME_MS, frame_offsets};
use wfo_sim_webex::{ScenarioInstance, ScenarioLibrary};

use crate::common::{base_time, data_dir};

fn library() -> ScenarioLibrary {
    ScenarioLibrary::from_dir(data_dir()).unwrap()
}

fn instantiate(lib: &ScenarioLibrary, name: &str, seed: u64) -> ScenarioInstance {
    lib.instantiate(name, base_time(), &mut StdRng::seed_from_u64(seed))
        .unwrap()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn instantiation_replaces_call_ids_everywhere_keeps_user_ids_and_shifts_times() {
    let lib = library();
    let raw = lib.raw_docs("transfer-two-legs").unwrap();
    let call = instantiate(&lib, "transfer-two-legs", 1);
    let text = serde_json::to_string(&(call.metadata_docs(), &call.expected)).unwrap();

    let old_ids = [
        "baa93e55c62e4663ae24f13fbfdb247f",
        "62807eaf-0c89-492e-a3c3-c4751812603b",
        "7ba29675-3016-4bf0-af19-66cf2854b000",
        "5d0b1c2e-3f4a-4b5c-8d6e-7f8091a2b3c4",
        "callhalf-700001:0",
        "callhalf-700002:0",
    ];
    for old in old_ids {
        assert!(!text.contains(old), "{old} survived");
        assert!(call.id_map.contains_key(old), "{old} mapped");
    }
    for user in [
        "c2335e53-c41b-423d-a41e-da0bf56e2038",
        "ac7913cd-d943-4e34-81a8-f66ad1a5e376",
    ] {
        assert!(text.contains(user), "user id {user} kept");
    }
    assert!(text.contains("ee8ebeb0-f077-4384-bb50-9de6141c7bac"), "org id kept");

    // One consistent mapping: ids, callRecordingId, callSessionId, expected, summaries.
    let [a, b] = [&call.recordings[0], &call.recordings[1]];
    assert_eq!(a.metadata["id"], a.metadata["serviceData"]["callRecordingId"]);
    assert_eq!(a.summary.id, a.metadata["id"].as_str().unwrap());
    assert_eq!(a.summary.id.len(), 32, "simple-hex ids stay simple hex");
    let session = a.metadata["serviceData"]["callSessionId"].as_str().unwrap();
    assert_eq!(b.metadata["serviceData"]["callSessionId"], session);
    assert_eq!(a.summary.service_data.as_ref().unwrap().call_session_id, session);
    assert_eq!(
        call.expected[0]["externalId"],
        format!("wxc:{}:0", a.summary.id).as_str()
    );
    assert_eq!(call.expected[1]["media"]["recordingId"], b.summary.id.as_str());
    assert_eq!(call.expected[0]["assocCallId"], session);
    // The call id of leg b, referenced inside leg a's redirectedCall, is mapped alike.
    assert_eq!(
        a.metadata["serviceData"]["callActivity"][1]["redirectedCall"]["callId"],
        b.metadata["serviceData"]["callId"]
    );

    // Times: the call starts at base_time; every instant moved by the same delta.
    let delta = base_time() - time(&raw[0]["serviceData"]["session"]["startTime"]);
    assert_eq!(time(&a.metadata["serviceData"]["session"]["startTime"]), base_time());
    assert_eq!(
        time(&b.metadata["serviceData"]["callActivity"][1]["timeStamp"]),
        time(&raw[1]["serviceData"]["callActivity"][1]["timeStamp"]) + delta
    );
    let raw_expected: Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir().join("scenarios/transfer-two-legs/expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        call.expected[1]["startTime"].as_i64().unwrap(),
        raw_expected[1]["startTime"].as_i64().unwrap() + delta.num_milliseconds()
    );
    assert_eq!(
        call.expected[1]["callDuration"], raw_expected[1]["callDuration"],
        "durations untouched"
    );

    // Summary (list item) shape.
    let s = &b.summary;
    assert_eq!(s.time_recorded, base_time() + chrono::Duration::seconds(40));
    assert_eq!(s.create_time, base_time() + chrono::Duration::seconds(180 + 60));
    assert_eq!(
        (s.owner_type.as_str(), s.format.as_str(), s.status.as_str()),
        ("user", "MP3", "available")
    );
    assert_eq!(
        s.owner_email, "bob.backoffice@example.com",
        "owner email comes from users.json"
    );
    assert_eq!(b.metadata["ownerEmail"], "bob.backoffice@example.com");

    // A second instantiation is a different call.
    let again = instantiate(&lib, "transfer-two-legs", 2);
    assert_ne!(again.recordings[0].summary.id, a.summary.id);
    assert_ne!(again.recordings[0].metadata["serviceData"]["callSessionId"], session);
}

/// Decodes with symphonia and returns (sample rate, channels, decoded samples).
fn decode(bytes: &[u8]) -> (u32, usize, u64) {
    let (rate, channels, pcm) = decode_all(bytes);
    (rate, channels, pcm.len() as u64)
}

fn decode_pcm(bytes: &[u8]) -> Vec<f32> {
    decode_all(bytes).2
}

fn decode_all(bytes: &[u8]) -> (u32, usize, Vec<f32>) {
    let cursor = std::io::Cursor::new(bytes.to_vec());
    let stream = MediaSourceStream::new(Box::new(cursor), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("mp3");
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &FormatOptions::default(), &MetadataOptions::default())
        .unwrap();
    let mut format = probed.format;
    let track = format.default_track().unwrap().clone();
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &Default::default())
        .unwrap();
    let (mut pcm, mut rate, mut channels) = (Vec::new(), 0, 0);
    while let Ok(packet) = format.next_packet() {
        let decoded = decoder.decode(&packet).unwrap();
        rate = decoded.spec().rate;
        channels = decoded.spec().channels.count();
        let mut buf = SampleBuffer::<f32>::new(decoded.capacity() as u64, *decoded.spec());
        buf.copy_interleaved_ref(decoded);
        pcm.extend_from_slice(buf.samples());
    }
    (rate, channels, pcm)
}

#[test]
fn mp3_length_is_session_minus_pauses_within_one_frame() {
    let lib = library();
    let call = instantiate(&lib, "basic-pause", 3);
    let rec = &call.recordings[0];
    // 120 s session, paused 30 s → 50 s: 100 s of audio.
    let (rate, channels, samples) = decode(&rec.audio.bytes);
    assert_eq!((rate, channels), (16_000, 1));
    let decoded_ms = samples * 1000 / u64::from(rate);
    assert!(decoded_ms.abs_diff(100_000) <= u64::from(FRAME_MS), "{decoded_ms} ms");
    assert_eq!(rec.summary.duration_seconds, 100);
    assert_eq!(rec.summary.size_bytes, rec.audio.bytes.len() as u64);
    // 32 kbps CBR: 4000 bytes per second, 144-byte frames.
    assert_eq!(rec.audio.bytes.len(), frame_offsets(&rec.audio.bytes).len() * 144);

    let transfer = instantiate(&lib, "transfer-two-legs", 4);
    let durations: Vec<u64> = transfer.recordings.iter().map(|r| r.summary.duration_seconds).collect();
    assert_eq!(durations, vec![60, 140]);
}

#[test]
fn voices_differ_between_participant_spans() {
    // basic-pause: participants change 70 s into the session = 50 s into the audio.
    let lib = library();
    let call = instantiate(&lib, "basic-pause", 5);
    let pcm = decode_pcm(&call.recordings[0].audio.bytes);
    // Zero crossings per second over a 10 s window: follows the voice's pitch.
    let zcr = |from_s: usize| {
        let w = &pcm[from_s * 16_000..(from_s + 10) * 16_000];
        w.windows(2).filter(|p| (p[0] < 0.0) != (p[1] < 0.0)).count() / 10
    };
    let (early, same_span, later) = (zcr(5), zcr(30), zcr(60));
    assert!(
        early.abs_diff(same_span) * 20 < early,
        "same span, same voice: {early} vs {same_span}"
    );
    assert!(
        early.abs_diff(later) * 5 > early,
        "new span, new voice: {early} vs {later}"
    );
}

#[test]
fn every_embedded_scenario_instantiates() {
    let lib = ScenarioLibrary::embedded();
    let users: HashSet<String> = lib.users().into_iter().map(|u| u.email).collect();
    for name in lib.names() {
        let call = instantiate(&lib, &name, 9);
        assert!(!call.recordings.is_empty(), "{name}");
        for rec in &call.recordings {
            assert!(rec.summary.size_bytes > 0, "{name}");
            if rec.summary.owner_type == "user" && !users.is_empty() {
                assert!(
                    users.contains(&rec.summary.owner_email),
                    "{name}: {}",
                    rec.summary.owner_email
                );
            }
        }
    }
}
