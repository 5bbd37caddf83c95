//! The gauges of the metrics ([`crate::metrics`]): what no single event says, measured
//! by a periodic run (the scheduler's `monitor` task on AWS) over the stored state.
//!
//! - **Open items by health** per connector (`ItemsWaiting`, `ItemsFailed`, `ItemsHeld`),
//!   from the ledger's open items (the sparse `open` index on DynamoDB: done items cost
//!   nothing), at most [`MonitorSettings::open_item_limit`] per connector.
//! - **No recent import** per connector (`NoRecentImport`): 1 when, during configured
//!   business hours, the connector has imported nothing for the quiet period. The quiet
//!   period is counted from the later of the last import and the opening of the current
//!   business day, so a Monday morning does not alarm for the weekend. A CloudWatch alarm
//!   alone cannot know business hours in a time zone with daylight saving time, nor that
//!   a connector which emits nothing at all is quiet; this run knows both.
//!
//! The last import is a value the import worker writes (best effort) when a step created
//! contacts in WFO: [`record_import`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::json;
use wfo_domain::ledger::Health;

use crate::metrics::{self, OpenItems};
use crate::ports::{Store, StoreError};

/// The state value holding a connector's last import (`{"at": RFC 3339}`).
pub const LAST_IMPORT_KEY: &str = "last-import";

/// Record that `connector_id` imported contacts at `at`. Best effort: a failure is
/// logged, never fails the import (the worst outcome is a false "no recent import").
pub async fn record_import(store: &dyn Store, connector_id: &str, at: DateTime<Utc>) {
    let value = json!({ "at": at.to_rfc3339() });
    if let Err(e) = store.put_value(connector_id, LAST_IMPORT_KEY, &value).await {
        tracing::warn!(connector = connector_id, error = %e, "cannot record the connector's last import time");
    }
}

/// The connector's last import, if one was recorded.
pub async fn last_import(store: &dyn Store, connector_id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(store
        .get_value(connector_id, LAST_IMPORT_KEY)
        .await?
        .and_then(|v| v.get("at").and_then(|a| a.as_str()).map(str::to_owned))
        .and_then(|a| DateTime::parse_from_rfc3339(&a).ok())
        .map(|a| a.with_timezone(&Utc)))
}

/// A business-hours specification that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("business hours '{0}': expected days and times like 'Mon-Fri 08:00-18:00'")]
    Shape(String),
    #[error("business hours: '{0}' is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun)")]
    Day(String),
    #[error("business hours: '{0}' is not a time of day (HH:MM)")]
    Time(String),
    #[error("business hours: the opening {0} is not before the closing {1}")]
    Order(NaiveTime, NaiveTime),
    #[error("business time zone '{0}' is not an IANA time zone (such as Europe/Berlin)")]
    Zone(String),
}

/// When imports are expected: weekdays and a daily opening and closing time in a time
/// zone. Written `Mon-Fri 08:00-18:00` (days as a range or a comma list: `Mon,Wed,Fri`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    /// Monday first.
    days: [bool; 7],
    open: NaiveTime,
    close: NaiveTime,
    tz: Tz,
}

fn weekday(s: &str) -> Result<Weekday, HoursError> {
    s.trim()
        .parse::<Weekday>()
        .map_err(|_| HoursError::Day(s.trim().to_owned()))
}

fn time(s: &str) -> Result<NaiveTime, HoursError> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| HoursError::Time(s.trim().to_owned()))
}

impl BusinessHours {
    /// `spec` as above, in the IANA time zone `tz`.
    pub fn parse(spec: &str, tz: &str) -> Result<Self, HoursError> {
        let tz = tz
            .trim()
            .parse::<Tz>()
            .map_err(|_| HoursError::Zone(tz.trim().to_owned()))?;
        let mut parts = spec.split_whitespace();
        let (Some(days_part), Some(times_part), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(HoursError::Shape(spec.to_owned()));
        };
        let mut days = [false; 7];
        for piece in days_part.split(',') {
            match piece.split_once('-') {
                Some((from, to)) => {
                    let (from, to) = (weekday(from)?, weekday(to)?);
                    let mut d = from;
                    // At most 7 steps: the range wraps (Sat-Mon) as a week does.
                    for _ in 0..7 {
                        days[d.num_days_from_monday() as usize] = true;
                        if d == to {
                            break;
                        }
                        d = d.succ();
                    }
                }
                None => days[weekday(piece)?.num_days_from_monday() as usize] = true,
            }
        }
        let (open, close) = times_part
            .split_once('-')
            .ok_or_else(|| HoursError::Shape(spec.to_owned()))?;
        let (open, close) = (time(open)?, time(close)?);
        if open >= close {
            return Err(HoursError::Order(open, close));
        }
        Ok(Self { days, open, close, tz })
    }

