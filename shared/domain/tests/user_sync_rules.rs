//! The user sync rules (`wfo_domain::sync`), one test per row of the rule table, plus
//! properties: a second run after applying a plan writes nothing, and a partial listing
//! never deactivates anybody.

use proptest::prelude::*;
use wfo_domain::sync::{
    Change, Eligibility, Listing, SourceUser, SyncDefaults, SyncInput, SyncPlan, SyncPolicy, SyncWarning,
    canonical_acd_id, plan,
};
use wfo_domain::wfo::{Person, PersonInput, RoleRef};

const SERVER: i64 = 3;
const NOW: i64 = 1_800_000_000_000;
const TODAY: &str = "2027-01-15";
const ALICE: &str = "3f6c2a1e-8b4d-4c7a-9e21-5d0b7f3a9c11";
const BOB: &str = "7a2d9e44-1c3b-4f58-a6e0-2b9c8d7e6f22";
const CAROL: &str = "b5e81f03-6d2a-47c9-8b14-9e3f0a2c5d33";

fn defaults() -> SyncDefaults {
    SyncDefaults {
        team_id: 1,
        agent_role: agent_role(),
    }
}

fn agent_role() -> RoleRef {
    RoleRef {
        id: 1,
        name: "Agent".into(),
    }
}

fn supervisor_role() -> RoleRef {
    RoleRef {
        id: 2,
        name: "Supervisor".into(),
    }
}

fn user(id: &str, first: &str, last: &str, email: Option<&str>, eligibility: Eligibility) -> SourceUser {
    SourceUser {
        acd_id: id.into(),
        first_name: first.into(),
        last_name: last.into(),
        display_name: format!("{first} {last}").trim().into(),
        email: email.map(Into::into),
        eligibility,
        agent_role: true,
    }
}

fn eligible(id: &str, first: &str, last: &str) -> SourceUser {
    user(
        id,
        first,
        last,
        Some(&format!("{}@acme.example", first.to_lowercase())),
        Eligibility::Eligible,
    )
}

/// A person as the sync itself would have created it for `eligible(id, first, last)`.
fn synced(pid: i64, id: &str, first: &str, last: &str) -> Person {
    Person {
        id: pid,
        input: PersonInput {
            first_name: first.into(),
            last_name: last.into(),
            email: Some(format!("{}@acme.example", first.to_lowercase())),
            display_name: format!("{first} {last}"),
            group_id: 1,
            acd_id: Some(id.into()),
            acd_server_id: Some(SERVER),
            roles: vec![agent_role()],
            company_start_date: None,
            department_start_date: None,
            activated: Some(1),
            deactivated: None,
        },
    }
}

fn deactivated(mut p: Person) -> Person {
    p.input.deactivated = Some(5);
    p
}

/// The creation and update rules, as they apply when the sync creates persons
/// (`sync.create_persons = "all_eligible"`); the Webex Calling defaults have tests of
/// their own, named after the guide's rules.
fn run(users: &[SourceUser], persons: &[Person], listing: Listing) -> SyncPlan {
    run_with(users, persons, listing, all_eligible())
}

fn all_eligible() -> SyncPolicy {
    SyncPolicy::webex_calling().with_create_persons(Some(wfo_domain::config::CreatePersons::AllEligible))
}

fn run_with(users: &[SourceUser], persons: &[Person], listing: Listing, policy: SyncPolicy) -> SyncPlan {
    let defaults = defaults();
    plan(&SyncInput {
        acd_server_id: SERVER,
        users,
        listing,
        persons,
        defaults: &defaults,
        policy,
        now_ms: NOW,
        today: TODAY,
    })
}

/// What WFO holds after the plan's writes (new ids after the highest one).
fn apply(plan: &SyncPlan, persons: &[Person]) -> Vec<Person> {
    let mut out: Vec<Person> = persons.to_vec();
    for u in &plan.updates {
        if let Some(p) = out.iter_mut().find(|p| p.id == u.person.id) {
            *p = u.person.clone();
        }
    }
    let first_new = out.iter().map(|p| p.id).max().unwrap_or(0) + 1;
    for (id, c) in (first_new..).zip(&plan.creates) {
        out.push(Person {
            id,
            input: c.input.clone(),
        });
    }
    out
}

