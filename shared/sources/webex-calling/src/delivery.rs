//! Webhook deliveries (reference §3.2, §3.3): signature check over the raw body, then
//! a lenient parse of the envelope.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use wfo_domain::Secret;

use crate::lenient::de_opt_datetime;
use crate::webhooks::WebhookStatus;

/// HMAC-SHA1 of the raw body keyed with the webhook secret, hex (documented by Webex).
pub const SPARK_SIGNATURE_HEADER: &str = "X-Spark-Signature";

/// A newer signature header, HMAC-SHA256 (64 hex digits) or HMAC-SHA512 (128), hex.
///
/// UNCONFIRMED (reference §3.3): only third-party sources mention it. It is accepted
/// when present and valid; `X-Spark-Signature` stays the primary check.
pub const WEBEX_SIGNATURE_HEADER: &str = "X-Webex-Signature";

/// Why a delivery was rejected. Answer 401/403 and do not process it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no {SPARK_SIGNATURE_HEADER} (or {WEBEX_SIGNATURE_HEADER}) header on the delivery")]
    MissingHeader,
    #[error("{header} is not a hex digest")]
    Malformed { header: &'static str },
    #[error("webhook signature does not match the body")]
    Mismatch,
    #[error("no webhook secret configured; refusing unsigned deliveries")]
    EmptySecret,
}

/// Check a delivery's signature over the exact bytes received, before parsing.
///
/// `headers` looks a header up by name; it should be case-insensitive (an
/// `http::HeaderMap` is), but the lower-case name is tried too. Accepts a valid
/// `X-Spark-Signature` (HMAC-SHA1), or a valid `X-Webex-Signature` (see
/// [`WEBEX_SIGNATURE_HEADER`]). Hex digits may be upper or lower case; the comparison
/// is constant-time.
pub fn verify_signature(
    secret: &Secret,
    raw_body: &[u8],
    headers: impl Fn(&str) -> Option<String>,
) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    let key = secret.expose().as_bytes();
    let lookup = |name: &str| {
        headers(name)
            .or_else(|| headers(&name.to_ascii_lowercase()))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let spark = lookup(SPARK_SIGNATURE_HEADER);
    let webex = lookup(WEBEX_SIGNATURE_HEADER);
    if spark.is_none() && webex.is_none() {
        return Err(SignatureError::MissingHeader);
    }

    let mut first_error = None;
    if let Some(sig) = spark {
        match check::<Hmac<sha1::Sha1>>(key, raw_body, &sig, SPARK_SIGNATURE_HEADER) {
            Ok(()) => return Ok(()),
            Err(e) => first_error = Some(e),
        }
    }
    if let Some(sig) = webex {
        let res = match sig.len() {
            128 => check::<Hmac<sha2::Sha512>>(key, raw_body, &sig, WEBEX_SIGNATURE_HEADER),
            _ => check::<Hmac<sha2::Sha256>>(key, raw_body, &sig, WEBEX_SIGNATURE_HEADER),
        };
        match res {
            Ok(()) => return Ok(()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(SignatureError::Mismatch))
}

fn check<M: Mac + KeyInit>(key: &[u8], body: &[u8], hex_sig: &str, header: &'static str) -> Result<(), SignatureError> {
    let tag = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed { header })?;
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return Err(SignatureError::Mismatch);
    };
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

fn sign<M: Mac + KeyInit>(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `X-Spark-Signature` value Webex would send: lower-case hex HMAC-SHA1.
/// For simulators and tests.
pub fn sign_spark(secret: &[u8], body: &[u8]) -> String {
    sign::<Hmac<sha1::Sha1>>(secret, body)
}

/// An `X-Webex-Signature` value (hex HMAC-SHA256; UNCONFIRMED format). For tests.
pub fn sign_webex_sha256(secret: &[u8], body: &[u8]) -> String {
    sign::<Hmac<sha2::Sha256>>(secret, body)
}

/// A webhook delivery envelope. Unknown fields are ignored; `data` is kept raw.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// The webhook's id (base64 Webex id).
    pub webhook_id: Option<String>,
    pub name: Option<String>,
    pub target_url: Option<String>,
    /// e.g. `convergedRecordings`.
    pub resource: String,
    /// e.g. `created`.
    pub event: String,
    pub filter: Option<String>,
    pub org_id: Option<String>,
    pub created_by: Option<String>,
    pub app_id: Option<String>,
    pub owned_by: Option<String>,
    pub status: Option<WebhookStatus>,
    pub created: Option<DateTime<Utc>>,
    pub actor_id: Option<String>,
    /// `data.id`: for `convergedRecordings`, the recording id (UUID/hex).
    pub data_id: String,
    /// The whole `data` object as sent (its shape is UNCONFIRMED beyond `id`).
    pub data: serde_json::Value,
}

impl WebhookEvent {
    /// The recording this event is about, for `convergedRecordings` events.
    pub fn recording_id(&self) -> Option<&str> {
        crate::lenient::same_name(&self.resource, crate::webhooks::RESOURCE_CONVERGED_RECORDINGS)
            .then_some(self.data_id.as_str())
    }
}

/// Why a delivery body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookEventError {
    #[error("webhook body is not a JSON object: {0}")]
    NotJson(String),
    #[error("webhook body has no usable `{0}`")]
    MissingField(&'static str),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    id: Option<String>,
    name: Option<String>,
    target_url: Option<String>,
    resource: Option<String>,
    event: Option<String>,
    filter: Option<String>,
    org_id: Option<String>,
    created_by: Option<String>,
    app_id: Option<String>,
    owned_by: Option<String>,
    status: Option<WebhookStatus>,
    #[serde(default, deserialize_with = "de_opt_datetime")]
    created: Option<DateTime<Utc>>,
    actor_id: Option<String>,
    data: Option<serde_json::Value>,
}

/// Parse a delivery body (after [`verify_signature`]). `resource`, `event`, `data` and
/// `data.id` are required; the error names the first one missing.
pub fn parse_webhook_event(raw: &[u8]) -> Result<WebhookEvent, WebhookEventError> {
    let value: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| WebhookEventError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(WebhookEventError::NotJson("top level is not an object".to_owned()));
    }
    // Drop fields of unexpected types rather than failing on them.
    let lenient = lenient_object(value);
    let raw: RawEvent = serde_json::from_value(lenient).map_err(|e| WebhookEventError::NotJson(e.to_string()))?;
    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let resource = non_empty(raw.resource).ok_or(WebhookEventError::MissingField("resource"))?;
    let event = non_empty(raw.event).ok_or(WebhookEventError::MissingField("event"))?;
    let data = raw
        .data
        .filter(|d| d.is_object())
        .ok_or(WebhookEventError::MissingField("data"))?;
    let data_id = match data.get("id") {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(WebhookEventError::MissingField("data.id")),
    };
    Ok(WebhookEvent {
        webhook_id: non_empty(raw.id),
        name: raw.name,
        target_url: raw.target_url,
        resource,
        event,
        filter: raw.filter,
        org_id: raw.org_id,
        created_by: raw.created_by,
        app_id: raw.app_id,
        owned_by: raw.owned_by,
        status: raw.status,
        created: raw.created,
        actor_id: raw.actor_id,
        data_id,
        data,
    })
}

