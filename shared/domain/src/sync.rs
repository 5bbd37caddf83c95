//! User sync: the source-independent diff engine.
//!
//! Input: the users a source listed (already reduced to a canonical ACD id, names, email
//! and an [`Eligibility`]), whether that listing was complete, and the WFO persons.
//! Output: a [`SyncPlan`] of person creates and whole-object updates, each update one
//! `PUT` that carries every change of that person. Nothing here does IO, so every rule
//! below is a table-driven test (`shared/domain/tests/user_sync_rules.rs`).
//!
//! # Rules
//!
//! | source user | WFO person (this `acdServerId`) | plan |
//! |---|---|---|
//! | eligible | none | **create** (when the policy creates persons before their first recording: `all_eligible`, and Contact Center): names, email, canonical `acdId`, default team, default agent role, `activated` = now (start dates = sync date when the policy says so); otherwise nothing: the import creates the person with the user's first recording (Webex Calling's guide) |
//! | eligible | active, equal | nothing (**no write**) |
//! | eligible | active, differs | **update** (one `PUT`): names, email, `acdId` spelling, and — where the policy says so (Contact Center) — the default agent role re-added |
//! | eligible | deactivated | **reactivate** (`deactivated` = null, `activated` = now) plus any update above, one `PUT` |
//! | not eligible, or absent, listing **complete** | active | **deactivate** (`deactivated` = now); the record stays |
//! | not eligible, or absent, listing **partial** | active | nothing: only a complete listing proves absence |
//! | not eligible, or absent | deactivated / none | nothing |
//! | skipped (e.g. Contact Center "Not Active", eligibility unknown this run) | any | nothing |
//!
//! Ownership of a synced person's fields, i.e. what happens to a person **edited by hand
//! in WFO**:
//! - The sync owns `firstName`, `lastName`, `displayName` ("First Last"), `acdId`,
//!   `acdServerId`, the activation state, the presence of the default agent role, and
//!   `email` when the source has one. A hand edit of these is overwritten by the next
//!   run (the source is the authority; nothing flows back to it). A hand deactivation of
//!   a user who is still eligible is undone the same way: to exclude a user, remove the
//!   license or the recording setting at the source.
//! - WFO owns everything else: the team (`groupId`) after creation, every other role,
//!   the start dates after creation, an email the source does not provide. The sync never
//!   touches these, so moving an agent to another team or adding a supervisor role sticks.
//!
//! Identity: persons are matched by (`acdServerId`, [`canonical_acd_id`]`(acdId)`). A
//! person whose `acdId` is spelt differently (upper case, base64 REST id) is the same
//! person, and its `acdId` is rewritten to the canonical form so that the contact import,
//! which matches exactly, finds it too. Several persons for one ACD id (an earlier
//! duplicate): the one whose `acdId` is already canonical, then the lowest id, is *the*
//! person (the same choice as `wfo_client::find_person_by_acd`); the others are reported
//! and only ever deactivated, never changed otherwise.
//!
//! Names: the source's first and last name (trimmed); when both are empty, the display
//! name split at its first space; else the e-mail's local part split at its first dot;
//! else "Webex" / "User <first 8 of the id>" (the contact import's placeholder). Email:
//! the source's first address; when several synced users share one address, only the one
//! whose person already carries it (else the lowest ACD id) gets it; an address that a
//! WFO person of another user already carries is not set either. Both cases are
//! warnings, never errors.
//!
//! Contact Center (a later source) uses the same engine: its "Not Active" users are
//! [`Eligibility::Skipped`], [`SyncPolicy::contact_center`] sets the company and
//! department start dates of new persons to the sync date, and its teams and queues are
//! planned by [`crate::org_sync`] (keyed on the source id, read-only); team membership is
//! not preserved (new persons go to the default team, existing persons keep theirs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::wfo::{Person, PersonInput, RoleRef};

/// First name the contact import gives an agent it knows no name of.
pub const PLACEHOLDER_FIRST_NAME: &str = "Webex";

/// The one spelling of an Agent ACD ID: the plain lowercase hyphenated UUID that
/// recordings, metadata and CDRs carry. A base64 REST id (`ciscospark://…/<TYPE>/<uuid>`)
/// is decoded; a UUID in any case, with or without hyphens, is normalised; anything
/// else is only trimmed.
pub fn canonical_acd_id(raw: &str) -> String {
    crate::webex_id::canonical_webex_id(raw)
}