// ---- row: eligible, no person → create -------------------------------------------------

#[test]
fn eligible_user_without_a_person_is_created_in_the_default_team_with_the_default_agent_role() {
    let plan = run(&[eligible(ALICE, "Alice", "Nguyen")], &[], Listing::Complete);
    assert_eq!(plan.creates.len(), 1);
    assert!(plan.updates.is_empty());
    let c = &plan.creates[0].input;
    assert_eq!(
        (c.first_name.as_str(), c.last_name.as_str(), c.display_name.as_str()),
        ("Alice", "Nguyen", "Alice Nguyen")
    );
    assert_eq!(c.acd_id.as_deref(), Some(ALICE));
    assert_eq!(c.acd_server_id, Some(SERVER));
    assert_eq!(c.group_id, 1, "default team");
    assert_eq!(
        c.roles,
        vec![agent_role()],
        "default agent role, whatever the Webex role"
    );
    assert_eq!(c.email.as_deref(), Some("alice@acme.example"));
    assert_eq!((c.activated, c.deactivated), (Some(NOW), None));
    assert_eq!(
        (c.company_start_date.as_deref(), c.department_start_date.as_deref()),
        (None, None)
    );
    assert_eq!(plan.counts.created, 1);
}

#[test]
fn a_base64_or_upper_case_source_id_is_created_under_the_canonical_plain_uuid() {
    use base64_free::encode;
    let rest_id = encode(&format!("ciscospark://us/PEOPLE/{ALICE}"));
    assert_eq!(canonical_acd_id(&rest_id), ALICE);
    assert_eq!(canonical_acd_id(&ALICE.to_uppercase()), ALICE);
    assert_eq!(canonical_acd_id(&ALICE.replace('-', "")), ALICE);
    let plan = run(&[eligible(&rest_id, "Alice", "Nguyen")], &[], Listing::Complete);
    assert_eq!(plan.creates[0].input.acd_id.as_deref(), Some(ALICE));
}

// ---- row: eligible, equal person → no write ----------------------------------------------

#[test]
fn eligible_user_whose_person_is_up_to_date_makes_no_write() {
    let persons = [
        synced(100, ALICE, "Alice", "Nguyen"),
        synced(101, BOB, "Bob", "Martins"),
    ];
    let plan = run(
        &[eligible(ALICE, "Alice", "Nguyen"), eligible(BOB, "Bob", "Martins")],
        &persons,
        Listing::Complete,
    );
    assert_eq!(plan.writes(), 0, "{plan:?}");
    assert_eq!(plan.counts.unchanged, 2);
}

#[test]
fn a_second_run_after_applying_the_first_writes_nothing() {
    let users = [
        eligible(ALICE, "Alice", "Nguyen"),
        eligible(BOB, "Robert", "Martins"),
        user(CAROL, "Carol", "Okafor", None, Eligibility::NotEligible),
    ];
    let before = [
        synced(100, BOB, "Bob", "Martins"),
        synced(101, CAROL, "Carol", "Okafor"),
    ];
    let first = run(&users, &before, Listing::Complete);
    assert_eq!(
        first.writes(),
        3,
        "create Alice, rename Bob, deactivate Carol: {first:?}"
    );
    let after = apply(&first, &before);
    let second = run(&users, &after, Listing::Complete);
    assert_eq!(second.writes(), 0, "{second:?}");
}

// ---- row: eligible, differs → one PUT ---------------------------------------------------

#[test]
fn a_name_change_at_the_source_renames_the_person_in_one_put() {
    let renamed = user(
        BOB,
        "Robert",
        "Martins",
        Some("bob@acme.example"),
        Eligibility::Eligible,
    );
    let plan = run(&[renamed], &[synced(100, BOB, "Bob", "Martins")], Listing::Complete);
    assert_eq!(plan.updates.len(), 1);
    let u = &plan.updates[0];
    assert_eq!(u.changes, vec![Change::Name]);
    assert_eq!(u.person.id, 100);
    assert_eq!(u.person.input.display_name, "Robert Martins");
    assert_eq!(plan.counts.updated, 1);
}

