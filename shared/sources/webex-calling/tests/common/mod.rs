//! Set-up shared by the client's wiremock tests.

use url::Url;
use wfo_domain::Secret;
use wfo_webex_calling::{RetryPolicy, WebexCallingClient};
use wiremock::MockServer;

pub const TOKEN: &str = "test-access-token";

/// A client pointed at `server`, with the fast retry policy.
pub fn client(server: &MockServer) -> WebexCallingClient {
    WebexCallingClient::new(
        reqwest::Client::new(),
        Url::parse(&server.uri()).unwrap(),
        RetryPolicy::fast(),
    )
}

pub fn token() -> Secret {
    Secret::new(TOKEN)
}
