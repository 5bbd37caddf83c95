//! The simulator's data: the tenant database (persisted), sessions, counters.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wfo_domain::wfo::{AgentRef, Contact, ContactImport, MetadataKey, MetadataKeyType, Person, Queue, Role, Team};

use crate::messages;

/// Name of the seeded default team.
pub const DEFAULT_TEAM_NAME: &str = "Default Team";

const FIRST_TEAM_ID: i64 = 100;
const FIRST_PERSON_ID: i64 = 1_000;
const FIRST_CONTACT_ID: i64 = 500_000;
const FIRST_QUEUE_ID: i64 = 90_000;

fn first_queue_id() -> i64 {
    FIRST_QUEUE_ID
}

/// Audio stored for a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredAudio {
    pub bytes: u64,
    pub sha256: String,
    pub content_type: String,
    /// File name inside the audio directory.
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredContact {
    pub id: i64,
    pub import: ContactImport,
    pub audio: Option<StoredAudio>,
}

impl StoredContact {
    pub fn to_contact(&self) -> Contact {
        Contact {
            id: self.id,
            import: self.import.clone(),
            audio_uploaded: self.audio.is_some(),
            audio_bytes: self.audio.as_ref().map(|a| i64::try_from(a.bytes).unwrap_or(i64::MAX)),
        }
    }

    pub fn to_sim(&self) -> SimContact {
        SimContact {
            contact: self.to_contact(),
            audio_sha256: self.audio.as_ref().map(|a| a.sha256.clone()),
            audio_content_type: self.audio.as_ref().map(|a| a.content_type.clone()),
        }
    }
}

/// A contact as `/sim/state` and [`crate::SimHandle::contacts`] show it: the wire
/// [`Contact`] plus the hash and type of its audio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimContact {
    #[serde(flatten)]
    pub contact: Contact,
    pub audio_sha256: Option<String>,
    pub audio_content_type: Option<String>,
}

/// Everything that survives a restart (written to `state.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Db {
    pub version: u32,
    pub next_team_id: i64,
    pub next_person_id: i64,
    pub next_contact_id: i64,
    pub roles: Vec<Role>,
    pub teams: BTreeMap<i64, Team>,
    pub persons: BTreeMap<i64, Person>,
    pub metadata_keys: Vec<MetadataKey>,
    pub contacts: BTreeMap<i64, StoredContact>,
    /// Absent from state files written before queues existed: those load with none.
    #[serde(default = "first_queue_id")]
    pub next_queue_id: i64,
    #[serde(default)]
    pub queues: BTreeMap<i64, Queue>,
}

impl Db {
    pub fn seeded(metadata_keys: Vec<MetadataKey>, extra_teams: &[wfo_domain::wfo::TeamInput]) -> Self {
        let roles = vec![
            role(1, "Agent", true, false, false),
            role(2, "Supervisor", false, true, false),
            role(3, "Administrator", false, false, true),
        ];
        let mut db = Self {
            version: 1,
            next_team_id: FIRST_TEAM_ID,
            next_person_id: FIRST_PERSON_ID,
            next_contact_id: FIRST_CONTACT_ID,
            roles,
            teams: BTreeMap::new(),
            persons: BTreeMap::new(),
            metadata_keys,
            contacts: BTreeMap::new(),
            next_queue_id: FIRST_QUEUE_ID,
            queues: BTreeMap::new(),
        };
        let id = db.take_team_id();
        db.teams.insert(
            id,
            Team {
                id,
                name: DEFAULT_TEAM_NAME.to_owned(),
                is_default: true,
                acd_id: None,
                acd_server_id: None,
                read_only: false,
            },
        );
        for t in extra_teams {
            let id = db.take_team_id();
            db.teams.insert(
                id,
                Team {
                    id,
                    name: t.name.clone(),
                    is_default: false,
                    acd_id: t.acd_id.clone(),
                    acd_server_id: t.acd_server_id,
                    read_only: t.read_only,
                },
            );
        }
        db
    }

    pub fn take_team_id(&mut self) -> i64 {
        let id = self.next_team_id;
        self.next_team_id += 1;
        id
    }

    pub fn take_person_id(&mut self) -> i64 {
        let id = self.next_person_id;
        self.next_person_id += 1;
        id
    }