#[test]
fn contact_center_a_removed_default_agent_role_is_added_back_and_other_roles_are_kept() {
    let mut p = synced(100, ALICE, "Alice", "Nguyen");
    p.input.roles = vec![supervisor_role()];
    let plan = run_with(
        &[eligible(ALICE, "Alice", "Nguyen")],
        &[p],
        Listing::Complete,
        SyncPolicy::contact_center(),
    );
    assert_eq!(plan.updates[0].changes, vec![Change::AgentRole]);
    assert_eq!(
        plan.updates[0].person.input.roles,
        vec![supervisor_role(), agent_role()]
    );
}

#[test]
fn webex_calling_the_agent_role_is_assigned_when_the_user_is_added_and_an_administrators_role_change_stands() {
    // The guide assigns the default agent role when the user is added and sends
    // administrators to "Create and edit users" to change it: the sync leaves it be.
    let mut p = synced(100, ALICE, "Alice", "Nguyen");
    p.input.roles = vec![supervisor_role()];
    let plan = run_with(
        &[eligible(ALICE, "Alice", "Nguyen")],
        &[p],
        Listing::Complete,
        SyncPolicy::webex_calling(),
    );
    assert!(plan.updates.is_empty(), "{:?}", plan.updates);
    assert_eq!(plan.counts.unchanged, 1);
    let created = run_with(
        &[eligible(BOB, "Bob", "Martins")],
        &[],
        Listing::Complete,
        all_eligible(),
    );
    assert_eq!(created.creates[0].input.roles, vec![agent_role()], "given at creation");
}

#[test]
fn webex_calling_a_user_without_any_recording_is_not_synced_and_gets_a_person_with_the_first_recording() {
    // "If a Webex Calling user does not have any recordings … the user is not synced."
    let plan = run_with(
        &[eligible(ALICE, "Alice", "Nguyen")],
        &[],
        Listing::Complete,
        SyncPolicy::webex_calling(),
    );
    assert!(plan.creates.is_empty(), "no person before the first recording");
    assert_eq!(plan.counts.awaiting_first_recording, 1);
    // Once the import created the person (with the first recording), the sync keeps it in
    // step: names, deactivation.
    // (as the import names an agent it only saw in a recording: a placeholder)
    let mut p = synced(100, ALICE, "Alice", "Nguyen");
    p.input.first_name = "Agent".into();
    p.input.display_name = "Agent Nguyen".into();
    let plan = run_with(
        &[eligible(ALICE, "Alice", "Nguyen")],
        std::slice::from_ref(&p),
        Listing::Complete,
        SyncPolicy::webex_calling(),
    );
    assert_eq!(plan.updates[0].changes, vec![Change::Name]);
    let plan = run_with(&[], &[p], Listing::Complete, SyncPolicy::webex_calling());
    assert_eq!(plan.counts.deactivated, 1);
}

#[test]
fn a_hand_edited_name_is_overwritten_but_a_hand_moved_team_and_extra_roles_are_kept() {
    let mut p = synced(100, ALICE, "Alice", "Nguyen");
    p.input.first_name = "Ally".into();
    p.input.display_name = "Ally Nguyen".into();
    p.input.group_id = 7;
    p.input.roles.push(supervisor_role());
    p.input.company_start_date = Some("2020-01-01".into());
    let plan = run(&[eligible(ALICE, "Alice", "Nguyen")], &[p], Listing::Complete);
    let u = &plan.updates[0];
    assert_eq!(u.changes, vec![Change::Name]);
    assert_eq!(u.person.input.first_name, "Alice");
    assert_eq!(u.person.input.group_id, 7, "team is WFO's after creation");
    assert_eq!(u.person.input.roles, vec![agent_role(), supervisor_role()]);
    assert_eq!(u.person.input.company_start_date.as_deref(), Some("2020-01-01"));
}

#[test]
fn a_hand_edit_of_a_field_the_sync_does_not_own_makes_no_write() {
    let mut p = synced(100, ALICE, "Alice", "Nguyen");
    p.input.group_id = 9;
    p.input.roles = vec![supervisor_role(), agent_role()];
    let plan = run(&[eligible(ALICE, "Alice", "Nguyen")], &[p], Listing::Complete);
    assert_eq!(plan.writes(), 0);
}

