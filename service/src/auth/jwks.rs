//! SSO tokens verified against the identity provider's JWKS (RFC 7517),
//! following the JWT best practices of RFC 8725:
//!
//! - the algorithm comes from the key (its `alg`, or its `kty`/`crv`), never
//!   from the token; HMAC and `none` are never accepted;
//! - `jku`, `x5u` and embedded `jwk` headers are refused; `kid` is only a
//!   lookup key;
//! - `exp`, `iss` and `aud` are required and checked, `nbf` is checked when
//!   present, with a small leeway.
//!
//! Keys are fetched in the background at start (start never fails because
//! the provider is down; tokens are refused until keys arrive), refreshed on
//! the response's `Cache-Control: max-age` or the configured interval, and
//! refetched when an unknown `kid` arrives — at most once per cooldown, so
//! forged kids cannot make us hammer the provider. A failed refresh keeps the
//! known keys.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{AuthFailure, Claims};

/// Longest token we look at; anything longer is refused before parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Bounds on a provider's `Cache-Control: max-age`.
const MIN_REFRESH: Duration = Duration::from_secs(60);
const MAX_REFRESH: Duration = Duration::from_secs(24 * 3600);
/// Retry delays while the provider cannot be reached.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Where the keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    /// The provider's JWKS endpoint.
    Url(String),
    /// A JWKS file, for air-gapped sites.
    File(PathBuf),
}

/// What the verifier checks and how it refreshes.
#[derive(Clone, Debug)]
pub struct JwksSettings {
    /// Where the keys come from.
    pub source: JwksSource,
    /// Expected `iss`.
    pub issuer: String,
    /// Accepted audiences (the token's `aud` must contain one).
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Refresh interval when the provider sends no max-age.
    pub refresh: Duration,
    /// Least time between two fetches triggered by unknown kids.
    pub cooldown: Duration,
    /// Accepted `typ` headers, normalised (`none`: no header).
    pub token_types: Vec<String>,
}

/// One verification key and the algorithms it allows.
struct VerifyKey {
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// The keys currently trusted, by `kid`; keys published without a kid are
/// usable only by tokens without a kid.
#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<VerifyKey>>,
    without_kid: Vec<Arc<VerifyKey>>,
}

/// Verifies provider tokens; shared by all workers.
pub struct JwksVerifier {
    settings: JwksSettings,
    keys: RwLock<Arc<KeySet>>,
    /// When an unknown kid last triggered a fetch (single flight).
    kid_fetch: Mutex<Option<Instant>>,
    fetches: AtomicU64,
    client: reqwest::Client,
}

impl JwksVerifier {
    /// Creates the verifier and starts its background refresh; returns at once.
    pub fn start(settings: JwksSettings) -> anyhow::Result<Arc<Self>> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        let verifier = Arc::new(Self {
            settings,
            keys: RwLock::new(Arc::new(KeySet::default())),
            kid_fetch: Mutex::new(None),
            fetches: AtomicU64::new(0),
            client,
        });
        tokio::spawn(refresh_forever(Arc::downgrade(&verifier)));
        Ok(verifier)
    }

    /// How many times the keys were fetched (for logs and tests).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The token's claims if a trusted key signed it and every check passes.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthFailure> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("token too long"));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| invalid(format!("header: {e}")))?;
        if header.jku.is_some() || header.x5u.is_some() || header.jwk.is_some() {
            return Err(invalid("jku, x5u and embedded jwk headers are refused"));
        }
        if header.crit.is_some() {
            return Err(invalid("critical header extensions are not supported"));
        }
        let typ = header
            .typ
            .as_deref()
            .map_or_else(|| "none".to_owned(), crate::config::normalized_token_type);
        if !self.settings.token_types.contains(&typ) {
            return Err(invalid(format!("token type {typ} is not accepted")));
        }
        let key = match self.find_key(header.kid.as_deref()) {
            Some(key) => key,
            None => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| invalid("no key without kid"))?;
                self.refetch_for_unknown_kid(kid).await;
                self.find_key(Some(kid))
                    .ok_or_else(|| invalid("unknown kid"))?
            }
        };
        if !key.algorithms.contains(&header.alg) {
            return Err(invalid(format!(
                "algorithm {:?} does not match the key",
                header.alg
            )));
        }
        let validation = self.validation(header.alg);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| invalid(e.to_string()))?;
        // Keycloak also types its tokens in a claim: ID and refresh tokens
        // are signed by the same keys for the same audience.
        match claims.get("typ").and_then(serde_json::Value::as_str) {
            Some(kind) if !kind.eq_ignore_ascii_case("bearer") => {
                Err(invalid(format!("a {kind} token is not an access token")))
            }
            _ => Ok(claims),
        }
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&self.settings.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway.as_secs();
        validation
    }

    fn find_key(&self, kid: Option<&str>) -> Option<Arc<VerifyKey>> {
        let keys = self.keys.read().ok()?.clone();
        match kid {
            Some(kid) => keys.by_kid.get(kid).cloned(),
            None if keys.without_kid.len() == 1 => keys.without_kid.first().cloned(),
            None => None,
        }
    }

    /// Fetches the keys once more if the cooldown allows it; concurrent
    /// callers wait for that one fetch instead of starting their own.
    async fn refetch_for_unknown_kid(&self, kid: &str) {
        let mut last = self.kid_fetch.lock().await;
        if self.find_key(Some(kid)).is_some() {
            return; // another request's fetch brought it
        }
        if last.is_some_and(|at| at.elapsed() < self.settings.cooldown) {
            return;
        }
        *last = Some(Instant::now());
        if let Err(err) = self.refresh().await {
            tracing::warn!(error = %err, "JWKS refetch for an unknown kid failed; known keys stay in use");
        }
    }

    /// Fetches and installs the keys; answers the provider's max-age.
    async fn refresh(&self) -> anyhow::Result<Option<Duration>> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let (document, max_age) = match &self.settings.source {
            JwksSource::Url(url) => {
                let response = self.client.get(url).send().await?.error_for_status()?;
                let max_age = response
                    .headers()
                    .get(reqwest::header::CACHE_CONTROL)
                    .and_then(|v| v.to_str().ok())
                    .and_then(max_age);
                (response.json::<Value>().await?, max_age)
            }
            JwksSource::File(path) => {
                (serde_json::from_slice(&tokio::fs::read(path).await?)?, None)
            }
        };
        let keys = parse_key_set(&document)?;
        tracing::info!(
            keys = keys.by_kid.len() + keys.without_kid.len(),
            "JWKS loaded"
        );
        if let Ok(mut current) = self.keys.write() {
            *current = Arc::new(keys);
        }
        Ok(max_age)
    }
}