    /// When the business day containing `now` opened, if `now` is within business hours.
    pub fn opened_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.tz);
        if !self.days[local.weekday().num_days_from_monday() as usize] {
            return None;
        }
        let t = local.time();
        if t < self.open || t >= self.close {
            return None;
        }
        // The opening as a local time; in a daylight-saving gap it does not exist, then
        // the day counts from `now` (no alarm before the quiet period has passed).
        let opening = self
            .tz
            .from_local_datetime(&local.date_naive().and_time(self.open))
            .earliest()
            .map(|o| o.with_timezone(&Utc))
            .unwrap_or(now);
        Some(opening.min(now))
    }
}

impl fmt::Display for BusinessHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let days: Vec<&str> = (0..7).filter(|i| self.days[*i]).map(|i| names[i]).collect();
        write!(
            f,
            "{} {}-{} {}",
            days.join(","),
            self.open.format("%H:%M"),
            self.close.format("%H:%M"),
            self.tz
        )
    }
}

/// "A connector imported nothing for `quiet` during business hours."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietWatch {
    pub hours: BusinessHours,
    pub quiet: Duration,
}

impl QuietWatch {
    /// Whether a connector whose last import was `last` (or, never, that was stored at
    /// `created`) is quiet at `now`.
    pub fn is_quiet(&self, last: Option<DateTime<Utc>>, created: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let Some(opened) = self.hours.opened_at(now) else {
            return false;
        };
        let since = last.unwrap_or(created).max(opened);
        now - since >= self.quiet
    }
}

impl FromStr for BusinessHours {
    type Err = HoursError;

    /// `Mon-Fri 08:00-18:00 Europe/Berlin` (the zone last).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (spec, tz) = s
            .trim()
            .rsplit_once(' ')
            .ok_or_else(|| HoursError::Shape(s.to_owned()))?;
        Self::parse(spec, tz)
    }
}

