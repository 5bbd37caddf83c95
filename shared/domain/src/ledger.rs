//! The durable item ledger's record: one per source item (a Webex Calling recording, a
//! contact-center task), keyed by `(connector, item id)`.
//!
//! ```text
//! discovered -> metadata_fetched -> contacts_imported -> audio_uploaded -> done
//!                  \-> waiting (not ready yet, retry at T; attempts not counted)
//!                  \-> needs_operator (credentials, permissions, roles, configuration:
//!                       the connector waits for a fix and looks again; never dies of it)
//!                  \-> failed (attempts, last error, next attempt) -> dead (after at least
//!                       `max_attempts` and `keep_trying_for` of failing)
//! ```
//!
//! `stage` says how far the item got; `health` says whether it is moving. Both are
//! visible (`wfo-connect status`), and every transition is a pure function here so the
//! rules are tested without a store.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::redact::redact_secrets;
use crate::segment::SegmentedContact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Discovered,
    MetadataFetched,
    ContactsImported,
    AudioUploaded,
    Done,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Discovered => "discovered",
            Stage::MetadataFetched => "metadata_fetched",
            Stage::ContactsImported => "contacts_imported",
            Stage::AudioUploaded => "audio_uploaded",
            Stage::Done => "done",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Moving normally (or finished).
    Ok,
    /// Waiting for something outside us (audio not ready yet); attempts are not counted.
    Waiting,
    /// Held by a problem an operator can fix (credentials, permissions, a missing role or
    /// default team, configuration): not counted, never killed, looked at again
    /// periodically so it resumes by itself once the problem is gone.
    NeedsOperator,
    /// The last attempt failed; it will be retried at `next_attempt_at`.
    Failed,
    /// Gave up: an operator must look (`wfo-connect status`).
    Dead,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Waiting => "waiting",
            Health::NeedsOperator => "needs_operator",
            Health::Failed => "failed",
            Health::Dead => "dead",
        }
    }
}

/// How the item was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Discovery {
    Webhook,
    Poller,
    Backfill,
    /// The daily data recapture walked the item's day again.
    Recapture,
}

/// One WFO contact planned for this item and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactProgress {
    pub plan: SegmentedContact,
    /// WFO contact id, written back before any later step.
    pub contact_id: Option<i64>,
    pub metadata_done: bool,
    pub audio_bytes: Option<i64>,
    /// The agent's name as the source payload gave it: a person the import has to create
    /// is named with it (items stored before this field read it as absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<AgentName>,
    /// An import of this contact may have been sent (a contact step began while it had no
    /// id). `false` only while the ledger is sure none was: its first import then needs no
    /// lookup by `externalId`. Items stored before this field read it as `true` (unknown).
    #[serde(default = "maybe_sent")]
    pub import_sent: bool,
}

fn maybe_sent() -> bool {
    true
}

impl ContactProgress {
    pub fn new(plan: SegmentedContact) -> Self {
        Self {
            plan,
            contact_id: None,
            metadata_done: false,
            audio_bytes: None,
            agent_name: None,
            import_sent: false,
        }
    }
}

