//! Mapping paths that never match. Metadata field names are case-sensitive
//! (`field.subfield`), so a mapping with a typo silently maps nothing. Every planned item
//! tells which configured paths named no field of its payload; a path that matched no
//! field in any item of the last day is shown by `status` (with the nearest existing
//! field name) and logged once a day.
//!
//! The state is one stored value per connector ([`WATCH_KEY`]), kept in memory by the
//! importer and written when a path's verdict changes, when a report is due, or every
//! [`FLUSH_EVERY`] — never once per item.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use wfo_domain::mapping::UnmatchedPath;

/// The stored value's key (per connector).
pub const WATCH_KEY: &str = "mapping-paths";
/// How long a path may match nothing before it is reported (and between two log lines).
pub const REPORT_AFTER: Duration = Duration::hours(24);
/// Longest time between two writes of the state while items flow.
pub const FLUSH_EVERY: Duration = Duration::minutes(10);

/// What is known of one configured path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathState {
    /// Since when items are checked against this path.
    pub watching_since: DateTime<Utc>,
    /// The last item whose payload had the field.
    pub last_matched: Option<DateTime<Utc>>,
    /// The last item whose payload lacked it.
    #[serde(default)]
    pub last_missed: Option<DateTime<Utc>>,
    /// The nearest field name seen in the last payload without it.
    pub nearest: Option<String>,
    /// When it was last logged as never matching.
    pub last_reported: Option<DateTime<Utc>>,
}

/// Every configured path of one connector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathWatch {
    pub paths: BTreeMap<String, PathState>,
}

/// A path to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeverMatching {
    pub path: String,
    pub nearest: Option<String>,
}

impl PathWatch {
    /// One planned item: `configured` are the mapping paths in force, `misses` those
    /// its payload lacked. Returns whether a path's verdict changed (worth a write).
    pub fn observe(&mut self, configured: &[String], misses: &[UnmatchedPath], now: DateTime<Utc>) -> bool {
        let before: Vec<String> = self.never_matching(now).into_iter().map(|n| n.path).collect();
        self.paths.retain(|p, _| configured.contains(p));
        for path in configured {
            let state = self.paths.entry(path.clone()).or_insert_with(|| PathState {
                watching_since: now,
                last_matched: None,
                last_missed: None,
                nearest: None,
                last_reported: None,
            });
            match misses.iter().find(|m| &m.path == path) {
                Some(miss) => {
                    state.nearest = miss.nearest.clone();
                    state.last_missed = Some(now);
                }
                None => {
                    state.last_matched = Some(now);
                    state.last_reported = None;
                }
            }
        }
        let after: Vec<String> = self.never_matching(now).into_iter().map(|n| n.path).collect();
        before != after
    }

    /// Paths that matched no field in any item of the last [`REPORT_AFTER`] while items
    /// lacking them did arrive (a quiet day proves nothing).
    pub fn never_matching(&self, now: DateTime<Utc>) -> Vec<NeverMatching> {
        self.paths
            .iter()
            .filter(|(_, s)| {
                now - s.watching_since >= REPORT_AFTER
                    && s.last_matched.is_none_or(|t| now - t >= REPORT_AFTER)
                    && s.last_missed.is_some_and(|t| now - t < REPORT_AFTER)
            })
            .map(|(p, s)| NeverMatching {
                path: p.clone(),
                nearest: s.nearest.clone(),
            })
            .collect()
    }

    /// The never-matching paths whose daily log line is due; marks them logged.
    pub fn take_reports(&mut self, now: DateTime<Utc>) -> Vec<NeverMatching> {
        let due: Vec<NeverMatching> = self
            .never_matching(now)
            .into_iter()
            .filter(|n| {
                self.paths[&n.path]
                    .last_reported
                    .is_none_or(|t| now - t >= REPORT_AFTER)
            })
            .collect();
        for n in &due {
            if let Some(s) = self.paths.get_mut(&n.path) {
                s.last_reported = Some(now);
            }
        }
        due
    }
}

/// The connector's stored watch.
pub async fn load(store: &dyn crate::ports::Store, connector_id: &str) -> Result<PathWatch, crate::ports::StoreError> {
    Ok(store
        .get_value(connector_id, WATCH_KEY)
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

/// One line for `status` and the log.
pub fn describe(n: &NeverMatching) -> String {
    match &n.nearest {
        Some(near) => format!(
            "metadata mapping path '{}' matched no field in any recording of the last day (field names are case-sensitive; nearest existing field: '{near}')",
            n.path
        ),
        None => format!(
            "metadata mapping path '{}' matched no field in any recording of the last day (field names are case-sensitive)",
            n.path
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000, 0).unwrap() + Duration::hours(h)
    }

    fn miss(path: &str, nearest: &str) -> UnmatchedPath {
        UnmatchedPath {
            path: path.into(),
            nearest: Some(nearest.into()),
        }
    }

    #[test]
    fn a_mapping_path_that_matches_no_field_in_a_day_of_recordings_is_reported_once_a_day_with_the_nearest_field() {
        let paths = vec![
            "serviceData.callid".to_owned(),
            "serviceData.callRecordingId".to_owned(),
        ];
        let misses = vec![miss("serviceData.callid", "serviceData.callId")];
        let mut w = PathWatch::default();
        w.observe(&paths, &misses, t(0));
        assert!(w.never_matching(t(23)).is_empty(), "not before a day of recordings");
        assert!(w.observe(&paths, &misses, t(25)), "the verdict changed: worth a write");
        let reports = w.take_reports(t(25));
        assert_eq!(
            reports,
            vec![NeverMatching {
                path: "serviceData.callid".into(),
                nearest: Some("serviceData.callId".into())
            }]
        );
        assert!(describe(&reports[0]).contains("nearest existing field: 'serviceData.callId'"));
        assert!(w.take_reports(t(30)).is_empty(), "logged once a day");
        w.observe(&paths, &misses, t(49));
        assert_eq!(w.take_reports(t(50)).len(), 1, "and again the next day");
        assert!(
            w.never_matching(t(80)).is_empty(),
            "a day without recordings proves nothing"
        );
        // The operator fixes the path: the old one leaves the watch.
        let fixed = vec!["serviceData.callId".to_owned()];
        w.observe(&fixed, &[], t(51));
        assert!(w.never_matching(t(80)).is_empty());
    }

    #[test]
    fn a_path_that_matched_some_recording_of_the_day_is_not_reported() {
        let paths = vec!["serviceData.sometimes".to_owned()];
        let mut w = PathWatch::default();
        w.observe(&paths, &[miss("serviceData.sometimes", "x")], t(0));
        w.observe(&paths, &[], t(10));
        w.observe(&paths, &[miss("serviceData.sometimes", "x")], t(20));
        assert!(w.never_matching(t(30)).is_empty());
        w.observe(&paths, &[miss("serviceData.sometimes", "x")], t(34));
        assert_eq!(w.never_matching(t(35)).len(), 1, "a day after its last match");
    }
}
