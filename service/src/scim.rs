//! SCIM 2.0 users (RFC 7643/7644) at `/scim/v2/Users`, for identity
//! providers that provision people themselves (Entra ID, Okta), for the
//! `hris` role. An HTTP adapter only: every change goes through
//! `domain::hris::directory`, i.e. the same validation, leaver rules and
//! run records as the nightly `syncEmployees` push.
//!
//! Mapping: `id` is the employee id, `userName` the work email (matched
//! case-insensitively), `externalId` the HRIS key (defaults to `userName`;
//! it cannot change), `name.givenName`/`familyName`, `displayName`, `title`,
//! `timezone`, `active` (false = TERMINATED, with the leaver's effects).
//! Department, manager and seniority belong to the HRIS push and are kept.
//! `DELETE` deactivates (Tandem keeps a leaver's programme history), so the
//! user then reads `active: false` rather than 404. Attributes Tandem does not
//! hold (phone numbers, addresses, …) are ignored, as providers send many.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use entity::employee;
use entity::enums::EmployeeStatus;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::auth::{AuthFailure, Caller};
use crate::domain::hris::EmployeeRecord;
use crate::domain::hris::directory::{self, UserFilter};
use crate::domain::text::{holds_refused_char, json_holds_refused_char};
use crate::error::{AppError, retry_once};
use crate::http::AppState;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const CONTENT_TYPE: &str = "application/scim+json";
/// Largest request body: one user.
const MAX_BODY: usize = 64 * 1024;
/// Largest page.
const MAX_COUNT: u64 = 1_000;
/// Page size when the client names none.
const DEFAULT_COUNT: u64 = 100;

/// Registers the SCIM routes (under `/scim/v2`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/Users", web::get().to(list))
        .route("/Users", web::post().to(create))
        .route("/Users/{id}", web::get().to(fetch))
        .route("/Users/{id}", web::put().to(replace))
        .route("/Users/{id}", web::patch().to(patch))
        .route("/Users/{id}", web::delete().to(remove))
        .route(
            "/ServiceProviderConfig",
            web::get().to(service_provider_config),
        );
}

/// A SCIM error response (RFC 7644 §3.12).
struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    fn invalid(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    fn response(&self) -> HttpResponse {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(kind) = self.scim_type {
            body["scimType"] = json!(kind);
        }
        let mut response = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<AppError> for ScimError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Unauthenticated => {
                Self::new(StatusCode::UNAUTHORIZED, None, "authentication required")
            }
            AppError::Forbidden(message) => Self::new(StatusCode::FORBIDDEN, None, message),
            AppError::NotFound(what) => {
                Self::new(StatusCode::NOT_FOUND, None, format!("{what} not found"))
            }
            AppError::BadInput { message, .. } => Self::invalid("invalidValue", message),
            AppError::Conflict(message) => {
                Self::new(StatusCode::CONFLICT, Some("uniqueness"), message)
            }
            // Provisioning clients retry 503s on their own (RFC 7644 §3.12
            // has no scimType for a transient failure).
            AppError::Retry => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "a concurrent change got in the way; try again",
            ),
            AppError::Internal(cause) => {
                tracing::error!(error = ?cause, "SCIM request failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
            }
        }
    }
}

type ScimResult = Result<HttpResponse, ScimError>;

fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(CONTENT_TYPE)
        .body(body.to_string())
}

fn finish(result: ScimResult) -> HttpResponse {
    result.unwrap_or_else(|error| error.response())
}

async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Caller, ScimError> {
    crate::http::caller_of(req, state)
        .await
        .map_err(|failure| match failure {
            AuthFailure::Lookup(cause) => {
                tracing::error!(%cause, "could not resolve the SCIM caller");
                ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, "service unavailable")
            }
            _ => ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "a valid bearer token is required",
            ),
        })
}

fn parse_id(raw: &str) -> Result<Uuid, ScimError> {
    raw.parse()
        .map_err(|_| ScimError::new(StatusCode::NOT_FOUND, None, "user not found"))
}