/// The contact import's placeholder name for an agent whose name it does not know.
pub fn placeholder_names(acd_id: &str) -> (String, String) {
    let short: String = acd_id.chars().take(8).collect();
    (PLACEHOLDER_FIRST_NAME.to_owned(), format!("User {short}"))
}

/// "First Last", trimmed (the WFO `displayName` of a synced person).
pub fn display_name(first: &str, last: &str) -> String {
    format!("{} {}", first.trim(), last.trim()).trim().to_owned()
}

/// Whether a listed user is synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Eligibility {
    /// Gets (or keeps) an active person.
    Eligible,
    /// Listed, but not to be synced (Webex Calling: no Professional license, or
    /// recording off). An active person is deactivated when the listing is complete.
    NotEligible,
    /// Left alone entirely this run: never created, changed or deactivated (Contact
    /// Center "Not Active" users; a user whose eligibility could not be read).
    Skipped,
}

/// One user as the source lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceUser {
    /// Canonical ACD id ([`canonical_acd_id`]); the engine canonicalises again anyway.
    pub acd_id: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
    pub eligibility: Eligibility,
    /// Whether the default agent role is the user's (Contact Center: the user is contact
    /// center enabled). `false`: created without it and never given it by the sync.
    #[serde(default = "agent_by_default")]
    pub agent_role: bool,
}

fn agent_by_default() -> bool {
    true
}

/// Whether the listing behind the users read every user of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Listing {
    /// Every page of every listing was read: a user not in it does not exist.
    Complete,
    /// Something was not read (a page failed): nobody is deactivated.
    Partial,
}

/// What new persons get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDefaults {
    /// The Default Team (`isDefault`).
    pub team_id: i64,
    /// The default agent role (`isAgentDefault`).
    pub agent_role: RoleRef,
}

/// Source-specific choices of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncPolicy {
    /// Set `companyStartDate` and `departmentStartDate` of new persons to the sync date.
    pub start_dates_on_create: bool,
    /// Create a person for every eligible user (`true`), or only keep the persons that
    /// exist in step while the import creates each with the user's first recording.
    pub create_all_eligible: bool,
    /// Add the default agent role back to a person that lacks it (`false`: the role is
    /// given at creation only, and an administrator's role change stands).
    pub readd_agent_role: bool,
}

impl SyncPolicy {
    /// The Webex Calling guide: "If a Webex Calling user does not have any recordings …
    /// the user is not synced"; the agent role is assigned when the user is added.
    pub fn webex_calling() -> Self {
        Self {
            start_dates_on_create: false,
            create_all_eligible: false,
            readd_agent_role: false,
        }
    }

    /// The Contact Center guides: every user is synced and the agent role re-added.
    pub fn contact_center() -> Self {
        Self {
            start_dates_on_create: true,
            create_all_eligible: true,
            readd_agent_role: true,
        }
    }

    /// With the connector's `sync.create_persons` applied, when it is set.
    pub fn with_create_persons(self, choice: Option<crate::config::CreatePersons>) -> Self {
        match choice {
            Some(c) => Self {
                create_all_eligible: c == crate::config::CreatePersons::AllEligible,
                ..self
            },
            None => self,
        }
    }
}

/// Everything one plan is computed from.
#[derive(Debug, Clone)]
pub struct SyncInput<'a> {
    pub acd_server_id: i64,
    pub users: &'a [SourceUser],
    pub listing: Listing,
    /// Every WFO person (those of other ACD servers matter for e-mail clashes only).
    pub persons: &'a [Person],
    pub defaults: &'a SyncDefaults,
    pub policy: SyncPolicy,
    /// Epoch ms written to `activated` / `deactivated`.
    pub now_ms: i64,
    /// `YYYY-MM-DD`, the sync date for start dates.
    pub today: &'a str,
}

/// One field group a person update changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    Name,
    Email,
    /// `acdId` rewritten to the canonical spelling.
    AcdId,
    /// The default agent role was missing and is added back (other roles kept).
    AgentRole,
    Reactivate,
    Deactivate,
}

/// A person to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonCreate {
    pub acd_id: String,
    pub input: PersonInput,
}

/// A person to `PUT` (the whole object, every change included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonUpdate {
    pub acd_id: String,
    pub person: Person,
    pub changes: Vec<Change>,
}

/// Which counter an update belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    Updated,
    Reactivated,
    Deactivated,
}