#[test]
fn a_person_whose_acd_id_is_spelt_differently_is_the_same_person_and_gets_the_canonical_spelling() {
    let mut p = synced(100, ALICE, "Alice", "Nguyen");
    p.input.acd_id = Some(ALICE.to_uppercase());
    let plan = run(&[eligible(ALICE, "Alice", "Nguyen")], &[p], Listing::Complete);
    assert!(plan.creates.is_empty(), "never a second person for one ACD id");
    assert_eq!(plan.updates[0].changes, vec![Change::AcdId]);
    assert_eq!(plan.updates[0].person.input.acd_id.as_deref(), Some(ALICE));
}

// ---- row: eligible, deactivated → reactivate --------------------------------------------

#[test]
fn an_eligible_user_whose_person_is_deactivated_is_reactivated_not_recreated() {
    let plan = run(
        &[eligible(ALICE, "Alice", "Nguyen")],
        &[deactivated(synced(100, ALICE, "Alice", "Nguyen"))],
        Listing::Complete,
    );
    assert!(plan.creates.is_empty());
    let u = &plan.updates[0];
    assert_eq!(u.changes, vec![Change::Reactivate]);
    assert_eq!(
        (u.person.input.deactivated, u.person.input.activated),
        (None, Some(NOW))
    );
    assert_eq!(plan.counts.reactivated, 1);
}

#[test]
fn reactivation_and_rename_go_in_one_put() {
    let renamed = user(
        ALICE,
        "Alicia",
        "Nguyen",
        Some("alice@acme.example"),
        Eligibility::Eligible,
    );
    let plan = run(
        &[renamed],
        &[deactivated(synced(100, ALICE, "Alice", "Nguyen"))],
        Listing::Complete,
    );
    assert_eq!(plan.updates.len(), 1);
    assert_eq!(plan.updates[0].changes, vec![Change::Name, Change::Reactivate]);
    assert_eq!((plan.counts.reactivated, plan.counts.updated), (1, 0));
}

// ---- rows: not eligible / absent ----------------------------------------------------------

#[test]
fn a_user_absent_from_a_complete_listing_is_deactivated_and_the_record_stays() {
    let plan = run(
        &[eligible(ALICE, "Alice", "Nguyen")],
        &[
            synced(100, ALICE, "Alice", "Nguyen"),
            synced(101, BOB, "Bob", "Martins"),
        ],
        Listing::Complete,
    );
    assert_eq!(plan.updates.len(), 1);
    let u = &plan.updates[0];
    assert_eq!(
        (u.person.id, u.changes.as_slice()),
        (101, [Change::Deactivate].as_slice())
    );
    assert_eq!(u.person.input.deactivated, Some(NOW));
    assert_eq!(u.person.input.first_name, "Bob", "deactivation changes nothing else");
    assert_eq!(plan.counts.deactivated, 1);
}

#[test]
fn a_user_absent_from_a_partial_listing_is_not_deactivated() {
    let persons = [
        synced(100, ALICE, "Alice", "Nguyen"),
        synced(101, BOB, "Bob", "Martins"),
    ];
    let users = [
        eligible(ALICE, "Alicia", "Nguyen"),
        user(CAROL, "Carol", "Okafor", None, Eligibility::NotEligible),
    ];
    let plan = run(&users, &persons, Listing::Partial);
    assert!(
        plan.updates.iter().all(|u| !u.changes.contains(&Change::Deactivate)),
        "{plan:?}"
    );
    assert_eq!(plan.updates.len(), 1, "the users that were read are still updated");
    assert_eq!(plan.counts.deactivation_deferred, 1);
}

#[test]
fn a_listed_user_who_lost_eligibility_is_deactivated() {
    let plan = run(
        &[user(ALICE, "Alice", "Nguyen", None, Eligibility::NotEligible)],
        &[synced(100, ALICE, "Alice", "Nguyen")],
        Listing::Complete,
    );
    assert_eq!(plan.updates[0].changes, vec![Change::Deactivate]);
    assert_eq!((plan.counts.deactivated, plan.counts.not_eligible), (1, 1));
}