/// Reads the body up to [`MAX_BODY`], read here rather than by actix's
/// `Bytes` extractor so that a larger one still gets a SCIM error, not a
/// plain-text 413, and is never buffered whole.
async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>, ScimError> {
    use futures_util::StreamExt as _;
    let too_large = || {
        ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("tooLarge"),
            "request body too large",
        )
    };
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ScimError::invalid("invalidSyntax", "the body could not be read"))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a body or filter with a control character is refused.
const REFUSED_TEXT: &str = "text may hold no control character but tab and line breaks";

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ScimError> {
    match serde_json::from_slice(body) {
        Ok(value) if json_holds_refused_char(&value) => {
            Err(ScimError::invalid("invalidValue", REFUSED_TEXT))
        }
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ScimError::invalid(
            "invalidSyntax",
            "the body must be a JSON object",
        )),
    }
}

/// The SCIM representation of an employee.
fn user_json(person: &employee::Model) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "id": person.id,
        "externalId": person.external_id,
        "userName": person.email,
        "name": {
            "givenName": person.given_name,
            "familyName": person.family_name,
            "formatted": person.display_name,
        },
        "displayName": person.display_name,
        "title": person.job_title,
        "timezone": person.timezone,
        "active": person.status != EmployeeStatus::Terminated,
        "emails": [{ "value": person.email, "type": "work", "primary": true }],
        "meta": {
            "resourceType": "User",
            "created": person.created_at.to_rfc3339(),
            "lastModified": person.updated_at.to_rfc3339(),
            "location": format!("/scim/v2/Users/{}", person.id),
        },
    })
}

fn user_response(status: StatusCode, person: &employee::Model) -> HttpResponse {
    let mut response = scim_json(status, &user_json(person));
    if let Ok(location) = HeaderValue::from_str(&format!("/scim/v2/Users/{}", person.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn text(value: &Value, attribute: &str) -> Result<Option<String>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ScimError::invalid(
            "invalidValue",
            format!("{attribute} must be a string"),
        )),
    }
}

fn boolean(value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        // Entra ID sends "True"/"False" in PATCH operations.
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid(
            "invalidValue",
            "active must be a boolean",
        )),
    }
}

/// Sets on `record` the attributes of `attributes` Tandem holds (names are
/// case-insensitive, as in SCIM); `key` is the externalId when it may not change.
fn apply_attributes(
    record: &mut EmployeeRecord,
    attributes: &Map<String, Value>,
    key: Option<&str>,
) -> Result<(), ScimError> {
    for (name, value) in attributes {
        match name.to_ascii_lowercase().as_str() {
            "username" => record.email = text(value, "userName")?.unwrap_or_default(),
            "externalid" => {
                let sent = text(value, "externalId")?.unwrap_or_default();
                match key {
                    Some(fixed) if sent.trim() != fixed => {
                        return Err(ScimError::invalid("mutability", "externalId cannot change"));
                    }
                    _ => record.external_id = sent,
                }
            }
            "displayname" => record.display_name = text(value, "displayName")?,
            "title" => record.job_title = text(value, "title")?,
            "timezone" => record.timezone = text(value, "timezone")?,
            "active" => {
                record.status = Some(if boolean(value)? {
                    EmployeeStatus::Active
                } else {
                    EmployeeStatus::Terminated
                });
            }
            "name" => match value {
                Value::Object(parts) => {
                    for (part, value) in parts {
                        match part.to_ascii_lowercase().as_str() {
                            "givenname" => record.given_name = text(value, "name.givenName")?,
                            "familyname" => record.family_name = text(value, "name.familyName")?,
                            _ => {}
                        }
                    }
                }
                Value::Null => {
                    record.given_name = None;
                    record.family_name = None;
                }
                _ => return Err(ScimError::invalid("invalidValue", "name must be an object")),
            },
            "emails" if record.email.trim().is_empty() => {
                record.email = primary_email(value).unwrap_or_default();
            }
            _ => {}
        }
    }
    Ok(())
}

