//! **Auth** (reference §6.1, §6.4; UNCONFIRMED as a whole): every request carries
//! `From: <username>` and `Authorization: <base64(HMAC-SHA1(key = api key, message =
//! username))>; tenantId=<tenant id>`.
//!
//! This module is the one place that knows how a 1.0 request proves who it is: when a
//! real tenant's traffic shows another scheme (an `x-api-key` header, a timestamp in the
//! signed message), only [`sign`] changes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use wfo_domain::Secret;

type HmacSha1 = Hmac<sha1::Sha1>;

/// The headers of one signed request. `authorization` holds the signature: it is a
/// credential and never printed (`Debug` hides it).
#[derive(Clone)]
pub struct SignedHeaders {
    pub from: String,
    pub authorization: Secret,
}

impl std::fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedHeaders")
            .field("from", &self.from)
            .field("authorization", &"********")
            .finish()
    }
}

/// The headers for `username` with `api_key` on `tenant_id`.
pub fn sign(api_key: &Secret, username: &str, tenant_id: &str) -> SignedHeaders {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here; an empty key
    // is refused earlier by the credentials (`source.api_key is not set`).
    let signature = match <HmacSha1 as KeyInit>::new_from_slice(api_key.expose().as_bytes()) {
        Ok(mut mac) => {
            mac.update(username.trim().as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    SignedHeaders {
        from: username.trim().to_owned(),
        authorization: Secret::new(format!("{signature}; tenantId={}", tenant_id.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha1_of_the_username_keyed_by_the_api_key() {
        // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?".
        let h = sign(&Secret::new("Jefe".to_owned()), "what do ya want for nothing?", "t-1");
        let expected = STANDARD.encode(hex_bytes("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"));
        assert_eq!(h.authorization.expose(), format!("{expected}; tenantId=t-1"));
        assert_eq!(h.from, "what do ya want for nothing?");
    }

    #[test]
    fn debug_never_shows_the_signature() {
        let h = sign(&Secret::new("k".to_owned()), "u@x", "t");
        let shown = format!("{h:?}");
        assert!(!shown.contains(h.authorization.expose()), "{shown}");
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