/// An agent's name from a source payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentName {
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl AgentName {
    /// "First Last" split at the first space (a single word is the first name).
    pub fn from_display(name: &str, email: Option<String>) -> Option<Self> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let (first, last) = match name.split_once(' ') {
            Some((f, l)) => (f.to_owned(), l.trim().to_owned()),
            None => (name.to_owned(), String::new()),
        };
        Some(Self {
            first_name: first,
            last_name: last,
            email,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerItem {
    pub connector_id: String,
    pub item_id: String,
    pub stage: Stage,
    pub health: Health,
    pub discovered_by: Discovery,
    pub discovered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Failed attempts since the last progress.
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When the item should next be looked at (retry time, or the deadline by which a
    /// queued message should have been picked up).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The interaction this item belongs to (e.g. callSessionId), once known.
    pub interaction_id: Option<String>,
    pub contacts: Vec<ContactProgress>,
    /// A step has started and not finished: its attempt is already counted. Still set
    /// when the next step begins means the last one was cut off (a crash, a Lambda
    /// timeout) and recorded nothing else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_step: bool,
    /// When the current run of failures began (cleared by progress): an item dies only
    /// after failing for [`RetrySchedule::keep_trying_for`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// What the import decided not to do and why (segments skipped for an ineligible
    /// agent, a plan without contacts, contacts superseded by a new plan): shown by
    /// `status`, never silent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the source asked to keep from its last plan of this item (its compact copy of
    /// the payload), handed back when it plans again for late audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_state: Option<serde_json::Value>,
    /// Contacts imported without their audio wait for it (a Contact Center capture that is
    /// not there yet): when the next check is, and until when audio can still appear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_wait: Option<AudioWait>,
    /// Optimistic-concurrency version, bumped by the store on every write.
    pub version: i64,
}

/// An item's wait for audio that comes after its contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioWait {
    /// When to ask the source again (a delivery saying the audio is there makes it now).
    pub next_check: DateTime<Utc>,
    /// After this, audio that has not appeared is given up.
    pub give_up_at: DateTime<Utc>,
    /// The source said audio was requested (a recording should exist): a wait that runs
    /// out is a failure an operator sees; otherwise the contacts simply have no audio.
    pub requested: bool,
    /// Checks made so far.
    #[serde(default)]
    pub checks: u32,
}

/// How long a newly queued item may wait for pickup before a sweeper enqueues it again
/// (covers a crash between recording an item and enqueuing it, and lost messages).
pub const PICKUP_GRACE: Duration = Duration::seconds(60);

/// Retry schedule for failed attempts: 30 s doubling to a 2 h ceiling, and an item is
/// dead only when it has failed `max_attempts` times *and* for `keep_trying_for` (7 days
/// by default: as long as Webex keeps a recording at the least), so no outage of a
/// dependency, however long, loses a recording while the source still has it.
#[derive(Debug, Clone, Copy)]
pub struct RetrySchedule {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
    pub keep_trying_for: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            base: Duration::seconds(30),
            max: Duration::hours(2),
            keep_trying_for: Duration::days(7),
        }
    }
}

impl RetrySchedule {
    /// Whether an item that has failed `attempts` times, since `failing_since`, is given up.
    pub fn gives_up(&self, attempts: u32, failing_since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        attempts >= self.max_attempts && failing_since.is_none_or(|since| now - since >= self.keep_trying_for)
    }

    /// Delay before the retry that follows failure number `attempts` (1-based).
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 1i64 << attempts.saturating_sub(1).min(20);
        let d = self.base * factor as i32;
        if d > self.max { self.max } else { d }
    }
}

impl LedgerItem {
    pub fn discovered(connector_id: &str, item_id: &str, by: Discovery, now: DateTime<Utc>) -> Self {
        Self {
            connector_id: connector_id.to_owned(),
            item_id: item_id.to_owned(),
            stage: Stage::Discovered,
            health: Health::Ok,
            discovered_by: by,
            discovered_at: now,
            updated_at: now,
            attempts: 0,
            last_error: None,
            next_attempt_at: Some(now + PICKUP_GRACE),
            interaction_id: None,
            contacts: Vec::new(),
            in_step: false,
            failing_since: None,
            notes: Vec::new(),
            source_state: None,
            audio_wait: None,
            version: 0,
        }
    }

    /// The source says something changed for this item (a delivery about a task whose
    /// capture is awaited): a waiting item is looked at now. Returns whether it was.
    pub fn nudge(&mut self, now: DateTime<Utc>) -> bool {
        if self.is_terminal() || self.health != Health::Waiting {
            return false;
        }
        if let Some(w) = self.audio_wait.as_mut() {
            w.next_check = w.next_check.min(now);
        }
        self.next_attempt_at = Some(now);
        self.updated_at = now;
        true
    }

    /// Contacts that wait for audio the source has not given yet.
    pub fn contacts_awaiting_audio(&self) -> usize {
        self.contacts
            .iter()
            .filter(|c| {
                c.audio_bytes.is_none()
                    && c.plan.media.is_none()
                    && c.plan.contact.audio.as_ref().is_some_and(|a| a.expected)
            })
            .count()
    }

