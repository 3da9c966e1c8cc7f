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
//!
//! Validators and providers discover all this at `/ServiceProviderConfig`,
//! `/Schemas` and `/ResourceTypes` ([`discovery`]); the User JSON carries
//! exactly what the User schema declares, unassigned attributes omitted.
//! Every error under `/scim/v2`, unknown routes and methods included, is a
//! SCIM error body (RFC 7644 §3.12).

mod discovery;
mod patch;
mod projection;

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
use projection::Projection;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const CONTENT_TYPE: &str = "application/scim+json";
/// Largest request body: one user.
const MAX_BODY: usize = 64 * 1024;
/// Largest page.
const MAX_COUNT: u64 = 1_000;
/// Page size when the client names none.
const DEFAULT_COUNT: u64 = 100;

/// Registers the SCIM routes (under `/scim/v2`). Each path is one resource
/// whose other methods answer a SCIM 405 with `Allow` (actix alone would
/// answer an empty 404), and any other path a SCIM 404: SCIM clients read
/// the body of every error. `/Users/.search` comes before `/Users/{id}`,
/// which would otherwise take it.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        endpoint("/Users", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(endpoint("/Users/.search", "POST").route(web::post().to(search)))
    .service(
        endpoint("/Users/{id}", "GET, PUT, PATCH, DELETE")
            .route(web::get().to(fetch))
            .route(web::put().to(replace))
            .route(web::patch().to(patch))
            .route(web::delete().to(remove)),
    )
    .service(endpoint("/.search", "POST").route(web::post().to(search)))
    .service(
        endpoint("/ServiceProviderConfig", "GET")
            .route(web::get().to(discovery::service_provider_config)),
    )
    .service(endpoint("/Schemas", "GET").route(web::get().to(discovery::schemas)))
    .service(endpoint("/Schemas/{id}", "GET").route(web::get().to(discovery::schema)))
    .service(endpoint("/ResourceTypes", "GET").route(web::get().to(discovery::resource_types)))
    .service(endpoint("/ResourceTypes/{id}", "GET").route(web::get().to(discovery::resource_type)))
    .default_service(web::to(no_such_endpoint));
}

/// The resource at `path`, answering the methods it has no route for with
/// a SCIM 405 naming those it has (`allow`, RFC 9110 §15.5.6).
fn endpoint(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
        method_not_allowed(&req, allow)
    }))
}

fn method_not_allowed(req: &HttpRequest, allow: &'static str) -> HttpResponse {
    let path = req
        .match_pattern()
        .unwrap_or_else(|| "this path".to_owned());
    let detail = format!("{} is not supported on {path}; use {allow}", req.method());
    let mut response = ScimError::new(StatusCode::METHOD_NOT_ALLOWED, None, detail).response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// Anything under `/scim/v2` that is no endpoint.
async fn no_such_endpoint() -> HttpResponse {
    ScimError::new(StatusCode::NOT_FOUND, None, "no such endpoint").response()
}

/// A SCIM error response (RFC 7644 §3.12).
#[derive(Debug)]
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

/// The SCIM representation of an employee: the attributes the User schema
/// declares, those unassigned left out (RFC 7643 §2.5).
fn user_json(person: &employee::Model) -> Value {
    let mut user = json!({
        "schemas": [USER_SCHEMA],
        "id": person.id,
        "externalId": person.external_id,
        "userName": person.email,
        "displayName": person.display_name,
        "timezone": person.timezone,
        "active": person.status != EmployeeStatus::Terminated,
        "emails": [{ "value": person.email, "type": "work", "primary": true }],
        "meta": {
            "resourceType": "User",
            "created": person.created_at.to_rfc3339(),
            "lastModified": person.updated_at.to_rfc3339(),
            "location": format!("/scim/v2/Users/{}", person.id),
        },
    });
    let name: Map<String, Value> = [
        ("givenName", &person.given_name),
        ("familyName", &person.family_name),
    ]
    .into_iter()
    .filter_map(|(part, value)| Some((part.to_owned(), json!(value.as_ref()?))))
    .collect();
    if !name.is_empty() {
        user["name"] = Value::Object(name);
    }
    if let Some(title) = &person.job_title {
        user["title"] = json!(title);
    }
    user
}

/// One user with the attributes the request asked for, and its `Location`.
fn user_response(
    status: StatusCode,
    person: &employee::Model,
    projection: &Projection,
) -> HttpResponse {
    let mut response = scim_json(status, &projection.apply(user_json(person)));
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

fn filter_of(raw: Option<&str>) -> Result<UserFilter, ScimError> {
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

/// The largest startIndex or count read (far above any directory's size).
const MAX_INDEX: u64 = 1 << 40;

fn number(raw: Option<&str>, default: u64) -> Result<u64, ScimError> {
    match raw {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(|n| u64::try_from(n).unwrap_or(0).min(MAX_INDEX))
            .map_err(|_| ScimError::invalid("invalidValue", "startIndex and count are integers")),
    }
}

/// A startIndex or count in a SearchRequest: a number (or a numeric string).
fn json_number(value: Option<&Value>, default: u64) -> Result<u64, ScimError> {
    match value {
        None | Some(Value::Null) => Ok(default),
        // Below 1 reads as 1 (startIndex) or 0 (count), as in a query string.
        // Beyond i64 the database layer cannot bind it: clamped far above
        // any directory's size.
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
            Ok(n.as_u64().unwrap_or(0).min(MAX_INDEX))
        }
        Some(Value::String(s)) => number(Some(s), default),
        Some(_) => Err(ScimError::invalid(
            "invalidValue",
            "startIndex and count are integers",
        )),
    }
}

/// The attribute names of a SearchRequest member: an array of strings (or
/// one comma-separated string, as in a query string).
fn names(value: Option<&Value>) -> Result<Vec<&str>, ScimError> {
    let invalid = || {
        ScimError::invalid(
            "invalidValue",
            "attributes and excludedAttributes are arrays of attribute names",
        )
    };
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().ok_or_else(invalid))
            .collect(),
        Some(_) => Err(invalid()),
    }
}

