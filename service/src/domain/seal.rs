//! Private notes and feedback comments sealed at rest (AES-256-GCM from
//! aws-lc-rs), so a database dump, a replica or a DBA reads nothing of
//! what a pair says to each other.
//!
//! A sealed value is text, stored in the column it always lived in:
//! `sealed:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id
//! travels with the value, so several keys can be in use at once: the
//! [`Keyring`]'s first key seals, every key opens, and `tandem
//! rotate-notes-key` re-seals old values under the first key in batches
//! while the service keeps running. The additional data binds a value to
//! its row and column (`mentoring_sessions.private_notes:<id>`), so a value
//! copied onto another row does not open.
//!
//! A keyring without keys seals nothing (values are stored as `plain:<text>`,
//! for a deployment that has not set `NOTES_ENCRYPTION_KEYS` yet, so no
//! text can pass for a sealed value); a value written before sealing
//! existed opens as itself.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::{AppError, AppResult};

/// What every sealed value begins with.
const PREFIX: &str = "sealed:v1:";
/// What a value stored without a key begins with.
const PLAIN_PREFIX: &str = "plain:";
/// Bytes of a key (AES-256).
pub const KEY_BYTES: usize = 32;
/// Longest key id.
const MAX_ID_CHARS: usize = 32;

/// The keys notes are sealed and opened with.
pub struct Keyring {
    keys: Vec<(String, LessSafeKey)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

/// Why a stored value could not be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Sealed under a key id the keyring does not hold.
    #[error("sealed with key `{0}`, which is not configured")]
    UnknownKey(String),
    /// Not a well-formed sealed value, or the key or row does not match.
    #[error("the sealed value does not open (wrong key, another row's value, or damaged)")]
    Damaged,
}

impl Keyring {
    /// A keyring that seals nothing (no key configured).
    pub fn none() -> Self {
        Self { keys: Vec::new() }
    }

    /// Parses `id:base64,id:base64…` (`NOTES_ENCRYPTION_KEYS`): ids of 1 to
    /// 32 letters, digits, `-` or `_`, all different; each key 32 bytes in
    /// standard or URL-safe base64. The message never echoes a key.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut keys: Vec<(String, LessSafeKey)> = Vec::new();
        for (position, entry) in spec.split(',').map(str::trim).enumerate() {
            let n = position + 1;
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| format!("entry {n} is not `id:base64`"))?;
            let id = id.trim();
            let id_ok = !id.is_empty()
                && id.chars().count() <= MAX_ID_CHARS
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !id_ok {
                return Err(format!(
                    "entry {n}: a key id has 1 to {MAX_ID_CHARS} letters, digits, `-` or `_`"
                ));
            }
            if keys.iter().any(|(known, _)| known == id) {
                return Err(format!("entry {n}: the key id `{id}` is given twice"));
            }
            let bytes = decode_key(encoded.trim())
                .ok_or_else(|| format!("entry {n} (`{id}`): the key is not base64"))?;
            if bytes.len() != KEY_BYTES {
                return Err(format!(
                    "entry {n} (`{id}`): a key is {KEY_BYTES} bytes, this one is {}",
                    bytes.len()
                ));
            }
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| format!("entry {n} (`{id}`): the key is refused"))?;
            keys.push((id.to_owned(), LessSafeKey::new(key)));
        }
        Ok(Self { keys })
    }

    /// A new random key as `id:base64` (for the embedded default's key file).
    pub fn generate_spec(id: &str) -> Result<String, String> {
        let mut key = [0u8; KEY_BYTES];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| "the system random source failed".to_owned())?;
        Ok(format!("{id}:{}", STANDARD.encode(key)))
    }

    /// Whether a key is configured (values are sealed).
    pub fn seals(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> Option<&str> {
        self.keys.first().map(|(id, _)| id.as_str())
    }

    /// `value` sealed under the first key for the row `context`; as given
    /// when no key is configured. Fails (and nothing is stored) rather than
    /// ever writing a note in clear because sealing did not work.
    pub fn seal(&self, value: &str, context: &str) -> AppResult<String> {
        let Some((id, key)) = self.keys.first() else {
            // Marked as plain, so no text can pass for a sealed value
            // (which would make a start without keys refuse).
            return Ok(format!("{PLAIN_PREFIX}{value}"));
        };
        let failed = |_| AppError::Internal(anyhow::anyhow!("sealing a value failed"));
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(failed)?;
        let mut sealed = value.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut sealed,
        )
        .map_err(failed)?;
        let mut payload = nonce.to_vec();
        payload.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{id}:{}", URL_SAFE_NO_PAD.encode(payload)))
    }

    /// The text of a stored value of the row `context`: opened if sealed,
    /// as stored if it predates sealing.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, OpenError> {
        if let Some(plain) = stored.strip_prefix(PLAIN_PREFIX) {
            return Ok(plain.to_owned());
        }
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (id, encoded) = rest.split_once(':').ok_or(OpenError::Damaged)?;
        let key = self
            .keys
            .iter()
            .find(|(known, _)| known == id)
            .map(|(_, key)| key)
            .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let mut payload = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| OpenError::Damaged)?;
        if payload.len() < NONCE_LEN {
            return Err(OpenError::Damaged);
        }
        let mut ciphertext = payload.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&payload).map_err(|_| OpenError::Damaged)?;
        let plain = key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut ciphertext)
            .map_err(|_| OpenError::Damaged)?;
        String::from_utf8(plain.to_vec()).map_err(|_| OpenError::Damaged)
    }

    /// [`Keyring::open`] for reading through the API: a value that does not
    /// open reads as None, with an error logged (never the value).
    pub fn open_or_log(&self, stored: Option<&str>, context: &str) -> Option<String> {
        let stored = stored?;
        match self.open(stored, context) {
            Ok(text) => Some(text),
            Err(why) => {
                tracing::error!(%context, error = %why, "a sealed value could not be opened");
                None
            }
        }
    }
}

