//! Trusted documents (a persisted-operations allow-list): the operations
//! the intranet's front-ends were built with, by SHA-256, so production
//! can refuse any other document before parsing it.
//!
//! The manifest (`GRAPHQL_TRUSTED_DOCUMENTS`) is either GraphQL Code
//! Generator's client preset output (`persisted-documents.json`: a map of
//! hash → document) or Apollo's persisted query manifest (`{"format":
//! "apollo-persisted-query-manifest", "operations": [{"id", "body", …}]}`).
//! Each hash is checked against its document when loaded.
//!
//! A request names a document by `documentId` (`sha256:<hash>` or the bare
//! hash) or by `extensions.persistedQuery.sha256Hash` (Apollo), or sends
//! its text. `GRAPHQL_TRUSTED_DOCUMENTS_MODE`: `off` (texts run as ever;
//! ids are still served from the manifest), `log` (unknown texts run and
//! are logged with their hash), `enforce` (unknown texts are refused with
//! PERSISTED_QUERY_NOT_FOUND, before parsing, for every caller but in dev
//! mode: the HRIS connector's document belongs in the manifest too).

use std::collections::HashMap;

use async_graphql::Request;
use aws_lc_rs::digest;

/// What is done with documents not in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Run them.
    Off,
    /// Run them, and log their hash.
    Log,
    /// Refuse them.
    Enforce,
}

impl Mode {
    /// `off`, `log` or `enforce`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "off" => Some(Self::Off),
            "log" => Some(Self::Log),
            "enforce" => Some(Self::Enforce),
            _ => None,
        }
    }
}

/// The allow-list and what to do outside it.
#[derive(Clone, Debug)]
pub struct TrustedDocuments {
    /// The mode.
    pub mode: Mode,
    /// Documents by lower-case hex SHA-256.
    by_hash: HashMap<String, String>,
}

impl Default for TrustedDocuments {
    fn default() -> Self {
        Self {
            mode: Mode::Off,
            by_hash: HashMap::new(),
        }
    }
}

/// Why a request was refused: the message of a PERSISTED_QUERY_NOT_FOUND.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotTrusted(pub String);

/// The lower-case hex SHA-256 of a document's text.
pub fn hash_of(document: &str) -> String {
    hash_of_bytes(document.as_bytes())
}

/// The SHA-256 of any bytes, as lowercase hex.
pub fn hash_of_bytes(bytes: &[u8]) -> String {
    crate::domain::feeds::hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

impl TrustedDocuments {
    /// Reads a manifest's JSON (either format); every hash must be the
    /// SHA-256 of its document.
    pub fn from_manifest(mode: Mode, json: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|_| "the manifest is not JSON".to_owned())?;
        let pairs: Vec<(String, String)> = match value.get("operations") {
            Some(operations) => operations
                .as_array()
                .ok_or("`operations` is not a list")?
                .iter()
                .map(|op| {
                    let id = op.get("id").and_then(|v| v.as_str());
                    let body = op.get("body").and_then(|v| v.as_str());
                    match (id, body) {
                        (Some(id), Some(body)) => Ok((id.to_owned(), body.to_owned())),
                        _ => Err("an operation lacks `id` or `body`".to_owned()),
                    }
                })
                .collect::<Result<_, _>>()?,
            None => value
                .as_object()
                .ok_or("the manifest is neither a map of hash to document nor an Apollo manifest")?
                .iter()
                .map(|(hash, document)| match document.as_str() {
                    Some(text) => Ok((hash.clone(), text.to_owned())),
                    None => Err(format!("the document of `{hash}` is not text")),
                })
                .collect::<Result<_, _>>()?,
        };
        let mut by_hash = HashMap::with_capacity(pairs.len());
        for (hash, document) in pairs {
            let hash = bare(&hash).to_ascii_lowercase();
            if hash_of(&document) != hash {
                return Err(format!("`{hash}` is not the SHA-256 of its document"));
            }
            by_hash.insert(hash, document);
        }
        Ok(Self { mode, by_hash })
    }

    /// How many documents the manifest holds.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the manifest is empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// `request` with its document filled in from the manifest when it
    /// names one (`document_id`, or Apollo's extension), checked against
    /// the mode otherwise. `exempt`: dev mode.
    pub fn admit(
        &self,
        mut request: Request,
        document_id: Option<&str>,
        exempt: bool,
    ) -> Result<Request, NotTrusted> {
        if self.by_hash.is_empty() && self.mode == Mode::Off {
            return Ok(request);
        }
        let named = document_id
            .map(str::to_owned)
            .or_else(|| apollo_hash(&request));
        if let Some(hash) = named {
            let hash = bare(&hash).to_ascii_lowercase();
            let Some(document) = self.by_hash.get(&hash) else {
                // Not a manifest id: a text that came with it is judged as
                // a text (off and log run it); without one, nothing to run.
                if request.query.is_empty() || self.mode == Mode::Enforce {
                    return Err(NotTrusted(format!(
                        "no trusted document has the id {}",
                        short(&hash)
                    )));
                }
                return self.admit_text(request, exempt);
            };
            if !request.query.is_empty() && request.query != *document {
                return Err(NotTrusted(
                    "the document sent is not the one its id names".to_owned(),
                ));
            }
            request.query.clone_from(document);
            return Ok(request);
        }
        self.admit_text(request, exempt)
    }

    /// A document sent as text, by the mode.
    fn admit_text(&self, request: Request, exempt: bool) -> Result<Request, NotTrusted> {
        match self.mode {
            Mode::Off => Ok(request),
            _ if exempt => Ok(request),
            mode => {
                let hash = hash_of(&request.query);
                if self.by_hash.contains_key(&hash) {
                    return Ok(request);
                }
                if mode == Mode::Enforce {
                    return Err(NotTrusted(
                        "only trusted documents run here: send a documentId from the manifest"
                            .to_owned(),
                    ));
                }
                tracing::info!(document_hash = %hash, "an untrusted document ran");
                Ok(request)
            }
        }
    }
}

