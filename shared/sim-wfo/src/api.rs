//! The `/api/rest/*` routes, the session and fault layer, and the error answer.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use wfo_domain::wfo::{
    AuthorizeRequest, AuthorizeResponse, ContactCreated, ContactImport, Created, ErrorBody, MetadataValue, Person,
    PersonInput, Queue, QueueInput, Team, TeamInput,
};

use crate::faults::Fault;
use crate::state::{Db, Session, StoredContact, route_label};
use crate::{SESSION_COOKIE, SimError, SimHandle, audio, inspect, messages};

pub(crate) const AUTHORIZE_PATH: &str = "/api/rest/authorize";
pub(crate) const IMPORT_PATH: &str = "/api/rest/wfo/contact/import";
pub(crate) const QUEUE_PATH: &str = "/api/rest/org/acd/queue";
/// A request body left unread makes the kernel reset the connection, which can eat the
/// answer; so error answers read (and discard) up to this much of the body first.
const DRAIN_CAP: u64 = 16 * 1024 * 1024;

pub(crate) fn router(sim: SimHandle) -> Router {
    let api = Router::new()
        .route(AUTHORIZE_PATH, post(authorize).delete(logout))
        .route("/api/rest/org/common/team/permission/ViewOrg", get(list_teams))
        .route("/api/rest/org/common/team", post(create_team))
        .route("/api/rest/org/common/team/{id}", put(update_team))
        .route(QUEUE_PATH, get(list_queues).post(create_queue))
        .route("/api/rest/org/acd/queue/{id}", put(update_queue))
        .route("/api/rest/org/common/role", get(list_roles))
        .route("/api/rest/org/common/person/permission/ViewOrg", get(list_persons))
        .route("/api/rest/org/common/person", post(create_person))
        .route("/api/rest/org/common/person/{id}", get(get_person).put(update_person))
        .route("/api/rest/recording/metadatakey", get(list_metadata_keys))
        .route(IMPORT_PATH, post(import_contact))
        .route("/api/rest/recording/contact", get(find_contacts))
        .route("/api/rest/recording/contact/{id}", get(get_contact))
        .route("/api/rest/recording/contact/{id}/metadata", put(put_metadata))
        .route("/api/rest/wfo/contact/{id}/audio", put(audio::upload))
        .route_layer(middleware::from_fn_with_state(sim.clone(), api_layer));
    api.merge(inspect::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sim)
}

// ---------------------------------------------------------------------------------------
// Errors and extractors

/// An error answer: `{"errorMessage": "...", "requestId": "..."}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        Self::internal(format!("the simulator could not save its state: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let body = ErrorBody {
            error_message: self.message,
            request_id: Some(request_id.clone()),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", v);
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A JSON body; malformed JSON answers `400` naming the problem.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::new(r.status(), r.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(messages::malformed_json_message(&e.to_string())))
    }
}

/// The integer `{id}` of the path; anything else answers `400`.
pub(crate) struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<i64>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Id(id))
            .map_err(|r| ApiError::bad_request(format!("the id in the path must be an integer: {}", r.body_text())))
    }
}

/// Reads and discards up to [`DRAIN_CAP`] bytes of a request body.
pub(crate) async fn drain(body: Body) {
    drain_stream(body.into_data_stream()).await;
}

pub(crate) async fn drain_stream(mut stream: axum::body::BodyDataStream) {
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > DRAIN_CAP {
            break;
        }
    }
}

/// Marks a response whose connection is to be dropped.
#[derive(Debug, Clone, Copy)]
struct Dropped;

/// A response whose body fails at once: hyper then closes the connection before any
/// byte of the answer (head included, it is still buffered) is written.
fn dropped_response() -> Response {
    let body = Body::from_stream(futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by fault injection"))
    }));
    let mut response = Response::new(body);
    response.extensions_mut().insert(Dropped);
    response
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(messages::not_found_message(&format!(
        "route {} {}",
        req.method(),
        req.uri().path()
    )))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {} is not allowed on {}", req.method(), req.uri().path()),
    )
}

// ---------------------------------------------------------------------------------------
// Session and fault layer

