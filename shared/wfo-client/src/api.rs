//! The port: one method per call of the WFO ingest API.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use wfo_domain::wfo::{
    AudioFormat, AudioUploaded, Contact, ContactImport, MetadataKey, Person, PersonInput, Queue, QueueInput, Role,
    Team, TeamInput,
};

use crate::WfoError;

/// Audio to upload: a stream of chunks, never held whole in memory.
///
/// A stream can be consumed once, so an upload is never replayed by the client: on any
/// failure the error is returned and the caller re-opens its source.
pub struct AudioBody {
    pub stream: BoxStream<'static, Result<Bytes, std::io::Error>>,
    /// Total bytes, when known: sent as `Content-Length`; otherwise the body is chunked.
    pub length: Option<u64>,
}

impl AudioBody {
    /// A body from an in-memory buffer (tests, small files).
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes: Bytes = bytes.into();
        let length = Some(bytes.len() as u64);
        Self {
            stream: Box::pin(futures::stream::once(async move { Ok(bytes) })),
            length,
        }
    }
}

impl std::fmt::Debug for AudioBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioBody")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// The WFO ingest API as the connectors use it. [`crate::WfoClient`] speaks the JSON/HTTP
/// contract; another wire format (or a fake in tests) implements the same trait.
///
/// Methods return after the client's own retries (429, 502/503/504, connection
/// failures, one re-login on an expired session). Creates are **not** idempotent and are
/// never repeated when their outcome is unknown: use the helpers in [`crate::ensure`].
#[async_trait]
pub trait WfoApi: Send + Sync {
    /// `GET /api/rest/org/common/team/permission/ViewOrg`
    async fn list_teams(&self) -> Result<Vec<Team>, WfoError>;
    /// `POST /api/rest/org/common/team` (not idempotent). Returns the new team's id.
    async fn create_team(&self, team: &TeamInput) -> Result<i64, WfoError>;
    /// `PUT /api/rest/org/common/team/{id}` with the whole object.
    async fn update_team(&self, team: &Team) -> Result<(), WfoError>;
    /// `GET /api/rest/org/acd/queue?acdServerId=…`: the queues of one ACD server.
    async fn list_queues(&self, acd_server_id: i64) -> Result<Vec<Queue>, WfoError>;
    /// `POST /api/rest/org/acd/queue` (not idempotent). Returns the new queue's id. Use
    /// [`crate::ensure::ensure_queue`] rather than calling this directly.
    async fn create_queue(&self, q: &QueueInput) -> Result<i64, WfoError>;
    /// `PUT /api/rest/org/acd/queue/{id}` with the whole object (rename, channel type,
    /// `active: false` to deactivate: queues are never deleted).
    async fn update_queue(&self, q: &Queue) -> Result<(), WfoError>;
    /// `GET /api/rest/org/common/role`
    async fn list_roles(&self) -> Result<Vec<Role>, WfoError>;
    /// `GET /api/rest/org/common/person/permission/ViewOrg`
    async fn list_persons(&self) -> Result<Vec<Person>, WfoError>;
    /// `GET /api/rest/org/common/person/{id}`; `None` on `404`.
    async fn get_person(&self, id: i64) -> Result<Option<Person>, WfoError>;
    /// `POST /api/rest/org/common/person` (not idempotent). Returns the new person's id.
    async fn create_person(&self, person: &PersonInput) -> Result<i64, WfoError>;
    /// `PUT /api/rest/org/common/person/{id}` with the whole object.
    async fn update_person(&self, person: &Person) -> Result<(), WfoError>;
    /// `GET /api/rest/recording/metadatakey`
    async fn list_metadata_keys(&self) -> Result<Vec<MetadataKey>, WfoError>;
    /// `POST /api/rest/wfo/contact/import` (not idempotent). Returns the new contact's id.
    /// `422` → [`WfoError::UnknownAgent`] or [`WfoError::UnknownMetadataKey`].
    async fn import_contact(&self, contact: &ContactImport) -> Result<i64, WfoError>;
    /// `GET /api/rest/recording/contact?externalId=…` (empty when none).
    async fn find_contacts_by_external_id(&self, external_id: &str) -> Result<Vec<Contact>, WfoError>;
    /// `GET /api/rest/recording/contact/{id}`; `None` on `404`.
    async fn get_contact(&self, id: i64) -> Result<Option<Contact>, WfoError>;
    /// `PUT /api/rest/recording/contact/{id}/metadata`: merges, replacing the keys sent.
    async fn put_contact_metadata(&self, id: i64, metadata: &BTreeMap<String, String>) -> Result<(), WfoError>;
    /// `PUT /api/rest/wfo/contact/{id}/audio`, streamed. Idempotent at the server (a
    /// second upload replaces the first) but never replayed here: the stream is gone.
    async fn upload_audio(&self, id: i64, format: AudioFormat, body: AudioBody) -> Result<AudioUploaded, WfoError>;
}
