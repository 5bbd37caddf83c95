//! KMS envelope encryption of secrets, one data key per value.
//!
//! `encrypt(value, row)` asks KMS for a fresh 256-bit data key under the stack's key with
//! the encryption context `{"wfo-connect:row": row}`, encrypts the value locally with
//! XChaCha20-Poly1305 using `row` as associated data, and stores the KMS-wrapped key
//! beside the ciphertext:
//!
//! ```text
//! "wk1" | u16 BE length of wrapped key | wrapped key | 24-byte nonce | ciphertext+tag
//! ```
//!
//! Why a key per value rather than one per cold start: secrets are written rarely (a
//! connector add, a token refresh every few hours) and read often, and a per-value key
//! lets the KMS encryption context be the row identity, so KMS itself refuses a
//! ciphertext moved to another row and CloudTrail records which row each decrypt was
//! for. Reads stay cheap: unwrapped keys are cached per cold start by wrapped key and
//! row, so a warm function decrypts a token record without calling KMS.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use wfo_ports::StoreError;

const MAGIC: &[u8; 3] = b"wk1";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;
/// The encryption-context key that carries the row identity.
pub const CONTEXT_KEY: &str = "wfo-connect:row";
/// Unwrapped data keys kept per cold start before the cache is cleared.
const CACHE_LIMIT: usize = 1024;

/// Unwrapped data keys by (wrapped key, row).
type KeyCache = HashMap<(Vec<u8>, String), [u8; KEY_LEN]>;

pub struct Envelope {
    kms: aws_sdk_kms::Client,
    key_id: String,
    cache: Mutex<KeyCache>,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("key_id", &self.key_id)
            .field("cache", &"[redacted]")
            .finish()
    }
}

fn kms_error<E, R>(what: &str, row: &str, e: aws_sdk_kms::error::SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e.as_service_error().and_then(|s| s.code()).unwrap_or("").to_owned();
    let text = aws_sdk_kms::error::DisplayErrorContext(&e).to_string();
    // A ciphertext KMS refuses (tampered, moved to another row, another key) will never
    // decrypt: corrupt. Throttling, a disabled key or denied access can be fixed by an
    // operator or time: unavailable (items wait and retry rather than die at once).
    if code == "InvalidCiphertextException" || code == "IncorrectKeyException" {
        StoreError::Corrupt(format!("{row}: KMS {what} refused the data key ({code})"))
    } else {
        StoreError::Unavailable(format!("{row}: KMS {what} failed: {text}"))
    }
}

impl Envelope {
    pub fn new(kms: aws_sdk_kms::Client, key_id: String) -> Self {
        Self {
            kms,
            key_id,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn encrypt(&self, plaintext: &[u8], row: &str) -> Result<Vec<u8>, StoreError> {
        let out = self
            .kms
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, row)
            .send()
            .await
            .map_err(|e| kms_error("GenerateDataKey", row, e))?;
        let key: [u8; KEY_LEN] = out
            .plaintext()
            .map(|b| b.as_ref())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| StoreError::Unavailable(format!("{row}: KMS GenerateDataKey returned no 256-bit key")))?;
        let wrapped = out
            .ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| StoreError::Unavailable(format!("{row}: KMS GenerateDataKey returned no wrapped key")))?;
        let wrapped_len = u16::try_from(wrapped.len())
            .map_err(|_| StoreError::Unavailable(format!("{row}: wrapped key of {} bytes", wrapped.len())))?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ct = XChaCha20Poly1305::new((&key).into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: row.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Corrupt(format!("{row}: encryption failed")))?;
        let mut blob = Vec::with_capacity(MAGIC.len() + 2 + wrapped.len() + NONCE_LEN + ct.len());
        blob.extend_from_slice(MAGIC);
        blob.extend_from_slice(&wrapped_len.to_be_bytes());
        blob.extend_from_slice(&wrapped);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        self.remember(wrapped, row, key);
        Ok(blob)
    }

    pub async fn decrypt(&self, blob: &[u8], row: &str) -> Result<Vec<u8>, StoreError> {
        let (wrapped, nonce, ct) = split(blob).ok_or_else(|| StoreError::Corrupt(format!("{row}: not an envelope")))?;
        let key = match self.cached(wrapped, row) {
            Some(k) => k,
            None => {
                let out = self
                    .kms
                    .decrypt()
                    .key_id(&self.key_id)
                    .ciphertext_blob(Blob::new(wrapped.to_vec()))
                    .encryption_context(CONTEXT_KEY, row)
                    .send()
                    .await
                    .map_err(|e| kms_error("Decrypt", row, e))?;
                let key: [u8; KEY_LEN] = out
                    .plaintext()
                    .map(|b| b.as_ref())
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("{row}: KMS returned no 256-bit key")))?;
                self.remember(wrapped.to_vec(), row, key);
                key
            }
        };
        XChaCha20Poly1305::new((&key).into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: row.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Corrupt(format!("{row}: cannot decrypt (tampered, or moved from another row)")))
    }

    fn cached(&self, wrapped: &[u8], row: &str) -> Option<[u8; KEY_LEN]> {
        let cache = self.cache.lock().ok()?;
        cache.get(&(wrapped.to_vec(), row.to_owned())).copied()
    }

    fn remember(&self, wrapped: Vec<u8>, row: &str, key: [u8; KEY_LEN]) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert((wrapped, row.to_owned()), key);
        }
    }

    /// Forget every unwrapped key (tests use it to force KMS calls).
    pub fn clear_cache(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }
}

fn split(blob: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let rest = blob.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < 2 {
        return None;
    }
    let (len, rest) = rest.split_at(2);
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if rest.len() < len + NONCE_LEN {
        return None;
    }
    let (wrapped, rest) = rest.split_at(len);
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    Some((wrapped, nonce, ct))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_or_foreign_blob_is_not_an_envelope() {
        assert!(split(b"").is_none());
        assert!(split(b"wk1").is_none());
        assert!(split(b"xx1\x00\x01a").is_none());
        let mut ok = b"wk1\x00\x02ab".to_vec();
        ok.extend_from_slice(&[0u8; NONCE_LEN]);
        ok.extend_from_slice(b"ct");
        let (w, n, c) = split(&ok).unwrap();
        assert_eq!((w, n.len(), c), (&b"ab"[..], NONCE_LEN, &b"ct"[..]));
    }
}
