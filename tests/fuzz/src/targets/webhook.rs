//! Webhook deliveries: what anyone on the internet can POST to the webhook route.
//!
//! - `webhook_event`: [`parse_webhook_event`] on the raw body.
//! - `webhook_signature`: [`verify_signature`] with arbitrary secret, header values and
//!   body; a verdict is checked against HMACs computed here.
//! - `webhook_delivery`: [`SourceKind::parse_delivery`] of [`WebexCallingKind`], the
//!   function the webhook route calls with the request's headers and body, for the
//!   example connector of `fixtures/connectors`.
//!
//! Input of the last two: optional directive line, header lines, a blank line, the body.
//! The directive `@sign spark|webex256|webex512` adds a correct signature of the body (so
//! mutated bodies still get past the signature check to the parser), `@secret <s>` sets
//! the secret of `webhook_signature`.

use chrono::{TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use wfo_domain::Secret;
use wfo_domain::config::ConnectorConfig;
use wfo_domain::webex_id::canonical_webex_id;
use wfo_ports::{ConnectorSecrets, Delivery, DeliveryError, SourceKind, StoredConnector};
use wfo_webex_calling::{
    SPARK_SIGNATURE_HEADER, SignatureError, WEBEX_SIGNATURE_HEADER, WebexCallingKind, WebhookEventError,
    parse_webhook_event, sign_spark, sign_webex_sha256, verify_signature,
};

use crate::seeds;

/// The webhook secret of the fuzzed connector.
const SECRET: &str = "86dacc007724d8ea666f88fc77d918dad9537a15";

pub fn webhook_event(input: &[u8]) -> String {
    match parse_webhook_event(input) {
        Ok(event) => {
            assert!(!event.resource.trim().is_empty() && !event.event.trim().is_empty());
            assert!(!event.data_id.is_empty(), "data.id is required");
            assert!(event.data.is_object());
            if let Some(id) = event.recording_id() {
                assert_eq!(id, event.data_id);
            }
            format!("ok:{}", event.recording_id().is_some())
        }
        Err(WebhookEventError::NotJson(_)) => "not-json".to_owned(),
        Err(WebhookEventError::MissingField(f)) => format!("missing:{f}"),
    }
}

/// A delivery as the route sees it: headers (name, value) and the body.
struct Request {
    directive: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn parse(input: &[u8]) -> Request {
        let mut rest = input;
        let mut directive = None;
        if rest.first() == Some(&b'@') {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            directive = Some(String::from_utf8_lossy(&rest[1..end]).into_owned());
            rest = &rest[(end + 1).min(rest.len())..];
        }
        // Header lines up to the first blank line; without one, everything is body.
        let (head, body) = match (rest.first(), crate::mutate::find(rest, b"\n\n")) {
            (Some(b'\n'), _) => (&rest[..0], &rest[1..]),
            (_, Some(at)) => (&rest[..at], &rest[at + 2..]),
            (_, None) => (&rest[..0], rest),
        };
        let headers = head
            .split(|&c| c == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                let text = String::from_utf8_lossy(line);
                match text.split_once(':') {
                    Some((name, value)) => (name.trim().to_owned(), value.to_owned()),
                    None => (text.into_owned(), String::new()),
                }
            })
            .collect();
        Request {
            directive,
            headers,
            body: body.to_vec(),
        }
    }

    /// Adds the signature the directive asks for, keyed with `secret`.
    fn sign(&mut self, secret: &str) {
        let Some(how) = self.directive.as_deref().and_then(|d| d.strip_prefix("sign ")) else {
            return;
        };
        let (name, value) = match how.trim() {
            "spark" => (SPARK_SIGNATURE_HEADER, sign_spark(secret.as_bytes(), &self.body)),
            "webex256" => (WEBEX_SIGNATURE_HEADER, sign_webex_sha256(secret.as_bytes(), &self.body)),
            "webex512" => (WEBEX_SIGNATURE_HEADER, hmac_sha512_hex(secret.as_bytes(), &self.body)),
            _ => return,
        };
        self.headers.insert(0, (name.to_owned(), value));
    }

    /// The route's header lookup: case-insensitive, first match.
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

fn hmac_sha512_hex(key: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether some signature header carries a correct HMAC of `body` under `secret`,
/// computed here (not by the code under test).
fn carries_valid_signature(req: &Request, secret: &str, body: &[u8]) -> bool {
    let value = |name: &str| req.header(name).map(|v| v.trim().to_ascii_lowercase());
    let spark_ok = value(SPARK_SIGNATURE_HEADER).is_some_and(|v| v == sign_spark(secret.as_bytes(), body));
    let webex_ok = value(WEBEX_SIGNATURE_HEADER).is_some_and(|v| {
        v == sign_webex_sha256(secret.as_bytes(), body) || v == hmac_sha512_hex(secret.as_bytes(), body)
    });
    spark_ok || webex_ok
}

pub fn webhook_signature(input: &[u8]) -> String {
    let mut req = Request::parse(input);
    let secret = match req.directive.as_deref().and_then(|d| d.strip_prefix("secret ")) {
        Some(s) => s.to_owned(),
        None => SECRET.to_owned(),
    };
    req.sign(&secret);
    let verdict = verify_signature(&Secret::new(secret.clone()), &req.body, |n| req.header(n));
    let present = |name: &str| req.header(name).is_some_and(|v| !v.trim().is_empty());
    match &verdict {
        Ok(()) => {
            assert!(!secret.is_empty(), "an empty secret verified a delivery");
            assert!(
                carries_valid_signature(&req, &secret, &req.body),
                "accepted a delivery without a correct signature"
            );
        }
        Err(SignatureError::EmptySecret) => assert!(secret.is_empty()),
        Err(SignatureError::MissingHeader) => {
            assert!(!present(SPARK_SIGNATURE_HEADER) && !present(WEBEX_SIGNATURE_HEADER));
        }
        Err(SignatureError::Malformed { .. } | SignatureError::Mismatch) => {
            // A correct spark signature is always accepted (the webex one is UNCONFIRMED
            // and may be checked as SHA-256 or SHA-512 by its length).
            let spark = req
                .header(SPARK_SIGNATURE_HEADER)
                .map(|v| v.trim().to_ascii_lowercase());
            assert!(
                secret.is_empty() || spark.is_none_or(|v| v != sign_spark(secret.as_bytes(), &req.body)),
                "refused a correct X-Spark-Signature"
            );
        }
    }
    match verdict {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("{e:?}").chars().take(24).collect(),
    }
}

/// The example connector of `fixtures/connectors`, with [`SECRET`] as its webhook secret.
pub(crate) fn connector() -> &'static StoredConnector {
    static CONNECTOR: std::sync::OnceLock<StoredConnector> = std::sync::OnceLock::new();
    CONNECTOR.get_or_init(|| StoredConnector {
        config: ConnectorConfig::from_toml(seeds::acme_connector_toml()).expect("the example connector is valid"),
        secrets: ConnectorSecrets {
            webhook_secret: Secret::new(SECRET),
            state_key: Secret::new("state-key"),
        },
        created_at: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single().unwrap_or_default(),
    })
}

pub fn webhook_delivery(input: &[u8]) -> String {
    let mut req = Request::parse(input);
    let connector = connector();
    req.sign(connector.secrets.webhook_secret.expose());
    let header = |n: &str| req.header(n);
    let result = WebexCallingKind.parse_delivery(connector, &header, &req.body);
    let signed = verify_signature(&connector.secrets.webhook_secret, &req.body, header).is_ok();
    match &result {
        Ok(delivery) => {
            assert!(signed, "a delivery was accepted without a valid signature");
            let event = parse_webhook_event(&req.body).expect("an accepted delivery parses");
            let org = event.org_id.as_deref().map(canonical_webex_id);
            assert_eq!(
                org.as_deref(),
                Some(canonical_webex_id(&connector.config.source.tenant_id).as_str()),
                "a delivery about another org was accepted"
            );
            if let Delivery::Item(id) = delivery {
                assert!(!id.is_empty() && id.trim() == id, "item id {id:?}");
                assert_eq!(Some(id.as_str()), event.recording_id());
            }
        }
        Err(DeliveryError::Unauthenticated(_)) => {}
        Err(DeliveryError::Malformed(_)) => assert!(signed, "parsed before the signature was checked"),
        Err(DeliveryError::NotAccepted(_)) => {}
    }
    match result {
        Ok(Delivery::Item(_)) => "item".to_owned(),
        Ok(Delivery::Ignored(_)) => "ignored".to_owned(),
        Err(e) => format!("{e:?}").chars().take(30).collect(),
    }
}

/// Delivery bodies: the API Gateway fixture's, one per scenario recording, and odd ones.
fn bodies() -> Vec<Vec<u8>> {
    let mut out = seeds::webhook_bodies();
    let tenant = "0f3e2d1c-4b5a-4987-8c6d-5e4f3a2b1c00";
    for id in seeds::recording_ids() {
        out.push(
            format!(
                r#"{{"id":"Y2lzY29zcGFyazovL3VzL1dFQkhPT0svZjRl","name":"wfo-connect recordings","resource":"convergedRecordings","event":"created","orgId":"{tenant}","ownedBy":"org","status":"active","created":"2026-03-02T14:10:00.000Z","data":{{"id":"{id}","orgId":"{tenant}"}}}}"#
            )
            .into_bytes(),
        );
    }
    out.push(br#"{"resource":"messages","event":"created","orgId":"Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8wZjNlMmQxYy00YjVhLTQ5ODctOGM2ZC01ZTRmM2EyYjFjMDA","data":{"id":42}}"#.to_vec());
    out.push(br#"{"resource":"convergedRecordings","event":"deleted","data":{"id":" "},"created":5}"#.to_vec());
    out
}

pub fn event_seeds() -> Vec<Vec<u8>> {
    bodies()
}

pub fn signed_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, body) in bodies().into_iter().enumerate() {
        let head: &[u8] = match i % 5 {
            0 => b"@sign spark\nContent-Type: application/json\n\n",
            1 => b"@sign webex256\nx-webex-signature: 00\n\n",
            2 => b"@sign webex512\n\n",
            3 => b"X-Spark-Signature: effcdf6ae5eb2fa2d27416d5f184df9c259a7c79\n\n",
            _ => b"@secret \nx-spark-signature:  \n\n",
        };
        let mut seed = head.to_vec();
        seed.extend_from_slice(&body);
        out.push(seed);
    }
    // A literal correct signature (not made by a directive) over the first body.
    if let Some(body) = bodies().first() {
        let mut seed = format!("X-Spark-Signature: {}\n\n", sign_spark(SECRET.as_bytes(), body)).into_bytes();
        seed.extend_from_slice(body);
        out.push(seed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_scenario_delivery_names_its_recording() {
        let seeds = signed_seeds();
        let outcomes: Vec<String> = seeds.iter().map(|s| webhook_delivery(s)).collect();
        assert!(outcomes.iter().any(|o| o == "item"), "{outcomes:?}");
        assert!(
            outcomes.iter().any(|o| o.starts_with("Unauthenticated")),
            "{outcomes:?}"
        );
    }

    #[test]
    fn requests_split_into_directive_headers_and_body() {
        let r = Request::parse(b"@sign spark\nA: 1\nb:2\n\n{\"x\":1}");
        assert_eq!(r.directive.as_deref(), Some("sign spark"));
        assert_eq!(r.header("a").as_deref(), Some(" 1"));
        assert_eq!(r.header("B").as_deref(), Some("2"));
        assert_eq!(r.body, b"{\"x\":1}");
        assert_eq!(Request::parse(b"{\"x\":1}").body, b"{\"x\":1}");
    }
}