async fn api_layer(State(sim): State<SimHandle>, req: Request, next: Next) -> Response {
    let latency = sim.0.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let path = req.uri().path().to_owned();
    let label = route_label(req.method().as_str(), &path);
    let is_import = req.method() == Method::POST && path == IMPORT_PATH;
    let is_write = matches!(*req.method(), Method::POST | Method::PUT) && path != AUTHORIZE_PATH;
    let (decision, answer_late) = {
        let mut faults = sim.0.fault_state();
        let decision = faults.decide(&path, is_import, is_write);
        (decision, faults.faults().slow_answer)
    };
    if let Some(delay) = decision.delay.filter(|_| !answer_late) {
        tokio::time::sleep(delay).await;
    }
    let (response, injected) = match decision.fault {
        Some(fault @ (Fault::ServerError | Fault::Unavailable)) if decision.after_write => {
            let _processed = with_session(&sim, req, next).await;
            sim.0.stats().route(&label).failed_after_write += 1;
            let e = if fault == Fault::ServerError {
                ApiError::internal(messages::INJECTED_SERVER_ERROR)
            } else {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, messages::INJECTED_UNAVAILABLE)
            };
            (e.into_response(), true)
        }
        Some(Fault::RateLimited { retry_after_secs }) => {
            drain(req.into_body()).await;
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, messages::RATE_LIMITED);
            e.retry_after = Some(retry_after_secs);
            (e.into_response(), true)
        }
        Some(Fault::ServerError) => {
            drain(req.into_body()).await;
            (
                ApiError::internal(messages::INJECTED_SERVER_ERROR).into_response(),
                true,
            )
        }
        Some(Fault::Unavailable) => {
            drain(req.into_body()).await;
            (
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, messages::INJECTED_UNAVAILABLE).into_response(),
                true,
            )
        }
        Some(Fault::Drop) => (dropped_response(), true),
        Some(Fault::ProcessedThenDropped) => {
            let _processed = with_session(&sim, req, next).await;
            (dropped_response(), false)
        }
        None => (with_session(&sim, req, next).await, false),
    };
    {
        let mut stats = sim.0.stats();
        let route = stats.route(&label);
        route.calls += 1;
        if injected {
            route.faults += 1;
        }
        if response.extensions().get::<Dropped>().is_some() {
            route.dropped += 1;
        } else {
            *route
                .statuses
                .entry(response.status().as_u16().to_string())
                .or_default() += 1;
        }
    }
    if let Some(delay) = decision.delay.filter(|_| answer_late) {
        // The answer was made now; it arrives late.
        tokio::time::sleep(delay).await;
    }
    response
}

async fn with_session(sim: &SimHandle, req: Request, next: Next) -> Response {
    let needs_session = !(req.method() == Method::POST && req.uri().path() == AUTHORIZE_PATH);
    if needs_session && let Err(e) = check_session(sim, req.headers()) {
        drain(req.into_body()).await;
        return e.into_response();
    }
    next.run(req).await
}

pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