    pub fn is_terminal(&self) -> bool {
        self.stage == Stage::Done || self.health == Health::Dead
    }

    /// A step begins: its attempt is counted now, so a step that is cut off (the process
    /// dies, the Lambda times out) is still a counted attempt, named as cut off when the
    /// next step begins. The item is not due again before `held` (the worker's lease: no
    /// second message while the step runs) nor before the failure backoff. Returns
    /// `false` when the item died here because steps were cut off `max_attempts` times.
    pub fn begin_step(&mut self, schedule: &RetrySchedule, held: Duration, now: DateTime<Utc>) -> bool {
        if self.in_step {
            let stage = self.stage.as_str();
            self.last_error = Some(format!(
                "the last {stage} step was cut off before it finished (the process stopped or ran out of time); {} attempt(s) so far",
                self.attempts
            ));
            self.failing_since.get_or_insert(now);
            if schedule.gives_up(self.attempts, self.failing_since, now) {
                self.kill(
                    &format!("{}: giving up", self.last_error.clone().unwrap_or_default()),
                    now,
                );
                return false;
            }
        }
        self.attempts += 1;
        self.in_step = true;
        self.health = Health::Ok;
        self.updated_at = now;
        let delay = schedule.delay(self.attempts).max(held);
        self.next_attempt_at = Some(now.checked_add_signed(delay).unwrap_or(now));
        true
    }

    /// A contact step is about to begin: the contacts without a WFO id whose import was
    /// never sent are marked as (maybe) sent, and their external ids returned — this step
    /// may import them without looking them up first, because the mark is stored with the
    /// step's start, before any import. A later step (after a crash, a retry) sees the
    /// mark and looks them up.
    pub fn mark_imports_sent(&mut self) -> Vec<String> {
        self.contacts
            .iter_mut()
            .filter(|c| c.contact_id.is_none() && !c.import_sent)
            .map(|c| {
                c.import_sent = true;
                c.plan.contact.external_id.clone()
            })
            .collect()
    }

    /// A step succeeded: the item moved on.
    pub fn advance(&mut self, stage: Stage, now: DateTime<Utc>) {
        self.in_step = false;
        self.stage = stage;
        self.health = Health::Ok;
        self.attempts = 0;
        self.failing_since = None;
        self.last_error = None;
        self.updated_at = now;
        self.next_attempt_at = if stage == Stage::Done { None } else { Some(now) };
    }

    /// A retryable failure. Returns the time of the next attempt, or `None` when the
    /// item is now dead.
    pub fn fail(
        &mut self,
        error: &str,
        schedule: &RetrySchedule,
        retry_after: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        // A step that began has counted its attempt already.
        if !std::mem::take(&mut self.in_step) {
            self.attempts += 1;
        }
        self.last_error = Some(redact_secrets(error));
        self.updated_at = now;
        self.failing_since.get_or_insert(now);
        if schedule.gives_up(self.attempts, self.failing_since, now) {
            self.health = Health::Dead;
            self.next_attempt_at = None;
            return None;
        }
        self.health = Health::Failed;
        let mut delay = schedule.delay(self.attempts);
        if let Some(ra) = retry_after
            && ra > delay
        {
            delay = ra;
        }
        // A wait from outside is clamped where it is read; this keeps any remaining
        // arithmetic from overflowing.
        let at = now.checked_add_signed(delay).unwrap_or(now + schedule.max);
        self.next_attempt_at = Some(at);
        Some(at)
    }

    /// A permanent failure: no retry will help.
    pub fn kill(&mut self, error: &str, now: DateTime<Utc>) {
        if !std::mem::take(&mut self.in_step) {
            self.attempts += 1;
        }
        self.health = Health::Dead;
        self.last_error = Some(redact_secrets(error));
        self.updated_at = now;
        self.next_attempt_at = None;
    }

