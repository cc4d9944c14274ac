//! Secrets at rest and random tokens.
//!
//! [`MasterKey`] seals secrets (JWT private keys now; OIDC client secrets and webhook secrets
//! later) with XChaCha20-Poly1305. A sealed value starts with the version of the key that
//! sealed it, so keys can be rotated: the first key in `TENANTRY_MASTER_KEY` seals, all of
//! them open.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

#[derive(Clone)]
pub struct MasterKey {
    /// (version, key); the first one seals.
    keys: Vec<(u8, [u8; 32])>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let versions: Vec<u8> = self.keys.iter().map(|(v, _)| *v).collect();
        f.debug_struct("MasterKey")
            .field("versions", &versions)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// Parses `base64` (version 1) or a list `2:base64,1:base64` whose first entry seals.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |why: &str| Error::BadRequest(format!("TENANTRY_MASTER_KEY: {why}"));
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (version, b64) = match part.split_once(':') {
                Some((v, k)) => (v.parse::<u8>().map_err(|_| bad("bad key version"))?, k),
                None => (1, part),
            };
            let bytes = STANDARD
                .decode(b64.trim())
                .map_err(|_| bad("a key is not valid base64"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| bad("each key must be 32 bytes (44 base64 characters)"))?;
            if keys.iter().any(|(v, _)| *v == version) {
                return Err(bad("a key version appears twice"));
            }
            keys.push((version, key));
        }
        if keys.is_empty() {
            return Err(bad("no key given"));
        }
        Ok(MasterKey { keys })
    }

    /// A fresh random key and its `TENANTRY_MASTER_KEY` spelling.
    pub fn generate() -> (Self, String) {
        let key: [u8; 32] = random_bytes();
        let spec = format!("1:{}", STANDARD.encode(key));
        (
            MasterKey {
                keys: vec![(1, key)],
            },
            spec,
        )
    }

    /// Seals `plaintext`; `context` binds the ciphertext to its purpose and row (an AEAD
    /// associated datum), so a sealed value cannot be moved to another row.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let (version, key) = self.keys[0];
        let cipher = XChaCha20Poly1305::new(&key.into());
        let nonce_bytes: [u8; 24] = random_bytes();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + 24 + sealed.len());
        out.push(version);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        out
    }

    /// The version of the key that seals.
    pub fn sealing_version(&self) -> u8 {
        self.keys[0].0
    }

    /// Whether `sealed` was sealed by the key that seals now (so sealing it again under
    /// a rotated master key has nothing to do).
    pub fn seals_with(&self, sealed: &[u8]) -> bool {
        sealed.first() == Some(&self.keys[0].0)
    }

    /// Opens `sealed` (under whichever configured key sealed it) and seals it again under
    /// the key that seals now; `None` when that key sealed it already.
    pub fn reseal(&self, sealed: &[u8], context: &[u8]) -> Result<Option<Vec<u8>>> {
        if self.seals_with(sealed) {
            return Ok(None);
        }
        let mut plain = self.open(sealed, context)?;
        let again = self.seal(&plain, context);
        zeroize::Zeroize::zeroize(&mut plain);
        Ok(Some(again))
    }

    /// [`MasterKey::reseal`] over rows (a key naming each, its sealed value): the keys and
    /// new values of those that changed, apart, as an `unnest` of two arrays takes them.
    pub fn reseal_rows<K>(
        &self,
        rows: impl IntoIterator<Item = (K, Vec<u8>)>,
        context: impl Fn(&K) -> Vec<u8>,
    ) -> Result<(Vec<K>, Vec<Vec<u8>>)> {
        let mut keys = Vec::new();
        let mut values = Vec::new();
        for (key, sealed) in rows {
            if let Some(again) = self.reseal(&sealed, &context(&key))? {
                keys.push(key);
                values.push(again);
            }
        }
        Ok((keys, values))
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 1 + 24 + 16 {
            return Err(Error::Internal("sealed secret is truncated".into()));
        }
        let version = sealed[0];
        let (_, key) = self
            .keys
            .iter()
            .find(|(v, _)| *v == version)
            .ok_or_else(|| {
                Error::Internal(format!("no master key of version {version} is configured"))
            })?;
        let cipher = XChaCha20Poly1305::new(key.into());
        let nonce = XNonce::from_slice(&sealed[1..25]);
        cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[25..],
                    aad: context,
                },
            )
            .map_err(|_| {
                Error::Internal("a sealed secret failed authentication (wrong master key?)".into())
            })
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut out);
    out
}

/// A URL-safe random token of `N` bytes of entropy.
pub fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_context_binding() {
        let (key, _) = MasterKey::generate();
        let sealed = key.seal(b"secret", b"row-1");
        assert_eq!(key.open(&sealed, b"row-1").unwrap(), b"secret");
        assert!(key.open(&sealed, b"row-2").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open(&tampered, b"row-1").is_err());
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let (old, old_spec) = MasterKey::generate();
        let sealed = old.seal(b"v", b"c");
        let new_b64 = STANDARD.encode(random_bytes::<32>());
        let rotated = MasterKey::parse(&format!("2:{new_b64},{old_spec}")).unwrap();
        assert_eq!(rotated.open(&sealed, b"c").unwrap(), b"v");
        assert_eq!(rotated.seal(b"v", b"c")[0], 2);
        let again = rotated.reseal(&sealed, b"c").unwrap().unwrap();
        assert!(rotated.seals_with(&again) && !rotated.seals_with(&sealed));
        assert_eq!(rotated.open(&again, b"c").unwrap(), b"v");
        assert_eq!(rotated.reseal(&again, b"c").unwrap(), None);
        assert!(rotated.reseal(&sealed, b"another row").is_err());
    }

    #[test]
    fn parse_rejects_bad_keys() {
        assert!(MasterKey::parse("").is_err());
        assert!(MasterKey::parse("not base64!").is_err());
        assert!(MasterKey::parse(&STANDARD.encode([0u8; 16])).is_err());
        let k = STANDARD.encode([1u8; 32]);
        assert!(MasterKey::parse(&format!("1:{k},1:{k}")).is_err());
        assert!(MasterKey::parse(&k).is_ok());
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
