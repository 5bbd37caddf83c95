//! [`WfoClient`]: the JSON/HTTP implementation of [`WfoApi`].

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderValue};
use reqwest::{Method, RequestBuilder, Response};
use tokio::sync::Mutex;
use wfo_domain::Secret;
use wfo_domain::wfo::{
    AgentRef, AudioFormat, AudioUploaded, AuthorizeRequest, AuthorizeResponse, Contact, ContactCreated, ContactImport,
    Created, MetadataKey, MetadataValue, Person, PersonInput, Queue, QueueInput, Role, Team, TeamInput,
};
use wfo_http::{HttpError, Idempotency, RetryPolicy};

use crate::api::{AudioBody, WfoApi};
use crate::error::{WfoError, classify};

/// Service name in [`HttpError`]s and logs.
pub const SERVICE: &str = "wfo";
/// The largest person directory read (about 750,000 persons); beyond it the answer is
/// refused, never buffered.
pub const MAX_DIRECTORY_BODY: usize = 256 * 1024 * 1024;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "hazelcast.sessionId";

/// Uploads are given `request_timeout` plus the time this rate needs for the known length.
const MIN_UPLOAD_BYTES_PER_SEC: u64 = 256 * 1024;

/// How to reach one WFO tenant.
#[derive(Debug, Clone)]
pub struct WfoClientConfig {
    /// Base URL, e.g. `https://wfo.example.com` (paths start with `/api/rest`).
    pub api_url: String,
    /// The API user ("Calabrio ONE API Username").
    pub username: String,
    /// Its password; only ever sent in the login body.
    pub password: Secret,
    /// Retries of 429 / 502 / 503 / 504 / connection failures.
    pub policy: RetryPolicy,
    /// Timeout of one attempt (connect included). Audio uploads get more: see
    /// [`WfoApi::upload_audio`] on [`WfoClient`].
    pub request_timeout: Duration,
    /// Timeout of one listing of the whole person directory, which a large tenant takes
    /// far longer to answer than any other call (a minute and more).
    pub directory_timeout: Duration,
}

impl WfoClientConfig {
    /// A config with the default retry policy and a 30 s request timeout.
    pub fn new(api_url: impl Into<String>, username: impl Into<String>, password: Secret) -> Self {
        Self {
            api_url: api_url.into(),
            username: username.into(),
            password,
            policy: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            directory_timeout: Duration::from_secs(300),
        }
    }
}

/// The current session. `generation` grows with every login, so a caller that saw a
/// `401` can tell whether somebody else already logged in again.
struct Session {
    id: Secret,
    generation: u64,
}

/// The HTTP client of the WFO ingest API.
///
/// - One `reqwest::Client` (connection pool) for every call; redirects are not followed.
/// - One session shared by all callers: the first call logs in (`POST
///   /api/rest/authorize`); every other call sends `Cookie: hazelcast.sessionId=…`.
/// - On a `401` the client logs in again **once** and repeats the call; a second `401` in
///   a row is [`WfoError::Unauthorized`]. Concurrent callers wait for one login rather
///   than each logging in (the session lock is held across the login).
/// - The session id and password are [`Secret`]s: never in `Debug` output or logs.
pub struct WfoClient {
    http: reqwest::Client,
    base: String,
    config: WfoClientConfig,
    session: Mutex<Option<Session>>,
}