/// Counts the call against the session; past `session_max_calls` the session dies.
fn check_session(sim: &SimHandle, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(id) = session_cookie(headers) else {
        return Err(ApiError::unauthorized(messages::SESSION_INVALID));
    };
    let max_calls = sim.0.fault_state().faults().session_max_calls;
    let mut sessions = sim.0.sessions();
    let Some(session) = sessions.get_mut(&id) else {
        return Err(ApiError::unauthorized(messages::SESSION_INVALID));
    };
    session.calls += 1;
    if max_calls.is_some_and(|max| session.calls > max) {
        sessions.remove(&id);
        drop(sessions);
        sim.0.stats().sessions_expired += 1;
        return Err(ApiError::unauthorized(messages::SESSION_INVALID));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Sessions

async fn authorize(
    State(sim): State<SimHandle>,
    JsonBody(req): JsonBody<AuthorizeRequest>,
) -> Result<Response, ApiError> {
    let known = sim
        .0
        .users
        .iter()
        .any(|(user, password)| *user == req.user_id && password.expose() == req.password);
    if !known {
        return Err(ApiError::unauthorized(messages::BAD_CREDENTIALS));
    }
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    sim.0.sessions().insert(
        session_id.clone(),
        Session {
            calls: 0,
            user: req.user_id.clone(),
        },
    );
    sim.0.stats().sessions_issued += 1;
    let cookie = format!("{SESSION_COOKIE}={session_id}; Path=/; HttpOnly");
    Ok(([(header::SET_COOKIE, cookie)], Json(AuthorizeResponse { session_id })).into_response())
}

async fn logout(State(sim): State<SimHandle>, headers: HeaderMap) -> StatusCode {
    if let Some(id) = session_cookie(&headers) {
        sim.0.sessions().remove(&id);
    }
    StatusCode::OK
}

// ---------------------------------------------------------------------------------------
// Teams and roles

async fn list_teams(State(sim): State<SimHandle>, headers: HeaderMap) -> Result<Json<Vec<Team>>, ApiError> {
    check_view_org(&sim, &headers)?;
    Ok(Json(sim.teams()))
}

/// The `…/permission/ViewOrg` listings need the ViewOrg permission (the session layer has
/// already checked the session itself).
fn check_view_org(sim: &SimHandle, headers: &HeaderMap) -> Result<(), ApiError> {
    match session_cookie(headers) {
        Some(id) if sim.may_view_org(&id) => Ok(()),
        _ => Err(ApiError::new(StatusCode::FORBIDDEN, messages::NO_VIEW_ORG)),
    }
}

async fn list_roles(State(sim): State<SimHandle>) -> Json<Vec<wfo_domain::wfo::Role>> {
    Json(sim.roles())
}

fn check_team_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::bad_request("team name must not be empty"));
    }
    Ok(())
}

async fn create_team(
    State(sim): State<SimHandle>,
    JsonBody(input): JsonBody<TeamInput>,
) -> Result<Json<Created>, ApiError> {
    check_team_name(&input.name)?;
    let id = {
        let mut db = sim.0.db();
        let id = db.take_team_id();
        let team = Team {
            id,
            name: input.name,
            is_default: false,
            acd_id: input.acd_id,
            acd_server_id: input.acd_server_id,
            read_only: input.read_only,
        };
        db.teams.insert(id, team);
        id
    };
    count_create(&sim, "POST /api/rest/org/common/team", |c| c.teams += 1);
    sim.0.persist().await?;
    Ok(Json(Created { id }))
}

async fn update_team(
    State(sim): State<SimHandle>,
    Id(id): Id,
    JsonBody(team): JsonBody<Team>,
) -> Result<StatusCode, ApiError> {
    if team.id != id {
        return Err(ApiError::bad_request(format!(
            "body id {} does not match path id {id}",
            team.id
        )));
    }
    check_team_name(&team.name)?;
    {
        let mut db = sim.0.db();
        let Some(stored) = db.teams.get_mut(&id) else {
            return Err(ApiError::not_found(messages::not_found_message(&format!("team {id}"))));
        };
        if stored.is_default != team.is_default {
            return Err(ApiError::bad_request(
                "isDefault cannot change: exactly one team is the Default Team",
            ));
        }
        *stored = team;
    }
    sim.0.persist().await?;
    Ok(StatusCode::OK)
}

// ---------------------------------------------------------------------------------------
// Queues (§3a): keyed on (acdServerId, acdId), never deleted (there is no DELETE route:
// it answers 405), deactivated with `active: false`.

async fn list_queues(
    State(sim): State<SimHandle>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Vec<Queue>>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let Some(raw) = query.get("acdServerId") else {
        return Err(ApiError::bad_request("the acdServerId query parameter is required"));
    };
    let Ok(acd_server_id) = raw.parse::<i64>() else {
        return Err(ApiError::bad_request(format!(
            "the acdServerId query parameter must be an integer, got {raw:?}"
        )));
    };
    let db = sim.0.db();
    let found = db
        .queues
        .values()
        .filter(|q| q.acd_server_id == acd_server_id)
        .cloned()
        .collect();
    Ok(Json(found))
}

fn check_queue(name: &str, acd_id: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::bad_request("queue name must not be empty"));
    }
    if acd_id.trim().is_empty() {
        return Err(ApiError::bad_request("queue acdId must not be empty"));
    }
    Ok(())
}

