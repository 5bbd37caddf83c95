//! `wfo-connect dlq list|replay`: the dead letters, on either backend.
//!
//! A dead letter is a work message set aside: unreadable, naming no ledger item, or
//! received too often without being completed (the embedded queue after
//! `wfo_store::MAX_RECEIVES`, SQS's redrive policy after `maxReceiveCount`). `list` shows
//! each with the id `replay` takes; `replay` puts messages back on the work queue through
//! [`WorkQueue::redrive`](wfo_pipeline::ports::WorkQueue::redrive), which sends the copy
//! before it deletes the dead letter: a crash in between leaves a duplicate, never a loss.
//! Replaying is safe to repeat: the second replay of an id finds nothing, and a message
//! replayed twice imports its item once (the ledger's lease and conditional steps).
//!
//! On AWS the stack has a second dead-letter queue, the scheduler's (failed scheduled
//! runs, `WFO_SCHEDULER_DEAD_LETTER_QUEUE_URL`): `list` shows it when that is set, and
//! `replay` leaves it alone, since the schedules repeat that work by themselves.

use clap::Subcommand;
use wfo_pipeline::ports::{Received, Store, WorkMessage};

use crate::Failure;

/// The most dead letters one `list` prints or one `replay --all` moves.
const MAX_LETTERS: usize = 10_000;
/// Characters of a body that is not a work message shown by `list`.
const BODY_PREVIEW: usize = 120;

#[derive(Debug, Subcommand)]
pub enum DlqCmd {
    /// Show the dead letters: id, connector, item, reason and when each was set aside.
    List {
        /// Show at most this many per queue.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put dead letters back on the work queue and remove them from the dead letters
    /// (safe to repeat: an item is never imported twice).
    Replay {
        /// Every dead letter of the work queue.
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// The id `dlq list` shows.
        #[arg(required_unless_present = "all")]
        id: Option<String>,
    },
}

/// Dead letters of a queue other than the work queue's, shown by `list` only.
pub struct OtherQueue {
    /// What the queue holds, e.g. "scheduler (failed scheduled runs)".
    pub label: String,
    pub letters: Vec<Received>,
    /// What an operator does about them, printed under the list.
    pub advice: String,
}

/// Run `action` on `store`'s dead letters. `others` are listed after them; `worker` says
/// who takes replayed messages up (`serve`, or the stack's import worker).
pub async fn run(store: &dyn Store, others: Vec<OtherQueue>, worker: &str, action: DlqCmd) -> Result<(), Failure> {
    match action {
        DlqCmd::List { limit } => {
            let letters = store.dead_letters(limit.min(MAX_LETTERS)).await.map_err(Failure::job)?;
            println!("work queue: {} dead letter(s)", letters.len());
            for d in &letters {
                println!("{}", line(d));
            }
            if !letters.is_empty() {
                println!("replay: wfo-connect dlq replay ID (or --all); {worker} takes them up");
            }
            for other in others {
                println!("{}: {} dead letter(s)", other.label, other.letters.len());
                for d in other.letters.iter().take(limit) {
                    println!("{}", line(d));
                }
                if !other.letters.is_empty() {
                    println!("  {}", other.advice);
                }
            }
            Ok(())
        }
        DlqCmd::Replay { all: true, .. } => {
            let moved = store.redrive_all(MAX_LETTERS).await.map_err(Failure::job)?;
            println!(
                "{moved} dead letter(s) back on the work queue; {worker} takes them up (see `wfo-connect status`)"
            );
            Ok(())
        }
        DlqCmd::Replay { id: Some(id), .. } => {
            if store.redrive(&id).await.map_err(Failure::job)? {
                println!("dead letter {id} back on the work queue; {worker} takes it up (see `wfo-connect status`)");
                return Ok(());
            }
            if let Some(other) = others.iter().find(|o| o.letters.iter().any(|d| d.message_id == id)) {
                return Err(Failure::usage(format!(
                    "{id} is in the {} queue, which is not replayed: {}",
                    other.label, other.advice
                )));
            }
            // Nothing to do is the outcome a repeated replay wants: exit 0, said plainly.
            println!(
                "no dead letter {id} on the work queue: already replayed, or never there (see `wfo-connect dlq list`)"
            );
            Ok(())
        }
        DlqCmd::Replay { all: false, id: None } => {
            Err(Failure::usage("dlq replay needs an ID (from `dlq list`) or --all"))
        }
    }
}

/// One dead letter: its id, what it is about, when and why it was set aside.
fn line(d: &Received) -> String {
    let what = match serde_json::from_str::<WorkMessage>(&d.body) {
        Ok(m) => format!("connector={} item={}", m.connector_id, m.item_id),
        Err(_) => {
            let preview: String = d.body.chars().take(BODY_PREVIEW).collect();
            let more = if d.body.chars().nth(BODY_PREVIEW).is_some() {
                "…"
            } else {
                ""
            };
            format!("not a work message: {preview}{more}")
        }
    };
    let when = d
        .dead_at
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "-".to_owned());
    format!(
        "  {}  {what}  at {when}  receives={}  reason: {}",
        d.message_id,
        d.receive_count,
        d.dead_reason.as_deref().unwrap_or("-")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(body: &str) -> Received {
        Received {
            receipt: "r".into(),
            message_id: "m-1".into(),
            body: body.into(),
            receive_count: 5,
            dead_reason: Some("too many receives".into()),
            dead_at: chrono::DateTime::from_timestamp(1_900_000_000, 0),
        }
    }

    #[test]
    fn a_line_names_the_id_connector_item_time_and_reason() {
        let l = line(&letter(r#"{"connector_id":"acme","item_id":"rec-1"}"#));
        assert_eq!(
            l,
            "  m-1  connector=acme item=rec-1  at 2030-03-17T17:46:40Z  receives=5  reason: too many receives"
        );
    }

    #[test]
    fn a_body_that_is_not_a_work_message_is_shown_cut_short() {
        let long = "x".repeat(500);
        let l = line(&letter(&long));
        assert!(l.contains("not a work message: xxx"), "{l}");
        assert!(l.contains("…"), "{l}");
        assert!(l.len() < 300, "{l}");
    }
}
