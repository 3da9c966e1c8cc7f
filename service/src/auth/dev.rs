//! Dev mode: the service signs and accepts its own HS256 tokens so that a
//! newcomer can query it with zero setup.
//!
//! The secret lives in the database (`dev_signing_keys`), so `tandem dev-token`
//! and `tandem serve` agree for any `DATABASE_URL`. It is only read when
//! `AUTH_DEV_MODE=true`, which configuration refuses alongside SSO.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use entity::dev_signing_key;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use sea_orm::{DatabaseConnection, EntityTrait, Set};
use uuid::Uuid;

use super::{AuthFailure, Claims};

/// `iss` and `aud` of dev tokens; SSO tokens never carry them.
pub const DEV_ISSUER: &str = "tandem-dev";
/// Audience of dev tokens.
pub const DEV_AUDIENCE: &str = "tandem";
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;

/// The single dev signing secret (fixed row id, so concurrent first starts agree).
pub struct DevKey(Vec<u8>);

impl DevKey {
    /// Reads the dev secret, creating it on first use.
    pub async fn load_or_create(db: &DatabaseConnection) -> anyhow::Result<Self> {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let candidate = dev_signing_key::ActiveModel {
            id: Set(Uuid::nil()),
            secret: Set(STANDARD.encode(secret)),
            created_at: Set(Utc::now()),
        };
        dev_signing_key::Entity::insert(candidate)
            .on_conflict_do_nothing_on([dev_signing_key::Column::Id])
            .exec(db)
            .await?;
        let stored = dev_signing_key::Entity::find_by_id(Uuid::nil())
            .one(db)
            .await?
            .ok_or_else(|| anyhow::anyhow!("dev signing key missing after insert"))?;
        Ok(Self(STANDARD.decode(stored.secret)?))
    }
}

/// Who a dev token speaks for.
#[derive(Clone, Debug, Default)]
pub struct DevTokenRequest {
    /// Employee email (the identity claim); None for a service account.
    pub email: Option<String>,
    /// Tandem roles: admin, analyst, hris.
    pub roles: Vec<String>,
    /// Lifetime in seconds.
    pub ttl_secs: i64,
}

/// Signs a dev token for `request`.
pub fn issue(key: &DevKey, request: &DevTokenRequest) -> anyhow::Result<String> {
    let now = Utc::now().timestamp();
    let subject = request
        .email
        .clone()
        .unwrap_or_else(|| "dev-service-account".to_owned());
    let mut claims = serde_json::json!({
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + request.ttl_secs,
        "roles": request.roles,
    });
    if let (Some(email), Some(map)) = (&request.email, claims.as_object_mut()) {
        map.insert("email".into(), serde_json::Value::String(email.clone()));
    }
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&key.0),
    )?)
}

/// Verifies dev tokens: HS256 with the dev secret, `exp`, `nbf`, `iss`, `aud` all required.
pub struct DevVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl DevVerifier {
    /// A verifier for tokens signed with `key`.
    pub fn new(key: &DevKey) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[DEV_ISSUER]);
        validation.set_audience(&[DEV_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Self {
            key: DecodingKey::from_secret(&key.0),
            validation,
        }
    }

    /// The token's claims if it is a valid dev token.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthFailure> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| AuthFailure::invalid_token(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DevKey {
        DevKey(vec![7; 32])
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let request = DevTokenRequest {
            email: Some("a@x.org".into()),
            roles: vec!["admin".into()],
            ttl_secs: 60,
        };
        let token = issue(&key(), &request).unwrap();
        let claims = DevVerifier::new(&key()).verify(&token).unwrap();
        assert_eq!(claims["email"], "a@x.org");
        assert_eq!(claims["roles"][0], "admin");
    }

    #[test]
    fn expired_and_foreign_tokens_are_refused() {
        let expired = DevTokenRequest {
            email: None,
            roles: vec![],
            ttl_secs: -3600,
        };
        let token = issue(&key(), &expired).unwrap();
        assert!(DevVerifier::new(&key()).verify(&token).is_err());
        let valid = issue(
            &key(),
            &DevTokenRequest {
                ttl_secs: 60,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            DevVerifier::new(&DevKey(vec![8; 32]))
                .verify(&valid)
                .is_err()
        );
    }
}