/// Whether a stored value is sealed, and under which key id.
pub fn sealed_with(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .map(|(id, _)| id)
}

/// The LIKE pattern of sealed values (to find them in SQL).
pub const SEALED_LIKE: &str = "sealed:v1:%";

/// The additional data of a session's private notes.
pub fn notes_context(session_id: uuid::Uuid) -> String {
    format!("mentoring_sessions.private_notes:{session_id}")
}

/// The additional data of a feedback comment.
pub fn comment_context(feedback_id: uuid::Uuid) -> String {
    format!("session_feedback.comment:{feedback_id}")
}

fn decode_key(text: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:HxwdHhscGRoXGBUWExQREg8QDQ4LDAkKBwgFBgMEAQI=";

    fn ring(spec: &str) -> Keyring {
        Keyring::parse(spec).unwrap()
    }

    #[test]
    fn a_sealed_value_hides_its_text_and_opens_back() {
        let keys = ring(K1);
        let sealed = keys.seal("Talked about LinkedIn privacy", "ctx:1").unwrap();
        assert!(sealed.starts_with("sealed:v1:k1:"));
        assert!(!sealed.contains("LinkedIn"));
        assert_eq!(
            keys.open(&sealed, "ctx:1").unwrap(),
            "Talked about LinkedIn privacy"
        );
    }

    #[test]
    fn the_same_text_seals_differently_each_time() {
        let keys = ring(K1);
        assert_ne!(
            keys.seal("same", "ctx").unwrap(),
            keys.seal("same", "ctx").unwrap()
        );
    }

    #[test]
    fn a_value_moved_to_another_row_does_not_open() {
        let keys = ring(K1);
        let sealed = keys.seal("secret", "ctx:1").unwrap();
        assert_eq!(keys.open(&sealed, "ctx:2"), Err(OpenError::Damaged));
    }

    #[test]
    fn the_first_key_seals_and_every_key_opens() {
        let old = ring(K1).seal("old note", "c").unwrap();
        let both = ring(&format!("{K2},{K1}"));
        assert_eq!(both.open(&old, "c").unwrap(), "old note");
        let new = both.seal("new note", "c").unwrap();
        assert_eq!(sealed_with(&new), Some("k2"));
        assert_eq!(
            ring(K1).open(&new, "c"),
            Err(OpenError::UnknownKey("k2".into()))
        );
    }

    #[test]
    fn without_keys_nothing_is_sealed_and_sealed_values_do_not_open() {
        let none = Keyring::none();
        assert_eq!(none.seal("plain", "c").unwrap(), "plain:plain");
        assert_eq!(none.open("plain:plain", "c").unwrap(), "plain");
        let forged = none.seal("sealed:v1:k1:AAAA", "c").unwrap();
        assert_eq!(
            sealed_with(&forged),
            None,
            "a text cannot pass for a sealed value"
        );
        assert_eq!(none.open(&forged, "c").unwrap(), "sealed:v1:k1:AAAA");
        let sealed = ring(K1).seal("x", "c").unwrap();
        assert!(none.open(&sealed, "c").is_err());
        assert_eq!(none.open_or_log(Some(&sealed), "c"), None);
    }

    #[test]
    fn a_value_from_before_sealing_opens_as_itself() {
        assert_eq!(
            ring(K1).open("plain old note", "c").unwrap(),
            "plain old note"
        );
    }

    #[test]
    fn damaged_values_are_refused_not_panicked_on() {
        let keys = ring(K1);
        for bad in [
            "sealed:v1:k1",
            "sealed:v1:k1:",
            "sealed:v1:k1:!!!",
            "sealed:v1:k1:AAAA",
        ] {
            assert!(keys.open(bad, "c").is_err(), "{bad}");
        }
        let mut sealed = keys.seal("text", "c").unwrap();
        sealed.push('A');
        assert!(keys.open(&sealed, "c").is_err());
    }

    #[test]
    fn key_specs_are_checked_without_echoing_keys() {
        let cases = [
            ("k1", "not `id:base64`"),
            (":AAAA", "key id"),
            ("k 1:AAAA", "key id"),
            ("k1:not base64!", "not base64"),
            ("k1:AAAA", "32 bytes, this one is 3"),
            (&format!("{K1},{K1}") as &str, "given twice"),
        ];
        for (spec, says) in cases {
            let error = Keyring::parse(spec).unwrap_err();
            assert!(error.contains(says), "{spec}: {error}");
            assert!(!error.contains("AAECAwQF"), "{error}");
        }
        let generated = Keyring::generate_spec("local").unwrap();
        assert!(Keyring::parse(&generated).unwrap().seals());
    }
}