    /// Not a failure: wait for something outside us (audio not ready, tokens missing).
    pub fn wait(&mut self, reason: &str, until: DateTime<Utc>, now: DateTime<Utc>) {
        // Waiting is not failing: the attempt the step counted is given back.
        if std::mem::take(&mut self.in_step) {
            self.attempts = self.attempts.saturating_sub(1);
        }
        self.health = Health::Waiting;
        self.last_error = Some(redact_secrets(reason));
        self.updated_at = now;
        self.next_attempt_at = Some(until);
    }

    /// Held by a problem an operator can fix: like [`Self::wait`] (not counted), but
    /// shown apart, so `status` says the connector needs someone, not that audio is late.
    pub fn hold_for_operator(&mut self, reason: &str, until: DateTime<Utc>, now: DateTime<Utc>) {
        self.wait(reason, until, now);
        self.health = Health::NeedsOperator;
    }

    /// Record something the import decided not to do (at most a bounded number of notes).
    pub fn note(&mut self, text: impl Into<String>) {
        const MAX_NOTES: usize = 50;
        let text = redact_secrets(&text.into());
        if self.notes.len() < MAX_NOTES && !self.notes.contains(&text) {
            self.notes.push(text);
        }
    }

    /// The data recapture walks the item's day again: a finished (or dead) item is planned
    /// again from fresh source data. What it achieved is kept where the new plan has the
    /// same segments (contact ids, audio); changed metadata is written again; new segments
    /// become new contacts. Returns false for an item still in progress (it plans anyway).
    pub fn recapture(&mut self, day: &str, now: DateTime<Utc>) -> bool {
        if !self.is_terminal() {
            return false;
        }
        self.stage = Stage::Discovered;
        self.health = Health::Ok;
        self.attempts = 0;
        self.failing_since = None;
        self.last_error = None;
        self.in_step = false;
        self.audio_wait = None;
        self.source_state = None;
        self.next_attempt_at = Some(now);
        self.updated_at = now;
        self.note(format!("planned again by the data recapture of {day}"));
        true
    }

    /// An operator asks for a dead item to be tried again.
    pub fn revive(&mut self, now: DateTime<Utc>) {
        self.health = Health::Ok;
        self.attempts = 0;
        self.failing_since = None;
        self.next_attempt_at = Some(now);
        self.updated_at = now;
    }

