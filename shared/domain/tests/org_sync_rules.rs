//! The team and queue planning rules (`wfo_domain::org_sync`, after the WxCC integration
//! guide's "Core Configuration Data"), one test per rule, plus properties: a second run
//! over the result of the first plans no write, and a partial listing deactivates nothing.

use proptest::prelude::*;
use wfo_domain::org_sync::{KindCounts, SourceQueue, SourceTeam, plan_queues, plan_teams};
use wfo_domain::sync::Listing;
use wfo_domain::wfo::{ChannelType, Queue, Team};

const SERVER: i64 = 3;
const OTHER_SERVER: i64 = 9;

fn source_team(id: &str, name: &str, active: bool) -> SourceTeam {
    SourceTeam {
        id: id.into(),
        name: name.into(),
        active,
    }
}

fn wfo_team(id: i64, name: &str, acd_id: Option<&str>, server: Option<i64>, read_only: bool) -> Team {
    Team {
        id,
        name: name.into(),
        is_default: false,
        acd_id: acd_id.map(Into::into),
        acd_server_id: server,
        read_only,
    }
}

fn source_queue(id: &str, name: &str, active: bool, channel_type: ChannelType) -> SourceQueue {
    SourceQueue {
        id: id.into(),
        name: name.into(),
        active,
        channel_type,
    }
}

fn wfo_queue(id: i64, name: &str, acd_id: &str, active: bool, channel_type: ChannelType) -> Queue {
    Queue {
        id,
        name: name.into(),
        acd_id: acd_id.into(),
        acd_server_id: SERVER,
        channel_type,
        active,
    }
}

fn counts(f: impl FnOnce(&mut KindCounts)) -> KindCounts {
    let mut c = KindCounts::default();
    f(&mut c);
    c
}

// ---- teams --------------------------------------------------------------------------------------

#[test]
fn an_active_source_team_becomes_a_read_only_team_of_this_server() {
    let p = plan_teams(&[source_team("t-1", "Sales", true)], &[], SERVER, Listing::Complete);
    assert_eq!(p.creates.len(), 1);
    let c = &p.creates[0];
    assert_eq!(
        (c.name.as_str(), c.acd_id.as_deref(), c.acd_server_id, c.read_only),
        ("Sales", Some("t-1"), Some(SERVER), true)
    );
    assert!(p.updates.is_empty());
    assert_eq!(p.counts, counts(|c| c.created = 1));
}

