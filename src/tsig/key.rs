//! TSIG keys and the set of them a server knows.

use core::cmp::Ordering;
use core::fmt;

use super::algorithm::{Algorithm, MacState};
use crate::wire::{MAX_NAME_LEN, Name, NameBuf};

/// A shared secret with its name and algorithm (RFC 8945 §3).
///
/// The name is kept in canonical form (lower case, RFC 4034 §6.2): that is what
/// the digest covers (RFC 8945 §4.3.3) and what [`KeySet::find`] compares.
/// `Debug` shows the secret's length, never its bytes.
#[derive(Clone)]
pub struct Key {
    name: NameBuf,
    algorithm: Algorithm,
    secret: Vec<u8>,
    /// The HMAC keyed once at start-up; cloned for each message.
    mac: MacState,
}

/// A secret the HMAC would not take. RFC 2104 §3 allows keys of any length,
/// so the hmac crate takes every secret; this is its error, passed on once
/// when the key is made rather than a key that cannot sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnusableSecret;

impl Key {
    /// A key named `name` (stored lower-cased) with `secret` for `algorithm`.
    pub fn new(
        name: Name<'_>,
        algorithm: Algorithm,
        secret: Vec<u8>,
    ) -> Result<Key, UnusableSecret> {
        let mac = MacState::new(algorithm, &secret).ok_or(UnusableSecret)?;
        Ok(Key {
            name: name.to_canonical(),
            algorithm,
            secret,
            mac,
        })
    }

    /// A new random key, as `tsig-keygen -a ALG NAME` makes it: the secret is
    /// as long as the hash output (16 octets for hmac-md5 … 64 for hmac-sha512),
    /// read from the operating system's random source.
    pub fn generate(name: Name<'_>, algorithm: Algorithm) -> Result<Key, getrandom::Error> {
        let mut secret = vec![0u8; algorithm.output_len()];
        getrandom::fill(&mut secret)?;
        // A secret as long as the hash output is one every HMAC takes.
        Key::new(name, algorithm, secret).map_err(|UnusableSecret| getrandom::Error::UNSUPPORTED)
    }

    /// The key name, canonical (lower case).
    pub fn name(&self) -> Name<'_> {
        self.name.as_name()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The secret (for writing a key file; never log it).
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The keyed HMAC, ready for one message.
    pub(crate) fn mac(&self) -> MacState {
        self.mac.clone()
    }

    /// The canonical wire form of the name, as the digest covers it.
    pub(crate) fn canonical_name(&self) -> &[u8] {
        self.name.as_wire()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name.as_name())
            .field("algorithm", &self.algorithm)
            .field("secret", &format_args!("<{} octets>", self.secret.len()))
            .finish()
    }
}

/// A second key with the name of one already in a [`KeySet`]
/// (names compare case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateKey {
    /// Index of the key already there.
    pub existing: usize,
}

impl fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a key with this name is already defined (key #{})",
            self.existing
        )
    }
}

impl std::error::Error for DuplicateKey {}

/// The keys a server knows, each with a stable index (its position in the
/// order of [`KeySet::add`]) that callers can use to attach grants to a key.
///
/// Lookup is a binary search over the canonical names: no allocation, and the
/// request's name is lower-cased into a stack buffer once.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    /// Indices into `keys`, sorted by canonical wire name.
    by_name: Vec<usize>,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> KeySet {
        KeySet::default()
    }

    /// Adds a key; its index is the number of keys added before it.
    pub fn add(&mut self, key: Key) -> Result<usize, DuplicateKey> {
        match self.search(key.canonical_name()) {
            Ok(at) => Err(DuplicateKey {
                existing: self.by_name.get(at).copied().unwrap_or(0),
            }),
            Err(at) => {
                let index = self.keys.len();
                self.keys.push(key);
                self.by_name.insert(at, index);
                Ok(index)
            }
        }
    }

    /// The key named `name` (ASCII case ignored), if any.
    pub fn find(&self, name: Name<'_>) -> Option<&Key> {
        self.find_index(name).and_then(|i| self.keys.get(i))
    }

    /// The index of the key named `name` (ASCII case ignored), if any.
    pub fn find_index(&self, name: Name<'_>) -> Option<usize> {
        let mut canonical = [0u8; MAX_NAME_LEN];
        let len = name.write_canonical(&mut canonical);
        let wanted = canonical.get(..len)?;
        let at = self.search(wanted).ok()?;
        self.by_name.get(at).copied()
    }

    /// The key with index `index`.
    pub fn get(&self, index: usize) -> Option<&Key> {
        self.keys.get(index)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys with their indices, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Key)> {
        self.keys.iter().enumerate()
    }

    fn search(&self, canonical: &[u8]) -> Result<usize, usize> {
        self.by_name.binary_search_by(|&i| {
            self.keys
                .get(i)
                .map_or(Ordering::Less, |k| k.canonical_name().cmp(canonical))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> NameBuf {
        NameBuf::from_text(text).unwrap()
    }

    #[test]
    fn find_ignores_case_and_keeps_indices() {
        let mut set = KeySet::new();
        assert!(set.is_empty());
        for (i, n) in ["b.example.", "A.example.", "c.example.", "a.b.example."]
            .iter()
            .enumerate()
        {
            let key =
                Key::new(name(n).as_name(), Algorithm::HmacSha256, vec![i as u8; 32]).unwrap();
            assert_eq!(set.add(key), Ok(i));
        }
        assert_eq!(set.len(), 4);
        assert_eq!(set.find_index(name("a.EXAMPLE").as_name()), Some(1));
        assert_eq!(
            set.find(name("A.B.Example.").as_name()).unwrap().secret()[0],
            3
        );
        assert_eq!(
            set.find(name("a.example").as_name())
                .unwrap()
                .name()
                .to_string(),
            "a.example."
        );
        assert!(set.find(name("d.example").as_name()).is_none());
        assert!(set.find(name("example").as_name()).is_none());
        let dup = Key::new(name("C.EXAMPLE").as_name(), Algorithm::HmacMd5, vec![1]).unwrap();
        assert_eq!(set.add(dup), Err(DuplicateKey { existing: 2 }));
        assert_eq!(set.iter().map(|(i, _)| i).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(set.get(2).unwrap().algorithm(), Algorithm::HmacSha256);
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = Key::new(
            name("k.").as_name(),
            Algorithm::HmacSha1,
            b"sekrit-bytes".to_vec(),
        )
        .unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("k."), "{shown}");
        assert!(shown.contains("12 octets"), "{shown}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(!shown.contains("115"), "{shown}"); // 's' as a number
    }

    #[test]
    fn generate_makes_hash_sized_secrets() {
        for a in Algorithm::ALL {
            let k = Key::generate(name("gen.").as_name(), a).unwrap();
            assert_eq!(k.secret().len(), a.output_len());
        }
        let a = Key::generate(name("gen.").as_name(), Algorithm::HmacSha256).unwrap();
        let b = Key::generate(name("gen.").as_name(), Algorithm::HmacSha256).unwrap();
        assert_ne!(a.secret(), b.secret());
    }
}
