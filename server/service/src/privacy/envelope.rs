//! Sealed fields, wrapped keys and blind indexes: the constructions of field-level
//! encryption, with no database in sight (docs/data-protection.md describes the format).
//!
//! A personal field is stored as an *envelope*: XChaCha20-Poly1305 (libsodium's
//! `crypto_aead_xchacha20poly1305_ietf`) under a data subject's key or the tenant's key, its
//! associated data binding the ciphertext to one tenant, table, column and row, so a value
//! copied to another row, column or tenant fails to open.
//!
//! ```text
//! envelope = header (6 bytes) | nonce (24 bytes) | ciphertext | tag (16 bytes)
//! header   = format 0x01 | key kind (0x01 tenant key, 0x02 subject key) | key version (u32, big-endian)
//! aad      = header | "tenantry/field/v1" 0x00 | tenant (16 bytes) | table 0x00 | column 0x00 | row (16 bytes)
//! ```
//!
//! Keys are wrapped the same way, under the key above them, with associated data naming the
//! key's place (`"tenantry/subject-key/v1" 0x00 | tenant | identity | version`).

use hmac::{Hmac, Mac};
use orion::hazardous::aead::xchacha20poly1305 as aead;
use orion::hazardous::stream::chacha20::SecretKey;
use orion::hazardous::stream::xchacha20::Nonce;
use sha2::Sha256;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crypto::random_bytes;
use crate::error::{Error, Result};

const FORMAT: u8 = 1;
const HEADER: usize = 6;
const NONCE: usize = 24;
const TAG: usize = 16;

/// A 256-bit key of the hierarchy (a tenant's data or blind-index key, a subject's key),
/// wiped from memory when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    pub fn generate() -> Self {
        Key(random_bytes())
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::Internal("an unwrapped key is not 32 bytes".into()))?;
        Ok(Key(key))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn secret(&self) -> SecretKey {
        SecretKey::from_slice(&self.0).expect("a key of 32 bytes")
    }
}

/// Which key sealed an envelope: the tenant's (data with no one person behind it, such as
/// a pending invitation's address) or the person's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRef {
    Tenant(u32),
    Subject(u32),
}

impl KeyRef {
    /// The first bytes of every envelope this key seals or wraps (the rotation job finds
    /// what an older version sealed by them).
    pub fn header(self) -> [u8; HEADER] {
        let (kind, version) = match self {
            KeyRef::Tenant(v) => (1, v),
            KeyRef::Subject(v) => (2, v),
        };
        let v = version.to_be_bytes();
        [FORMAT, kind, v[0], v[1], v[2], v[3]]
    }
}

/// The one place a sealed field belongs.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    pub tenant: Uuid,
    pub table: &'a str,
    pub column: &'a str,
    pub row: Uuid,
}

impl Place<'_> {
    fn aad(&self, header: &[u8; HEADER]) -> Vec<u8> {
        let mut aad =
            Vec::with_capacity(HEADER + 18 + 32 + self.table.len() + self.column.len() + 2);
        aad.extend_from_slice(header);
        aad.extend_from_slice(b"tenantry/field/v1\0");
        aad.extend_from_slice(self.tenant.as_bytes());
        aad.extend_from_slice(self.table.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.column.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.row.as_bytes());
        aad
    }
}

fn seal_with(key: &Key, header: [u8; HEADER], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE] = random_bytes();
    let mut out = vec![0; HEADER + NONCE + plaintext.len() + TAG];
    out[..HEADER].copy_from_slice(&header);
    out[HEADER..HEADER + NONCE].copy_from_slice(&nonce);
    aead::seal(
        &key.secret(),
        &Nonce::from(nonce),
        plaintext,
        Some(aad),
        &mut out[HEADER + NONCE..],
    )
    .expect("XChaCha20-Poly1305 sealing cannot fail for a buffer of the right size");
    out
}

