//! Each connector's source, bound once: the [`Registry`] picks its [`SourceKind`], the kind
//! says which credentials it uses, and [`SourceKind::connect`] builds its clients over
//! the shared HTTP client. Every pipeline job (import, poll, backfill, sync, webhook
//! registration, token upkeep) gets its source here; none names one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use wfo_domain::config::{ConnectorConfig, ConnectorKind};
use wfo_http::RetryPolicy;
use wfo_ports::{Credentials, Registry, Source, SourceDeps, SourceError, SourceKind, Store, StoredConnector};

use crate::{auth, credentials};

/// No byte read for this long fails the read, on every connection of the shared client.
pub const READ_BACKSTOP: Duration = Duration::from_secs(300);

/// One connector's source and credentials.
pub struct Connection {
    pub kind: Arc<dyn SourceKind>,
    pub source: Arc<dyn Source>,
    pub credentials: Arc<dyn Credentials>,
    /// The configuration it was built from (rebuilt when that changes).
    config: ConnectorConfig,
}

/// The store, the registry, the HTTP clients, and every connector's bound source.
pub struct Connections {
    store: Arc<dyn Store>,
    registry: Arc<dyn Registry>,
    http: reqwest::Client,
    token_http: reqwest::Client,
    policy: RetryPolicy,
    cache: Mutex<HashMap<String, Arc<Connection>>>,
}

impl Connections {
    /// Builds the shared HTTP clients: source calls with a connect timeout and no
    /// redirects; token calls with a whole-request timeout and no redirects.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<dyn Registry>,
        policy: RetryPolicy,
    ) -> Result<Arc<Self>, reqwest::Error> {
        let http = wfo_http::client_builder(READ_BACKSTOP).build()?;
        let token_http = auth::token_http_client(Duration::from_secs(30))?;
        Ok(Self::with_clients(store, registry, policy, http, token_http))
    }

    pub fn with_clients(
        store: Arc<dyn Store>,
        registry: Arc<dyn Registry>,
        policy: RetryPolicy,
        http: reqwest::Client,
        token_http: reqwest::Client,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            registry,
            http,
            token_http,
            policy,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn registry(&self) -> &Arc<dyn Registry> {
        &self.registry
    }

    /// The HTTP client for source and WFO calls.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The HTTP client for token calls (no redirects).
    pub fn token_http(&self) -> &reqwest::Client {
        &self.token_http
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The store as the shared count of sources' rate limits.
    pub fn quota(&self) -> Arc<dyn wfo_http::limit::SharedQuota> {
        let kv: Arc<dyn wfo_ports::KvStore> = self.store.clone();
        Arc::new(wfo_ports::StoreQuota(kv))
    }

    /// The source kind of `kind`, or an operator error naming it.
    pub fn kind(&self, kind: ConnectorKind) -> Result<Arc<dyn SourceKind>, SourceError> {
        self.registry.source_kind(kind).ok_or_else(|| {
            SourceError::Operator(format!(
                "connector kind {kind} is not imported by this build (no source registered)"
            ))
        })
    }

    /// How connectors of `kind` authenticate ([`credentials::scheme_of`]); known even when
    /// this build has no source of that kind.
    pub fn credential_scheme(&self, kind: ConnectorKind) -> wfo_ports::CredentialScheme {
        credentials::scheme_of(self.registry.as_ref(), kind)
    }

    /// The connector's credentials (without building its source).
    pub fn credentials(&self, connector: &StoredConnector) -> Result<Arc<dyn Credentials>, SourceError> {
        let kind = self.kind(connector.config.kind)?;
        Ok(credentials::for_connector(
            kind.credential_scheme(),
            self.store.clone(),
            connector,
            self.token_http.clone(),
        ))
    }

    /// The connector's bound source, built once per configuration.
    pub async fn get(&self, connector: &StoredConnector) -> Result<Arc<Connection>, SourceError> {
        let mut cache = self.cache.lock().await;
        // Compared field by field: serializing the configuration to compare it cost a
        // JSON document per step.
        if let Some(c) = cache.get(&connector.config.id)
            && c.config == connector.config
        {
            return Ok(c.clone());
        }
        let kind = self.kind(connector.config.kind)?;
        let credentials = credentials::for_connector(
            kind.credential_scheme(),
            self.store.clone(),
            connector,
            self.token_http.clone(),
        );
        let source = kind.connect(
            connector,
            SourceDeps {
                http: self.http.clone(),
                policy: self.policy.clone(),
                credentials: credentials.clone(),
                quota: Some(self.quota()),
            },
        )?;
        let conn = Arc::new(Connection {
            kind,
            source,
            credentials,
            config: connector.config.clone(),
        });
        cache.insert(connector.config.id.clone(), conn.clone());
        Ok(conn)
    }
}

/// Run `call`; when the source refuses the credential, renew it once and run `call` again.
/// A renewal that fails comes back as [`SourceError::Credentials`] (re-authorization
/// required waits for an operator).
pub async fn with_renewal<T, F, Fut>(credentials: &dyn Credentials, mut call: F) -> Result<T, SourceError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SourceError>>,
{
    match call().await {
        Err(SourceError::Unauthorized(_)) => {
            credentials.renew().await?;
            call().await
        }
        other => other,
    }
}