fn invalid(reason: impl Into<String>) -> AuthFailure {
    AuthFailure::invalid_token(reason)
}

/// Keeps the keys fresh while the verifier lives.
async fn refresh_forever(verifier: std::sync::Weak<JwksVerifier>) {
    let mut retry = FIRST_RETRY;
    loop {
        let Some(strong) = verifier.upgrade() else {
            return;
        };
        let wait = match strong.refresh().await {
            Ok(max_age) => {
                retry = FIRST_RETRY;
                max_age.map_or(strong.settings.refresh, |age| {
                    age.clamp(MIN_REFRESH, MAX_REFRESH)
                })
            }
            Err(err) => {
                tracing::warn!(error = %err, ?retry, "JWKS fetch failed; tokens signed by unknown keys are refused meanwhile");
                let wait = retry;
                retry = (retry * 2).min(MAX_RETRY);
                wait
            }
        };
        drop(strong);
        tokio::time::sleep(wait).await;
    }
}

/// `max-age=N` of a Cache-Control header.
fn max_age(header: &str) -> Option<Duration> {
    header
        .split(',')
        .filter_map(|directive| directive.trim().strip_prefix("max-age="))
        .find_map(|seconds| seconds.trim().parse().ok())
        .map(Duration::from_secs)
}

/// Parses a JWKS document, keeping the signature keys we can use safely and
/// skipping (with a log line) the others.
fn parse_key_set(document: &Value) -> anyhow::Result<KeySet> {
    let entries = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow::anyhow!("JWKS has no keys array"))?;
    let mut set = KeySet::default();
    for entry in entries {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
            tracing::warn!("JWKS entry skipped: not a JWK we understand");
            continue;
        };
        match verify_key(&jwk) {
            Ok(key) => match &jwk.common.key_id {
                Some(kid) => {
                    set.by_kid.insert(kid.clone(), Arc::new(key));
                }
                None => set.without_kid.push(Arc::new(key)),
            },
            Err(reason) => tracing::warn!(kid = ?jwk.common.key_id, %reason, "JWKS entry skipped"),
        }
    }
    Ok(set)
}

/// The algorithms a key allows: its declared `alg`, else its key type's
/// asymmetric family. Symmetric (`oct`) keys and encryption keys are refused.
fn verify_key(jwk: &Jwk) -> Result<VerifyKey, String> {
    use jsonwebtoken::jwk::PublicKeyUse;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err("encryption key".into());
    }
    let family: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return Err("unsupported curve".into()),
        },
        AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
        AlgorithmParameters::OctetKey(_) => return Err("symmetric keys are never trusted".into()),
        _ => return Err("unknown key type".into()),
    };
    let algorithms = match jwk.common.key_algorithm {
        Some(declared) => {
            let declared = serde_json::to_value(declared)
                .ok()
                .and_then(|name| name.as_str().and_then(|n| n.parse::<Algorithm>().ok()))
                .ok_or_else(|| "unsupported alg".to_owned())?;
            if !family.contains(&declared) {
                return Err("alg does not match the key type".into());
            }
            vec![declared]
        }
        None => family,
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    Ok(VerifyKey { algorithms, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=3600, must-revalidate"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(max_age("no-cache"), None);
    }

    #[test]
    fn symmetric_and_mismatched_keys_are_skipped() {
        let document = serde_json::json!({ "keys": [
            { "kty": "oct", "kid": "h", "k": "c2VjcmV0" },
            { "kty": "EC", "kid": "e", "crv": "P-256", "alg": "RS256",
              "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" },
            { "kty": "EC", "kid": "ok", "crv": "P-256",
              "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" },
            { "kty": "XYZ", "kid": "weird" }
        ]});
        let set = parse_key_set(&document).unwrap();
        assert_eq!(set.by_kid.keys().collect::<Vec<_>>(), ["ok"]);
        assert_eq!(set.by_kid["ok"].algorithms, [Algorithm::ES256]);
    }
}