/// What a list or search asks for: which users, which page, which attributes.
struct Query {
    filter: UserFilter,
    /// 1-based.
    start: u64,
    count: u64,
    projection: Projection,
}

impl Query {
    /// From `GET /Users`'s query string.
    fn from_params(params: &HashMap<String, String>) -> Result<Self, ScimError> {
        let param = |name: &str| params.get(name).map(String::as_str);
        Ok(Self {
            filter: filter_of(param("filter"))?,
            start: number(param("startIndex"), 1)?.max(1),
            count: number(param("count"), DEFAULT_COUNT)?.min(MAX_COUNT),
            projection: projection_of(params),
        })
    }

    /// From a SearchRequest body (RFC 7644 §3.4.3); members are matched
    /// case-insensitively, `sortBy` is ignored as in a query string.
    fn from_search(body: &Map<String, Value>) -> Result<Self, ScimError> {
        let member = |name: &str| {
            body.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        };
        let filter = match member("filter") {
            None | Some(Value::Null) => None,
            Some(Value::String(filter)) => Some(filter.as_str()),
            Some(_) => {
                return Err(ScimError::invalid(
                    "invalidFilter",
                    "filter must be a string",
                ));
            }
        };
        Ok(Self {
            filter: filter_of(filter)?,
            start: json_number(member("startIndex"), 1)?.max(1),
            count: json_number(member("count"), DEFAULT_COUNT)?.min(MAX_COUNT),
            projection: Projection::new(
                names(member("attributes"))?,
                names(member("excludedAttributes"))?,
            ),
        })
    }
}

fn query_params(req: &HttpRequest) -> Result<HashMap<String, String>, ScimError> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| ScimError::invalid("invalidSyntax", "malformed query string"))
}

/// `attributes` / `excludedAttributes` of a query string.
fn projection_of(params: &HashMap<String, String>) -> Projection {
    Projection::new(
        params.get("attributes").map(String::as_str),
        params.get("excludedAttributes").map(String::as_str),
    )
}

/// The ListResponse answering `query`.
async fn page(state: &AppState, caller: &Caller, query: &Query) -> ScimResult {
    let offset = query.start - 1;
    let (total, page) =
        directory::list(&state.db, caller, &query.filter, offset, query.count).await?;
    let resources: Vec<Value> = page
        .iter()
        .map(|person| query.projection.apply(user_json(person)))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": query.start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    ))
}

async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    finish(
        async {
            let caller = authenticate(&req, &state).await?;
            let query = Query::from_params(&query_params(&req)?)?;
            page(&state, &caller, &query).await
        }
        .await,
    )
}

/// `POST /Users/.search` and `POST /.search` (RFC 7644 §3.4.3): a list whose
/// query is in the body. Users are the only resource type, so the root
/// search is the same.
async fn search(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    finish(
        async {
            let caller = authenticate(&req, &state).await?;
            let body = parse_body(&read_body(payload).await?)?;
            page(&state, &caller, &Query::from_search(&body)?).await
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
            let projection = projection_of(&query_params(&req)?);
            let person = directory::get(&state.db, &caller, parse_id(&path)?).await?;
            Ok(user_response(StatusCode::OK, &person, &projection))
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
            let projection = projection_of(&query_params(&req)?);
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
            Ok(user_response(StatusCode::CREATED, &person, &projection))
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
async fn save(
    state: &AppState,
    caller: &Caller,
    record: EmployeeRecord,
    projection: &Projection,
) -> ScimResult {
    let ratio = state.config.rules.hris_max_deactivation_ratio;
    let person =
        retry_once(|| directory::provision(&state.db, caller, ratio, record.clone())).await?;
    Ok(user_response(StatusCode::OK, &person, projection))
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
            let projection = projection_of(&query_params(&req)?);
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
            save(&state, &caller, record, &projection).await
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
            let projection = projection_of(&query_params(&req)?);
            let request = parse_body(&read_body(payload).await?)?;
            let operations = request
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("operations"))
                .and_then(|(_, v)| v.as_array())
                .ok_or_else(|| ScimError::invalid("invalidSyntax", "Operations is required"))?;
            let key = record.external_id.clone();
            for operation in operations {
                patch::apply_operation(&mut record, operation, &key)?;
            }
            save(&state, &caller, record, &projection).await
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
            save(&state, &caller, leaving, &Projection::default()).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        .await,
    )
}