/// `extensions.persistedQuery.sha256Hash`, if sent.
fn apollo_hash(request: &Request) -> Option<String> {
    let persisted = request.extensions.get("persistedQuery")?;
    let value = serde_json::to_value(persisted).ok()?;
    value
        .get("sha256Hash")
        .and_then(|h| h.as_str())
        .map(str::to_owned)
}

/// A hash without its `sha256:` prefix.
fn bare(hash: &str) -> &str {
    hash.strip_prefix("sha256:").unwrap_or(hash)
}

/// At most 64 characters of an echoed id, printable only.
fn short(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "{ me { displayName } }";

    fn map_of(hash: &str, document: &str) -> String {
        let mut map = serde_json::Map::new();
        map.insert(hash.to_owned(), serde_json::Value::from(document));
        serde_json::Value::Object(map).to_string()
    }

    fn codegen(mode: Mode) -> TrustedDocuments {
        let manifest = map_of(&hash_of(ME), ME);
        TrustedDocuments::from_manifest(mode, &manifest).unwrap()
    }

    #[test]
    fn both_manifest_formats_are_read_and_hashes_checked() {
        assert_eq!(codegen(Mode::Off).len(), 1);
        let apollo = serde_json::json!({
            "format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{ "id": hash_of(ME), "name": "Me", "type": "query", "body": ME }]
        });
        assert_eq!(
            TrustedDocuments::from_manifest(Mode::Off, &apollo.to_string())
                .unwrap()
                .len(),
            1
        );
        let forged = map_of(&hash_of("{ __typename }"), ME);
        assert!(TrustedDocuments::from_manifest(Mode::Off, &forged).is_err());
        assert!(TrustedDocuments::from_manifest(Mode::Off, "[1]").is_err());
    }

    #[test]
    fn an_id_is_served_from_the_manifest_in_every_mode() {
        for mode in [Mode::Off, Mode::Log, Mode::Enforce] {
            let id = format!("sha256:{}", hash_of(ME));
            let served = codegen(mode)
                .admit(Request::new(""), Some(&id), false)
                .unwrap();
            assert_eq!(served.query, ME);
            assert!(
                codegen(mode)
                    .admit(Request::new(""), Some("sha256:00"), false)
                    .is_err()
            );
        }
    }

    #[test]
    fn enforce_refuses_unknown_texts_but_for_the_exempt() {
        let trusted = codegen(Mode::Enforce);
        assert!(trusted.admit(Request::new(ME), None, false).is_ok());
        assert!(
            trusted
                .admit(Request::new("{ __typename }"), None, false)
                .is_err()
        );
        assert!(
            trusted
                .admit(Request::new("{ __typename }"), None, true)
                .is_ok()
        );
        assert!(
            codegen(Mode::Log)
                .admit(Request::new("{ __typename }"), None, false)
                .is_ok()
        );
    }

    #[test]
    fn a_text_must_match_the_id_it_comes_with() {
        let id = hash_of(ME);
        assert!(
            codegen(Mode::Off)
                .admit(Request::new("{ __typename }"), Some(&id), false)
                .is_err()
        );
    }
}