/// Not idempotent, as the spec says: a second `POST` for one (acdServerId, acdId) makes a
/// second queue, which `/sim/state` then reports under `duplicateQueues`.
async fn create_queue(
    State(sim): State<SimHandle>,
    JsonBody(input): JsonBody<QueueInput>,
) -> Result<Json<Created>, ApiError> {
    check_queue(&input.name, &input.acd_id)?;
    let id = {
        let mut db = sim.0.db();
        let id = db.take_queue_id();
        let queue = Queue {
            id,
            name: input.name,
            acd_id: input.acd_id,
            acd_server_id: input.acd_server_id,
            channel_type: input.channel_type,
            active: input.active,
        };
        db.queues.insert(id, queue);
        let duplicates = db.duplicate_queues();
        if let Some(d) = duplicates.iter().find(|d| d.queue_ids.contains(&id)) {
            tracing::warn!(acd_server_id = d.acd_server_id, acd_id = %d.acd_id, queue_ids = ?d.queue_ids, "contract violation: a second queue for one (acdServerId, acdId)");
        }
        id
    };
    count_create(&sim, "POST /api/rest/org/acd/queue", |c| c.queues += 1);
    sim.0.persist().await?;
    Ok(Json(Created { id }))
}

async fn update_queue(
    State(sim): State<SimHandle>,
    Id(id): Id,
    JsonBody(queue): JsonBody<Queue>,
) -> Result<StatusCode, ApiError> {
    if queue.id != id {
        return Err(ApiError::bad_request(format!(
            "body id {} does not match path id {id}",
            queue.id
        )));
    }
    check_queue(&queue.name, &queue.acd_id)?;
    {
        let mut db = sim.0.db();
        let Some(stored) = db.queues.get_mut(&id) else {
            return Err(ApiError::not_found(messages::not_found_message(&format!("queue {id}"))));
        };
        if stored.acd_server_id != queue.acd_server_id || stored.acd_id != queue.acd_id {
            return Err(ApiError::bad_request(
                "acdServerId and acdId identify the source queue and cannot change",
            ));
        }
        *stored = queue;
    }
    sim.0.persist().await?;
    Ok(StatusCode::OK)
}

// ---------------------------------------------------------------------------------------
// Persons

async fn list_persons(State(sim): State<SimHandle>, headers: HeaderMap) -> Result<Json<Vec<Person>>, ApiError> {
    check_view_org(&sim, &headers)?;
    Ok(Json(sim.persons()))
}

async fn get_person(State(sim): State<SimHandle>, Id(id): Id) -> Result<Json<Person>, ApiError> {
    sim.0
        .db()
        .persons
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(messages::not_found_message(&format!("person {id}"))))
}

fn check_person(db: &Db, p: &PersonInput) -> Result<(), ApiError> {
    if !db.teams.contains_key(&p.group_id) {
        return Err(ApiError::unprocessable(messages::unknown_group_message(p.group_id)));
    }
    if let Some(role) = p.roles.iter().find(|r| !db.roles.iter().any(|known| known.id == r.id)) {
        return Err(ApiError::unprocessable(messages::unknown_role_message(role.id)));
    }
    if p.acd_id.is_some() != p.acd_server_id.is_some() {
        return Err(ApiError::bad_request("acdId and acdServerId must be set together"));
    }
    Ok(())
}

async fn create_person(
    State(sim): State<SimHandle>,
    JsonBody(input): JsonBody<PersonInput>,
) -> Result<Json<Created>, ApiError> {
    let id = {
        let mut db = sim.0.db();
        check_person(&db, &input)?;
        let id = db.take_person_id();
        db.persons.insert(id, Person { id, input });
        id
    };
    count_create(&sim, "POST /api/rest/org/common/person", |c| c.persons += 1);
    sim.0.persist().await?;
    Ok(Json(Created { id }))
}

async fn update_person(
    State(sim): State<SimHandle>,
    Id(id): Id,
    JsonBody(person): JsonBody<Person>,
) -> Result<StatusCode, ApiError> {
    if person.id != id {
        return Err(ApiError::bad_request(format!(
            "body id {} does not match path id {id}",
            person.id
        )));
    }
    {
        let mut db = sim.0.db();
        if !db.persons.contains_key(&id) {
            return Err(ApiError::not_found(messages::not_found_message(&format!(
                "person {id}"
            ))));
        }
        check_person(&db, &person.input)?;
        db.persons.insert(id, person);
    }
    sim.0.persist().await?;
    Ok(StatusCode::OK)
}

