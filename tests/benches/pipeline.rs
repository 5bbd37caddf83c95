//! Import pipeline benchmark: how many recordings per second the one-machine runtime
//! carries from webhook to WFO (metadata, segmentation, persons, contacts, audio), and
//! the peak memory of the process while it does.
//!
//! `cargo bench -p wfo-tests --bench pipeline [-- CALLS]` (default 240 calls, every
//! scenario in turn). Everything runs on loopback against the simulators; the figure is
//! the connector's own overhead plus the simulators', so real APIs will be slower.

use std::time::{Duration, Instant};

use wfo_harness::{Harness, HarnessConfig};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let calls: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(240);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = HarnessConfig::new(dir.path().to_owned());
        cfg.poller_enabled = false;
        let h = Harness::start(cfg).await.expect("harness");
        h.authorize().await.expect("authorize");
        assert!(h.wait_for_webhook(Duration::from_secs(10)).await, "webhook registered");
        let names = h.scenario_names();
        let base = chrono::Utc::now() - chrono::Duration::days(1);
        let prepared = Instant::now();
        let instances: Vec<_> = (0..calls)
            .map(|i| {
                h.instantiate(&names[i % names.len()], base + chrono::Duration::minutes(8 * i as i64))
                    .expect("instance")
            })
            .collect();
        let prepare_s = prepared.elapsed().as_secs_f64();
        let ids: Vec<String> = instances.iter().flat_map(|i| i.recording_ids()).collect();
        let audio_in: usize = instances
            .iter()
            .flat_map(|i| i.recordings.iter().map(|r| r.audio.bytes.len()))
            .sum();
        let rss_before = peak_rss_kib().unwrap_or(0);
        let started = Instant::now();
        h.webex.publish_all(&instances).await;
        let pending = h.wait_settled(&ids, Duration::from_secs(600)).await;
        let secs = started.elapsed().as_secs_f64();
        assert!(pending.is_empty(), "{} recordings did not finish", pending.len());
        let received = h.received(&ids);
        let audio_out: i64 = received.iter().filter_map(|r| r.audio_bytes).sum();
        let problems: usize = instances.iter().map(|i| h.check(i).len()).sum();
        println!(
            "pipeline: {calls} calls, {} recordings, {} contacts, {problems} mismatches",
            ids.len(),
            received.len()
        );
        println!("  instantiate (simulator MP3 rendering): {prepare_s:.2} s");
        println!(
            "  webhook → done: {secs:.2} s = {:.1} recordings/s, {:.1} contacts/s",
            ids.len() as f64 / secs,
            received.len() as f64 / secs
        );
        println!(
            "  audio: {:.1} MiB downloaded from Webex, {:.1} MiB uploaded to WFO = {:.1} MiB/s uploaded",
            audio_in as f64 / 1048576.0,
            audio_out as f64 / 1048576.0,
            audio_out as f64 / 1048576.0 / secs
        );
        println!(
            "  peak RSS: {:.1} MiB before publishing (simulators hold every MP3 in memory), {:.1} MiB after",
            rss_before as f64 / 1024.0,
            peak_rss_kib().unwrap_or(0) as f64 / 1024.0
        );
        h.shutdown().await;
    });
}