    pub fn take_queue_id(&mut self) -> i64 {
        let id = self.next_queue_id;
        self.next_queue_id += 1;
        id
    }

    pub fn take_contact_id(&mut self) -> i64 {
        let id = self.next_contact_id;
        self.next_contact_id += 1;
        id
    }

    /// Deactivated persons count: a deactivated agent's contacts still import, as in
    /// Calabrio ONE.
    pub fn agent_exists(&self, agent: &AgentRef) -> bool {
        self.persons.values().any(|p| {
            p.input.acd_server_id == Some(agent.acd_server_id)
                && p.input.acd_id.as_deref() == Some(agent.acd_id.as_str())
        })
    }

    /// `Err(message)` for the first key that does not exist or is not `TEXT`.
    pub fn check_text_keys<'a>(&self, keys: impl IntoIterator<Item = &'a String>) -> Result<(), String> {
        for key in keys {
            match self.metadata_keys.iter().find(|k| &k.key == key) {
                None => return Err(messages::unknown_metadata_key_message(key)),
                Some(k) if k.key_type != MetadataKeyType::Text => {
                    return Err(messages::metadata_key_not_text_message(key));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Pairs (acdServerId, acdId) that more than one person carries: a connector bug.
    pub fn duplicate_agents(&self) -> Vec<DuplicateAgent> {
        let mut by_pair: BTreeMap<(i64, String), Vec<i64>> = BTreeMap::new();
        for p in self.persons.values() {
            if let (Some(server), Some(acd)) = (p.input.acd_server_id, &p.input.acd_id) {
                by_pair.entry((server, acd.clone())).or_default().push(p.id);
            }
        }
        by_pair
            .into_iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|((acd_server_id, acd_id), person_ids)| DuplicateAgent {
                acd_server_id,
                acd_id,
                person_ids,
            })
            .collect()
    }

    /// Pairs (acdServerId, acdId) that more than one queue carries: a connector that
    /// created a queue without looking the pair up first (`wfo-ingest-api.md` §3a).
    pub fn duplicate_queues(&self) -> Vec<DuplicateQueue> {
        let mut by_pair: BTreeMap<(i64, &str), Vec<i64>> = BTreeMap::new();
        for q in self.queues.values() {
            by_pair
                .entry((q.acd_server_id, q.acd_id.as_str()))
                .or_default()
                .push(q.id);
        }
        by_pair
            .into_iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|((acd_server_id, acd_id), queue_ids)| DuplicateQueue {
                acd_server_id,
                acd_id: acd_id.to_owned(),
                queue_ids,
            })
            .collect()
    }

    /// External ids imported more than once: a connector that skipped lookup-before-create.
    pub fn duplicate_external_ids(&self) -> Vec<DuplicateExternalId> {
        let mut by_ext: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for c in self.contacts.values() {
            by_ext.entry(c.import.external_id.as_str()).or_default().push(c.id);
        }
        by_ext
            .into_iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(external_id, contact_ids)| DuplicateExternalId {
                external_id: external_id.to_owned(),
                contact_ids,
            })
            .collect()
    }
}

fn role(id: i64, name: &str, agent: bool, supervisor: bool, admin: bool) -> Role {
    Role {
        id,
        name: name.to_owned(),
        is_agent_default: agent,
        is_supervisor_default: supervisor,
        is_admin_default: admin,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateAgent {
    pub acd_server_id: i64,
    pub acd_id: String,
    pub person_ids: Vec<i64>,
}

/// A contract violation: several queues for one (acdServerId, acdId) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateQueue {
    pub acd_server_id: i64,
    pub acd_id: String,
    pub queue_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateExternalId {
    pub external_id: String,
    pub contact_ids: Vec<i64>,
}

/// A live session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub calls: u64,
    /// The API user it was issued to (whose permissions each call has).
    pub user: String,
}

pub(crate) type Sessions = HashMap<String, Session>;

/// Counters of one route (`"POST /api/rest/wfo/contact/import"`, ids shown as `{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteStats {
    /// Requests that reached the route.
    pub calls: u64,
    /// Answers by status code (`"200"`, `"422"`, …); dropped connections are not here.
    pub statuses: BTreeMap<String, u64>,
    /// Connections closed without an answer (injected).
    pub dropped: u64,
    /// Requests answered by an injected fault (429/500/503/drop; before processing, or
    /// after it for the `fail_after_write` ones).
    pub faults: u64,
    /// Of `faults`: writes processed, then answered `500`/`503` (`fail_after_write`).
    pub failed_after_write: u64,
    /// Objects this route created (persons, teams, queues or contacts).
    pub creates: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCounts {
    pub persons: u64,
    pub teams: u64,
    pub contacts: u64,
    pub queues: u64,
}

/// Request counters since the simulator process started (not persisted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimStats {
    pub routes: BTreeMap<String, RouteStats>,
    pub creates: CreateCounts,
    pub audio_uploads: u64,
    pub sessions_issued: u64,
    pub sessions_expired: u64,
}

