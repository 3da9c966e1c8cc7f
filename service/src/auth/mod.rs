//! Who is calling: bearer token → verified claims → [`Caller`].
//!
//! The HTTP layer hands the `Authorization` header to [`Authenticator`] and
//! gets a `Caller` or a refusal; nothing past it sees tokens. How tokens are
//! verified is chosen once at start: dev mode verifies the service's own
//! tokens ([`dev`]); production verifies the identity provider's tokens
//! against its JWKS ([`jwks`]).

pub mod caller;
pub mod dev;
pub mod jwks;

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use serde_json::{Map, Value};

pub use caller::{Authenticated, Caller, Role};

use crate::config::AuthConfig;

/// Why a request was refused with 401. Logged, never shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// No `Authorization: Bearer …` header.
    #[error("no bearer token")]
    MissingToken,
    /// The token failed verification (signature, expiry, issuer, audience …).
    #[error("token rejected: {0}")]
    InvalidToken(String),
    /// The token is valid but names a terminated employee.
    #[error("employee is terminated")]
    Terminated,
    /// No verifier is configured (neither dev mode nor SSO).
    #[error("no token verifier configured")]
    NoVerifier,
    /// The database could not be asked who the caller is.
    #[error("caller lookup failed: {0}")]
    Lookup(String),
}

impl AuthFailure {
    /// A refused token, with why. The reason often quotes the token (the JWT
    /// library's errors repeat its header's `alg`): control characters are
    /// escaped and the text cut to 200 characters, so a line break in a
    /// token never forges a log line and a huge header never floods the log.
    pub fn invalid_token(reason: impl Into<String>) -> Self {
        Self::InvalidToken(crate::telemetry::escaped(&reason.into()))
    }
}

/// How tokens are verified in this process.
enum Verifier {
    Dev(Box<dev::DevVerifier>),
    Sso(Arc<jwks::JwksVerifier>),
    None,
}

/// Turns bearer tokens into callers; built once at start, shared by workers.
pub struct Authenticator {
    verifier: Verifier,
    config: AuthConfig,
    db: DatabaseConnection,
}

impl Authenticator {
    /// Builds the authenticator the configuration asks for (dev keys are
    /// loaded from, or created in, the database).
    pub async fn new(config: &AuthConfig, db: &DatabaseConnection) -> anyhow::Result<Self> {
        let verifier = if config.dev_mode {
            let key = dev::DevKey::load_or_create(db).await?;
            Verifier::Dev(Box::new(dev::DevVerifier::new(&key)))
        } else if let Some(settings) = jwks_settings(config) {
            Verifier::Sso(jwks::JwksVerifier::start(settings)?)
        } else {
            tracing::warn!(
                "neither AUTH_JWKS_URL, AUTH_JWKS_FILE nor AUTH_DEV_MODE is set: every token is refused"
            );
            Verifier::None
        };
        Ok(Self {
            verifier,
            config: config.clone(),
            db: db.clone(),
        })
    }

    /// The caller behind an `Authorization` header value (with the employee
    /// row it was linked through), or why it is refused.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Authenticated, AuthFailure> {
        let token = bearer_token(authorization).ok_or(AuthFailure::MissingToken)?;
        let claims = match &self.verifier {
            Verifier::Dev(verifier) => verifier.verify(token)?,
            Verifier::Sso(verifier) => verifier.verify(token).await?,
            Verifier::None => return Err(AuthFailure::NoVerifier),
        };
        caller::resolve(&self.db, &self.config, &claims).await
    }
}

/// The SSO settings, when a JWKS source is configured (config guarantees
/// issuer and audience then).
fn jwks_settings(config: &AuthConfig) -> Option<jwks::JwksSettings> {
    let source = match (&config.jwks_url, &config.jwks_file) {
        (Some(url), _) => jwks::JwksSource::Url(url.clone()),
        (None, Some(path)) => jwks::JwksSource::File(path.clone()),
        (None, None) => return None,
    };
    Some(jwks::JwksSettings {
        source,
        issuer: config.issuer.clone().unwrap_or_default(),
        audiences: config.audiences.clone(),
        leeway: config.leeway,
        refresh: config.jwks_refresh,
        cooldown: config.jwks_cooldown,
        token_types: config.token_types.clone(),
    })
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Verified token claims.
pub type Claims = Map<String, Value>;

#[cfg(test)]
mod tests {
    use super::{AuthFailure, bearer_token};

    #[test]
    fn a_refusal_reason_cannot_break_a_log_line() {
        let forged =
            "unknown variant `RS256\n2026-12-01T00:00:00Z  INFO forged: admin logged in\r`";
        let failure = AuthFailure::invalid_token(forged).to_string();
        assert!(
            !failure.contains('\n') && !failure.contains('\r'),
            "{failure}"
        );
        assert!(failure.contains("RS256\\n2026"), "{failure}");
        let long = AuthFailure::invalid_token("x".repeat(10_000)).to_string();
        assert!(long.chars().count() < 250, "{}", long.len());
    }

    #[test]
    fn only_bearer_headers_carry_a_token() {
        assert_eq!(bearer_token(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(Some("Bearer ")), None);
        assert_eq!(bearer_token(None), None);
    }
}