// ---------------------------------------------------------------------------------------
// Metadata keys and contacts

async fn list_metadata_keys(State(sim): State<SimHandle>) -> Json<Vec<wfo_domain::wfo::MetadataKey>> {
    Json(sim.metadata_keys())
}

fn check_import(import: &ContactImport) -> Result<(), ApiError> {
    if import.external_id.trim().is_empty() {
        return Err(ApiError::bad_request("externalId must not be empty"));
    }
    if import.call_duration < 0 {
        return Err(ApiError::bad_request("callDuration must not be negative"));
    }
    if let Some(audio) = &import.audio
        && !(1..=2).contains(&audio.channels)
    {
        return Err(ApiError::bad_request(format!(
            "audio.channels must be 1 or 2, got {}",
            audio.channels
        )));
    }
    Ok(())
}

async fn import_contact(
    State(sim): State<SimHandle>,
    JsonBody(import): JsonBody<ContactImport>,
) -> Result<Json<ContactCreated>, ApiError> {
    check_import(&import)?;
    let contact_id = {
        let mut db = sim.0.db();
        if !db.agent_exists(&import.agent) {
            return Err(ApiError::unprocessable(messages::unknown_agent_message(
                import.agent.acd_server_id,
                &import.agent.acd_id,
            )));
        }
        db.check_text_keys(import.metadata.keys())
            .map_err(ApiError::unprocessable)?;
        let id = db.take_contact_id();
        sim.0.contact_arrived(id, &import.external_id);
        db.contacts.insert(
            id,
            StoredContact {
                id,
                import,
                audio: None,
            },
        );
        id
    };
    count_create(&sim, "POST /api/rest/wfo/contact/import", |c| c.contacts += 1);
    sim.0.persist().await?;
    Ok(Json(ContactCreated { contact_id }))
}

async fn find_contacts(
    State(sim): State<SimHandle>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Vec<wfo_domain::wfo::Contact>>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let Some(external_id) = query.get("externalId") else {
        return Err(ApiError::bad_request("the externalId query parameter is required"));
    };
    let db = sim.0.db();
    let found = db
        .contacts
        .values()
        .filter(|c| &c.import.external_id == external_id)
        .map(StoredContact::to_contact)
        .collect();
    Ok(Json(found))
}

async fn get_contact(State(sim): State<SimHandle>, Id(id): Id) -> Result<Json<wfo_domain::wfo::Contact>, ApiError> {
    sim.0
        .db()
        .contacts
        .get(&id)
        .map(|c| Json(c.to_contact()))
        .ok_or_else(|| ApiError::not_found(messages::not_found_message(&format!("contact {id}"))))
}

async fn put_metadata(
    State(sim): State<SimHandle>,
    Id(id): Id,
    JsonBody(values): JsonBody<BTreeMap<String, MetadataValue>>,
) -> Result<StatusCode, ApiError> {
    if let Some((name, v)) = values.iter().find(|(name, v)| **name != v.key) {
        return Err(ApiError::bad_request(format!(
            "entry {name:?} carries key {:?}; they must match",
            v.key
        )));
    }
    {
        let mut db = sim.0.db();
        if !db.contacts.contains_key(&id) {
            return Err(ApiError::not_found(messages::not_found_message(&format!(
                "contact {id}"
            ))));
        }
        db.check_text_keys(values.keys()).map_err(ApiError::unprocessable)?;
        let Some(contact) = db.contacts.get_mut(&id) else {
            return Err(ApiError::not_found(messages::not_found_message(&format!(
                "contact {id}"
            ))));
        };
        for (key, v) in values {
            contact.import.metadata.insert(key, v.value);
        }
    }
    sim.0.persist().await?;
    Ok(StatusCode::OK)
}

fn count_create(sim: &SimHandle, label: &str, bump: impl FnOnce(&mut crate::CreateCounts)) {
    let mut stats = sim.0.stats();
    stats.route(label).creates += 1;
    bump(&mut stats.creates);
}