fn open_with(key: &Key, envelope: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let failed = || Error::Internal("a sealed field failed authentication".into());
    if envelope.len() < HEADER + NONCE + TAG {
        return Err(failed());
    }
    let nonce = Nonce::from_slice(&envelope[HEADER..HEADER + NONCE]).map_err(|_| failed())?;
    let sealed = &envelope[HEADER + NONCE..];
    let mut plain = vec![0; sealed.len() - TAG];
    aead::open(&key.secret(), &nonce, sealed, Some(aad), &mut plain).map_err(|_| failed())?;
    Ok(plain)
}

/// The key an envelope names, read from its header without opening it.
pub fn key_of(envelope: &[u8]) -> Result<KeyRef> {
    if envelope.len() < HEADER + NONCE + TAG || envelope[0] != FORMAT {
        return Err(Error::Internal("a sealed field is not an envelope".into()));
    }
    let version = u32::from_be_bytes([envelope[2], envelope[3], envelope[4], envelope[5]]);
    match envelope[1] {
        1 => Ok(KeyRef::Tenant(version)),
        2 => Ok(KeyRef::Subject(version)),
        _ => Err(Error::Internal(
            "a sealed field names an unknown key kind".into(),
        )),
    }
}

/// Seals `plaintext` for `place` under `key`, which `by` names in the header.
pub fn seal(key: &Key, by: KeyRef, place: Place<'_>, plaintext: &[u8]) -> Vec<u8> {
    let header = by.header();
    seal_with(key, header, &place.aad(&header), plaintext)
}

/// Opens an envelope sealed for `place`; the caller picked `key` by [`key_of`].
pub fn open(key: &Key, place: Place<'_>, envelope: &[u8]) -> Result<Vec<u8>> {
    key_of(envelope)?;
    let header: [u8; HEADER] = envelope[..HEADER].try_into().expect("length checked");
    open_with(key, envelope, &place.aad(&header))
}

/// [`open`] for text fields.
pub fn open_text(key: &Key, place: Place<'_>, envelope: &[u8]) -> Result<String> {
    String::from_utf8(open(key, place, envelope)?)
        .map_err(|_| Error::Internal("a sealed text field is not UTF-8".into()))
}

fn subject_key_aad(tenant: Uuid, identity: Uuid, header: &[u8; HEADER]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER + 24 + 32);
    aad.extend_from_slice(header);
    aad.extend_from_slice(b"tenantry/subject-key/v1\0");
    aad.extend_from_slice(tenant.as_bytes());
    aad.extend_from_slice(identity.as_bytes());
    aad
}

/// A subject's key wrapped under the tenant's key of version `tenant_version`.
pub fn wrap_subject_key(
    tenant_key: &Key,
    tenant_version: u32,
    tenant: Uuid,
    identity: Uuid,
    key: &Key,
) -> Vec<u8> {
    let header = KeyRef::Tenant(tenant_version).header();
    seal_with(
        tenant_key,
        header,
        &subject_key_aad(tenant, identity, &header),
        key.as_bytes(),
    )
}

/// Unwraps a subject's key; `tenant_key` is the version [`key_of`] names.
pub fn unwrap_subject_key(
    tenant_key: &Key,
    tenant: Uuid,
    identity: Uuid,
    wrapped: &[u8],
) -> Result<Key> {
    key_of(wrapped)?;
    let header: [u8; HEADER] = wrapped[..HEADER].try_into().expect("length checked");
    let mut bytes = open_with(
        tenant_key,
        wrapped,
        &subject_key_aad(tenant, identity, &header),
    )?;
    let key = Key::from_bytes(&bytes);
    bytes.zeroize();
    key
}

/// The associated data a tenant's key is sealed with under the master key.
pub fn tenant_key_context(tenant: Uuid, purpose: &str, version: u32) -> Vec<u8> {
    format!("tenantry/tenant-key/v1\0{tenant}\0{purpose}\0{version}").into_bytes()
}

/// A blind index: a keyed hash of a normalized value (HMAC-SHA-256 under the tenant's
/// blind-index key, the first 16 bytes), for finding and keeping unique what is stored
/// sealed. `domain` separates the uses (`identities.email`), so equal values in two columns
/// do not share an index value.
pub fn blind_index(blind_key: &Key, domain: &str, normalized: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(blind_key.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(domain.as_bytes());
    mac.update(&[0]);
    mac.update(normalized.as_bytes());
    mac.finalize().into_bytes()[..16].to_vec()
}

fn gram_mac(blind_key: &Key) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(blind_key.as_bytes())
        .expect("HMAC takes a key of any length")
}

