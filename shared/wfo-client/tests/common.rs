//! Fixtures shared by the wiremock tests: a client wired to one mock server per test.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};
use wfo_client::{WfoClient, WfoClientConfig};
use wfo_domain::Secret;
use wfo_http::RetryPolicy;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const USER: &str = "api-user";
pub const PASSWORD: &str = "pw-S3CRET-do-not-print";
pub const SESSION: &str = "sess-S3CRET-1";
pub const SESSION_2: &str = "sess-S3CRET-2";
pub const AUTHORIZE: &str = "/api/rest/authorize";
pub const TEAMS: &str = "/api/rest/org/common/team/permission/ViewOrg";
pub const ROLES: &str = "/api/rest/org/common/role";
pub const PERSONS: &str = "/api/rest/org/common/person/permission/ViewOrg";
pub const PERSON: &str = "/api/rest/org/common/person";
pub const IMPORT: &str = "/api/rest/wfo/contact/import";
pub const CONTACTS: &str = "/api/rest/recording/contact";

pub fn client(server: &MockServer) -> WfoClient {
    let mut config = WfoClientConfig::new(server.uri(), USER, Secret::new(PASSWORD));
    config.policy = RetryPolicy::fast();
    config.request_timeout = Duration::from_secs(10);
    match WfoClient::new(config) {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    }
}

pub fn cookie(session: &str) -> String {
    format!("hazelcast.sessionId={session}")
}

/// `POST /api/rest/authorize` with the right credentials answers `session`, `times` times.
pub async fn mount_login(server: &MockServer, session: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path(AUTHORIZE))
        .and(body_json(
            json!({"userId": USER, "password": PASSWORD, "language": "en"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sessionId": session})))
        .expect(times)
        .mount(server)
        .await;
}

pub fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"errorMessage": message, "requestId": "req-1"}))
}

pub fn team(id: i64, name: &str, is_default: bool) -> Value {
    json!({"id": id, "name": name, "isDefault": is_default, "acdId": null, "acdServerId": null, "readOnly": false})
}

pub fn role(id: i64, name: &str, agent_default: bool) -> Value {
    json!({"id": id, "name": name, "isAgentDefault": agent_default, "isSupervisorDefault": false, "isAdminDefault": false})
}

pub fn person(id: i64, acd_server_id: i64, acd_id: &str) -> Value {
    json!({
        "id": id, "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "displayName": "Ada Lovelace", "groupId": 1, "acdId": acd_id, "acdServerId": acd_server_id,
        "roles": [{"id": 2, "name": "Agent"}], "companyStartDate": null, "departmentStartDate": null,
        "activated": 1_700_000_000_000i64, "deactivated": null
    })
}

pub fn contact_import(external_id: &str) -> Value {
    json!({
        "externalId": external_id, "assocCallId": "call-1", "contactType": "CALL",
        "startTime": 1_700_000_000_000i64, "callDuration": 60_000, "ani": "+15551230000", "dnis": "100",
        "direction": "INBOUND", "agent": {"acdId": "agent-7", "acdServerId": 3}, "language": null,
        "events": [], "metadata": {}, "audio": {"expected": true, "format": "MP3", "channels": 1}
    })
}

pub fn import(external_id: &str) -> wfo_domain::wfo::ContactImport {
    match serde_json::from_value(contact_import(external_id)) {
        Ok(c) => c,
        Err(e) => panic!("fixture: {e}"),
    }
}

pub fn contact(id: i64, external_id: &str) -> Value {
    let mut c = contact_import(external_id);
    c["id"] = json!(id);
    c["audioUploaded"] = json!(false);
    c["audioBytes"] = Value::Null;
    c
}