/// Keep `data` as is; keep other top-level members only when they are strings.
fn lenient_object(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            serde_json::Value::Object(map.into_iter().filter(|(k, v)| k == "data" || v.is_string()).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "86dacc007724d8ea666f88fc77d918dad9537a15";
    const BODY: &[u8] = br#"{"id":"Y2lzY29zcGFyazovL3VzL1dFQkhPT0svZjRl","name":"rec","resource":"convergedRecordings","event":"created","orgId":"OTZh","ownedBy":"org","status":"active","actorId":"Y2l","created":"2024-05-01T10:00:00.000Z","data":{"id":"62807eaf-0c89-492e-a3c3-c4751812603b","orgId":"OTZh","extra":1},"unknownTopLevel":{"a":1}}"#;

    fn headers(pairs: &[(&'static str, String)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn valid_spark_signature_is_accepted() {
        let sig = sign_spark(SECRET.as_bytes(), BODY);
        assert_eq!(sig.len(), 40);
        let h = [("X-Spark-Signature", sig)];
        assert_eq!(verify_signature(&Secret::new(SECRET), BODY, headers(&h)), Ok(()));
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let h = [("x-spark-signature", sign_spark(SECRET.as_bytes(), BODY).to_uppercase())];
        assert_eq!(verify_signature(&Secret::new(SECRET), BODY, headers(&h)), Ok(()));
    }

    #[test]
    fn tampered_body_is_rejected() {
        let h = [("X-Spark-Signature", sign_spark(SECRET.as_bytes(), BODY))];
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            verify_signature(&Secret::new(SECRET), &tampered, headers(&h)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let h = [("X-Spark-Signature", sign_spark(b"another secret", BODY))];
        assert_eq!(
            verify_signature(&Secret::new(SECRET), BODY, headers(&h)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_header_is_rejected() {
        assert_eq!(
            verify_signature(&Secret::new(SECRET), BODY, headers(&[])),
            Err(SignatureError::MissingHeader)
        );
        let blank = [("X-Spark-Signature", "  ".to_owned())];
        assert_eq!(
            verify_signature(&Secret::new(SECRET), BODY, headers(&blank)),
            Err(SignatureError::MissingHeader)
        );
    }

    #[test]
    fn non_hex_and_truncated_signatures_are_rejected() {
        let h = [("X-Spark-Signature", "zz".repeat(20))];
        assert_eq!(
            verify_signature(&Secret::new(SECRET), BODY, headers(&h)),
            Err(SignatureError::Malformed {
                header: SPARK_SIGNATURE_HEADER
            })
        );
        let mut short = sign_spark(SECRET.as_bytes(), BODY);
        short.truncate(20);
        let h = [("X-Spark-Signature", short)];
        assert_eq!(
            verify_signature(&Secret::new(SECRET), BODY, headers(&h)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn empty_secret_refuses_everything() {
        let h = [("X-Spark-Signature", sign_spark(b"", BODY))];
        assert_eq!(
            verify_signature(&Secret::new(""), BODY, headers(&h)),
            Err(SignatureError::EmptySecret)
        );
    }

    #[test]
    fn webex_sha256_signature_is_accepted_alone_or_next_to_a_bad_spark_one() {
        let good = sign_webex_sha256(SECRET.as_bytes(), BODY);
        assert_eq!(good.len(), 64);
        let h = [("X-Webex-Signature", good.clone())];
        assert_eq!(verify_signature(&Secret::new(SECRET), BODY, headers(&h)), Ok(()));
        let h = [("X-Spark-Signature", "00".repeat(20)), ("X-Webex-Signature", good)];
        assert_eq!(verify_signature(&Secret::new(SECRET), BODY, headers(&h)), Ok(()));
        let h = [("X-Webex-Signature", sign_webex_sha256(b"wrong", BODY))];
        assert_eq!(
            verify_signature(&Secret::new(SECRET), BODY, headers(&h)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn known_hmac_sha1_vector() {
        // RFC 2202 test case 2.
        assert_eq!(
            sign_spark(b"Jefe", b"what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn envelope_parses_with_recording_id_and_unknown_fields() {
        let e = parse_webhook_event(BODY).unwrap();
        assert_eq!(e.resource, "convergedRecordings");
        assert_eq!(e.event, "created");
        assert_eq!(e.recording_id(), Some("62807eaf-0c89-492e-a3c3-c4751812603b"));
        assert_eq!(e.owned_by.as_deref(), Some("org"));
        assert_eq!(e.status, Some(WebhookStatus::Active));
        assert!(e.created.is_some());
        assert_eq!(e.data["extra"], 1);
    }

    #[test]
    fn missing_fields_are_named() {
        let cases: [(&[u8], &str); 4] = [
            (br#"{"event":"created","data":{"id":"r"}}"#, "resource"),
            (br#"{"resource":"convergedRecordings","data":{"id":"r"}}"#, "event"),
            (br#"{"resource":"convergedRecordings","event":"created"}"#, "data"),
            (
                br#"{"resource":"convergedRecordings","event":"created","data":{"ownerId":"o"}}"#,
                "data.id",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(parse_webhook_event(body), Err(WebhookEventError::MissingField(field)));
        }
        assert!(matches!(
            parse_webhook_event(b"not json"),
            Err(WebhookEventError::NotJson(_))
        ));
        assert!(matches!(
            parse_webhook_event(b"[1]"),
            Err(WebhookEventError::NotJson(_))
        ));
    }

    #[test]
    fn odd_types_in_envelope_are_tolerated() {
        let e = parse_webhook_event(
            br#"{"id":5,"resource":"convergedRecordings","event":"created","status":"paused","created":"soon","data":{"id":"r1"}}"#,
        )
        .unwrap();
        assert_eq!(e.webhook_id, None);
        assert_eq!(e.status, Some(WebhookStatus::Unknown("paused".into())));
        assert_eq!(e.created, None);
        assert_eq!(e.recording_id(), Some("r1"));
    }
}
