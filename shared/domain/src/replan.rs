//! Planning an item again (after the tenant's metadata keys changed, or a newer
//! segmentation) without ever attaching an existing WFO contact to another agent.
//!
//! A contact already planned — and perhaps already in WFO under its `externalId` — is
//! recognised in the new plan by its *segment identity*: the agent (ACD server and
//! canonical ACD id), its start and duration, and its slice of audio. Never by position:
//! if a new plan's third contact is another agent than the old third, the old contact id
//! must not follow the index.
//!
//! - a new contact with the identity of an old one keeps the old one's progress (WFO
//!   contact id, metadata and audio done) and its `externalId`; its payload (metadata,
//!   events) is the new plan's;
//! - a new contact without one is new; should its `externalId` be taken by an old contact
//!   (a different segment at that position), it gets a fresh one (`{externalId}.{k}`, the
//!   smallest free `k`), so a lookup never finds the other segment's contact;
//! - an old contact that no longer appears is dropped from the item, and when it exists in
//!   WFO a note says so (WFO offers no delete; an operator decides).

use crate::ledger::{AgentName, ContactProgress};
use crate::segment::SegmentedContact;
use crate::sync::canonical_acd_id;

/// What identifies a segment across plans.
#[derive(Debug)]
struct SegmentIdentity {
    acd_server_id: i64,
    acd_id: String,
    start_time: i64,
    duration_ms: i64,
    /// `None`: no audio slice (the recording id, offset and length of the slice).
    media: Option<(String, i64, i64)>,
}