impl PersonUpdate {
    /// Deactivated, else reactivated, else updated.
    pub fn kind(&self) -> UpdateKind {
        if self.changes.contains(&Change::Deactivate) {
            UpdateKind::Deactivated
        } else if self.changes.contains(&Change::Reactivate) {
            UpdateKind::Reactivated
        } else {
            UpdateKind::Updated
        }
    }
}

/// Something the plan tolerated and an operator may want to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum SyncWarning {
    /// Several WFO persons carry one ACD id; `person_ids[0]` is the one synced.
    DuplicatePersons { acd_id: String, person_ids: Vec<i64> },
    /// Several synced users share one e-mail; only `kept_by` (if any) gets it.
    DuplicateEmail {
        email: String,
        acd_ids: Vec<String>,
        kept_by: Option<String>,
    },
    /// The e-mail is already on a WFO person that is not this user's.
    EmailTaken {
        email: String,
        acd_id: String,
        person_id: i64,
    },
    /// The source listed one ACD id more than once (merged).
    DuplicateSourceUser { acd_id: String },
    /// The source has no name for the user: the placeholder or a derived name is used.
    NoName { acd_id: String },
}

impl std::fmt::Display for SyncWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncWarning::DuplicatePersons { acd_id, person_ids } => {
                write!(
                    f,
                    "several WFO persons for ACD id {acd_id}: {person_ids:?}; syncing {}",
                    person_ids[0]
                )
            }
            SyncWarning::DuplicateEmail {
                email,
                acd_ids,
                kept_by,
            } => match kept_by {
                Some(k) => write!(f, "e-mail {email} is shared by users {acd_ids:?}; only {k} gets it"),
                None => write!(f, "e-mail {email} is shared by users {acd_ids:?}; none gets it"),
            },
            SyncWarning::EmailTaken {
                email,
                acd_id,
                person_id,
            } => {
                write!(
                    f,
                    "e-mail {email} of user {acd_id} is already on WFO person {person_id}; not set"
                )
            }
            SyncWarning::DuplicateSourceUser { acd_id } => write!(f, "the source listed user {acd_id} more than once"),
            SyncWarning::NoName { acd_id } => write!(f, "the source has no name for user {acd_id}"),
        }
    }
}

/// What a plan does, counted per person (a person is counted once: deactivated, else
/// reactivated, else updated).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanCounts {
    pub created: u64,
    pub updated: u64,
    pub reactivated: u64,
    pub deactivated: u64,
    /// Eligible users whose person needs no write.
    pub unchanged: u64,
    /// Listed users that are not eligible.
    pub not_eligible: u64,
    /// Listed users left alone ([`Eligibility::Skipped`]).
    pub skipped: u64,
    /// Active persons that a complete listing would have deactivated.
    pub deactivation_deferred: u64,
    /// Eligible users without a person, left for the import to create with their first
    /// recording (`sync.create_persons = "on_first_recording"`).
    #[serde(default)]
    pub awaiting_first_recording: u64,
}

/// The writes one run makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    pub creates: Vec<PersonCreate>,
    pub updates: Vec<PersonUpdate>,
    pub counts: PlanCounts,
    pub warnings: Vec<SyncWarning>,
}

impl SyncPlan {
    /// WFO writes this plan makes: one per create, one `PUT` per update.
    pub fn writes(&self) -> usize {
        self.creates.len() + self.updates.len()
    }
}

/// The persons of one ACD id: `chosen` is synced, `others` are earlier duplicates.
struct Group<'a> {
    chosen: &'a Person,
    others: Vec<&'a Person>,
}

fn norm_email(e: &str) -> String {
    e.trim().to_lowercase()
}

/// Names for a user per the rules in the module documentation.
pub fn person_names(user: &SourceUser) -> (String, String, bool) {
    let (first, last) = (user.first_name.trim(), user.last_name.trim());
    if !first.is_empty() || !last.is_empty() {
        return (first.to_owned(), last.to_owned(), true);
    }
    let display = user.display_name.trim();
    if !display.is_empty() {
        return match display.split_once(' ') {
            Some((f, l)) => (f.to_owned(), l.trim().to_owned(), false),
            None => (display.to_owned(), String::new(), false),
        };
    }
    let local = user
        .email
        .as_deref()
        .and_then(|e| e.trim().split('@').next())
        .unwrap_or_default();
    if !local.is_empty() {
        return match local.split_once('.') {
            Some((f, l)) => (f.to_owned(), l.to_owned(), false),
            None => (local.to_owned(), String::new(), false),
        };
    }
    let (f, l) = placeholder_names(&canonical_acd_id(&user.acd_id));
    (f, l, false)
}

