//! The authenticated caller, as every resolver and domain function sees it.

use std::collections::BTreeSet;

use entity::employee;
use entity::enums::EmployeeStatus;
use sea_orm::{ColumnTrait, DatabaseConnection, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use super::{AuthFailure, Claims};
use crate::config::AuthConfig;

/// A Tandem role carried by the token (after `AUTH_ROLE_MAP`). Every other
/// authenticated person is a plain employee; mentor, mentee and supervisor
/// are facts in the data, not roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The HR programme team.
    Admin,
    /// Reads k-anonymous metrics.
    Analyst,
    /// The HRIS service account that syncs employees.
    Hris,
}

impl Role {
    /// The role's name in tokens and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Hris => "hris",
        }
    }

    /// The role a name in tokens or configuration stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Role::Admin),
            "analyst" => Some(Role::Analyst),
            "hris" => Some(Role::Hris),
            _ => None,
        }
    }
}

/// Who is calling: the employee the token names (if any) and the roles it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's subject, for logs and the audit trail.
    pub subject: String,
    /// The linked employee; None for service accounts.
    pub employee_id: Option<Uuid>,
    /// Roles granted by the token.
    pub roles: BTreeSet<Role>,
}

impl Caller {
    /// Whether the token carries `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the caller is an HR programme admin.
    pub fn is_admin(&self) -> bool {
        self.has_role(Role::Admin)
    }
}

/// A caller with the employee row their token was linked through: read
/// once to authenticate, then handed to the request's loaders so `me`
/// (and any other read of that row) costs no second statement.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// Who is calling.
    pub caller: Caller,
    /// The caller's employee row as sign-in read it; None for service accounts.
    pub employee: Option<employee::Model>,
}

/// Builds the caller from verified claims: links the identity claim to an
/// employee (email case-insensitively, or `employee_id` to externalId) and
/// translates provider roles. A terminated employee is refused.
pub async fn resolve(
    db: &DatabaseConnection,
    config: &AuthConfig,
    claims: &Claims,
) -> Result<Authenticated, AuthFailure> {
    // Every token names its subject (RFC 9068): the audit log, the caller's
    // share of the pool and the service principals all go by it.
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
        .ok_or_else(|| AuthFailure::invalid_token("no sub claim"))?
        .to_owned();
    // Some HRIS ids arrive as numbers (`"employee_id": 1234`).
    let identity = match claims.get(&config.identity_claim) {
        Some(Value::String(text)) => Some(text.trim().to_owned()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    }
    .filter(|v| !v.is_empty());
    if config.identity_claim == "email" && email_unverified(claims) {
        // Some providers let an account's owner edit its email (an
        // unverified Keycloak account, an Entra guest): never trust it.
        return Err(AuthFailure::invalid_token("email_verified is false"));
    }
    let employee = match identity {
        None => None,
        Some(value) => find_employee(db, &config.identity_claim, &value)
            .await
            .map_err(|err| AuthFailure::Lookup(err.to_string()))?,
    };
    if employee
        .as_ref()
        .is_some_and(|e| e.status == EmployeeStatus::Terminated)
    {
        return Err(AuthFailure::Terminated);
    }
    // A token naming no employee keeps its roles only as a configured
    // service principal (dev mode: the service signed the token itself).
    let trusted =
        employee.is_some() || config.dev_mode || config.service_subjects.contains(&subject);
    let roles = if trusted {
        roles_from_claims(claims, config)
    } else {
        let subject = crate::telemetry::escaped(&subject);
        tracing::info!(%subject, "the token names no employee and no service principal: no role");
        BTreeSet::new()
    };
    Ok(Authenticated {
        caller: Caller {
            subject,
            employee_id: employee.as_ref().map(|e| e.id),
            roles,
        },
        employee,
    })
}

/// Whether the token says its email is not verified (`email_verified`
/// false, or the string "false" some providers send).
fn email_unverified(claims: &Claims) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(verified)) => !verified,
        Some(Value::String(verified)) => verified.eq_ignore_ascii_case("false"),
        _ => false,
    }
}

/// The employee `value` names: the work email for the `email` claim, the
/// externalId (the HRIS's immutable id) for any other claim.
async fn find_employee(
    db: &DatabaseConnection,
    claim: &str,
    value: &str,
) -> Result<Option<employee::Model>, sea_orm::DbErr> {
    let filter = if claim == "email" {
        employee::Column::Email.eq(value.to_lowercase())
    } else {
        employee::Column::ExternalId.eq(value)
    };
    crate::domain::employees::findable()
        .filter(filter)
        .one(db)
        .await
}

/// Provider role names found at the configured dotted path, translated to Tandem roles.
fn roles_from_claims(claims: &Claims, config: &AuthConfig) -> BTreeSet<Role> {
    let mut node = None;
    for (depth, key) in config.roles_claim.split('.').enumerate() {
        node = if depth == 0 {
            claims.get(key)
        } else {
            node.and_then(|n: &Value| n.get(key))
        };
    }
    let names: Vec<&str> = match node {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if config.role_map.is_empty() {
        return names.into_iter().filter_map(Role::from_name).collect();
    }
    config
        .role_map
        .iter()
        .filter(|(_, provider)| provider.iter().any(|p| names.contains(&p.as_str())))
        .filter_map(|(role, _)| Role::from_name(role))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(path: &str, map: &[(&str, &str)]) -> AuthConfig {
        AuthConfig {
            jwks_url: None,
            jwks_file: None,
            issuer: None,
            audiences: Vec::new(),
            leeway: std::time::Duration::from_secs(60),
            jwks_refresh: std::time::Duration::from_secs(3600),
            jwks_cooldown: std::time::Duration::from_secs(30),
            identity_claim: "email".into(),
            service_subjects: Default::default(),
            token_types: Vec::new(),
            roles_claim: path.into(),
            role_map: map
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
                .collect::<HashMap<_, _>>(),
            dev_mode: true,
        }
    }

    fn claims(value: Value) -> Claims {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn an_email_is_unverified_only_when_the_token_says_so() {
        for (verified, unverified) in [
            (serde_json::json!(false), true),
            (serde_json::json!("False"), true),
            (serde_json::json!(true), false),
            (serde_json::json!(null), false),
        ] {
            let token = claims(serde_json::json!({ "email_verified": verified }));
            assert_eq!(email_unverified(&token), unverified, "{verified}");
        }
        assert!(!email_unverified(&claims(serde_json::json!({}))));
    }

    #[test]
    fn roles_follow_a_dotted_path_and_accept_a_single_string() {
        let nested = claims(serde_json::json!({"realm_access": {"roles": ["admin", "other"]}}));
        assert_eq!(
            roles_from_claims(&nested, &config("realm_access.roles", &[])),
            BTreeSet::from([Role::Admin])
        );
        let single = claims(serde_json::json!({"roles": "analyst"}));
        assert_eq!(
            roles_from_claims(&single, &config("roles", &[])),
            BTreeSet::from([Role::Analyst])
        );
    }

    #[test]
    fn the_role_map_translates_provider_names_and_ignores_raw_names() {
        let map = [("admin", "HR.Mentoring.Admin")];
        let mapped = claims(serde_json::json!({"roles": ["HR.Mentoring.Admin"]}));
        assert_eq!(
            roles_from_claims(&mapped, &config("roles", &map)),
            BTreeSet::from([Role::Admin])
        );
        let raw = claims(serde_json::json!({"roles": ["admin"]}));
        assert!(roles_from_claims(&raw, &config("roles", &map)).is_empty());
    }
}
