//! Subscription deliveries (reference §5.2, §5.3; `specs/interfaces.md` §4): the
//! signature over the raw body first, then the timestamp, then a lenient envelope.
//!
//! - `X-WebexCC-Signature`: hex HMAC-SHA256 of the raw, unmodified body, keyed by the
//!   subscription secret; compared in constant time. No header → refused (we always
//!   register with a secret).
//! - `X-WebexCC-Timestamp` (v2 subscriptions; epoch ms, equal to the body's
//!   `comciscotimestamp`): older than 5 minutes, or more than 5 minutes ahead, → refused
//!   (a replayed delivery). When both the header and the body carry it they must agree.
//! - The envelope's `comciscoorgid` must be the connector's tenant.

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::Value;
use wfo_domain::Secret;

pub const SIGNATURE_HEADER: &str = "X-WebexCC-Signature";
pub const TIMESTAMP_HEADER: &str = "X-WebexCC-Timestamp";
/// How far a delivery's timestamp may be from now.
pub const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Why a delivery is refused (answered `401`, nothing recorded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no {SIGNATURE_HEADER} header on the delivery")]
    MissingHeader,
    #[error("{SIGNATURE_HEADER} is not a hex HMAC-SHA256 digest")]
    Malformed,
    #[error("the delivery's signature does not match its body")]
    Mismatch,
    #[error("no subscription secret is set; refusing deliveries")]
    EmptySecret,
    #[error("{TIMESTAMP_HEADER} '{0}' is not a time in epoch milliseconds")]
    BadTimestamp(String),
    #[error("the delivery is stale or from the future ({TIMESTAMP_HEADER} {0}); more than 5 minutes from now")]
    Stale(String),
}

/// Hex HMAC-SHA256 of `body` with `secret` (what the Contact Center sends).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Check the signature and the timestamp of one delivery, before reading it.
pub fn verify(
    secret: &Secret,
    body: &[u8],
    header: &dyn Fn(&str) -> Option<String>,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    let lookup = |name: &str| {
        header(name)
            .or_else(|| header(&name.to_ascii_lowercase()))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let given = lookup(SIGNATURE_HEADER).ok_or(SignatureError::MissingHeader)?;
    let given = hex::decode(given.to_ascii_lowercase()).map_err(|_| SignatureError::Malformed)?;
    if given.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| SignatureError::EmptySecret)?;
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| SignatureError::Mismatch)?;
    if let Some(ts) = lookup(TIMESTAMP_HEADER) {
        let at = parse_ms(&ts).ok_or_else(|| SignatureError::BadTimestamp(ts.clone()))?;
        if (now - at).abs() > MAX_SKEW {
            return Err(SignatureError::Stale(ts));
        }
    }
    Ok(())
}

fn parse_ms(s: &str) -> Option<DateTime<Utc>> {
    let ms: i64 = s.trim().parse().ok()?;
    Utc.timestamp_millis_opt(ms).single()
}

/// A delivery's envelope, read leniently (unknown fields ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub comciscoorgid: Option<String>,
    /// Epoch ms, as a string or a number.
    #[serde(default)]
    pub comciscotimestamp: Option<Value>,
    #[serde(default)]
    pub data: Value,
}

impl Envelope {
    /// The task the event is about.
    pub fn task_id(&self) -> Option<&str> {
        self.data
            .get("taskId")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn timestamp(&self) -> Option<String> {
        match self.comciscotimestamp.as_ref()? {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Why a signed delivery cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is not a delivery envelope: {0}")]
    Shape(String),
    #[error("{TIMESTAMP_HEADER} {header} differs from the body's comciscotimestamp {body}")]
    TimestampMismatch { header: String, body: String },
}

/// Read the envelope of a verified delivery; `header_ts` is the timestamp header's value.
pub fn parse_envelope(body: &[u8], header_ts: Option<&str>) -> Result<Envelope, EnvelopeError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| EnvelopeError::Shape(e.to_string()))?;
    if let (Some(h), Some(b)) = (header_ts.map(str::trim), env.timestamp())
        && h != b
    {
        return Err(EnvelopeError::TimestampMismatch {
            header: h.to_owned(),
            body: b,
        });
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        }
    }

    const SECRET: &str = "a-subscription-secret-of-32-chars-or-more";

    #[test]
    fn a_signed_fresh_delivery_verifies_and_anything_else_is_refused() {
        let secret = Secret::new(SECRET);
        let now = Utc::now();
        let body = br#"{"type":"capture:available","data":{"taskId":"t1"}}"#;
        let ts = now.timestamp_millis().to_string();
        let good = headers(vec![
            (SIGNATURE_HEADER, sign(SECRET, body)),
            (TIMESTAMP_HEADER, ts.clone()),
        ]);
        assert_eq!(verify(&secret, body, &good, now), Ok(()));
        // Upper-case hex is the same digest.
        let upper = headers(vec![(SIGNATURE_HEADER, sign(SECRET, body).to_uppercase())]);
        assert_eq!(verify(&secret, body, &upper, now), Ok(()));
        let tampered = br#"{"type":"capture:available","data":{"taskId":"t2"}}"#;
        assert_eq!(verify(&secret, tampered, &good, now), Err(SignatureError::Mismatch));
        assert_eq!(
            verify(&secret, body, &headers(vec![]), now),
            Err(SignatureError::MissingHeader)
        );
        let not_hex = headers(vec![(SIGNATURE_HEADER, "zz".into())]);
        assert_eq!(verify(&secret, body, &not_hex, now), Err(SignatureError::Malformed));
        let stale_ts = (now - chrono::Duration::minutes(6)).timestamp_millis().to_string();
        let stale = headers(vec![
            (SIGNATURE_HEADER, sign(SECRET, body)),
            (TIMESTAMP_HEADER, stale_ts.clone()),
        ]);
        assert_eq!(verify(&secret, body, &stale, now), Err(SignatureError::Stale(stale_ts)));
        let wrong_key = headers(vec![(SIGNATURE_HEADER, sign("another-secret-another-secret-xx", body))]);
        assert_eq!(verify(&secret, body, &wrong_key, now), Err(SignatureError::Mismatch));
        assert_eq!(
            verify(&Secret::new(""), body, &good, now),
            Err(SignatureError::EmptySecret)
        );
    }

    #[test]
    fn the_envelope_names_its_task_and_its_timestamps_must_agree() {
        let body = br#"{"id":"e1","specversion":"1.0","type":"capture:available","comciscoorgid":"org","comciscotimestamp":"1700000000000","data":{"taskId":" t-9 ","filePath":"x","new":1}}"#;
        let env = parse_envelope(body, Some("1700000000000")).unwrap();
        assert_eq!(env.task_id(), Some("t-9"));
        assert_eq!(env.comciscoorgid.as_deref(), Some("org"));
        assert!(matches!(
            parse_envelope(body, Some("1700000000001")),
            Err(EnvelopeError::TimestampMismatch { .. })
        ));
        assert!(matches!(parse_envelope(b"[1]", None), Err(EnvelopeError::Shape(_))));
    }
}