fn gram_hash(base: &Hmac<Sha256>, domain: &str, gram: &[char]) -> i32 {
    let mut mac = base.clone();
    mac.update(b"gram\0");
    mac.update(domain.as_bytes());
    mac.update(&[0]);
    let mut buf = [0u8; 4];
    for c in gram {
        mac.update(c.encode_utf8(&mut buf).as_bytes());
    }
    let h = mac.finalize().into_bytes();
    i32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// The keyed grams of `text` for substring search over sealed text: every run of one, two
/// and three characters of its lowercase form, each hashed under the tenant's blind-index
/// key to 32 bits (so distinct grams may share a value: a search's candidates are checked
/// against the opened text). Sorted and without repeats, as a GIN index over an integer
/// array wants them.
pub fn grams(blind_key: &Key, domain: &str, text: &str) -> Vec<i32> {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    let base = gram_mac(blind_key);
    let mut out: Vec<i32> = (1..=3usize)
        .flat_map(|n| chars.windows(n))
        .map(|w| gram_hash(&base, domain, w))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The grams every text holding `query` holds too: its runs of three characters (or, for a
/// query of one or two characters, the query itself). Empty for an empty query.
pub fn query_grams(blind_key: &Key, domain: &str, query: &str) -> Vec<i32> {
    let chars: Vec<char> = query.to_lowercase().chars().collect();
    let n = chars.len().min(3);
    if n == 0 {
        return Vec::new();
    }
    let base = gram_mac(blind_key);
    let mut out: Vec<i32> = chars
        .windows(n)
        .map(|w| gram_hash(&base, domain, w))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(row: Uuid) -> Place<'static> {
        Place {
            tenant: Uuid::from_u128(1),
            table: "identities",
            column: "email",
            row,
        }
    }

    /// The envelope's AEAD is XChaCha20-Poly1305 exactly as RustCrypto's implementation
    /// computes it: each opens what the other sealed, empty and long plaintexts included,
    /// and neither accepts a changed tag, associated data or nonce.
    #[test]
    fn the_aead_agrees_with_rustcrypto_both_ways() {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        use chacha20poly1305::{XChaCha20Poly1305, XNonce};
        let key = Key::generate();
        let peer = XChaCha20Poly1305::new(key.as_bytes().into());
        let aad = place(Uuid::from_u128(9)).aad(&KeyRef::Subject(1).header());
        for plaintext in [&b""[..], b"\"ada@example.com\"", &[0x5a; 1000][..]] {
            let ours = seal_with(&key, KeyRef::Subject(1).header(), &aad, plaintext);
            let nonce = XNonce::from_slice(&ours[HEADER..HEADER + NONCE]);
            let opened = peer
                .decrypt(
                    nonce,
                    Payload {
                        msg: &ours[HEADER + NONCE..],
                        aad: &aad,
                    },
                )
                .expect("RustCrypto opens what orion sealed");
            assert_eq!(opened, plaintext);
            let theirs = peer
                .encrypt(
                    nonce,
                    Payload {
                        msg: plaintext,
                        aad: &aad,
                    },
                )
                .unwrap();
            assert_eq!(
                theirs,
                ours[HEADER + NONCE..],
                "the same bytes for the same nonce"
            );
            assert_eq!(open_with(&key, &ours, &aad).unwrap(), plaintext);
            let mut tag = ours.clone();
            *tag.last_mut().unwrap() ^= 1;
            assert!(open_with(&key, &tag, &aad).is_err());
            let mut nonce = ours.clone();
            nonce[HEADER] ^= 1;
            assert!(open_with(&key, &nonce, &aad).is_err());
            assert!(open_with(&key, &ours, &aad[1..]).is_err());
        }
        assert!(open_with(&key, &[FORMAT; HEADER + NONCE + TAG - 1], &aad).is_err());
    }

    #[test]
    fn a_field_opens_only_in_its_own_place_and_under_its_own_key() {
        let key = Key::generate();
        let row = Uuid::from_u128(7);
        let sealed = seal(&key, KeyRef::Subject(1), place(row), b"ada@example.com");
        assert_eq!(key_of(&sealed).unwrap(), KeyRef::Subject(1));
        assert_eq!(open(&key, place(row), &sealed).unwrap(), b"ada@example.com");
        // Another row, column, table or tenant: refused.
        assert!(open(&key, place(Uuid::from_u128(8)), &sealed).is_err());
        let mut other = place(row);
        other.column = "display_name";
        assert!(open(&key, other, &sealed).is_err());
        other = place(row);
        other.table = "invitations";
        assert!(open(&key, other, &sealed).is_err());
        other = place(row);
        other.tenant = Uuid::from_u128(2);
        assert!(open(&key, other, &sealed).is_err());
        // Another key, or a header rewritten to name another key version: refused.
        assert!(open(&Key::generate(), place(row), &sealed).is_err());
        let mut relabelled = sealed.clone();
        relabelled[5] = 2;
        assert!(open(&key, place(row), &relabelled).is_err());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(open(&key, place(row), &flipped).is_err());
        assert!(open(&key, place(row), &sealed[..20]).is_err());
    }

    #[test]
    fn sealing_twice_gives_two_ciphertexts() {
        let key = Key::generate();
        let row = Uuid::from_u128(7);
        let a = seal(&key, KeyRef::Tenant(3), place(row), b"x");
        let b = seal(&key, KeyRef::Tenant(3), place(row), b"x");
        assert_ne!(a, b);
        assert_eq!(key_of(&a).unwrap(), KeyRef::Tenant(3));
        assert_eq!(a.len(), HEADER + NONCE + 1 + TAG);
    }

    #[test]
    fn a_subject_key_unwraps_only_for_its_own_subject() {
        let tenant_key = Key::generate();
        let subject = Key::generate();
        let (t, i) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let wrapped = wrap_subject_key(&tenant_key, 4, t, i, &subject);
        assert_eq!(key_of(&wrapped).unwrap(), KeyRef::Tenant(4));
        let back = unwrap_subject_key(&tenant_key, t, i, &wrapped).unwrap();
        assert_eq!(back.as_bytes(), subject.as_bytes());
        assert!(unwrap_subject_key(&tenant_key, t, Uuid::from_u128(3), &wrapped).is_err());
        assert!(unwrap_subject_key(&Key::generate(), t, i, &wrapped).is_err());
    }

    #[test]
    fn blind_indexes_are_keyed_and_separated_by_domain() {
        let (k1, k2) = (Key::generate(), Key::generate());
        let a = blind_index(&k1, "identities.email", "ada@example.com");
        assert_eq!(a, blind_index(&k1, "identities.email", "ada@example.com"));
        assert_eq!(a.len(), 16);
        assert_ne!(a, blind_index(&k2, "identities.email", "ada@example.com"));
        assert_ne!(a, blind_index(&k1, "invitations.email", "ada@example.com"));
        assert_ne!(a, blind_index(&k1, "identities.email", "bob@example.com"));
    }

    #[test]
    fn a_substring_s_grams_are_among_the_text_s() {
        let key = Key::generate();
        let text = grams(&key, "identities.search", "Ada Lovelace");
        for q in ["a", "Ad", "love", "LACE", "a l", "ada lovelace"] {
            let needed = query_grams(&key, "identities.search", q);
            assert!(!needed.is_empty());
            assert!(needed.iter().all(|g| text.binary_search(g).is_ok()), "{q}");
        }
        let absent = query_grams(&key, "identities.search", "xyz");
        assert!(!absent.iter().all(|g| text.binary_search(g).is_ok()));
        assert!(query_grams(&key, "identities.search", "").is_empty());
        // Another tenant's key gives other grams.
        assert_ne!(
            text,
            grams(&Key::generate(), "identities.search", "Ada Lovelace")
        );
    }
}