#[test]
fn a_user_who_is_not_eligible_gets_no_person() {
    let plan = run(
        &[user(ALICE, "Alice", "Nguyen", None, Eligibility::NotEligible)],
        &[],
        Listing::Complete,
    );
    assert_eq!(plan.writes(), 0);
}

#[test]
fn an_already_deactivated_person_of_an_absent_or_ineligible_user_is_left_alone() {
    let persons = [
        deactivated(synced(100, ALICE, "Alice", "Nguyen")),
        deactivated(synced(101, BOB, "Bob", "Martins")),
    ];
    let plan = run(
        &[user(ALICE, "Alice", "Nguyen", None, Eligibility::NotEligible)],
        &persons,
        Listing::Complete,
    );
    assert_eq!(plan.writes(), 0);
}

#[test]
fn an_empty_complete_listing_deactivates_every_active_person_of_this_acd_server_only() {
    let mut other_server = synced(102, CAROL, "Carol", "Okafor");
    other_server.input.acd_server_id = Some(99);
    let mut no_acd = synced(103, CAROL, "Carol", "Okafor");
    no_acd.input.acd_id = None;
    no_acd.input.acd_server_id = None;
    let persons = [
        synced(100, ALICE, "Alice", "Nguyen"),
        deactivated(synced(101, BOB, "Bob", "Martins")),
        other_server,
        no_acd,
    ];
    let plan = run(&[], &persons, Listing::Complete);
    let ids: Vec<i64> = plan.updates.iter().map(|u| u.person.id).collect();
    assert_eq!(ids, vec![100]);
}

// ---- row: skipped -----------------------------------------------------------------------

#[test]
fn a_skipped_user_is_never_created_changed_or_deactivated() {
    let persons = [synced(100, ALICE, "Alice", "Nguyen")];
    let users = [
        user(ALICE, "Renamed", "Nguyen", None, Eligibility::Skipped),
        user(BOB, "Bob", "Martins", None, Eligibility::Skipped),
    ];
    let plan = run(&users, &persons, Listing::Complete);
    assert_eq!(plan.writes(), 0);
    assert_eq!(plan.counts.skipped, 2);
}

// ---- bad input ----------------------------------------------------------------------------

#[test]
fn a_user_without_names_is_named_from_display_name_then_email_then_the_import_placeholder() {
    let mut from_display = user(ALICE, "", "", None, Eligibility::Eligible);
    from_display.display_name = "Alice Mary Nguyen".into();
    let from_email = user(BOB, " ", "", Some("bob.martins@acme.example"), Eligibility::Eligible);
    let mut nothing = user(CAROL, "", "", None, Eligibility::Eligible);
    nothing.display_name = String::new();
    let plan = run(&[from_display, from_email, nothing], &[], Listing::Complete);
    let names: Vec<(&str, &str)> = plan
        .creates
        .iter()
        .map(|c| (c.input.first_name.as_str(), c.input.last_name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("Alice", "Mary Nguyen"), ("bob", "martins"), ("Webex", "User b5e81f03")]
    );
    assert_eq!(
        plan.warnings
            .iter()
            .filter(|w| matches!(w, SyncWarning::NoName { .. }))
            .count(),
        3
    );
    assert_eq!(plan.creates[2].input.email, None);
}

#[test]
fn a_person_the_contact_import_created_with_the_placeholder_name_gets_the_real_name() {
    let mut p = synced(100, ALICE, "Webex", "User 3f6c2a1e");
    p.input.email = None;
    let plan = run(&[eligible(ALICE, "Alice", "Nguyen")], &[p], Listing::Complete);
    assert_eq!(plan.updates[0].changes, vec![Change::Name, Change::Email]);
}

#[test]
fn a_source_without_email_keeps_the_email_entered_in_wfo() {
    let plan = run(
        &[user(ALICE, "Alice", "Nguyen", None, Eligibility::Eligible)],
        &[synced(100, ALICE, "Alice", "Nguyen")],
        Listing::Complete,
    );
    assert_eq!(plan.writes(), 0);
}

#[test]
fn an_email_that_differs_only_in_case_is_no_change() {
    let mut u = eligible(ALICE, "Alice", "Nguyen");
    u.email = Some("ALICE@Acme.Example".into());
    let plan = run(&[u], &[synced(100, ALICE, "Alice", "Nguyen")], Listing::Complete);
    assert_eq!(plan.writes(), 0);
}

