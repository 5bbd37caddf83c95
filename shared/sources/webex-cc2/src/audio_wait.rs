//! When to look for a task's captures again, and when to stop (reference §3.2, §9.4).
//!
//! No public figure says how long after a call its capture appears (UNCONFIRMED: "design
//! for minutes-to-hours"). The `capture:available` delivery makes a waiting item due at
//! once; these checks are the backstop for deliveries that never come, dense at first and
//! sparse later, so a capture that takes hours costs a few calls, batched by ten.

use chrono::{DateTime, Duration, Utc};
use wfo_domain::ledger::AudioWait;

/// Minutes after the task ended (and its capture delay) at which captures are asked for.
pub const CHECKS_MINUTES: &[i64] = &[
    2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 960, 1200, 1440, 1800, 2160, 2520, 2880,
];
/// A recorded task (`captureRequested: true`) waits this long for its captures.
pub const REQUESTED_WAIT: Duration = Duration::hours(48);
/// A task whose recording is not known (`captureRequested: null`) waits this long.
pub const UNKNOWN_WAIT: Duration = Duration::hours(24);

/// The wait of a task that ended at `ended` (plus the connector's capture delay), as seen
/// at `now`.
pub fn audio_wait(ended: DateTime<Utc>, now: DateTime<Utc>, requested: bool) -> AudioWait {
    let give_up_at = ended + if requested { REQUESTED_WAIT } else { UNKNOWN_WAIT };
    let next_check = CHECKS_MINUTES
        .iter()
        .map(|m| ended + Duration::minutes(*m))
        .find(|t| *t > now && *t <= give_up_at)
        .unwrap_or(give_up_at);
    AudioWait {
        next_check,
        give_up_at,
        requested,
        checks: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_thin_out_and_stop_at_the_give_up_time() {
        let ended = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z").unwrap().to_utc();
        let w = audio_wait(ended, ended, true);
        assert_eq!(w.next_check, ended + Duration::minutes(2));
        assert_eq!(w.give_up_at, ended + Duration::hours(48));
        let w = audio_wait(ended, ended + Duration::minutes(100), true);
        assert_eq!(w.next_check, ended + Duration::minutes(120));
        let late = audio_wait(ended, ended + Duration::hours(47) + Duration::minutes(59), true);
        assert_eq!(late.next_check, ended + Duration::hours(48));
        let unknown = audio_wait(ended, ended + Duration::hours(30), false);
        assert_eq!(unknown.next_check, unknown.give_up_at, "past the wait: no check left");
        assert!(unknown.next_check <= ended + Duration::hours(30));
        // Checks are always in the future while the wait lasts.
        let mut now = ended;
        let mut n = 0;
        while now < ended + REQUESTED_WAIT {
            let w = audio_wait(ended, now, true);
            assert!(w.next_check > now);
            now = w.next_check;
            n += 1;
        }
        assert_eq!(n, CHECKS_MINUTES.len(), "a capture that never comes costs {n} checks");
    }
}