#[test]
fn a_renamed_team_is_renamed_and_stays_read_only() {
    let wfo = [wfo_team(7, "Sales", Some("t-1"), Some(SERVER), true)];
    let p = plan_teams(
        &[source_team("t-1", "Sales EMEA", true)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert!(p.creates.is_empty());
    assert_eq!(
        p.updates,
        vec![wfo_team(7, "Sales EMEA", Some("t-1"), Some(SERVER), true)]
    );
    assert_eq!(p.counts, counts(|c| c.updated = 1));
}

#[test]
fn a_team_made_writable_by_hand_is_made_read_only_again() {
    let wfo = [wfo_team(7, "Sales", Some("t-1"), Some(SERVER), false)];
    let p = plan_teams(&[source_team("t-1", "Sales", true)], &wfo, SERVER, Listing::Complete);
    assert_eq!(p.updates, vec![wfo_team(7, "Sales", Some("t-1"), Some(SERVER), true)]);
}

#[test]
fn an_unchanged_team_plans_no_write() {
    let wfo = [wfo_team(7, "Sales", Some("t-1"), Some(SERVER), true)];
    let p = plan_teams(&[source_team("t-1", "Sales", true)], &wfo, SERVER, Listing::Complete);
    assert!(p.creates.is_empty() && p.updates.is_empty());
    assert_eq!(p.counts, counts(|c| c.unchanged = 1));
}

#[test]
fn a_deleted_team_changes_nothing() {
    let wfo = [wfo_team(7, "Sales", Some("t-1"), Some(SERVER), true)];
    let p = plan_teams(&[], &wfo, SERVER, Listing::Complete);
    assert_eq!(p, Default::default());
}

#[test]
fn an_inactive_team_changes_nothing_even_when_renamed() {
    let wfo = [wfo_team(7, "Sales", Some("t-1"), Some(SERVER), true)];
    let p = plan_teams(
        &[source_team("t-1", "Old sales", false)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert!(p.creates.is_empty() && p.updates.is_empty());
    assert_eq!(p.counts, counts(|c| c.unchanged = 1));
}

#[test]
fn an_inactive_team_never_seen_is_skipped() {
    let p = plan_teams(&[source_team("t-1", "Sales", false)], &[], SERVER, Listing::Complete);
    assert!(p.creates.is_empty() && p.updates.is_empty());
    assert_eq!(p.counts, counts(|c| c.skipped = 1));
}

#[test]
fn a_team_is_keyed_on_its_id_never_its_name() {
    // Same name, no acdId (made by hand): not adopted; a team of the same name of this
    // server with another acdId is not ours either.
    let wfo = [
        wfo_team(5, "Sales", None, None, false),
        wfo_team(6, "Sales", Some("t-other"), Some(SERVER), true),
    ];
    let p = plan_teams(&[source_team("t-1", "Sales", true)], &wfo, SERVER, Listing::Complete);
    assert_eq!(p.creates.len(), 1);
    assert!(p.updates.is_empty());
}

#[test]
fn a_team_of_another_acd_server_is_not_ours() {
    let wfo = [wfo_team(5, "Sales", Some("t-1"), Some(OTHER_SERVER), true)];
    let p = plan_teams(&[source_team("t-1", "Sales", true)], &wfo, SERVER, Listing::Complete);
    assert_eq!(p.creates.len(), 1);
    assert!(p.updates.is_empty());
}

#[test]
fn team_ids_are_compared_exactly() {
    let wfo = [wfo_team(5, "Sales", Some("T-1"), Some(SERVER), true)];
    let p = plan_teams(&[source_team("t-1", "Sales", true)], &wfo, SERVER, Listing::Complete);
    assert_eq!(p.creates.len(), 1, "`T-1` is not `t-1`");
}

#[test]
fn a_duplicated_source_team_the_first_wins_and_the_duplicate_is_skipped() {
    let source = [source_team("t-1", "Sales", true), source_team("t-1", "Support", true)];
    let p = plan_teams(&source, &[], SERVER, Listing::Complete);
    assert_eq!(p.creates.len(), 1);
    assert_eq!(p.creates[0].name, "Sales");
    assert_eq!(p.counts, counts(|c| (c.created, c.skipped) = (1, 1)));
}

#[test]
fn a_team_without_id_or_name_is_skipped() {
    let source = [source_team("", "Sales", true), source_team("t-2", "  ", true)];
    let p = plan_teams(&source, &[], SERVER, Listing::Complete);
    assert!(p.creates.is_empty());
    assert_eq!(p.counts, counts(|c| c.skipped = 2));
}

#[test]
fn a_partial_listing_still_creates_and_renames_teams() {
    let wfo = [wfo_team(7, "Sales", Some("t-1"), Some(SERVER), true)];
    let source = [
        source_team("t-1", "Sales EMEA", true),
        source_team("t-2", "Support", true),
    ];
    let p = plan_teams(&source, &wfo, SERVER, Listing::Partial);
    assert_eq!(p, plan_teams(&source, &wfo, SERVER, Listing::Complete));
    assert_eq!(p.counts, counts(|c| (c.created, c.updated) = (1, 1)));
}

// ---- queues -------------------------------------------------------------------------------------

use ChannelType::{Chat, Email, Telephony};

#[test]
fn an_active_source_queue_becomes_an_active_queue_of_this_server() {
    let p = plan_queues(
        &[source_queue("q-1", "Billing", true, Chat)],
        &[],
        SERVER,
        Listing::Complete,
    );
    assert_eq!(p.creates.len(), 1);
    let c = &p.creates[0];
    assert_eq!(
        (
            c.name.as_str(),
            c.acd_id.as_str(),
            c.acd_server_id,
            c.channel_type,
            c.active
        ),
        ("Billing", "q-1", SERVER, Chat, true)
    );
    assert_eq!(p.counts, counts(|c| c.created = 1));
}

#[test]
fn an_inactive_queue_never_seen_is_skipped() {
    let p = plan_queues(
        &[source_queue("q-1", "Billing", false, Chat)],
        &[],
        SERVER,
        Listing::Complete,
    );
    assert!(p.creates.is_empty() && p.updates.is_empty());
    assert_eq!(p.counts, counts(|c| c.skipped = 1));
}

#[test]
fn a_renamed_queue_is_renamed() {
    let wfo = [wfo_queue(4, "Billing", "q-1", true, Telephony)];
    let p = plan_queues(
        &[source_queue("q-1", "Payments", true, Telephony)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert_eq!(p.updates, vec![wfo_queue(4, "Payments", "q-1", true, Telephony)]);
    assert_eq!(p.counts, counts(|c| c.updated = 1));
}

#[test]
fn a_queue_whose_channel_type_changed_is_updated() {
    let wfo = [wfo_queue(4, "Billing", "q-1", true, Telephony)];
    let p = plan_queues(
        &[source_queue("q-1", "Billing", true, Email)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert_eq!(p.updates, vec![wfo_queue(4, "Billing", "q-1", true, Email)]);
    assert_eq!(p.counts, counts(|c| c.updated = 1));
}

#[test]
fn an_unchanged_queue_plans_no_write() {
    let wfo = [wfo_queue(4, "Billing", "q-1", true, Telephony)];
    let p = plan_queues(
        &[source_queue("q-1", "Billing", true, Telephony)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert!(p.creates.is_empty() && p.updates.is_empty());
    assert_eq!(p.counts, counts(|c| c.unchanged = 1));
}

#[test]
fn a_queue_gone_from_the_source_is_deactivated_never_deleted() {
    let wfo = [wfo_queue(4, "Billing", "q-1", true, Telephony)];
    let p = plan_queues(&[], &wfo, SERVER, Listing::Complete);
    assert_eq!(p.updates, vec![wfo_queue(4, "Billing", "q-1", false, Telephony)]);
    assert_eq!(p.counts, counts(|c| c.deactivated = 1));
}

#[test]
fn a_queue_made_inactive_at_the_source_is_deactivated() {
    let wfo = [wfo_queue(4, "Billing", "q-1", true, Telephony)];
    let p = plan_queues(
        &[source_queue("q-1", "Billing", false, Telephony)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert_eq!(p.updates, vec![wfo_queue(4, "Billing", "q-1", false, Telephony)]);
    assert_eq!(p.counts, counts(|c| c.deactivated = 1));
}

#[test]
fn a_deactivated_queue_still_gone_plans_no_write() {
    let wfo = [wfo_queue(4, "Billing", "q-1", false, Telephony)];
    assert_eq!(plan_queues(&[], &wfo, SERVER, Listing::Complete), Default::default());
    let p = plan_queues(
        &[source_queue("q-1", "Billing", false, Telephony)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert!(p.updates.is_empty());
    assert_eq!(p.counts, counts(|c| c.unchanged = 1));
}

#[test]
fn a_restored_queue_is_reactivated() {
    let wfo = [wfo_queue(4, "Billing", "q-1", false, Telephony)];
    let p = plan_queues(
        &[source_queue("q-1", "Billing 2", true, Telephony)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert!(p.creates.is_empty(), "never a second queue for one pair");
    assert_eq!(p.updates, vec![wfo_queue(4, "Billing 2", "q-1", true, Telephony)]);
    assert_eq!(p.counts, counts(|c| c.reactivated = 1));
}

#[test]
fn a_partial_listing_deactivates_no_queue() {
    let wfo = [
        wfo_queue(4, "Billing", "q-1", true, Telephony),
        wfo_queue(5, "Sales", "q-2", true, Telephony),
    ];
    let source = [source_queue("q-1", "Billing", false, Telephony)];
    let p = plan_queues(&source, &wfo, SERVER, Listing::Partial);
    assert!(p.creates.is_empty() && p.updates.is_empty());
    assert_eq!(
        p.counts,
        counts(|c| c.skipped = 1),
        "the deactivation waits for a complete listing"
    );
}

#[test]
fn a_partial_listing_still_renames_an_inactive_queue_without_deactivating_it() {
    let wfo = [wfo_queue(4, "Billing", "q-1", true, Telephony)];
    let source = [source_queue("q-1", "Payments", false, Telephony)];
    let p = plan_queues(&source, &wfo, SERVER, Listing::Partial);
    assert_eq!(p.updates, vec![wfo_queue(4, "Payments", "q-1", true, Telephony)]);
    assert_eq!(p.counts, counts(|c| c.updated = 1));
}

#[test]
fn a_queue_is_keyed_on_its_id_never_its_name() {
    let wfo = [wfo_queue(4, "Billing", "q-old", true, Telephony)];
    let p = plan_queues(
        &[source_queue("q-new", "Billing", true, Telephony)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert_eq!(p.creates.len(), 1);
    assert_eq!(p.updates, vec![wfo_queue(4, "Billing", "q-old", false, Telephony)]);
    assert_eq!(p.counts, counts(|c| (c.created, c.deactivated) = (1, 1)));
}

#[test]
fn queue_ids_are_compared_exactly() {
    let wfo = [wfo_queue(4, "Billing", "Q-1", true, Telephony)];
    let p = plan_queues(
        &[source_queue("q-1", "Billing", true, Telephony)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert_eq!(p.creates.len(), 1, "`Q-1` is not `q-1`");
}

#[test]
fn a_queue_of_another_acd_server_is_neither_matched_nor_deactivated() {
    let wfo = [Queue {
        acd_server_id: OTHER_SERVER,
        ..wfo_queue(4, "Billing", "q-1", true, Telephony)
    }];
    let p = plan_queues(
        &[source_queue("q-1", "Billing", true, Telephony)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert_eq!(p.creates.len(), 1);
    assert!(p.updates.is_empty());
    assert_eq!(plan_queues(&[], &wfo, SERVER, Listing::Complete), Default::default());
}

#[test]
fn a_duplicated_source_queue_the_first_wins_and_the_duplicate_is_skipped() {
    let source = [
        source_queue("q-1", "Billing", true, Telephony),
        source_queue("q-1", "Sales", false, Chat),
    ];
    let p = plan_queues(&source, &[], SERVER, Listing::Complete);
    assert_eq!(p.creates.len(), 1);
    assert_eq!(
        (p.creates[0].name.as_str(), p.creates[0].channel_type),
        ("Billing", Telephony)
    );
    assert_eq!(p.counts, counts(|c| (c.created, c.skipped) = (1, 1)));
}

#[test]
fn a_listed_queue_with_a_blank_name_is_skipped_but_not_gone() {
    let wfo = [wfo_queue(4, "Billing", "q-1", true, Telephony)];
    let p = plan_queues(
        &[source_queue("q-1", " ", true, Telephony)],
        &wfo,
        SERVER,
        Listing::Complete,
    );
    assert!(p.updates.is_empty(), "present at the source: not deactivated");
    assert_eq!(p.counts, counts(|c| c.skipped = 1));
}

// ---- properties ---------------------------------------------------------------------------------

const IDS: [&str; 5] = ["a", "b", "c", "A", "d"];
const NAMES: [&str; 4] = ["Sales", "Support", "Billing", " Sales "];

fn arb_channel() -> impl Strategy<Value = ChannelType> {
    prop::sample::select(vec![
        ChannelType::Telephony,
        ChannelType::Chat,
        ChannelType::Email,
        ChannelType::Sms,
        ChannelType::Social,
    ])
}

fn arb_listing() -> impl Strategy<Value = Listing> {
    prop::sample::select(vec![Listing::Complete, Listing::Partial])
}

fn arb_source_team() -> impl Strategy<Value = SourceTeam> {
    (
        prop::sample::select(IDS.to_vec()),
        prop::sample::select(NAMES.to_vec()),
        any::<bool>(),
    )
        .prop_map(|(id, name, active)| source_team(id, name, active))
}

fn arb_wfo_teams() -> impl Strategy<Value = Vec<Team>> {
    prop::collection::vec(
        (
            prop::option::of(prop::sample::select(IDS.to_vec())),
            prop::sample::select(vec![Some(SERVER), Some(OTHER_SERVER), None]),
            prop::sample::select(NAMES.to_vec()),
            any::<bool>(),
        ),
        0..6,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (acd_id, server, name, ro))| wfo_team(i as i64 + 1, name, acd_id, server, ro))
            .collect()
    })
}

fn arb_source_queue() -> impl Strategy<Value = SourceQueue> {
    (
        prop::sample::select(IDS.to_vec()),
        prop::sample::select(NAMES.to_vec()),
        any::<bool>(),
        arb_channel(),
    )
        .prop_map(|(id, name, active, ch)| source_queue(id, name, active, ch))
}

fn arb_wfo_queues() -> impl Strategy<Value = Vec<Queue>> {
    prop::collection::vec(
        (
            prop::sample::select(IDS.to_vec()),
            prop::sample::select(vec![SERVER, OTHER_SERVER]),
            prop::sample::select(NAMES.to_vec()),
            any::<bool>(),
            arb_channel(),
        ),
        0..6,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (acd_id, server, name, active, ch))| Queue {
                acd_server_id: server,
                ..wfo_queue(i as i64 + 1, name, acd_id, active, ch)
            })
            .collect()
    })
}

/// What WFO holds after the plan's writes: updates replace by id, creates get new ids.
fn apply_teams(wfo: &[Team], plan: &wfo_domain::org_sync::TeamPlan) -> Vec<Team> {
    let mut out: Vec<Team> = wfo
        .iter()
        .map(|t| plan.updates.iter().find(|u| u.id == t.id).unwrap_or(t).clone())
        .collect();
    let first_id = out.iter().map(|t| t.id).max().unwrap_or(0) + 1;
    for (next_id, c) in (first_id..).zip(&plan.creates) {
        out.push(Team {
            id: next_id,
            name: c.name.clone(),
            is_default: false,
            acd_id: c.acd_id.clone(),
            acd_server_id: c.acd_server_id,
            read_only: c.read_only,
        });
    }
    out
}

fn apply_queues(wfo: &[Queue], plan: &wfo_domain::org_sync::QueuePlan) -> Vec<Queue> {
    let mut out: Vec<Queue> = wfo
        .iter()
        .map(|q| plan.updates.iter().find(|u| u.id == q.id).unwrap_or(q).clone())
        .collect();
    let first_id = out.iter().map(|q| q.id).max().unwrap_or(0) + 1;
    for (next_id, c) in (first_id..).zip(&plan.creates) {
        out.push(Queue {
            id: next_id,
            name: c.name.clone(),
            acd_id: c.acd_id.clone(),
            acd_server_id: c.acd_server_id,
            channel_type: c.channel_type,
            active: c.active,
        });
    }
    out
}

proptest! {
    #[test]
    fn a_second_team_run_over_the_first_runs_result_plans_no_write(
        source in prop::collection::vec(arb_source_team(), 0..8),
        wfo in arb_wfo_teams(),
        listing in arb_listing(),
    ) {
        let first = plan_teams(&source, &wfo, SERVER, listing);
        let after = apply_teams(&wfo, &first);
        let second = plan_teams(&source, &after, SERVER, listing);
        prop_assert!(second.creates.is_empty(), "creates: {:?}", second.creates);
        prop_assert!(second.updates.is_empty(), "updates: {:?}", second.updates);
        // Every update of the first run is one of our teams, a PUT of an existing id.
        for u in &first.updates {
            prop_assert_eq!(u.acd_server_id, Some(SERVER));
            prop_assert!(wfo.iter().any(|t| t.id == u.id));
        }
    }

    #[test]
    fn a_second_queue_run_over_the_first_runs_result_plans_no_write(
        source in prop::collection::vec(arb_source_queue(), 0..8),
        wfo in arb_wfo_queues(),
        listing in arb_listing(),
    ) {
        let first = plan_queues(&source, &wfo, SERVER, listing);
        let after = apply_queues(&wfo, &first);
        let second = plan_queues(&source, &after, SERVER, listing);
        prop_assert!(second.creates.is_empty(), "creates: {:?}", second.creates);
        prop_assert!(second.updates.is_empty(), "updates: {:?}", second.updates);
        // Never a second queue for one pair: a create is for a pair WFO did not have.
        for c in &first.creates {
            prop_assert!(!wfo.iter().any(|q| q.acd_server_id == SERVER && q.acd_id == c.acd_id));
        }
        let writes = first.creates.len() + first.updates.len();
        let c = first.counts;
        prop_assert_eq!(writes as u64, c.created + c.updated + c.deactivated + c.reactivated);
    }

    #[test]
    fn a_partial_listing_never_deactivates_a_queue(
        source in prop::collection::vec(arb_source_queue(), 0..8),
        wfo in arb_wfo_queues(),
    ) {
        let p = plan_queues(&source, &wfo, SERVER, Listing::Partial);
        for u in &p.updates {
            let before = wfo.iter().find(|q| q.id == u.id);
            prop_assert!(before.is_some_and(|b| !b.active || u.active), "deactivated {:?}", u);
        }
        prop_assert_eq!(p.counts.deactivated, 0);
    }

    #[test]
    fn every_source_entry_is_counted_once(
        source in prop::collection::vec(arb_source_queue(), 0..8),
        wfo in arb_wfo_queues(),
        listing in arb_listing(),
    ) {
        let p = plan_queues(&source, &wfo, SERVER, listing);
        let gone = p.updates.iter().filter(|u| !source.iter().any(|s| s.id == u.acd_id)).count() as u64;
        let c = p.counts;
        prop_assert_eq!(
            c.created + c.updated + c.deactivated + c.reactivated + c.unchanged + c.skipped,
            source.len() as u64 + gone
        );
    }
}