/// Compute the plan. Deterministic: the same input gives the same plan, in ACD id order.
pub fn plan(input: &SyncInput<'_>) -> SyncPlan {
    let mut out = SyncPlan::default();

    // 1. Source users by canonical id (merging repeats; eligible wins).
    let mut users: BTreeMap<String, SourceUser> = BTreeMap::new();
    for u in input.users {
        let id = canonical_acd_id(&u.acd_id);
        if id.is_empty() {
            continue;
        }
        match users.get_mut(&id) {
            Some(seen) => {
                out.warnings
                    .push(SyncWarning::DuplicateSourceUser { acd_id: id.clone() });
                if u.eligibility == Eligibility::Eligible && seen.eligibility != Eligibility::Eligible {
                    *seen = SourceUser {
                        acd_id: id,
                        ..u.clone()
                    };
                }
            }
            None => {
                users.insert(
                    id.clone(),
                    SourceUser {
                        acd_id: id,
                        ..u.clone()
                    },
                );
            }
        }
    }

    // 2. WFO persons of this ACD server, grouped by canonical id.
    let mut by_acd: BTreeMap<String, Vec<&Person>> = BTreeMap::new();
    for p in input.persons {
        if p.input.acd_server_id != Some(input.acd_server_id) {
            continue;
        }
        let Some(raw) = p.input.acd_id.as_deref() else { continue };
        let id = canonical_acd_id(raw);
        if !id.is_empty() {
            by_acd.entry(id).or_default().push(p);
        }
    }
    let mut groups: BTreeMap<String, Group<'_>> = BTreeMap::new();
    for (id, mut persons) in by_acd {
        persons.sort_by_key(|p| (p.input.acd_id.as_deref() != Some(id.as_str()), p.id));
        let chosen = persons[0];
        let others: Vec<&Person> = persons[1..].to_vec();
        if !others.is_empty() {
            let mut ids = vec![chosen.id];
            ids.extend(others.iter().map(|p| p.id));
            out.warnings.push(SyncWarning::DuplicatePersons {
                acd_id: id.clone(),
                person_ids: ids,
            });
        }
        groups.insert(id, Group { chosen, others });
    }

    // 3. E-mails: who may carry which address.
    let granted = grant_emails(input, &users, &groups, &mut out.warnings);

    // 4. Eligible and listed users.
    for (id, user) in &users {
        match user.eligibility {
            Eligibility::Skipped => out.counts.skipped += 1,
            Eligibility::NotEligible => {
                out.counts.not_eligible += 1;
                if let Some(g) = groups.get(id) {
                    deactivate_group(input, id, g, &mut out);
                }
            }
            Eligibility::Eligible => {
                let (first, last, named) = person_names(user);
                if !named {
                    out.warnings.push(SyncWarning::NoName { acd_id: id.clone() });
                }
                let email = granted.get(id).cloned();
                match groups.get(id) {
                    None if !input.policy.create_all_eligible => out.counts.awaiting_first_recording += 1,
                    None => out.creates.push(create(input, id, first, last, email, user.agent_role)),
                    Some(g) => match update(input, id, g.chosen, first, last, email, user.agent_role) {
                        Some(u) => out.updates.push(u),
                        None => out.counts.unchanged += 1,
                    },
                }
            }
        }
    }

    // 5. Persons whose user the source did not list at all.
    for (id, g) in &groups {
        if !users.contains_key(id) {
            deactivate_group(input, id, g, &mut out);
        }
    }

    out.counts.created = out.creates.len() as u64;
    for u in &out.updates {
        match u.kind() {
            UpdateKind::Deactivated => out.counts.deactivated += 1,
            UpdateKind::Reactivated => out.counts.reactivated += 1,
            UpdateKind::Updated => out.counts.updated += 1,
        }
    }
    out.updates
        .sort_by(|a, b| (&a.acd_id, a.person.id).cmp(&(&b.acd_id, b.person.id)));
    out
}

