//! The command line as operators use it: exit codes, messages, the offline segmenter.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wfo-connect"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str], state: &Path) -> Output {
    bin().arg("--state-dir").arg(state).args(args).output().expect("runs")
}

#[test]
fn segment_prints_the_contacts_of_a_call_from_its_metadata_documents() {
    let dir = repo().join("fixtures/webex-calling/scenarios/consult-transfer");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("expected.json"))
        .collect();
    files.sort();
    let out = bin()
        .args(["segment", "--kind", "webex-calling", "--acd-server-id", "3"])
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let contacts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let contacts = contacts.as_array().unwrap();
    assert_eq!(contacts.len(), 2);
    let assoc = &contacts[0]["assocCallId"];
    assert!(
        contacts.iter().all(|c| &c["assocCallId"] == assoc),
        "one assocCallId per interaction"
    );
    for c in contacts {
        assert!(c["media"]["recordingId"].is_string() && c["media"]["durationMs"].as_i64().unwrap() > 0);
        assert_eq!(c["contactType"], "CALL");
    }
}

#[test]
fn segment_of_contact_center_tasks_prints_each_fixture_expected_contacts() {
    let root = repo().join("fixtures/webex-cc-2");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("task.json").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 12, "{dirs:?}");
    for dir in dirs {
        let out = bin()
            .args(["segment", "--kind", "webex-cc-2", "--acd-server-id", "3"])
            .arg(dir.join("task.json"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
        assert_eq!(got, expected, "{}", dir.display());
    }
}

/// A Contact Center 1.0 consult transfer (`{"csr", "cars"}`) is A until the hand-over,
/// held from the consult on, and B from answering the consult to the end: slices of the
/// session's one mono recording, which starts when A answers.
#[test]
fn segment_of_a_contact_center_1_session_prints_its_agents_contacts() {
    const T0: i64 = 1_767_261_600_000;
    let dir = repo().join("fixtures/webex-cc-1/consult-transfer");
    let out = bin()
        .args(["segment", "--kind", "webex-cc-1", "--acd-server-id", "5"])
        .arg(dir.join("session.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert_eq!(got, expected);
    // The same, from the scenario's numbers (fixtures/webex-cc-1/README.md).
    let contacts = got.as_array().unwrap();
    let spans: Vec<(&str, i64, i64, i64)> = contacts
        .iter()
        .map(|c| {
            (
                c["agent"]["acdId"].as_str().unwrap(),
                c["startTime"].as_i64().unwrap() - T0,
                c["callDuration"].as_i64().unwrap(),
                c["media"]["offsetMs"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            ("6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b", 26_000, 75_000, 0),
            ("7b2e1d3f-4c5e-4f60-9bac-1d2e3f4a5b6c", 72_000, 134_000, 46_000),
        ]
    );
    assert_eq!(
        contacts[0]["events"],
        serde_json::json!([{"type": "HOLD", "time": T0 + 68_000}])
    );
    for c in contacts {
        assert_eq!(c["assocCallId"], "fixture-consult-transfer");
        assert!(
            c["externalId"]
                .as_str()
                .unwrap()
                .starts_with("wxcc1:fixture-consult-transfer:")
        );
        assert_eq!(c["audio"]["channels"], 1, "1.0 recordings are mono");
        assert_eq!(c["agent"]["acdServerId"], 5);
    }
}

/// A 1.0 session file whose CSR has no `sid` fails naming it; one that is not
/// `{"csr", "cars"}` says what it should be.
#[test]
fn segment_of_a_malformed_contact_center_1_session_fails_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (doc, needle) in [
        (r#"{"csr": {"cstts": 1}, "cars": []}"#, "csr.sid"),
        (r#"{"csr": {"sid": "s1"}, "cars": {"a": 1}}"#, "cars"),
        (r#"[1, 2]"#, "csr"),
    ] {
        let file = dir.path().join("session.json");
        std::fs::write(&file, doc).unwrap();
        let out = bin()
            .args(["segment", "--kind", "webex-cc-1"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{doc}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{doc}: {err}");
    }
}

#[test]
fn segment_of_a_malformed_document_fails_naming_the_field() {
    let dir = repo().join("fixtures/webex-calling/malformed");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains("session")))
        .expect("a malformed fixture about the session");
    let out = bin()
        .args(["segment", "--kind", "webex-calling"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("session"), "{err}");
}

#[test]
fn segment_with_an_unknown_kind_is_a_usage_error() {
    let out = bin()
        .args(["segment", "--kind", "webex-meetings", "x.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--kind"));
}

#[test]
fn connector_add_with_an_invalid_file_exits_2_and_stores_nothing() {
    let state = tempfile::tempdir().unwrap();
    let bad = state.path().join("bad.toml");
    std::fs::write(&bad, "id = \"Bad Id\"\nacd_name = \"x\"\nkind = \"webex-calling\"\nacd_server_id = 1\n[source]\napi_url = \"https://a\"\n[wfo]\napi_url = \"https://b\"\nusername = \"u\"\npassword = \"p\"\n").unwrap();
    let out = run(&["connector", "add", bad.to_str().unwrap()], state.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("id:"), "{err}");
    let list = run(&["connector", "list"], state.path());
    assert!(String::from_utf8_lossy(&list.stdout).contains("no connectors"));
}

#[test]
fn connector_show_never_prints_secrets() {
    let state = tempfile::tempdir().unwrap();
    let file = repo().join("fixtures/connectors/acme-calling.toml");
    let add = run(&["connector", "add", file.to_str().unwrap()], state.path());
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    let show = run(&["connector", "show", "acme-calling"], state.path());
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("********"));
    assert!(
        !text.contains("example-client-secret") && !text.contains("example-wfo-password"),
        "{text}"
    );
    let status = run(&["status", "acme-calling"], state.path());
    assert!(status.status.success());
    assert!(String::from_utf8_lossy(&status.stdout).contains("not authorized yet"));
    let unknown = run(&["status", "nope"], state.path());
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn auth_url_points_at_the_runner_route() {
    let state = tempfile::tempdir().unwrap();
    let file = repo().join("fixtures/connectors/acme-calling.toml");
    run(&["connector", "add", file.to_str().unwrap()], state.path());
    let out = run(
        &[
            "connector",
            "auth-url",
            "acme-calling",
            "--public-url",
            "https://conn.example.com/",
        ],
        state.path(),
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "https://conn.example.com/oauth/acme-calling/authorize"
    );
    let none = run(&["connector", "auth-url", "acme-calling"], state.path());
    assert_eq!(none.status.code(), Some(2), "no public URL known yet");
}

/// `backfill` in its own process, beside a running runtime on the same state directory,
/// imports every call of the window once; a second run adds nothing.
#[test]
fn backfill_imports_a_window_once_even_when_repeated_beside_a_running_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut cfg = wfo_harness::HarnessConfig::new(state.path().to_owned());
    cfg.webhook = false;
    cfg.poller_enabled = false;
    let h = rt.block_on(wfo_harness::Harness::start(cfg)).unwrap();
    rt.block_on(h.authorize()).unwrap();
    let base = chrono::Utc::now() - chrono::Duration::hours(3);
    let instances: Vec<_> = ["consult-transfer", "call-queue", "park-retrieve-same-user"]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            h.instantiate(s, base + chrono::Duration::minutes(10 * i as i64))
                .unwrap()
        })
        .collect();
    rt.block_on(h.webex.publish_all(&instances));
    let ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();

    let from = (base - chrono::Duration::hours(1)).to_rfc3339();
    let to = chrono::Utc::now().to_rfc3339();
    let args = [
        "backfill",
        wfo_harness::CONNECTOR_ID,
        "--from",
        from.as_str(),
        "--to",
        to.as_str(),
    ];
    let first = run(&args, state.path());
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        out.contains(&format!("{} recordings listed, {} new", ids.len(), ids.len())),
        "{out}"
    );
    assert!(
        rt.block_on(h.wait_settled(&ids, std::time::Duration::from_secs(20)))
            .is_empty()
    );
    for inst in &instances {
        assert!(h.check(inst).is_empty(), "{}: {:?}", inst.scenario, h.check(inst));
    }
    let contacts = h.wfo.contacts().len();

    let second = run(&args, state.path());
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains(", 0 new"));
    assert_eq!(h.wfo.contacts().len(), contacts, "a repeated backfill creates nothing");

    let status = run(&["status", wfo_harness::CONNECTOR_ID], state.path());
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains(&format!("items:    {} total: done {}", ids.len(), ids.len())),
        "{text}"
    );
    rt.block_on(h.shutdown());
}

/// `serve` stops cleanly on SIGTERM (what a service manager or `docker stop` sends), as
/// on Ctrl-C; `--timing` is for tests and soak runs and stays out of the help.
#[test]
fn serve_stops_cleanly_on_sigterm_and_keeps_its_test_timings_out_of_the_help() {
    let help = bin().args(["serve", "--help"]).output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("--listen") && !text.contains("timing"), "{text}");

    let state = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = bin()
        .arg("--state-dir")
        .arg(state.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--timing", "fast"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > until || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("serve did not start: {:?}", child.wait_with_output().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(status.success(), "{status}: {err}");
    assert!(err.contains("stopping"), "{err}");
}

/// A `webex-cc-1` connector authenticates with `source.api_key`: `auth-url` refuses it
/// with the route's message (exit 2, with or without a public URL), and `status` checks the
/// key instead of showing a token, never printing it.
#[test]
fn an_api_key_connector_has_no_auth_url_and_status_checks_its_key_without_printing_it() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("keyed.toml");
    std::fs::write(
        &file,
        r#"
id = "keyed-cc"
acd_name = "Keyed contact center"
kind = "webex-cc-1"
acd_server_id = 6

[source]
api_url = "http://127.0.0.1:9"
media_api_url = "http://127.0.0.1:9"
tenant_id = "tenant-1"
username = "admin@keyed.example"
api_key = "cli-test-key-0123456789"

[wfo]
api_url = "http://127.0.0.1:9"
username = "api@keyed.example"
password = "cli-test-password"

[features]
webhook = false
"#,
    )
    .unwrap();
    let add = run(&["connector", "add", file.to_str().unwrap()], state.path());
    let added = String::from_utf8_lossy(&add.stdout);
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    assert!(
        added.contains("source.api_key") && !added.contains("auth-url"),
        "{added}"
    );
    for args in [
        &[
            "connector",
            "auth-url",
            "keyed-cc",
            "--public-url",
            "https://conn.example.com",
        ][..],
        &["connector", "auth-url", "keyed-cc"][..],
    ] {
        let out = run(args, state.path());
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(out.stdout.is_empty(), "no URL is printed");
        let err = String::from_utf8_lossy(&out.stderr);
        for said in ["keyed-cc", "webex-cc-1", "source.api_key", "nothing to authorize"] {
            assert!(err.contains(said), "{said:?} missing from {err}");
        }
    }
    let began = std::time::Instant::now();
    let status = run(&["status", "keyed-cc"], state.path());
    assert!(
        began.elapsed() < std::time::Duration::from_secs(30),
        "the key check is bounded"
    );
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(
        text.lines().any(|l| l.starts_with("  api key:  ")) && !text.contains("token:"),
        "{text}"
    );
    assert!(
        !text.contains("cli-test-key") && !text.contains("cli-test-password"),
        "{text}"
    );
}
