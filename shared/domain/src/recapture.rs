//! Data recapture (the WxCC guide's "Enable Data Recapture": "recapture data from the
//! entire previous day"): once a day, at `sync.recapture_time` in `sync.time_zone`, the
//! previous day — midnight to midnight in that zone — is walked again, so tasks that
//! changed after they were first imported (activities added, a long call that ended late)
//! are planned again and tasks that were missed are imported.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::SyncConfig;

/// One day's recapture: the local day it is for and its window in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecaptureRun {
    /// The local date the run belongs to (the day after the one it walks).
    pub run_day: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The zone of `sync.time_zone` (UTC when unset or unreadable; configuration validation
/// refuses an unreadable one before it is stored).
pub fn zone(sync: &SyncConfig) -> Tz {
    sync.time_zone
        .as_deref()
        .and_then(|z| z.trim().parse().ok())
        .unwrap_or(Tz::UTC)
}

/// The first instant of local date `d` in `tz` (the earliest, when a clock change makes
/// midnight ambiguous; the first valid minute after it when midnight does not exist).
fn start_of(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let mut t = d.and_time(NaiveTime::MIN);
    for _ in 0..180 {
        if let Some(x) = tz.from_local_datetime(&t).earliest() {
            return x.with_timezone(&Utc);
        }
        t += chrono::Duration::minutes(1);
    }
    Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
}

/// The run that is due at `now`, if any: recapture is on, the local time has reached
/// `recapture_time`, and no run was made for today's local date (`last_run_day`).
pub fn due(sync: &SyncConfig, last_run_day: Option<NaiveDate>, now: DateTime<Utc>) -> Option<RecaptureRun> {
    if !sync.data_recapture {
        return None;
    }
    let tz = zone(sync);
    let local = now.with_timezone(&tz);
    let today = local.date_naive();
    if last_run_day.is_some_and(|d| d >= today) {
        return None;
    }
    let at = NaiveTime::parse_from_str(sync.recapture_time.trim(), "%H:%M").ok()?;
    if local.time() < at {
        return None;
    }
    let yesterday = today.checked_sub_days(Days::new(1))?;
    Some(RecaptureRun {
        run_day: today,
        from: start_of(tz, yesterday),
        to: start_of(tz, today),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(time: &str, tz: Option<&str>) -> SyncConfig {
        SyncConfig {
            data_recapture: true,
            recapture_time: time.to_owned(),
            time_zone: tz.map(str::to_owned),
            ..SyncConfig::default()
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn the_previous_day_is_walked_once_after_the_recapture_time_in_utc_by_default() {
        let c = cfg("02:00", None);
        assert_eq!(due(&c, None, utc("2026-03-10T01:59:00Z")), None, "not yet");
        let run = due(&c, None, utc("2026-03-10T02:00:00Z")).unwrap();
        assert_eq!(run.run_day, NaiveDate::from_ymd_opt(2026, 3, 10).unwrap());
        assert_eq!(
            (run.from, run.to),
            (utc("2026-03-09T00:00:00Z"), utc("2026-03-10T00:00:00Z"))
        );
        assert_eq!(
            due(&c, Some(run.run_day), utc("2026-03-10T23:00:00Z")),
            None,
            "once a day"
        );
        assert!(due(&c, Some(run.run_day), utc("2026-03-11T02:00:00Z")).is_some());
        assert_eq!(
            due(&SyncConfig::default(), None, utc("2026-03-10T05:00:00Z")),
            None,
            "off"
        );
    }

    #[test]
    fn the_day_is_midnight_to_midnight_in_the_configured_zone_across_a_clock_change() {
        // New York moves to summer time on 2026-03-08: that day lasts 23 hours.
        let c = cfg("02:30", Some("America/New_York"));
        let run = due(&c, None, utc("2026-03-09T07:00:00Z")).unwrap();
        assert_eq!(run.run_day, NaiveDate::from_ymd_opt(2026, 3, 9).unwrap());
        assert_eq!(run.from, utc("2026-03-08T05:00:00Z"));
        assert_eq!(run.to, utc("2026-03-09T04:00:00Z"));
        assert_eq!(run.to - run.from, chrono::Duration::hours(23));
        assert_eq!(due(&c, None, utc("2026-03-09T06:00:00Z")), None, "01:00 local: not yet");
    }
}
