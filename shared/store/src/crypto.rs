//! Local encryption at rest: a 256-bit key in a file created with 0600 permissions on
//! first use, XChaCha20-Poly1305 (AEAD) per value, the value's place (table and id) as
//! associated data so a ciphertext cannot be moved to another row.

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use wfo_ports::StoreError;

pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([redacted])")
    }
}

const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

impl Cipher {
    /// Load the key file, creating it (0600) when it does not exist.
    pub fn from_key_file(path: &Path) -> Result<Self, StoreError> {
        let key = match std::fs::read(path) {
            Ok(bytes) => decode_key(&bytes, path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(path)?,
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot read key file {}: {e}",
                    path.display()
                )));
            }
        };
        Ok(Self {
            aead: XChaCha20Poly1305::new((&key).into()),
        })
    }

    pub fn from_key(key: [u8; KEY_LEN]) -> Self {
        Self {
            aead: XChaCha20Poly1305::new((&key).into()),
        }
    }

    pub fn encrypt(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Corrupt("encryption failed".to_owned()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn decrypt(&self, blob: &[u8], aad: &str) -> Result<Vec<u8>, StoreError> {
        if blob.len() < NONCE_LEN {
            return Err(StoreError::Corrupt(format!("{aad}: ciphertext too short")));
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        self.aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Corrupt(format!("{aad}: cannot decrypt (wrong key file or tampered data)")))
    }
}

fn decode_key(bytes: &[u8], path: &Path) -> Result<[u8; KEY_LEN], StoreError> {
    let text = String::from_utf8_lossy(bytes);
    let raw =
        hex::decode(text.trim()).map_err(|_| StoreError::Corrupt(format!("key file {} is not hex", path.display())))?;
    raw.try_into()
        .map_err(|_| StoreError::Corrupt(format!("key file {} must hold {KEY_LEN} bytes", path.display())))
}

fn create_key_file(path: &Path) -> Result<[u8; KEY_LEN], StoreError> {
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(hex::encode(key).as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| StoreError::Unavailable(format!("cannot write key file {}: {e}", path.display())))?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(path)
                .map_err(|e| StoreError::Unavailable(format!("cannot read key file {}: {e}", path.display())))?;
            decode_key(&bytes, path)
        }
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot create key file {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let a = Cipher::from_key_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let b = Cipher::from_key_file(&path).unwrap();
        let ct = a.encrypt(b"refresh-token-value", "tokens:c1").unwrap();
        assert!(!ct.windows(5).any(|w| w == b"token"));
        assert_eq!(b.decrypt(&ct, "tokens:c1").unwrap(), b"refresh-token-value");
    }

    #[test]
    fn ciphertext_moved_to_another_row_does_not_decrypt() {
        let c = Cipher::from_key([7; 32]);
        let ct = c.encrypt(b"x", "tokens:c1").unwrap();
        assert!(matches!(c.decrypt(&ct, "tokens:c2"), Err(StoreError::Corrupt(_))));
    }
}
