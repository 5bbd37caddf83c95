//! The HTTP API: the one axum router of `wfo_pipeline::routes`, served through
//! `lambda_http` from API Gateway HTTP API (payload format 2.0) events.
//!
//! The public base URL (OAuth redirect URI, webhook target) is `WFO_PUBLIC_URL` when set
//! (a custom domain), else `https://{requestContext.domainName}` of each request: API
//! Gateway fills that in, and a function cannot name its own API's URL in its
//! environment without a circular dependency in the stack.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tower::ServiceExt;
use wfo_pipeline::connections::Connections;
use wfo_pipeline::ports::Store;
use wfo_pipeline::routes::{AppState, router};

use crate::InitError;

/// Built once per cold start.
#[derive(Clone)]
pub struct HttpDeps {
    /// The store, every built-in source and the HTTP clients.
    pub connections: Arc<Connections>,
    /// Fixed public URL, or `None` to take the request's API Gateway domain.
    pub public_url: Option<String>,
    /// Connectors as the webhook route last read them, kept across invocations.
    pub connector_cache: Arc<wfo_pipeline::webhook::ConnectorCache>,
}

impl HttpDeps {
    pub fn new(store: Arc<dyn Store>, public_url: Option<String>) -> Result<Self, InitError> {
        let http = wfo_http::client_builder(wfo_pipeline::connections::READ_BACKSTOP).build()?;
        let token_http = wfo_pipeline::auth::token_http_client(Duration::from_secs(20))?;
        Ok(Self {
            connections: Connections::with_clients(
                store,
                wfo_sources::Sources::shared(),
                wfo_http::RetryPolicy::default(),
                http,
                token_http,
            ),
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            connector_cache: Arc::default(),
        })
    }

    fn public_url_for(&self, req: &Request) -> String {
        if let Some(u) = &self.public_url {
            return u.clone();
        }
        let domain = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.domain_name.clone(),
            _ => None,
        };
        let domain = domain.or_else(|| {
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
        format!("https://{}", domain.unwrap_or_else(|| "localhost".to_owned()))
    }

    /// One request through the router. Never fails: errors are answers (4xx/5xx),
    /// logged by the routes with the connector they concern.
    pub async fn handle(&self, req: Request) -> Result<Response, Infallible> {
        let app = router(AppState {
            connections: self.connections.clone(),
            public_url: self.public_url_for(&req),
            // Nothing local to wake: the webhook route enqueues to SQS.
            work_ready: Arc::new(tokio::sync::Notify::new()),
            connector_cache: self.connector_cache.clone(),
        });
        app.oneshot(req).await
    }
}

/// The whole life of an HTTP function: cold start (logging, store, clients), then serve
/// API Gateway events until the runtime stops. The `webhook` and `oauth` functions are
/// separate deployables only so each gets its own least-privilege role.
pub async fn run_function() -> std::process::ExitCode {
    crate::init_logging();
    let deps = match cold_start().await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!("cold start done");
    let deps = &deps;
    match lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        deps.handle(req).await
    }))
    .await
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "runtime stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn cold_start() -> Result<HttpDeps, InitError> {
    let store = crate::store_from_env().await?;
    HttpDeps::new(store, crate::env_opt(wfo_aws::env::PUBLIC_URL))
}