#[test]
fn users_sharing_an_email_are_all_synced_and_only_one_gets_the_address() {
    let shared = Some("team@acme.example");
    let users = [
        user(BOB, "Bob", "Martins", shared, Eligibility::Eligible),
        user(ALICE, "Alice", "Nguyen", shared, Eligibility::Eligible),
    ];
    let plan = run(&users, &[], Listing::Complete);
    assert_eq!(plan.creates.len(), 2);
    let emails: Vec<(&str, Option<&str>)> = plan
        .creates
        .iter()
        .map(|c| (c.acd_id.as_str(), c.input.email.as_deref()))
        .collect();
    assert_eq!(
        emails,
        vec![(ALICE, Some("team@acme.example")), (BOB, None)],
        "lowest ACD id when nobody has it yet"
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| matches!(w, SyncWarning::DuplicateEmail { kept_by: Some(k), .. } if k == ALICE))
    );
}

#[test]
fn a_shared_email_stays_with_the_person_that_already_carries_it() {
    let shared = Some("team@acme.example");
    let mut bob = synced(100, BOB, "Bob", "Martins");
    bob.input.email = Some("team@acme.example".into());
    let users = [
        user(BOB, "Bob", "Martins", shared, Eligibility::Eligible),
        user(ALICE, "Alice", "Nguyen", shared, Eligibility::Eligible),
    ];
    let plan = run(&users, &[bob], Listing::Complete);
    assert_eq!(plan.updates.len(), 0, "Bob keeps it: no write");
    assert_eq!(plan.creates[0].input.email, None);
}

#[test]
fn an_email_already_on_another_wfo_person_is_not_set() {
    let mut supervisor = synced(50, CAROL, "Sue", "Visor");
    supervisor.input.acd_id = None;
    supervisor.input.acd_server_id = None;
    supervisor.input.email = Some("alice@acme.example".into());
    let plan = run(&[eligible(ALICE, "Alice", "Nguyen")], &[supervisor], Listing::Complete);
    assert_eq!(plan.creates[0].input.email, None);
    assert!(
        plan.warnings
            .iter()
            .any(|w| matches!(w, SyncWarning::EmailTaken { person_id: 50, .. }))
    );
}

#[test]
fn a_user_listed_twice_is_synced_once_and_eligibility_wins() {
    let users = [
        user(ALICE, "Alice", "Nguyen", None, Eligibility::NotEligible),
        user(&ALICE.to_uppercase(), "Alice", "Nguyen", None, Eligibility::Eligible),
    ];
    let plan = run(&users, &[], Listing::Complete);
    assert_eq!(plan.creates.len(), 1);
    assert!(
        plan.warnings
            .contains(&SyncWarning::DuplicateSourceUser { acd_id: ALICE.into() })
    );
}

#[test]
fn with_duplicate_persons_the_canonical_lowest_one_is_synced_and_the_others_are_untouched() {
    let mut upper = synced(90, ALICE, "Al", "Nguyen");
    upper.input.acd_id = Some(ALICE.to_uppercase());
    let persons = [
        upper,
        synced(120, ALICE, "Alice", "Nguyen"),
        synced(110, ALICE, "Al", "N"),
    ];
    let plan = run(&[eligible(ALICE, "Alice", "Nguyen")], &persons, Listing::Complete);
    assert!(plan.creates.is_empty());
    let changed: Vec<i64> = plan.updates.iter().map(|u| u.person.id).collect();
    assert_eq!(
        changed,
        vec![110],
        "110 is canonical and lowest; 90 (other spelling) and 120 are left"
    );
    assert!(plan.warnings.contains(&SyncWarning::DuplicatePersons {
        acd_id: ALICE.into(),
        person_ids: vec![110, 120, 90]
    }));
}

#[test]
fn every_active_duplicate_of_a_deleted_user_is_deactivated() {
    let persons = [
        synced(100, ALICE, "Alice", "Nguyen"),
        synced(101, ALICE, "Alice", "Nguyen"),
        deactivated(synced(102, ALICE, "A", "N")),
    ];
    let plan = run(&[], &persons, Listing::Complete);
    let ids: Vec<i64> = plan.updates.iter().map(|u| u.person.id).collect();
    assert_eq!(ids, vec![100, 101]);
}