impl SegmentIdentity {
    /// Same agent, start and duration, and the same slice of audio — or no slice on one
    /// side: a contact planned before its audio existed (a Contact Center capture not
    /// there yet) is the same segment once the capture gives it a slice.
    fn same_segment(&self, other: &SegmentIdentity) -> bool {
        self.acd_server_id == other.acd_server_id
            && self.acd_id == other.acd_id
            && self.start_time == other.start_time
            && self.duration_ms == other.duration_ms
            && match (&self.media, &other.media) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

fn identity(c: &SegmentedContact) -> SegmentIdentity {
    SegmentIdentity {
        acd_server_id: c.contact.agent.acd_server_id,
        acd_id: canonical_acd_id(&c.contact.agent.acd_id),
        start_time: c.contact.start_time,
        duration_ms: c.contact.call_duration,
        media: c
            .media
            .as_ref()
            .map(|m| (m.recording_id.clone(), m.offset_ms, m.duration_ms)),
    }
}

/// The item's contacts after planning again, and notes on what changed.
pub fn merge_plan(
    previous: Vec<ContactProgress>,
    planned: Vec<(SegmentedContact, Option<AgentName>)>,
) -> (Vec<ContactProgress>, Vec<String>) {
    let mut old: Vec<Option<ContactProgress>> = previous.into_iter().map(Some).collect();
    let taken: Vec<String> = old
        .iter()
        .flatten()
        .map(|p| p.plan.contact.external_id.clone())
        .collect();
    let mut out: Vec<ContactProgress> = Vec::with_capacity(planned.len());
    let mut fresh: Vec<(SegmentedContact, Option<AgentName>)> = Vec::new();
    for (contact, name) in planned {
        let id = identity(&contact);
        let found = old
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|p| identity(&p.plan).same_segment(&id)))
            .and_then(Option::take);
        match found {
            Some(done) => {
                let mut plan = contact;
                plan.contact.external_id = done.plan.contact.external_id.clone();
                // Metadata that changed since it was written is written again.
                let metadata_done = done.metadata_done && done.plan.contact.metadata == plan.contact.metadata;
                out.push(ContactProgress {
                    plan,
                    agent_name: name.or(done.agent_name.clone()),
                    metadata_done,
                    ..done
                });
            }
            None => fresh.push((contact, name)),
        }
    }
    let mut notes = Vec::new();
    for (mut contact, name) in fresh {
        let wanted = contact.contact.external_id.clone();
        let in_use = |x: &str| taken.iter().any(|t| t == x) || out.iter().any(|p| p.plan.contact.external_id == x);
        if in_use(&wanted) {
            let mut k = 1;
            while in_use(&format!("{wanted}.{k}")) {
                k += 1;
            }
            contact.contact.external_id = format!("{wanted}.{k}");
            notes.push(format!(
                "re-planned: {wanted} now names another segment; agent {} gets new contact {}",
                contact.contact.agent.acd_id, contact.contact.external_id
            ));
        }
        let mut progress = ContactProgress::new(contact);
        progress.agent_name = name;
        out.push(progress);
    }
    for gone in old.into_iter().flatten() {
        if let Some(id) = gone.contact_id {
            notes.push(format!(
                "re-planned: WFO contact {id} ({}, agent {}) is no longer part of this call's plan; it is left in WFO",
                gone.plan.contact.external_id, gone.plan.contact.agent.acd_id
            ));
        }
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::MediaSlice;
    use crate::wfo::{AgentRef, ContactImport, ContactType, Direction};

    fn contact(ext: &str, agent: &str, start: i64, dur: i64) -> SegmentedContact {
        SegmentedContact {
            contact: ContactImport {
                external_id: ext.into(),
                assoc_call_id: "call".into(),
                contact_type: ContactType::Call,
                start_time: start,
                call_duration: dur,
                ani: None,
                dnis: None,
                direction: Direction::Inbound,
                agent: AgentRef {
                    acd_id: agent.into(),
                    acd_server_id: 3,
                },
                language: None,
                events: vec![],
                metadata: Default::default(),
                audio: None,
            },
            media: Some(MediaSlice {
                recording_id: "r".into(),
                offset_ms: start - 1000,
                duration_ms: dur,
            }),
        }
    }

    fn done(c: SegmentedContact, id: i64) -> ContactProgress {
        ContactProgress {
            contact_id: Some(id),
            metadata_done: true,
            audio_bytes: Some(10),
            ..ContactProgress::new(c)
        }
    }

    #[test]
    fn the_same_plan_again_keeps_every_contact_id_and_takes_the_new_metadata() {
        let before = vec![
            done(contact("x:0", "a", 1000, 5), 11),
            done(contact("x:1", "b", 1005, 5), 12),
        ];
        let mut again = contact("x:1", "b", 1005, 5);
        again.contact.metadata.insert("Key".into(), "v2".into());
        let (after, notes) = merge_plan(before, vec![(contact("x:0", "a", 1000, 5), None), (again, None)]);
        assert_eq!(
            after.iter().map(|p| p.contact_id).collect::<Vec<_>>(),
            vec![Some(11), Some(12)]
        );
        assert_eq!(after[1].plan.contact.metadata["Key"], "v2");
        assert!(notes.is_empty());
    }

    #[test]
    fn a_changed_plan_never_moves_a_contact_to_another_agent_by_index() {
        // Before: agent a at position 0. After: agent c comes first, a second.
        let before = vec![done(contact("x:0", "a", 1000, 5), 11)];
        let (after, notes) = merge_plan(
            before,
            vec![
                (contact("x:0", "c", 900, 100), None),
                (contact("x:1", "a", 1000, 5), None),
            ],
        );
        let c = after.iter().find(|p| p.plan.contact.agent.acd_id == "c").unwrap();
        let a = after.iter().find(|p| p.plan.contact.agent.acd_id == "a").unwrap();
        assert_eq!(a.contact_id, Some(11), "a keeps its contact");
        assert_eq!(a.plan.contact.external_id, "x:0", "under the id WFO knows it by");
        assert_eq!(c.contact_id, None, "c is new");
        assert_eq!(
            c.plan.contact.external_id, "x:0.1",
            "and cannot find a's contact by lookup"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn a_contact_that_left_the_plan_is_named_in_a_note() {
        let before = vec![
            done(contact("x:0", "a", 1000, 5), 11),
            done(contact("x:1", "b", 1005, 5), 12),
        ];
        let (after, notes) = merge_plan(before, vec![(contact("x:0", "a", 1000, 5), None)]);
        assert_eq!(after.len(), 1);
        assert!(notes[0].contains("WFO contact 12"), "{notes:?}");
    }

    #[test]
    fn identity_compares_agent_ids_canonically() {
        let upper = "62807EAF-0C89-492E-A3C3-C4751812603B";
        let lower = "62807eaf-0c89-492e-a3c3-c4751812603b";
        let before = vec![done(contact("x:0", upper, 1000, 5), 11)];
        let (after, _) = merge_plan(before, vec![(contact("x:0", lower, 1000, 5), None)]);
        assert_eq!(after[0].contact_id, Some(11));
    }

    #[test]
    fn a_contact_planned_before_its_audio_keeps_its_id_when_the_audio_arrives() {
        let mut pending = contact("x:0", "a", 1000, 5);
        pending.media = None;
        let before = vec![ContactProgress {
            contact_id: Some(11),
            metadata_done: true,
            ..ContactProgress::new(pending)
        }];
        let (after, notes) = merge_plan(before, vec![(contact("x:0", "a", 1000, 5), None)]);
        assert_eq!(after[0].contact_id, Some(11));
        assert!(after[0].plan.media.is_some(), "the new plan's slice is taken");
        assert_eq!(after[0].audio_bytes, None, "so the audio step still runs");
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn a_different_slice_is_a_different_segment() {
        let before = vec![done(contact("x:0", "a", 1000, 5), 11)];
        let mut moved = contact("x:0", "a", 1000, 5);
        if let Some(m) = moved.media.as_mut() {
            m.offset_ms += 1;
        }
        let (after, _) = merge_plan(before, vec![(moved, None)]);
        assert_eq!(after[0].contact_id, None);
    }

    #[test]
    fn only_contacts_never_sent_may_skip_the_lookup_and_the_mark_survives_a_replan() {
        use crate::ledger::{Discovery, LedgerItem};
        let mut item = LedgerItem::discovered("c", "r", Discovery::Webhook, chrono::Utc::now());
        let (contacts, _) = merge_plan(
            Vec::new(),
            vec![
                (contact("x:0", "a", 1000, 5), None),
                (contact("x:1", "b", 2000, 5), None),
            ],
        );
        item.contacts = contacts;
        item.contacts[0].contact_id = Some(7);
        assert_eq!(item.mark_imports_sent(), vec!["x:1".to_owned()]);
        assert!(item.mark_imports_sent().is_empty(), "a second step looks them up");
        // A new plan keeps what the ledger knows of a contact it carries over.
        let (after, _) = merge_plan(
            item.contacts.clone(),
            vec![
                (contact("x:0", "a", 1000, 5), None),
                (contact("x:1", "b", 2000, 5), None),
            ],
        );
        assert!(after[1].import_sent);
        // Items stored before the mark existed: unknown, so looked up.
        let mut stored = serde_json::to_value(&after[1]).unwrap();
        stored.as_object_mut().unwrap().remove("importSent");
        stored.as_object_mut().unwrap().remove("import_sent");
        let old: ContactProgress = serde_json::from_value(stored).unwrap();
        assert!(old.import_sent);
    }
}