fn primary_email(emails: &Value) -> Option<String> {
    let list = emails.as_array()?;
    let primary = list
        .iter()
        .find(|e| e["primary"] == Value::Bool(true))
        .or_else(|| list.first())?;
    primary["value"].as_str().map(str::to_owned)
}

/// The attributes one PATCH operation sets, as a (partial) user object.
fn operation_attributes(operation: &Value) -> Result<Map<String, Value>, ScimError> {
    let op = operation["op"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let value = operation.get("value").cloned().unwrap_or(Value::Null);
    let value = match op.as_str() {
        "add" | "replace" => value,
        "remove" => Value::Null,
        _ => {
            return Err(ScimError::invalid(
                "invalidSyntax",
                format!("unknown op `{op}`"),
            ));
        }
    };
    let Some(path) = operation["path"].as_str() else {
        return match value {
            Value::Object(map) => Ok(map),
            _ => Err(ScimError::invalid(
                "invalidValue",
                "an operation without path needs an object value",
            )),
        };
    };
    let path = path.trim();
    let lower = path.to_ascii_lowercase();
    let mut attributes = Map::new();
    if let Some(part) = lower.strip_prefix("name.") {
        let mut name = Map::new();
        name.insert(part.to_owned(), value);
        attributes.insert("name".to_owned(), Value::Object(name));
    } else if lower.starts_with("emails") {
        let email = match &value {
            Value::Array(_) => primary_email(&value)
                .map(Value::String)
                .unwrap_or(Value::Null),
            other => other.clone(),
        };
        attributes.insert("userName".to_owned(), email);
    } else {
        attributes.insert(path.to_owned(), value);
    }
    Ok(attributes)
}

fn filter_of(raw: Option<&String>) -> Result<UserFilter, ScimError> {
    let Some(raw) = raw.map(|f| f.trim()).filter(|f| !f.is_empty()) else {
        return Ok(UserFilter::All);
    };
    if holds_refused_char(raw) {
        return Err(ScimError::invalid("invalidValue", REFUSED_TEXT));
    }
    let invalid = || {
        ScimError::invalid(
            "invalidFilter",
            "supported filters: userName eq \"…\", externalId eq \"…\", emails.value eq \"…\"",
        )
    };
    let mut words = raw.splitn(3, ' ');
    let (attribute, op, value) = (
        words.next().ok_or_else(invalid)?,
        words.next().ok_or_else(invalid)?,
        words.next().ok_or_else(invalid)?.trim(),
    );
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|v| !v.contains('"'))
        .ok_or_else(invalid)?
        .to_owned();
    if !op.eq_ignore_ascii_case("eq") {
        return Err(invalid());
    }
    match attribute.to_ascii_lowercase().as_str() {
        "username" | "emails.value" => Ok(UserFilter::UserName(value)),
        "externalid" => Ok(UserFilter::ExternalId(value)),
        _ => Err(invalid()),
    }
}

fn number(raw: Option<&String>, default: u64) -> Result<u64, ScimError> {
    match raw {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(|n| n.max(0) as u64)
            .map_err(|_| ScimError::invalid("invalidValue", "startIndex and count are integers")),
    }
}

async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    finish(
        async {
            let caller = authenticate(&req, &state).await?;
            let params = web::Query::<HashMap<String, String>>::from_query(req.query_string())
                .map_err(|_| ScimError::invalid("invalidSyntax", "malformed query string"))?;
            let filter = filter_of(params.get("filter"))?;
            let start = number(params.get("startIndex"), 1)?.max(1);
            let count = number(params.get("count"), DEFAULT_COUNT)?.min(MAX_COUNT);
            let (total, page) =
                directory::list(&state.db, &caller, &filter, start - 1, count).await?;
            let resources: Vec<Value> = page.iter().map(user_json).collect();
            Ok(scim_json(
                StatusCode::OK,
                &json!({
                    "schemas": [LIST_SCHEMA],
                    "totalResults": total,
                    "startIndex": start,
                    "itemsPerPage": resources.len(),
                    "Resources": resources,
                }),
            ))
        }
        .await,
    )
}