impl SimStats {
    pub(crate) fn route(&mut self, label: &str) -> &mut RouteStats {
        self.routes.entry(label.to_owned()).or_default()
    }
}

/// `"PUT /api/rest/recording/contact/{id}/metadata"` for `PUT /api/rest/recording/contact/500001/metadata`.
pub(crate) fn route_label(method: &str, path: &str) -> String {
    let normalized: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect();
    format!("{method} {}", normalized.join("/"))
}

/// Where state and audio live.
#[derive(Debug)]
pub(crate) struct Storage {
    /// `Some` when persistent: `state.json` is written here.
    pub state_dir: Option<PathBuf>,
    pub audio_dir: PathBuf,
    /// A temp dir we created (memory mode), removed on drop.
    pub owned_temp: Option<PathBuf>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Some(dir) = &self.owned_temp {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub(crate) const STATE_FILE: &str = "state.json";

/// Writes `bytes` to `path` atomically: a temp file in the same directory, synced, then
/// renamed over the target.
pub(crate) async fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = async {
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(bytes).await?;
        f.sync_data().await?;
        drop(f);
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_hide_numeric_ids() {
        assert_eq!(
            route_label("PUT", "/api/rest/recording/contact/500001/metadata"),
            "PUT /api/rest/recording/contact/{id}/metadata"
        );
        assert_eq!(
            route_label("GET", "/api/rest/org/common/person/permission/ViewOrg"),
            "GET /api/rest/org/common/person/permission/ViewOrg"
        );
    }

    #[test]
    fn seeded_tenant_has_one_default_team_and_three_roles() {
        let db = Db::seeded(Vec::new(), &[]);
        assert_eq!(db.teams.values().filter(|t| t.is_default).count(), 1);
        assert_eq!(db.roles.iter().filter(|r| r.is_agent_default).count(), 1);
        assert_eq!(db.roles.len(), 3);
        assert!(db.queues.is_empty());
    }

    #[test]
    fn a_state_file_from_before_queues_loads_with_none() {
        let mut old = serde_json::to_value(Db::seeded(Vec::new(), &[])).unwrap();
        let obj = old.as_object_mut().unwrap();
        obj.remove("queues");
        obj.remove("nextQueueId");
        let db: Db = serde_json::from_value(old).unwrap();
        assert!(db.queues.is_empty());
        assert_eq!(db.next_queue_id, FIRST_QUEUE_ID);
    }

    #[test]
    fn a_second_queue_for_one_pair_is_a_recorded_violation() {
        let mut db = Db::seeded(Vec::new(), &[]);
        for (acd_server_id, acd_id) in [(3, "q-1"), (3, "q-1"), (4, "q-1"), (3, "Q-1")] {
            let id = db.take_queue_id();
            let queue = Queue {
                id,
                name: "Billing".into(),
                acd_id: acd_id.into(),
                acd_server_id,
                channel_type: wfo_domain::wfo::ChannelType::Telephony,
                active: true,
            };
            db.queues.insert(id, queue);
        }
        assert_eq!(
            db.duplicate_queues(),
            vec![DuplicateQueue {
                acd_server_id: 3,
                acd_id: "q-1".into(),
                queue_ids: vec![FIRST_QUEUE_ID, FIRST_QUEUE_ID + 1],
            }]
        );
    }
}