/// What a monitor run measures.
#[derive(Debug, Clone)]
pub struct MonitorSettings {
    /// `None`: no `NoRecentImport` gauge.
    pub quiet: Option<QuietWatch>,
    /// Open items read per connector at most (the gauges saturate there).
    pub open_item_limit: usize,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        Self {
            quiet: None,
            open_item_limit: 5000,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorReport {
    /// Connectors measured.
    pub connectors: u64,
    /// Connectors now quiet (`NoRecentImport` 1).
    pub quiet: Vec<String>,
    /// Connectors whose state could not be read (the next run tries again).
    pub failures: Vec<String>,
}

/// Open items by health, as the gauges count them.
pub fn count_open<'a>(healths: impl IntoIterator<Item = &'a Health>) -> OpenItems {
    let mut n = OpenItems::default();
    for h in healths {
        match h {
            Health::Waiting => n.waiting += 1,
            Health::Failed => n.failed += 1,
            Health::NeedsOperator => n.held += 1,
            Health::Ok | Health::Dead => {}
        }
    }
    n
}

/// One pass over every stored connector: emit its gauges.
pub async fn run(
    store: &dyn Store,
    settings: &MonitorSettings,
    now: DateTime<Utc>,
) -> Result<MonitorReport, StoreError> {
    let mut report = MonitorReport::default();
    for c in store.list_connectors().await? {
        let id = &c.config.id;
        let open = match store.list(id, true, settings.open_item_limit).await {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(connector = %id, error = %e, "monitor cannot read the open items; the next run tries again");
                report.failures.push(id.clone());
                continue;
            }
        };
        metrics::open_items(id, count_open(open.iter().map(|i| &i.health)), now);
        if let Some(watch) = &settings.quiet {
            match last_import(store, id).await {
                Ok(last) => {
                    let quiet = watch.is_quiet(last, c.created_at, now);
                    if quiet {
                        tracing::info!(connector = %id, last_import = ?last, quiet_minutes = watch.quiet.num_minutes(), hours = %watch.hours, "no import for the quiet period within business hours");
                        report.quiet.push(id.clone());
                    }
                    metrics::no_recent_import(id, quiet, now);
                }
                Err(e) => {
                    tracing::warn!(connector = %id, error = %e, "monitor cannot read the last import; the next run tries again");
                    report.failures.push(id.clone());
                }
            }
        }
        report.connectors += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn watch(spec: &str, minutes: i64) -> QuietWatch {
        QuietWatch {
            hours: spec.parse().unwrap(),
            quiet: Duration::minutes(minutes),
        }
    }

    #[test]
    fn business_hours_read_day_ranges_lists_times_and_a_zone() {
        let h: BusinessHours = "Mon-Fri 08:00-18:00 Europe/Berlin".parse().unwrap();
        assert_eq!(h.to_string(), "Mon,Tue,Wed,Thu,Fri 08:00-18:00 Europe/Berlin");
        let h = BusinessHours::parse("Sat-Mon,Wed 09:30-12:00", "UTC").unwrap();
        assert_eq!(h.to_string(), "Mon,Wed,Sat,Sun 09:30-12:00 UTC");
    }

    #[test]
    fn unreadable_business_hours_say_what_is_wrong() {
        assert_eq!(
            BusinessHours::parse("Mon-Fri", "UTC"),
            Err(HoursError::Shape("Mon-Fri".into()))
        );
        assert_eq!(
            BusinessHours::parse("Mon-Fry 08:00-18:00", "UTC"),
            Err(HoursError::Day("Fry".into()))
        );
        assert_eq!(
            BusinessHours::parse("Mon-Fri 8h-18:00", "UTC"),
            Err(HoursError::Time("8h".into()))
        );
        assert!(matches!(
            BusinessHours::parse("Mon-Fri 18:00-08:00", "UTC"),
            Err(HoursError::Order(..))
        ));
        assert_eq!(
            BusinessHours::parse("Mon-Fri 08:00-18:00", "Mars/Olympus"),
            Err(HoursError::Zone("Mars/Olympus".into()))
        );
    }

    #[test]
    fn outside_business_hours_nobody_is_quiet() {
        let w = watch("Mon-Fri 08:00-18:00 UTC", 60);
        let long_ago = utc("2026-01-01T00:00:00Z");
        // Saturday noon, Wednesday 07:59 and 18:00.
        assert!(!w.is_quiet(Some(long_ago), long_ago, utc("2026-01-03T12:00:00Z")));
        assert!(!w.is_quiet(Some(long_ago), long_ago, utc("2026-01-07T07:59:00Z")));
        assert!(!w.is_quiet(Some(long_ago), long_ago, utc("2026-01-07T18:00:00Z")));
        assert!(w.is_quiet(Some(long_ago), long_ago, utc("2026-01-07T17:59:00Z")));
    }

    #[test]
    fn the_quiet_period_counts_from_the_opening_not_from_last_night() {
        let w = watch("Mon-Fri 08:00-18:00 UTC", 60);
        let friday_evening = utc("2026-01-02T17:30:00Z");
        let created = utc("2025-12-01T00:00:00Z");
        // Monday 08:59: 59 minutes of business time without an import.
        assert!(!w.is_quiet(Some(friday_evening), created, utc("2026-01-05T08:59:00Z")));
        assert!(w.is_quiet(Some(friday_evening), created, utc("2026-01-05T09:00:00Z")));
        // An import at 09:10 starts the period again.
        let imported = utc("2026-01-05T09:10:00Z");
        assert!(!w.is_quiet(Some(imported), created, utc("2026-01-05T10:09:00Z")));
        assert!(w.is_quiet(Some(imported), created, utc("2026-01-05T10:10:00Z")));
    }

    #[test]
    fn a_connector_that_never_imported_counts_from_when_it_was_stored() {
        let w = watch("Mon-Sun 00:00-23:59 UTC", 120);
        let created = utc("2026-01-05T10:00:00Z");
        assert!(!w.is_quiet(None, created, utc("2026-01-05T11:59:00Z")));
        assert!(w.is_quiet(None, created, utc("2026-01-05T12:00:00Z")));
    }

    #[test]
    fn business_hours_follow_the_zone_through_daylight_saving_time() {
        let w = watch("Mon-Fri 08:00-18:00 Europe/Berlin", 30);
        let old = utc("2026-01-01T00:00:00Z");
        // Winter (UTC+1): 08:00 Berlin is 07:00 UTC. Summer (UTC+2): 06:00 UTC.
        assert!(!w.is_quiet(Some(old), old, utc("2026-01-07T07:29:00Z")));
        assert!(w.is_quiet(Some(old), old, utc("2026-01-07T07:30:00Z")));
        assert!(!w.is_quiet(Some(old), old, utc("2026-07-08T06:29:00Z")));
        assert!(w.is_quiet(Some(old), old, utc("2026-07-08T06:30:00Z")));
        // 17:59 Berlin in summer is 15:59 UTC; 16:00 UTC is closed.
        assert!(w.is_quiet(Some(old), old, utc("2026-07-08T15:59:00Z")));
        assert!(!w.is_quiet(Some(old), old, utc("2026-07-08T16:00:00Z")));
    }

    #[test]
    fn open_items_are_counted_by_health() {
        let hs = [
            Health::Waiting,
            Health::Failed,
            Health::Failed,
            Health::NeedsOperator,
            Health::Ok,
        ];
        assert_eq!(
            count_open(hs.iter()),
            OpenItems {
                waiting: 1,
                failed: 2,
                held: 1
            }
        );
    }
}