async fn fetch(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    finish(
        async {
            let caller = authenticate(&req, &state).await?;
            let person = directory::get(&state.db, &caller, parse_id(&path)?).await?;
            Ok(user_response(StatusCode::OK, &person))
        }
        .await,
    )
}

async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    finish(
        async {
            let caller = authenticate(&req, &state).await?;
            let attributes = parse_body(&read_body(payload).await?)?;
            let mut record = EmployeeRecord::default();
            apply_attributes(&mut record, &attributes, None)?;
            if record.email.trim().is_empty() {
                return Err(ScimError::invalid("invalidValue", "userName is required"));
            }
            if record.external_id.trim().is_empty() {
                record.external_id = record.email.trim().to_lowercase();
            }
            if directory::exists(&state.db, &caller, &record.email, &record.external_id).await? {
                return Err(ScimError::new(
                    StatusCode::CONFLICT,
                    Some("uniqueness"),
                    "a user with this userName or externalId exists",
                ));
            }
            let ratio = state.config.rules.hris_max_deactivation_ratio;
            let person =
                retry_once(|| directory::provision(&state.db, &caller, ratio, record.clone()))
                    .await?;
            Ok(user_response(StatusCode::CREATED, &person))
        }
        .await,
    )
}

/// Loads the user and the record that reproduces it.
async fn current(
    req: &HttpRequest,
    state: &AppState,
    id: &str,
) -> Result<(Caller, EmployeeRecord), ScimError> {
    let caller = authenticate(req, state).await?;
    let person = directory::get(&state.db, &caller, parse_id(id)?).await?;
    Ok((caller, directory::record_of(&state.db, &person).await?))
}

/// Provisions the record; a transaction lost to a concurrent one is run
/// once more (setting a user to a given state is idempotent).
async fn save(state: &AppState, caller: &Caller, record: EmployeeRecord) -> ScimResult {
    let ratio = state.config.rules.hris_max_deactivation_ratio;
    let person =
        retry_once(|| directory::provision(&state.db, caller, ratio, record.clone())).await?;
    Ok(user_response(StatusCode::OK, &person))
}

async fn replace(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    finish(
        async {
            let (caller, stored) = current(&req, &state, &path).await?;
            let attributes = parse_body(&read_body(payload).await?)?;
            let key = stored.external_id.clone();
            // PUT replaces what SCIM describes; the HRIS's own attributes stay.
            let mut record = EmployeeRecord {
                email: String::new(),
                given_name: None,
                family_name: None,
                display_name: None,
                job_title: None,
                ..stored
            };
            apply_attributes(&mut record, &attributes, Some(&key))?;
            if record.email.trim().is_empty() {
                return Err(ScimError::invalid("invalidValue", "userName is required"));
            }
            save(&state, &caller, record).await
        }
        .await,
    )
}

async fn patch(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    finish(
        async {
            let (caller, mut record) = current(&req, &state, &path).await?;
            let request = parse_body(&read_body(payload).await?)?;
            let operations = request
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("operations"))
                .and_then(|(_, v)| v.as_array())
                .ok_or_else(|| ScimError::invalid("invalidSyntax", "Operations is required"))?;
            let key = record.external_id.clone();
            for operation in operations {
                let attributes = operation_attributes(operation)?;
                apply_attributes(&mut record, &attributes, Some(&key))?;
            }
            save(&state, &caller, record).await
        }
        .await,
    )
}

async fn remove(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    finish(
        async {
            let (caller, record) = current(&req, &state, &path).await?;
            let leaving = EmployeeRecord {
                status: Some(EmployeeStatus::Terminated),
                ..record
            };
            save(&state, &caller, leaving).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        .await,
    )
}

async fn service_provider_config() -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [CONFIG_SCHEMA],
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_COUNT },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": false },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A token of the identity provider with the hris role",
                "primary": true,
            }],
        }),
    )
}