    /// A short state label for status output: `stage` or `stage/health`.
    pub fn state_label(&self) -> String {
        if self.health == Health::Ok {
            self.stage.as_str().to_owned()
        } else {
            format!("{}/{}", self.stage.as_str(), self.health.as_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn failures_back_off_then_die_after_max_attempts() {
        let mut item = LedgerItem::discovered("c", "r", Discovery::Webhook, t0());
        let s = RetrySchedule {
            max_attempts: 3,
            base: Duration::seconds(10),
            max: Duration::seconds(25),
            keep_trying_for: Duration::zero(),
        };
        assert_eq!(item.fail("boom", &s, None, t0()), Some(t0() + Duration::seconds(10)));
        assert_eq!(item.fail("boom", &s, None, t0()), Some(t0() + Duration::seconds(20)));
        assert_eq!(item.health, Health::Failed);
        assert_eq!(item.fail("boom", &s, None, t0()), None);
        assert_eq!(item.health, Health::Dead);
        assert!(item.is_terminal());
        assert_eq!(item.state_label(), "discovered/dead");
    }

    #[test]
    fn by_default_a_failing_item_keeps_trying_for_seven_days_at_most_every_two_hours() {
        let s = RetrySchedule::default();
        let mut item = LedgerItem::discovered("c", "r", Discovery::Webhook, t0());
        let mut now = t0();
        let mut attempts = 0;
        while let Some(at) = item.fail("WFO 503", &s, None, now) {
            assert!(at - now <= Duration::hours(2), "ceiling of 2 h");
            now = at;
            attempts += 1;
            assert!(attempts < 1000, "gives up eventually");
        }
        assert_eq!(item.health, Health::Dead);
        assert!(
            now - t0() >= Duration::days(7),
            "kept trying for a week: {}",
            now - t0()
        );
        assert!(now - t0() < Duration::days(7) + Duration::hours(3));
        // Progress forgets the run of failures.
        let mut item = LedgerItem::discovered("c", "r", Discovery::Webhook, t0());
        item.fail("x", &s, None, t0());
        item.advance(Stage::MetadataFetched, t0());
        assert_eq!(item.failing_since, None);
    }

    #[test]
    fn an_operator_problem_holds_the_item_uncounted_and_apart() {
        let mut item = LedgerItem::discovered("c", "r", Discovery::Webhook, t0());
        item.begin_step(&RetrySchedule::default(), Duration::seconds(60), t0());
        item.hold_for_operator(
            "403: grant the Compliance Officer role",
            t0() + Duration::minutes(5),
            t0(),
        );
        assert_eq!((item.attempts, item.health), (0, Health::NeedsOperator));
        assert_eq!(item.state_label(), "discovered/needs_operator");
        assert!(!item.is_terminal());
    }

    #[test]
    fn notes_are_bounded_and_not_repeated() {
        let mut item = LedgerItem::discovered("c", "r", Discovery::Webhook, t0());
        for i in 0..200 {
            item.note(format!("skipped {}", i % 80));
        }
        assert_eq!(item.notes.len(), 50);
        item.note("skipped 0");
        assert_eq!(item.notes.len(), 50);
    }

    #[test]
    fn retry_after_longer_than_backoff_wins() {
        let mut item = LedgerItem::discovered("c", "r", Discovery::Poller, t0());
        let at = item.fail("429", &RetrySchedule::default(), Some(Duration::minutes(5)), t0());
        assert_eq!(at, Some(t0() + Duration::minutes(5)));
    }

    #[test]
    fn progress_resets_attempts_and_waiting_does_not_count() {
        let mut item = LedgerItem::discovered("c", "r", Discovery::Webhook, t0());
        item.fail("x", &RetrySchedule::default(), None, t0());
        item.advance(Stage::MetadataFetched, t0());
        assert_eq!((item.attempts, item.health), (0, Health::Ok));
        item.wait("reauthorization required", t0() + Duration::minutes(1), t0());
        assert_eq!((item.attempts, item.health), (0, Health::Waiting));
    }

    #[test]
    fn a_step_cut_off_mid_way_is_a_counted_visible_attempt_and_dies_after_the_limit() {
        let s = RetrySchedule {
            max_attempts: 3,
            keep_trying_for: Duration::zero(),
            ..RetrySchedule::default()
        };
        let now = Utc::now();
        let mut item = LedgerItem::discovered("c", "r", Discovery::Webhook, now);
        // Three steps begin and are cut off (nothing else is ever recorded).
        for n in 1..=3 {
            assert!(item.begin_step(&s, Duration::seconds(60), now));
            assert_eq!(item.attempts, n, "counted as it begins");
            assert!(item.next_attempt_at.unwrap() > now, "retried after a backoff");
            if n > 1 {
                assert!(
                    item.last_error.as_deref().unwrap().contains("cut off"),
                    "named at the next begin"
                );
            }
        }
        assert!(
            !item.begin_step(&s, Duration::seconds(60), now),
            "the fourth is refused"
        );
        assert_eq!(item.health, Health::Dead);
        assert!(
            item.last_error.as_deref().unwrap().contains("giving up"),
            "{:?}",
            item.last_error
        );
    }

    #[test]
    fn a_step_that_ends_counts_its_attempt_once_and_waiting_counts_none() {
        let s = RetrySchedule::default();
        let now = Utc::now();
        let mut item = LedgerItem::discovered("c", "r", Discovery::Webhook, now);
        item.begin_step(&s, Duration::seconds(60), now);
        item.fail("503", &s, None, now);
        assert_eq!(item.attempts, 1);
        item.begin_step(&s, Duration::seconds(60), now);
        item.wait("paused", now, now);
        assert_eq!(item.attempts, 1, "waiting gives the attempt back");
        item.begin_step(&s, Duration::seconds(60), now);
        item.advance(Stage::MetadataFetched, now);
        assert_eq!((item.attempts, item.in_step), (0, false));
    }

    #[test]
    fn delay_is_capped() {
        let s = RetrySchedule::default();
        assert_eq!(s.delay(30), s.max);
    }
}
