//! API-key authentication of every request (reference §6.1, §6.4): `From: <username>`
//! and `Authorization: <base64(HMAC-SHA1(key=api_key, message=username))>; tenantId=<id>`.
//!
//! The signature is checked with the MAC's own constant-time comparison
//! ([`hmac::Mac::verify_slice`]); the tenant id is compared in constant time too.
//!
//! UNCONFIRMED choices: a missing or unparsable header, a `From` other than the
//! simulator's username, a signature that is not base64 or does not verify, and a missing
//! `tenantId` all answer `401`; a valid signature naming another tenant answers `403`.
//! Refused requests are counted ([`crate::RunningWxcc1Sim::refused_requests`]) and never
//! reach a route (so they do not count as route requests).

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};

use crate::error::ApiError;
use crate::state::SharedRef;

type HmacSha1 = Hmac<sha1::Sha1>;

/// The signature part of the `Authorization` header: base64 of HMAC-SHA1 of `username`
/// keyed by `api_key`.
pub fn signature(api_key: &str, username: &str) -> String {
    match <HmacSha1 as KeyInit>::new_from_slice(api_key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(username.as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => String::new(),
    }
}

/// The whole `Authorization` header value a client sends.
pub fn authorization(api_key: &str, username: &str, tenant_id: &str) -> String {
    format!("{}; tenantId={tenant_id}", signature(api_key, username))
}

/// Who the simulator accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub api_key: String,
    pub tenant_id: String,
}

/// Why a request was refused (the status follows from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `401`: the message names what is wrong.
    Unauthenticated(&'static str),
    /// `403`: the signature is right but the tenant is not ours.
    ForeignTenant,
}

/// Checks the two headers against `creds`.
pub fn check(headers: &HeaderMap, creds: &Credentials) -> Result<(), Refusal> {
    let from = headers
        .get("from")
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Unauthenticated("missing From header"))?;
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Refusal::Unauthenticated("missing Authorization header"))?;
    let mut parts = auth.split(';').map(str::trim);
    let sig = parts.next().unwrap_or_default();
    let tenant = parts
        .find_map(|p| p.strip_prefix("tenantId="))
        .ok_or(Refusal::Unauthenticated("Authorization has no tenantId"))?;
    if !constant_time_eq(from.as_bytes(), creds.username.as_bytes()) {
        return Err(Refusal::Unauthenticated("unknown user in From"));
    }
    let given = STANDARD
        .decode(sig)
        .map_err(|_| Refusal::Unauthenticated("signature is not base64"))?;
    let mut mac = <HmacSha1 as KeyInit>::new_from_slice(creds.api_key.as_bytes())
        .map_err(|_| Refusal::Unauthenticated("signature does not verify"))?;
    mac.update(from.as_bytes());
    mac.verify_slice(&given)
        .map_err(|_| Refusal::Unauthenticated("signature does not verify"))?;
    if !constant_time_eq(tenant.as_bytes(), creds.tenant_id.as_bytes()) {
        return Err(Refusal::ForeignTenant);
    }
    Ok(())
}

/// Compares without an early exit on the first differing byte (the length may leak).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: refuses unauthenticated requests before any route sees them.
pub(crate) async fn require(State(shared): State<SharedRef>, req: Request, next: Next) -> Response {
    let creds = shared.lock().credentials.clone();
    match check(req.headers(), &creds) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            shared.lock().refused += 1;
            match refusal {
                Refusal::Unauthenticated(why) => ApiError::unauthorized(why).into_response(),
                Refusal::ForeignTenant => ApiError::forbidden("the tenantId is not this tenant's").into_response(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            username: "admin@example.com".into(),
            api_key: "k3y".into(),
            tenant_id: "t1".into(),
        }
    }

    fn headers(from: &str, auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("from", from.parse().unwrap());
        h.insert("authorization", auth.parse().unwrap());
        h
    }

    #[test]
    fn the_clients_own_header_passes_and_variations_are_refused() {
        let c = creds();
        let good = authorization("k3y", "admin@example.com", "t1");
        assert_eq!(check(&headers("admin@example.com", &good), &c), Ok(()));
        let wrong_key = authorization("other", "admin@example.com", "t1");
        assert!(matches!(
            check(&headers("admin@example.com", &wrong_key), &c),
            Err(Refusal::Unauthenticated(_))
        ));
        let foreign = authorization("k3y", "admin@example.com", "t2");
        assert_eq!(
            check(&headers("admin@example.com", &foreign), &c),
            Err(Refusal::ForeignTenant)
        );
        let no_tenant = signature("k3y", "admin@example.com");
        assert!(matches!(
            check(&headers("admin@example.com", &no_tenant), &c),
            Err(Refusal::Unauthenticated(_))
        ));
        assert!(matches!(
            check(&headers("admin@example.com", "%%%; tenantId=t1"), &c),
            Err(Refusal::Unauthenticated(_))
        ));
        assert!(check(&HeaderMap::new(), &c).is_err());
    }

    #[test]
    fn signature_is_base64_of_a_20_byte_hmac_sha1() {
        let sig = signature("key", "The quick brown fox jumps over the lazy dog");
        // RFC 2202-style known answer: HMAC-SHA1("key", "The quick brown fox ...").
        assert_eq!(
            STANDARD.decode(&sig).unwrap(),
            [
                0xde, 0x7c, 0x9b, 0x85, 0xb8, 0xb7, 0x8a, 0xa6, 0xbc, 0x8a, 0x7a, 0x36, 0xf7, 0x0a, 0x90, 0x70, 0x1c,
                0x9d, 0xb4, 0xd9
            ]
        );
    }
}