fn grant_emails(
    input: &SyncInput<'_>,
    users: &BTreeMap<String, SourceUser>,
    groups: &BTreeMap<String, Group<'_>>,
    warnings: &mut Vec<SyncWarning>,
) -> BTreeMap<String, String> {
    // Address → eligible users wanting it (ACD id order).
    let mut wanted: BTreeMap<String, Vec<(&String, String)>> = BTreeMap::new();
    for (id, u) in users.iter().filter(|(_, u)| u.eligibility == Eligibility::Eligible) {
        if let Some(e) = u.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            wanted.entry(norm_email(e)).or_default().push((id, e.to_owned()));
        }
    }
    // Address → WFO persons carrying it.
    let mut carried: BTreeMap<String, Vec<&Person>> = BTreeMap::new();
    for p in input.persons {
        if let Some(e) = p.input.email.as_deref().filter(|e| !e.trim().is_empty()) {
            carried.entry(norm_email(e)).or_default().push(p);
        }
    }
    let own = |id: &str, p: &Person| {
        groups
            .get(id)
            .is_some_and(|g| g.chosen.id == p.id || g.others.iter().any(|o| o.id == p.id))
    };
    let mut granted = BTreeMap::new();
    for (key, claimants) in wanted {
        let carriers = carried.get(&key).map(Vec::as_slice).unwrap_or_default();
        let winner = if claimants.len() == 1 {
            Some(claimants[0].clone())
        } else {
            claimants
                .iter()
                .find(|(id, _)| carriers.iter().any(|p| own(id, p)))
                .or(claimants.first())
                .cloned()
        };
        if claimants.len() > 1 {
            warnings.push(SyncWarning::DuplicateEmail {
                email: key.clone(),
                acd_ids: claimants.iter().map(|(id, _)| (*id).clone()).collect(),
                kept_by: winner.as_ref().map(|(id, _)| (*id).clone()),
            });
        }
        let Some((id, email)) = winner else { continue };
        match carriers.iter().find(|p| !own(id, p)) {
            Some(other) => warnings.push(SyncWarning::EmailTaken {
                email: key.clone(),
                acd_id: id.clone(),
                person_id: other.id,
            }),
            None => {
                granted.insert(id.clone(), email);
            }
        }
    }
    granted
}

fn create(
    input: &SyncInput<'_>,
    id: &str,
    first: String,
    last: String,
    email: Option<String>,
    agent: bool,
) -> PersonCreate {
    let start = input.policy.start_dates_on_create.then(|| input.today.to_owned());
    PersonCreate {
        acd_id: id.to_owned(),
        input: PersonInput {
            display_name: display_name(&first, &last),
            first_name: first,
            last_name: last,
            email,
            group_id: input.defaults.team_id,
            acd_id: Some(id.to_owned()),
            acd_server_id: Some(input.acd_server_id),
            roles: if agent {
                vec![input.defaults.agent_role.clone()]
            } else {
                Vec::new()
            },
            company_start_date: start.clone(),
            department_start_date: start,
            activated: Some(input.now_ms),
            deactivated: None,
        },
    }
}

fn update(
    input: &SyncInput<'_>,
    id: &str,
    current: &Person,
    first: String,
    last: String,
    email: Option<String>,
    agent: bool,
) -> Option<PersonUpdate> {
    let mut next = current.clone();
    let mut changes = Vec::new();
    let display = display_name(&first, &last);
    let p = &mut next.input;
    if p.first_name != first || p.last_name != last || p.display_name != display {
        p.first_name = first;
        p.last_name = last;
        p.display_name = display;
        changes.push(Change::Name);
    }
    if let Some(e) = email
        && p.email.as_deref().map(norm_email) != Some(norm_email(&e))
    {
        p.email = Some(e);
        changes.push(Change::Email);
    }
    if p.acd_id.as_deref() != Some(id) {
        p.acd_id = Some(id.to_owned());
        changes.push(Change::AcdId);
    }
    if agent && input.policy.readd_agent_role && !p.roles.iter().any(|r| r.id == input.defaults.agent_role.id) {
        p.roles.push(input.defaults.agent_role.clone());
        changes.push(Change::AgentRole);
    }
    if p.deactivated.is_some() {
        p.deactivated = None;
        p.activated = Some(input.now_ms);
        changes.push(Change::Reactivate);
    }
    (!changes.is_empty()).then(|| PersonUpdate {
        acd_id: id.to_owned(),
        person: next,
        changes,
    })
}

fn deactivate_group(input: &SyncInput<'_>, id: &str, g: &Group<'_>, out: &mut SyncPlan) {
    for p in std::iter::once(g.chosen).chain(g.others.iter().copied()) {
        if p.input.deactivated.is_some() {
            continue;
        }
        if input.listing == Listing::Partial {
            out.counts.deactivation_deferred += 1;
            continue;
        }
        let mut next = p.clone();
        next.input.deactivated = Some(input.now_ms);
        out.updates.push(PersonUpdate {
            acd_id: id.to_owned(),
            person: next,
            changes: vec![Change::Deactivate],
        });
    }
}