impl std::fmt::Debug for WfoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WfoClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WfoClient {
    /// Build the client and its connection pool. No network call happens here.
    pub fn new(config: WfoClientConfig) -> Result<Self, WfoError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wfo-connect/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Request {
                service: SERVICE,
                message: wfo_http::error_chain(&e),
            })?;
        Ok(Self::with_http_client(config, http))
    }

    /// Use an existing `reqwest::Client` (shared with other clients of the process).
    pub fn with_http_client(config: WfoClientConfig, http: reqwest::Client) -> Self {
        let base = config.api_url.trim_end_matches('/').to_owned();
        Self {
            http,
            base,
            config,
            session: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &WfoClientConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `POST /api/rest/authorize`. `401` → [`WfoError::Unauthorized`].
    async fn login(&self) -> Result<Secret, WfoError> {
        let body = AuthorizeRequest {
            user_id: self.config.username.clone(),
            password: self.config.password.expose().to_owned(),
            language: "en".to_owned(),
        };
        let url = self.url("/api/rest/authorize");
        let resp = wfo_http::send(SERVICE, &self.config.policy, Idempotency::Idempotent, || {
            self.http.post(&url).timeout(self.config.request_timeout).json(&body)
        })
        .await
        .map_err(|e| classify(e, None))?;
        let auth: AuthorizeResponse = wfo_http::json(SERVICE, resp).await?;
        if auth.session_id.is_empty() {
            return Err(HttpError::Decode {
                service: SERVICE,
                message: "login answered an empty sessionId".to_owned(),
                body: String::new(),
            }
            .into());
        }
        Ok(Secret::new(auth.session_id))
    }

    /// The current session, logging in when there is none. Callers arriving during a
    /// login wait for it and share its result.
    async fn session(&self) -> Result<(u64, Secret), WfoError> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok((s.generation, s.id.clone()));
        }
        let id = self.login().await?;
        tracing::info!(service = SERVICE, user = %self.config.username, "logged in to WFO");
        let generation = 1;
        *guard = Some(Session {
            id: id.clone(),
            generation,
        });
        Ok((generation, id))
    }

    /// Replace the session that answered `401` (`stale`). When another caller already
    /// replaced it, use theirs instead of logging in again.
    async fn relogin(&self, stale: u64) -> Result<(u64, Secret), WfoError> {
        let mut guard = self.session.lock().await;
        let last = match guard.as_ref() {
            Some(s) if s.generation != stale => return Ok((s.generation, s.id.clone())),
            Some(s) => s.generation,
            None => stale,
        };
        *guard = None;
        let id = self.login().await?;
        let generation = last + 1;
        tracing::info!(service = SERVICE, generation, "WFO session expired; logged in again");
        *guard = Some(Session {
            id: id.clone(),
            generation,
        });
        Ok((generation, id))
    }

    /// Drop the session (`401` twice): the next call logs in afresh.
    async fn forget_session(&self, generation: u64) {
        let mut guard = self.session.lock().await;
        if guard.as_ref().is_some_and(|s| s.generation == generation) {
            *guard = None;
        }
    }

    /// `DELETE /api/rest/authorize`: end the session, if any. Best effort for shutdown.
    pub async fn logout(&self) -> Result<(), WfoError> {
        let mut guard = self.session.lock().await;
        let Some(session) = guard.take() else {
            return Ok(());
        };
        let cookie = cookie_value(&session.id)?;
        let url = self.url("/api/rest/authorize");
        wfo_http::send(SERVICE, &self.config.policy, Idempotency::Idempotent, || {
            self.http
                .delete(&url)
                .timeout(self.config.request_timeout)
                .header(COOKIE, cookie.clone())
        })
        .await
        .map_err(|e| classify(e, None))?;
        Ok(())
    }

    /// Send with the session cookie; on `401` log in again once and repeat.
    ///
    /// `make` builds the request without the cookie; it is called once per attempt.
    async fn call<F>(&self, idempotency: Idempotency, agent: Option<&AgentRef>, make: F) -> Result<Response, WfoError>
    where
        F: Fn() -> RequestBuilder,
    {
        self.call_within(idempotency, agent, self.config.request_timeout, make)
            .await
    }

    /// [`Self::call`] with its own per-attempt timeout (a slow listing).
    async fn call_within<F>(
        &self,
        idempotency: Idempotency,
        agent: Option<&AgentRef>,
        timeout: Duration,
        make: F,
    ) -> Result<Response, WfoError>
    where
        F: Fn() -> RequestBuilder,
    {
        let (generation, id) = self.session().await?;
        let err = match self.send_with(&id, idempotency, timeout, &make).await? {
            Ok(resp) => return Ok(resp),
            Err(e) if e.status() == Some(401) => e,
            Err(e) => return Err(classify(e, agent)),
        };
        tracing::debug!(service = SERVICE, error = %err, "401 on a call; renewing the session");
        let (generation2, id) = self.relogin(generation).await?;
        match self.send_with(&id, idempotency, timeout, &make).await? {
            Ok(resp) => Ok(resp),
            Err(e) if e.status() == Some(401) => {
                self.forget_session(generation2).await;
                tracing::error!(service = SERVICE, "WFO answered 401 right after a fresh login");
                Err(WfoError::Unauthorized)
            }
            Err(e) => Err(classify(e, agent)),
        }
    }

    /// One `wfo_http::send` with the cookie set. The outer error is a local failure
    /// (bad cookie value); the inner one is what the server or the network said.
    async fn send_with<F>(
        &self,
        session: &Secret,
        idempotency: Idempotency,
        timeout: Duration,
        make: &F,
    ) -> Result<Result<Response, HttpError>, WfoError>
    where
        F: Fn() -> RequestBuilder,
    {
        let cookie = cookie_value(session)?;
        let longer;
        let policy = if timeout > self.config.policy.attempt_timeout {
            longer = RetryPolicy {
                attempt_timeout: timeout,
                budget: self.config.policy.budget.max(timeout * 2),
                ..self.config.policy.clone()
            };
            &longer
        } else {
            &self.config.policy
        };
        Ok(wfo_http::send(SERVICE, policy, idempotency, || {
            make().timeout(timeout).header(COOKIE, cookie.clone())
        })
        .await)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, WfoError> {
        let resp = self
            .call(Idempotency::Idempotent, None, || self.request(Method::GET, path))
            .await?;
        Ok(wfo_http::json(SERVICE, resp).await?)
    }

    async fn get_optional<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>, WfoError> {
        match self.get_json(path).await {
            Ok(v) => Ok(Some(v)),
            Err(WfoError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put_json<B: serde::Serialize + Sync>(&self, path: &str, body: &B) -> Result<(), WfoError> {
        self.call(Idempotency::Idempotent, None, || {
            self.request(Method::PUT, path).json(body)
        })
        .await?;
        Ok(())
    }

    async fn create<B, T>(&self, path: &str, body: &B, agent: Option<&AgentRef>) -> Result<T, WfoError>
    where
        B: serde::Serialize + Sync,
        T: serde::de::DeserializeOwned,
    {
        let resp = self
            .call(Idempotency::NonIdempotent, agent, || {
                self.request(Method::POST, path).json(body)
            })
            .await?;
        Ok(wfo_http::json(SERVICE, resp).await?)
    }
}

fn cookie_value(session: &Secret) -> Result<HeaderValue, WfoError> {
    let mut v =
        HeaderValue::from_str(&format!("{SESSION_COOKIE}={}", session.expose())).map_err(|_| HttpError::Decode {
            service: SERVICE,
            message: "the sessionId WFO returned is not a valid cookie value".to_owned(),
            body: String::new(),
        })?;
    v.set_sensitive(true);
    Ok(v)
}

fn content_type(format: AudioFormat) -> &'static str {
    match format {
        AudioFormat::Mp3 => "audio/mpeg",
        AudioFormat::Wav => "audio/wav",
    }
}

#[async_trait]
impl WfoApi for WfoClient {
    async fn list_teams(&self) -> Result<Vec<Team>, WfoError> {
        self.get_json("/api/rest/org/common/team/permission/ViewOrg").await
    }

    async fn create_team(&self, team: &TeamInput) -> Result<i64, WfoError> {
        let created: Created = self.create("/api/rest/org/common/team", team, None).await?;
        Ok(created.id)
    }

    async fn update_team(&self, team: &Team) -> Result<(), WfoError> {
        self.put_json(&format!("/api/rest/org/common/team/{}", team.id), team)
            .await
    }

    async fn list_queues(&self, acd_server_id: i64) -> Result<Vec<Queue>, WfoError> {
        let resp = self
            .call(Idempotency::Idempotent, None, || {
                self.request(Method::GET, "/api/rest/org/acd/queue")
                    .query(&[("acdServerId", acd_server_id)])
            })
            .await?;
        Ok(wfo_http::json(SERVICE, resp).await?)
    }

    async fn create_queue(&self, q: &QueueInput) -> Result<i64, WfoError> {
        let created: Created = self.create("/api/rest/org/acd/queue", q, None).await?;
        Ok(created.id)
    }

    async fn update_queue(&self, q: &Queue) -> Result<(), WfoError> {
        self.put_json(&format!("/api/rest/org/acd/queue/{}", q.id), q).await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, WfoError> {
        self.get_json("/api/rest/org/common/role").await
    }

    async fn list_persons(&self) -> Result<Vec<Person>, WfoError> {
        let path = "/api/rest/org/common/person/permission/ViewOrg";
        let resp = self
            .call_within(Idempotency::Idempotent, None, self.config.directory_timeout, || {
                self.request(Method::GET, path)
            })
            .await?;
        // The whole directory in one answer (the API has no paging): ~330 bytes a person,
        // so 100,000 persons are ~33 MB — past the 16 MiB of a page, within this bound.
        Ok(wfo_http::json_within(SERVICE, resp, MAX_DIRECTORY_BODY, self.config.directory_timeout).await?)
    }

    async fn get_person(&self, id: i64) -> Result<Option<Person>, WfoError> {
        self.get_optional(&format!("/api/rest/org/common/person/{id}")).await
    }

    async fn create_person(&self, person: &PersonInput) -> Result<i64, WfoError> {
        let created: Created = self.create("/api/rest/org/common/person", person, None).await?;
        Ok(created.id)
    }

    async fn update_person(&self, person: &Person) -> Result<(), WfoError> {
        self.put_json(&format!("/api/rest/org/common/person/{}", person.id), person)
            .await
    }

    async fn list_metadata_keys(&self) -> Result<Vec<MetadataKey>, WfoError> {
        self.get_json("/api/rest/recording/metadatakey").await
    }

    async fn import_contact(&self, contact: &ContactImport) -> Result<i64, WfoError> {
        let created: ContactCreated = self
            .create("/api/rest/wfo/contact/import", contact, Some(&contact.agent))
            .await?;
        Ok(created.contact_id)
    }

    async fn find_contacts_by_external_id(&self, external_id: &str) -> Result<Vec<Contact>, WfoError> {
        let resp = self
            .call(Idempotency::Idempotent, None, || {
                self.request(Method::GET, "/api/rest/recording/contact")
                    .query(&[("externalId", external_id)])
            })
            .await?;
        Ok(wfo_http::json(SERVICE, resp).await?)
    }

    async fn get_contact(&self, id: i64) -> Result<Option<Contact>, WfoError> {
        self.get_optional(&format!("/api/rest/recording/contact/{id}")).await
    }

    async fn put_contact_metadata(&self, id: i64, metadata: &BTreeMap<String, String>) -> Result<(), WfoError> {
        let body: BTreeMap<&str, MetadataValue> = metadata
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    MetadataValue {
                        key: k.clone(),
                        value: v.clone(),
                    },
                )
            })
            .collect();
        self.put_json(&format!("/api/rest/recording/contact/{id}/metadata"), &body)
            .await
    }

    /// Streams the body with `Content-Length` when `body.length` is known, chunked
    /// otherwise. Tried once: a consumed stream cannot be replayed, so every failure
    /// (retryable or not, see [`WfoError::is_retryable`]) goes back to the caller, who
    /// re-opens the source. A `401` renews the session and returns
    /// [`WfoError::SessionRenewed`] (retryable).
    ///
    /// Timeout: `request_timeout` plus one second per 256 KiB of known length; with an
    /// unknown length there is no overall timeout (the source stream must bound itself).
    async fn upload_audio(&self, id: i64, format: AudioFormat, body: AudioBody) -> Result<AudioUploaded, WfoError> {
        let (generation, session) = self.session().await?;
        let cookie = cookie_value(&session)?;
        let url = self.url(&format!("/api/rest/wfo/contact/{id}/audio"));
        // One attempt; the answer deadline of `send` does not fit an upload of any length,
        // so it is replaced by a progress rule: no body byte sent, or no answer after the
        // last one, for `attempt_timeout` aborts the attempt (a WFO that holds an upload
        // open costs one attempt, not a worker).
        let once = RetryPolicy {
            max_attempts: 1,
            attempt_timeout: Duration::from_secs(24 * 3600),
            ..self.config.policy.clone()
        };
        let quiet_limit = self.config.policy.attempt_timeout;
        let timeout = body
            .length
            .map(|len| self.config.request_timeout + Duration::from_secs(len / MIN_UPLOAD_BYTES_PER_SEC));
        let length = body.length;
        let started = std::time::Instant::now();
        let last_progress = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let progress = last_progress.clone();
        let mut stream = Some(
            body.stream
                .inspect(move |_| {
                    progress.store(
                        started.elapsed().as_millis() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    )
                })
                .boxed(),
        );
        let upload = wfo_http::send(SERVICE, &once, Idempotency::Idempotent, || {
            // `once` allows a single attempt; should `send` ever call again, the request
            // fails instead of uploading an empty body.
            let chunks = stream.take().unwrap_or_else(|| {
                futures::stream::once(async {
                    Err(std::io::Error::other(
                        "audio stream already consumed by an earlier attempt",
                    ))
                })
                .boxed()
            });
            let mut req = self
                .http
                .put(&url)
                .header(COOKIE, cookie.clone())
                .header(CONTENT_TYPE, content_type(format))
                .body(reqwest::Body::wrap_stream(chunks));
            if let Some(len) = length {
                req = req.header(CONTENT_LENGTH, len);
            }
            if let Some(t) = timeout {
                req = req.timeout(t);
            }
            req
        });
        let watchdog = async {
            let tick = (quiet_limit / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
            loop {
                tokio::time::sleep(tick).await;
                let last = Duration::from_millis(last_progress.load(std::sync::atomic::Ordering::Relaxed));
                if started.elapsed().saturating_sub(last) > quiet_limit {
                    return;
                }
            }
        };
        let result = tokio::select! {
            r = upload => r,
            () = watchdog => Err(HttpError::Transport {
                service: SERVICE,
                message: format!(
                    "the audio upload made no progress and got no answer for {} s",
                    quiet_limit.as_secs_f32()
                ),
            }),
        };
        match result {
            Ok(resp) => Ok(wfo_http::json(SERVICE, resp).await?),
            Err(e) if e.status() == Some(401) => {
                tracing::debug!(service = SERVICE, "401 on an audio upload; renewing the session");
                self.relogin(generation).await?;
                Err(WfoError::SessionRenewed)
            }
            Err(e) => Err(classify(e, None)),
        }
    }
}
