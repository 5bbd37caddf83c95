//! `GET /status` without a browser: the loopback-only rule, the operator-token rule, the
//! Content-Security-Policy header and HTML escaping of values from outside. The routes
//! run in-process on 127.0.0.1 over a SQLite store in a temporary directory.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_pipeline::attention::Marks;
use wfo_pipeline::ports::{ConnectorStore, Store};
use wfo_pipeline::status_page::{self, StatusAccess};
use wfo_store::SqliteStore;

const TOKEN: &str = "operator-token-3f9a1c77";

/// Serves the `/status` router with `access` on 127.0.0.1; returns its URL and the
/// server task (aborted by the caller).
async fn serve(store: Arc<dyn Store>, access: StatusAccess) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = status_page::router(store, access);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/status"), task)
}

/// A store with one connector marked "needs operator" for a reason carrying markup.
async fn store_with_marked_connector(dir: &std::path::Path) -> Arc<dyn Store> {
    let store = SqliteStore::open(dir).unwrap();
    let config = ConnectorConfig::from_toml(
        "id = \"acme-cc1\"\nacd_name = \"Acme\"\nkind = \"webex-cc-1\"\nacd_server_id = 5\n\
         [source]\napi_url = \"http://127.0.0.1:9\"\nmedia_api_url = \"http://127.0.0.1:9\"\ntenant_id = \"t\"\nusername = \"u\"\napi_key = \"the-api-key-secret\"\n\
         [wfo]\napi_url = \"http://127.0.0.1:9\"\nusername = \"api\"\npassword = \"the-wfo-password\"\n",
    )
    .unwrap();
    store.put_connector(&config, Utc::now()).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    Marks::default()
        .mark(
            store.as_ref(),
            "acme-cc1",
            "WFO said <script>alert('x')</script> & \"more\"",
            Utc::now(),
        )
        .await;
    store
}

#[tokio::test]
async fn on_loopback_the_page_is_served_escaped_under_a_strict_csp_and_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_marked_connector(dir.path()).await;
    let listen: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let (url, task) = serve(store, StatusAccess::decide(listen, None)).await;

    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    let body = r.text().await.unwrap();
    task.abort();

    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'; style-src 'nonce-"), "{csp}");
    assert!(!csp.contains("unsafe") && !csp.contains("script-src"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).unwrap();
    assert!(
        body.contains(&format!("<style nonce=\"{nonce}\">")),
        "the style carries the CSP's nonce"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");

    assert!(body.contains("data-connector=\"acme-cc1\""), "{body}");
    assert!(
        body.contains("class=\"state attention\" data-state=\"needs operator\""),
        "{body}"
    );
    assert!(
        body.contains("WFO said &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"),
        "the reason is escaped: {body}"
    );
    assert!(
        !body.contains("<script"),
        "no markup from outside and no script: {body}"
    );
    assert!(body.contains("<svg class=\"chart\""), "the imports chart: {body}");
    for secret in ["the-api-key-secret", "the-wfo-password"] {
        assert!(!body.contains(secret), "no secret on the page");
    }
    for external in ["http://", "https://", "src="] {
        assert!(
            !body.contains(external),
            "nothing loaded from anywhere ({external}): {body}"
        );
    }
}

#[tokio::test]
async fn on_a_listener_other_machines_reach_the_page_is_off_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_marked_connector(dir.path()).await;
    let listen: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let (url, task) = serve(store, StatusAccess::decide(listen, None)).await;

    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    task.abort();
    assert!(
        body.contains("0.0.0.0:8080") && body.contains("WFO_CONNECT_OPERATOR_TOKEN"),
        "the reason names the listener and the setting: {body}"
    );
    assert!(!body.contains("acme-cc1"), "nothing of the status: {body}");
}

#[tokio::test]
async fn with_a_token_the_page_needs_it_as_bearer_or_query_and_never_echoes_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_marked_connector(dir.path()).await;
    let listen: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let (url, task) = serve(store, StatusAccess::decide(listen, Some(Secret::new(TOKEN)))).await;
    let http = reqwest::Client::new();

    let none = http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = http
        .get(&url)
        .bearer_auth("operator-token-3f9a1c78")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let wrong_body = wrong.text().await.unwrap();
    assert!(!wrong_body.contains("3f9a1c7"), "neither token is echoed: {wrong_body}");
    let prefix = http.get(&url).bearer_auth(&TOKEN[..10]).send().await.unwrap();
    assert_eq!(prefix.status(), 401, "a prefix of the token is not the token");

    let bearer = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    let body = bearer.text().await.unwrap();
    assert!(body.contains("acme-cc1") && !body.contains(TOKEN), "{body}");
    let query = http.get(format!("{url}?token={TOKEN}")).send().await.unwrap();
    assert_eq!(query.status(), 200);
    assert_eq!(
        query.headers()["referrer-policy"],
        "no-referrer",
        "a token in the URL is not passed on"
    );
    task.abort();
}