// ---- Contact Center rules -------------------------------------------------------------------

#[test]
fn contact_center_policy_sets_both_start_dates_of_new_persons_to_the_sync_date() {
    let plan = run_with(
        &[eligible(ALICE, "Alice", "Nguyen")],
        &[],
        Listing::Complete,
        SyncPolicy::contact_center(),
    );
    let c = &plan.creates[0].input;
    assert_eq!(
        (c.company_start_date.as_deref(), c.department_start_date.as_deref()),
        (Some(TODAY), Some(TODAY))
    );
    let again = run_with(
        &[eligible(ALICE, "Alice", "Nguyen")],
        &apply(&plan, &[]),
        Listing::Complete,
        SyncPolicy::contact_center(),
    );
    assert_eq!(again.writes(), 0, "start dates are set once, not moved every day");
}

// ---- properties ---------------------------------------------------------------------------------

fn arb_user(ids: Vec<String>) -> impl Strategy<Value = SourceUser> {
    (
        prop::sample::select(ids),
        prop::sample::select(vec!["", "Ann", "Bo"]),
        prop::sample::select(vec!["", "Lee", "Kim"]),
        prop::option::of(prop::sample::select(vec!["a@x.example", "b@x.example", "A@X.example"])),
        prop::sample::select(vec![
            Eligibility::Eligible,
            Eligibility::NotEligible,
            Eligibility::Skipped,
        ]),
    )
        .prop_map(|(id, first, last, email, eligibility)| user(&id, first, last, email, eligibility))
}

fn arb_person(ids: Vec<String>) -> impl Strategy<Value = PersonInput> {
    (
        prop::sample::select(ids),
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec![SERVER, 99]),
        any::<bool>(),
    )
        .prop_map(|(id, active, upper, server, agent)| {
            let mut p = synced(0, &id, "Old", "Name").input;
            if upper {
                p.acd_id = Some(id.to_uppercase());
            }
            p.acd_server_id = Some(server);
            p.deactivated = (!active).then_some(3);
            if !agent {
                p.roles = vec![supervisor_role()];
            }
            p
        })
}

fn ids() -> Vec<String> {
    (0..6)
        .map(|i| format!("0000000{i}-0000-4000-8000-000000000000"))
        .collect()
}

proptest! {
    #[test]
    fn applying_a_plan_then_planning_again_writes_nothing(
        users in prop::collection::vec(arb_user(ids()), 0..8),
        persons in prop::collection::vec(arb_person(ids()), 0..8),
    ) {
        let persons: Vec<Person> = persons.into_iter().enumerate().map(|(i, input)| Person { id: i as i64 + 1, input }).collect();
        let first = run(&users, &persons, Listing::Complete);
        let after = apply(&first, &persons);
        let second = run(&users, &after, Listing::Complete);
        prop_assert_eq!(second.writes(), 0, "first {:?}\nsecond {:?}", first, second);
    }

    #[test]
    fn a_partial_listing_never_deactivates_and_never_creates_twice(
        users in prop::collection::vec(arb_user(ids()), 0..8),
        persons in prop::collection::vec(arb_person(ids()), 0..8),
    ) {
        let persons: Vec<Person> = persons.into_iter().enumerate().map(|(i, input)| Person { id: i as i64 + 1, input }).collect();
        let plan = run(&users, &persons, Listing::Partial);
        prop_assert!(plan.updates.iter().all(|u| !u.changes.contains(&Change::Deactivate)));
        for c in &plan.creates {
            let existing = persons.iter().filter(|p| p.input.acd_server_id == Some(SERVER)
                && p.input.acd_id.as_deref().map(canonical_acd_id).as_deref() == Some(c.acd_id.as_str())).count();
            prop_assert_eq!(existing, 0, "created {} although WFO has a person for it", c.acd_id);
        }
    }
}

/// A tiny base64url encoder for building REST ids in tests.
mod base64_free {
    pub fn encode(s: &str) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let b = s.as_bytes();
        let mut out = String::new();
        for chunk in b.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (16 - 8 * i)));
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}
