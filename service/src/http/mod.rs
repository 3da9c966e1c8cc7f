//! The HTTP surface: `POST`/`GET /graphql`, GraphiQL (`graphiql`, dev mode or `GRAPHIQL=true`), `/healthz`,
//! `/readyz`; SCIM (`crate::scim`) and calendar feeds (`crate::feed_http`)
//! beside them.
//!
//! The protections the OWASP GraphQL cheat sheet asks for that async-graphql's
//! actix extractor does not give are enforced here, before any parsing:
//! JSON-only POSTs (no CSRF through simple requests), mutations over POST only,
//! a body cap that also holds after gzip decompression, batch limits, and a
//! timeout around each operation.

use std::io::Read as _;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, BytesMut};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{BatchRequest, BatchResponse, Request, Response, ServerError};
use futures_util::{FutureExt as _, StreamExt as _};
use sea_orm::DatabaseConnection;
use tracing::Instrument as _;

use crate::auth::{AuthFailure, Authenticated, Authenticator, Caller, Role};
use crate::cache::FreeTimeCache;
use crate::config::Config;
use crate::graphql::AppSchema;
use crate::graphql::compiled::{self, CompiledRead};
use crate::graphql::context::RequestData;
use crate::graphql::error::{code, invalid_argument_field};
use crate::graphql::limits::{self, Refusal, RefusalKind};
use crate::graphql::loaders::Loaders;
use crate::graphql::observability;
use crate::graphql::trusted::NotTrusted;

pub mod graphiql;
mod hris_push;
pub mod negotiation;

use negotiation::MediaType;

/// Shared by every worker: built once at start.
pub struct AppState {
    /// The executable schema.
    pub schema: AppSchema,
    /// The types a variable may be declared with (`limits::check_variable_types`).
    pub input_types: Arc<std::collections::HashSet<String>>,
    /// Bearer token → caller.
    pub authenticator: Authenticator,
    /// The primary pool (readiness checks).
    pub db: DatabaseConnection,
    /// The pool metrics read from (`DATABASE_READ_URL`, else the primary).
    pub metrics_db: crate::domain::metrics::MetricsSource,
    /// The free-time cache (readiness reports its health).
    pub cache: FreeTimeCache,
    /// Set on SIGTERM: readiness answers 503 while requests still run.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Requests per caller (429 past the limit).
    pub limiter: Arc<crate::rate_limit::RateLimiter>,
    /// The documents admitted before, kept parsed.
    pub documents: limits::ParsedDocuments,
    /// The service's instruments, when metrics are on (operations counted).
    pub metrics: Option<Arc<crate::instruments::Metrics>>,
    /// Each caller's share of the pool, the schema's own: compiled reads
    /// (`graphql::compiled`) run within it as the executor's root fields do.
    pub caller_share: crate::graphql::fair_share::CallerShare,
    /// Whether the executor's limits admit the compiled reads, asked of the
    /// schema once, by the first request that would take one (not at start:
    /// running the executor costs an idle replica ≈ 2 MiB it keeps).
    pub compiled_within_limits: Arc<tokio::sync::OnceCell<bool>>,
}

impl AppState {
    /// [`compiled::within_limits`], asked once; a refusal is logged once.
    async fn compiled_within_limits(&self) -> bool {
        *self
            .compiled_within_limits
            .get_or_init(|| async {
                let admitted = compiled::within_limits(&self.schema).await;
                if !admitted {
                    tracing::warn!(
                        "GRAPHQL_MAX_DEPTH, _RECURSIVE_DEPTH or _COMPLEXITY refuse the main \
                         screen: compiled reads are off"
                    );
                }
                admitted
            })
            .await
    }
}

/// The id of one HTTP request: the caller's `X-Request-Id` when it is a sane
/// token (so a gateway's id carries through), else a fresh UUID. It is in
/// every log line of the request, echoed in the response, and recorded in the
/// audit log of the changes the request makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    const HEADER: &'static str = "x-request-id";

    /// Takes the incoming id if it is 1–128 characters of `[A-Za-z0-9._-]`.
    pub fn from_header(headers: &header::HeaderMap) -> Self {
        let incoming = headers
            .get(Self::HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| (1..=128).contains(&v.len()))
            .filter(|v| {
                v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            });
        Self(incoming.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned))
    }

    /// Writes the id into the response headers.
    pub fn stamp(&self, headers: &mut header::HeaderMap) {
        if let Ok(value) = HeaderValue::from_str(&self.0) {
            headers.insert(header::HeaderName::from_static(Self::HEADER), value);
        }
    }
}

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphql", web::post().to(graphql_post))
        .route("/graphql", web::get().to(graphql_get))
        .route("/graphiql/{name}", web::get().to(graphiql::asset))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .service(web::scope("/scim/v2").configure(crate::scim::routes))
        .configure(crate::feed_http::routes)
        .configure(crate::exports_http::routes);
}

/// A GraphQL-shaped error body with the contract's code.
pub(crate) fn error_response(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    }))
}

/// 429 with `Retry-After` and the contract's RATE_LIMITED.
pub(crate) fn too_many(limited: crate::rate_limit::Limited) -> HttpResponse {
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        code::RATE_LIMITED,
        "too many requests: slow down and retry after the delay given",
    );
    if let Ok(value) = HeaderValue::from_str(&limited.retry_after_secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn refused(failure: &AuthFailure, had_header: bool) -> HttpResponse {
    if let AuthFailure::Lookup(cause) = failure {
        tracing::error!(%cause, "could not resolve the caller");
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            code::INTERNAL,
            "service unavailable",
        );
    }
    tracing::info!(reason = %failure, "request refused");
    let challenge = if had_header {
        r#"Bearer error="invalid_token""#
    } else {
        "Bearer"
    };
    let mut response = error_response(
        StatusCode::UNAUTHORIZED,
        code::UNAUTHENTICATED,
        "authentication required",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

/// The caller of a request, from its `Authorization` header (shared by
/// GraphQL and SCIM, which word their refusals differently).
pub async fn caller_of(req: &HttpRequest, state: &AppState) -> Result<Caller, AuthFailure> {
    authenticated_of(req, state).await.map(|found| found.caller)
}

/// [`caller_of`] with the employee row the caller was linked through.
async fn authenticated_of(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Authenticated, AuthFailure> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state.authenticator.authenticate(header).await
}

/// The caller of a request, or the 401/503 response refusing it.
pub(crate) async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Authenticated, HttpResponse> {
    let had_header = req.headers().contains_key(header::AUTHORIZATION);
    authenticated_of(req, state)
        .await
        .map_err(|failure| refused(&failure, had_header))
}

/// Largest multipart body (an upload, per the GraphQL multipart request
/// specification): room for a calendar past its 1 MiB limit to be refused
/// with a field-named error rather than cut off; anything larger is 413.
const UPLOAD_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Bytes of a batch's operations besides their files: query texts and
/// variables as JSON.
fn operations_size(batch: &BatchRequest) -> usize {
    let size = |request: &Request| {
        let json =
            |bytes: Result<Vec<u8>, serde_json::Error>| bytes.map_or(usize::MAX, |v| v.len());
        request
            .query
            .len()
            .saturating_add(json(serde_json::to_vec(&request.variables)))
            .saturating_add(json(serde_json::to_vec(&request.extensions)))
    };
    match batch {
        BatchRequest::Single(request) => size(request),
        BatchRequest::Batch(requests) => requests.iter().map(size).fold(0, usize::saturating_add),
    }
}

/// Each request of `batch` through the trusted documents (see
/// [`crate::graphql::trusted`]): named ones filled in from the manifest,
/// unknown texts logged or refused by the mode, before anything is parsed.
/// Nothing happens without a manifest.
fn trust(
    batch: BatchRequest,
    body: &[u8],
    config: &Config,
    exempt: bool,
) -> Result<BatchRequest, NotTrusted> {
    #[derive(serde::Deserialize)]
    struct Named {
        #[serde(rename = "documentId")]
        document_id: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Ids {
        One(Named),
        Many(Vec<Named>),
    }
    let trusted = &config.graphql.trusted;
    if trusted.is_empty() {
        // No manifest: mode off, as the configuration ensures.
        return Ok(batch);
    }
    let some_without_text = match &batch {
        BatchRequest::Single(request) => request.query.is_empty(),
        BatchRequest::Batch(requests) => requests.iter().any(|r| r.query.is_empty()),
    };
    // Read again for `documentId` (one field, skimmed): any request within
    // the ordinary body limit, and a larger one only if it sent no text.
    let look = some_without_text || body.len() <= config.graphql.body_limit;
    let ids: Vec<Option<String>> = match look.then(|| serde_json::from_slice::<Ids>(body)) {
        Some(Ok(Ids::One(named))) => vec![named.document_id],
        Some(Ok(Ids::Many(named))) => named.into_iter().map(|n| n.document_id).collect(),
        _ => Vec::new(),
    };
    let id = |index: usize| ids.get(index).and_then(Option::as_deref);
    Ok(match batch {
        BatchRequest::Single(request) => {
            BatchRequest::Single(trusted.admit(request, id(0), exempt)?)
        }
        BatchRequest::Batch(requests) => BatchRequest::Batch(
            requests
                .into_iter()
                .enumerate()
                .map(|(index, request)| trusted.admit(request, id(index), exempt))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Files a multipart batch carries, in all its operations.
fn uploads_in(batch: &BatchRequest) -> usize {
    match batch {
        BatchRequest::Single(request) => request.uploads.len(),
        BatchRequest::Batch(requests) => requests.iter().map(|r| r.uploads.len()).sum(),
    }
}

/// What a POST body holds.
enum BodyKind {
    /// `application/json`: one operation or a batch.
    Json,
    /// `multipart/form-data` with its full Content-Type (the boundary).
    Multipart(String),
}

/// What the Content-Type declares (any parameters); None: neither JSON nor
/// multipart, refused with 415.
fn body_kind(req: &HttpRequest) -> Option<BodyKind> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())?;
    let essence = content_type.split(';').next()?.trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Some(BodyKind::Json)
    } else if essence.eq_ignore_ascii_case("multipart/form-data") {
        Some(BodyKind::Multipart(content_type.to_owned()))
    } else {
        None
    }
}

/// Body encodings we decode ourselves (so the cap applies to the decoded size).
enum Encoding {
    Identity,
    Gzip,
}

fn encoding(req: &HttpRequest) -> Option<Encoding> {
    match req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().map(str::trim))
    {
        None => Some(Encoding::Identity),
        Some(Ok(v)) if v.eq_ignore_ascii_case("identity") => Some(Encoding::Identity),
        Some(Ok(v)) if v.eq_ignore_ascii_case("gzip") => Some(Encoding::Gzip),
        _ => None,
    }
}

enum BodyError {
    TooLarge,
    Unreadable,
}

/// Reads at most `limit` bytes of body, refusing early on a larger Content-Length.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<BytesMut, BodyError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Decompresses gzip while never producing more than `limit` bytes (no zip bombs).
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut decoded)
        .map_err(|_| BodyError::Unreadable)?;
    if decoded.len() > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(decoded)
}

fn body_error(err: BodyError) -> HttpResponse {
    match err {
        BodyError::TooLarge => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::BAD_USER_INPUT,
            "request body too large",
        ),
        BodyError::Unreadable => error_response(
            StatusCode::BAD_REQUEST,
            code::BAD_USER_INPUT,
            "request body could not be read",
        ),
    }
}

async fn graphql_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(kind) = body_kind(&req) else {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::BAD_USER_INPUT,
            "Content-Type must be application/json (or multipart/form-data for an upload)",
        );
    };
    let Some(encoding) = encoding(&req) else {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::BAD_USER_INPUT,
            "Content-Encoding must be gzip or identity",
        );
    };
    let Ok(media) = MediaType::of(&req) else {
        return negotiation::not_acceptable();
    };
    let signed_in = match authenticate(&req, &state).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let caller = &signed_in.caller;
    if let Some(limited) = state.limiter.check(caller).await {
        return too_many(limited);
    }
    let request_id = request_id_of(&req);
    // The HRIS account pushes the whole company in one call; everyone else
    // stays under the small limit.
    let limit = if caller.has_role(Role::Hris) {
        state.config.graphql.hris_body_limit
    } else {
        state.config.graphql.body_limit
    };
    let operations_limit = limit;
    let is_multipart = matches!(kind, BodyKind::Multipart(_));
    let limit = match kind {
        BodyKind::Json => limit,
        BodyKind::Multipart(_) => limit.max(UPLOAD_BODY_LIMIT),
    };
    let raw = match read_body(&req, payload, limit).await {
        Ok(raw) => raw,
        Err(err) => return body_error(err),
    };
    // Parsed where it lies: the HRIS body is up to 128 MiB, not copied.
    let decoded: std::borrow::Cow<[u8]> = match encoding {
        Encoding::Identity => std::borrow::Cow::Borrowed(&raw),
        Encoding::Gzip => match gunzip(&raw, limit) {
            Ok(decoded) => std::borrow::Cow::Owned(decoded),
            Err(err) => return body_error(err),
        },
    };
    // The HRIS account's whole-company push is read in one pass when it
    // has the plain shape (`hris_push`); everything else the ordinary way.
    let pushed = match kind {
        BodyKind::Json if caller.has_role(Role::Hris) => {
            hris_push::read(&decoded, state.config.graphql.max_nesting)
        }
        _ => None,
    };
    let batch: BatchRequest = match (kind, pushed) {
        (_, Some(push)) => BatchRequest::Single(push),
        (BodyKind::Json, None) => match serde_json::from_slice(&decoded) {
            Ok(batch) => batch,
            Err(_) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    code::BAD_USER_INPUT,
                    "body is not a GraphQL JSON request",
                );
            }
        },
        (BodyKind::Multipart(content_type), None) => {
            let body = futures_util::io::Cursor::new(decoded.to_vec());
            let options = async_graphql::http::MultipartOptions::default()
                .max_num_files(1)
                .max_file_size(UPLOAD_BODY_LIMIT);
            match async_graphql::http::receive_batch_body(Some(content_type), body, options).await {
                // The file may be larger than a JSON body, the operations not.
                Ok(batch) if operations_size(&batch) > operations_limit => {
                    return body_error(BodyError::TooLarge);
                }
                Ok(batch) if uploads_in(&batch) > 1 => {
                    return error_response(
                        StatusCode::BAD_REQUEST,
                        code::BAD_USER_INPUT,
                        "a request uploads at most one file",
                    );
                }
                Ok(batch) => batch,
                Err(_) => {
                    return error_response(
                        StatusCode::BAD_REQUEST,
                        code::BAD_USER_INPUT,
                        "body is not a GraphQL multipart request (operations, map, one file)",
                    );
                }
            }
        }
    };
    let exempt = state.config.auth.dev_mode;
    // A multipart request names no document by id (it carries a file).
    let json_body: &[u8] = if is_multipart { &[] } else { &decoded };
    let batch = match trust(batch, json_body, &state.config, exempt) {
        Ok(batch) => batch,
        Err(refusal) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                code::PERSISTED_QUERY_NOT_FOUND,
                &refusal.0,
            );
        }
    };
    // Each operation of a batch counts (the first already did).
    if let BatchRequest::Batch(requests) = &batch {
        for _ in 1..requests.len().min(state.config.graphql.max_batch.max(1)) {
            if let Some(limited) = state.limiter.check(caller).await {
                return too_many(limited);
            }
        }
    }
    if let BatchRequest::Batch(requests) = &batch {
        let max = state.config.graphql.max_batch;
        if max <= 1 || requests.len() > max || requests.is_empty() {
            let message = format!("batches hold 1 to {max} operations");
            return error_response(StatusCode::BAD_REQUEST, code::BAD_USER_INPUT, &message);
        }
    }
    let batch = match admit_batch(batch, &state) {
        Ok(batch) => batch,
        Err(refusal) => return refusal_response(&refusal, media),
    };
    let mut responses = Vec::with_capacity(batch.operations.len());
    // Once a batch's mutation ran, the sign-in row may be stale: the
    // operations after it read the caller afresh.
    let mut row_current = true;
    for operation in batch.operations {
        let changes = operation.operation != Some(OperationType::Query);
        let caller_row = signed_in.employee.as_ref().filter(|_| row_current);
        responses.push(
            execute(
                &state,
                &signed_in.caller,
                caller_row,
                &request_id,
                operation,
            )
            .await,
        );
        row_current &= !changes;
    }
    let response = match (batch.batched, responses.pop()) {
        (false, Some(single)) => BatchResponse::Single(single),
        (_, last) => {
            responses.extend(last);
            BatchResponse::Batch(responses)
        }
    };
    negotiation::respond(media, &response)
}

async fn graphql_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if req.query_string().is_empty() {
        return graphiql::page(&req, &state);
    }
    // Authenticated first: nothing of an anonymous request is parsed.
    let signed_in = match authenticate(&req, &state).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    if let Some(limited) = state.limiter.check(&signed_in.caller).await {
        return too_many(limited);
    }
    let Ok(media) = MediaType::of(&req) else {
        return negotiation::not_acceptable();
    };
    let Some((request, document_id)) = get_parameters(req.query_string()) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            code::BAD_USER_INPUT,
            "query string is not a GraphQL request (query, operationName, variables, extensions, documentId)",
        );
    };
    let exempt = state.config.auth.dev_mode;
    let request = match state
        .config
        .graphql
        .trusted
        .admit(request, document_id.as_deref(), exempt)
    {
        Ok(request) => request,
        Err(refusal) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                code::PERSISTED_QUERY_NOT_FOUND,
                &refusal.0,
            );
        }
    };
    let request = match admit(request, &state) {
        Ok(request) => request,
        Err(refusal) => return refusal_response(&refusal, media),
    };
    if selects_mutation(&request) {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            code::BAD_USER_INPUT,
            "mutations are accepted over POST only",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let request_id = request_id_of(&req);
    let caller_row = signed_in.employee.as_ref();
    let response = BatchResponse::Single(
        execute(&state, &signed_in.caller, caller_row, &request_id, request).await,
    );
    negotiation::respond(media, &response)
}

/// A GET request's parameters, named as the GraphQL-over-HTTP specification
/// names them (`operation_name`, async-graphql's old spelling, still read).
#[derive(serde::Deserialize)]
struct GetParameters {
    #[serde(default)]
    query: String,
    #[serde(rename = "operationName", alias = "operation_name")]
    operation_name: Option<String>,
    /// JSON text.
    variables: Option<String>,
    /// JSON text.
    extensions: Option<String>,
    /// A trusted document's id, instead of (or beside) its text.
    #[serde(rename = "documentId")]
    document_id: Option<String>,
}

/// The request a GET query string holds, with the trusted document it names;
/// None when it is not one (variables or extensions that are not JSON maps).
fn get_parameters(query_string: &str) -> Option<(Request, Option<String>)> {
    let parameters = web::Query::<GetParameters>::from_query(query_string)
        .ok()?
        .into_inner();
    let mut request = Request::new(parameters.query);
    request.operation_name = parameters.operation_name;
    if let Some(variables) = parameters.variables {
        let variables: serde_json::Value = serde_json::from_str(&variables).ok()?;
        if !variables.is_object() {
            return None;
        }
        request.variables = async_graphql::Variables::from_json(variables);
    }
    if let Some(extensions) = parameters.extensions {
        request.extensions = serde_json::from_str(&extensions).ok()?;
    }
    Some((request, parameters.document_id))
}

/// A request whose text passed [`limits::admit`] (through
/// [`limits::ParsedDocuments`]), with its parsed document.
struct Admitted {
    request: Request,
    /// The type of the operation it selects (None: no such operation).
    operation: Option<OperationType>,
    /// The name of the operation it selects (spans and metrics).
    name: Option<String>,
}

/// A request's admitted operations: one, or a batch (answered as a list).
struct AdmittedBatch {
    operations: Vec<Admitted>,
    batched: bool,
}

/// Checks one request's text (nesting, size once expanded, control
/// characters) and hands its parsed document on, so it is parsed once.
fn admit(mut request: Request, state: &AppState) -> Result<Admitted, Refusal> {
    if request.query.trim().is_empty() {
        return Err(Refusal::bad_request("the request has no query"));
    }
    if let Some(name) = &request.operation_name
        && !is_graphql_name(name)
    {
        return Err(Refusal::bad_request("operationName is not a GraphQL name"));
    }
    let document = state.documents.admit(&request.query, &request.variables)?;
    limits::check_variable_types(&document, &state.input_types)?;
    let (operation, name) = selected_operation(&document, request.operation_name.as_deref())
        .map_or((None, None), |(ty, name)| (Some(ty), name));
    request.set_parsed_query(document);
    Ok(Admitted {
        request,
        operation,
        name,
    })
}

/// `[_A-Za-z][_0-9A-Za-z]*`, at most 128 characters: an operation name
/// reaches spans and logs, so nothing else is let through.
fn is_graphql_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// [`admit`] for each operation of a batch: one refused refuses the batch.
fn admit_batch(batch: BatchRequest, state: &AppState) -> Result<AdmittedBatch, Refusal> {
    Ok(match batch {
        BatchRequest::Single(request) => AdmittedBatch {
            operations: vec![admit(request, state)?],
            batched: false,
        },
        BatchRequest::Batch(requests) => AdmittedBatch {
            operations: requests
                .into_iter()
                .map(|request| admit(request, state))
                .collect::<Result<_, _>>()?,
            batched: true,
        },
    })
}

/// The refusal of a request that never reached the executor: a document
/// GraphQL refuses is a request error (status by media type), one over our
/// limits is always 400.
fn refusal_response(refusal: &Refusal, media: MediaType) -> HttpResponse {
    let reason = crate::telemetry::escaped(&refusal.message);
    tracing::info!(%reason, "operation refused before execution");
    match refusal.kind {
        RefusalKind::Invalid => {
            negotiation::request_error(media, &refusal.message, code::BAD_USER_INPUT)
        }
        RefusalKind::BadRequest => error_response(
            StatusCode::BAD_REQUEST,
            code::BAD_USER_INPUT,
            &refusal.message,
        ),
    }
}

/// The id the request middleware attached (a fresh one if it is missing).
fn request_id_of(req: &HttpRequest) -> RequestId {
    req.extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(|| RequestId::from_header(&header::HeaderMap::new()))
}

/// The type and name of the operation a request selects, by async-graphql's
/// rules (`prepare_request`): the operation the client's `operationName`
/// names, else the document's only one (a document of one named operation
/// parses as `Multiple`). None where async-graphql selects none (a name on
/// an anonymous operation, a name the document lacks, several operations
/// and no name): execution refuses it.
fn selected_operation(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<(OperationType, Option<String>)> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), None) => Some((op.node.ty, None)),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).map(|op| (op.node.ty, Some(name.to_owned())))
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(name, op)| (op.node.ty, Some(name.to_string()))),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Whether the operation the request selects is a mutation (or subscription).
fn selects_mutation(admitted: &Admitted) -> bool {
    matches!(
        admitted.operation,
        Some(OperationType::Mutation | OperationType::Subscription)
    )
}

/// Runs one operation for `caller` with fresh loaders, under the execution
/// timeout. A query's loaders remember what they loaded for the rest of the
/// request (the same mentees or skills are read once) and start with the
/// caller's own row as sign-in read it (`caller_row`, None when it may be
/// stale); a mutation's remember nothing, as it changes what they would
/// remember. The operation runs in its span and is counted
/// ([`observability`]).
async fn execute(
    state: &AppState,
    caller: &Caller,
    caller_row: Option<&entity::employee::Model>,
    request_id: &RequestId,
    mut admitted: Admitted,
) -> Response {
    let timeout = if caller.has_role(Role::Hris) {
        state.config.graphql.hris_execution_timeout
    } else {
        state.config.graphql.execution_timeout
    };
    // One deadline and one span, whichever path answers.
    let deadline = tokio::time::Instant::now() + timeout;
    let span = observability::operation_span(admitted.name.as_deref(), admitted.operation);
    if let Some(read) = compiled_read(state, &mut admitted)
        && state.compiled_within_limits().await
        && let Some(response) =
            answer_compiled(state, caller, read, &admitted, deadline, &span).await
    {
        return response;
    }
    let reads_only = admitted.operation == Some(OperationType::Query);
    let loaders = Loaders::new(state.db.clone(), reads_only);
    if reads_only && let Some(employee) = caller_row {
        loaders.prime_caller(employee.clone()).await;
    }
    let (operation, name) = (admitted.operation, admitted.name);
    let root_started = observability::RootStarted::default();
    let request = admitted
        .request
        .data(RequestData::new(caller.clone(), request_id.0.clone()))
        .data(root_started.clone())
        .data(loaders);
    // A panic inside async-graphql (a bug of ours or theirs) answers INTERNAL
    // instead of cutting the connection.
    let execution = std::panic::AssertUnwindSafe(state.schema.execute(request)).catch_unwind();
    let mut response = match tokio::time::timeout_at(deadline, execution)
        .instrument(span.clone())
        .await
    {
        Ok(Ok(mut response)) => {
            observability::conclude(
                &mut response,
                root_started.is_set(),
                operation,
                name.as_deref(),
                state.metrics.as_deref(),
            );
            response
        }
        Ok(Err(_)) => {
            span.in_scope(|| tracing::error!("a GraphQL operation panicked"));
            observability::count_failure(operation, name.as_deref(), state.metrics.as_deref());
            internal_error("internal error")
        }
        Err(_) => {
            span.in_scope(|| tracing::warn!(?timeout, "GraphQL operation timed out"));
            observability::count_failure(operation, name.as_deref(), state.metrics.as_deref());
            internal_error("the operation took too long")
        }
    };
    for error in &mut response.errors {
        default_code(error);
    }
    response
}

/// The compiled read (`graphql::compiled`) an admitted query is, when
/// compiled reads are on (PostgreSQL only).
fn compiled_read(state: &AppState, admitted: &mut Admitted) -> Option<CompiledRead> {
    if !state.config.graphql.compiled_reads || admitted.operation != Some(OperationType::Query) {
        return None;
    }
    let operation_name = admitted.request.operation_name.clone();
    let document = admitted.request.parsed_query().ok()?;
    compiled::recognise(document, operation_name.as_deref())
}

/// The answer to a compiled read, run as the executor runs an operation
/// (the caller's share, the deadline, a caught panic, the operation's span
/// and metrics); None when the executor must answer instead, within the
/// same deadline: the read declined (`compiled::answer`) or failed, the
/// executor then giving the answer or the error it always gives.
async fn answer_compiled(
    state: &AppState,
    caller: &Caller,
    read: CompiledRead,
    admitted: &Admitted,
    deadline: tokio::time::Instant,
    span: &tracing::Span,
) -> Option<Response> {
    let (operation, name) = (admitted.operation, admitted.name.as_deref());
    let metrics = state.metrics.as_deref();
    let count = |outcome| {
        if let Some(metrics) = metrics {
            metrics.compiled_read(outcome);
        }
    };
    let work = state
        .caller_share
        .run(&caller.subject, compiled::answer(read, &state.db, caller));
    let answer = std::panic::AssertUnwindSafe(work).catch_unwind();
    let mut response = match tokio::time::timeout_at(deadline, answer)
        .instrument(span.clone())
        .await
    {
        Ok(Ok(Ok(Some(data)))) => Response::new(data),
        Ok(Ok(Ok(None))) => {
            count("declined");
            return None;
        }
        Ok(Ok(Err(err))) => {
            span.in_scope(
                || tracing::warn!(error = %err, "compiled read failed, the executor answers"),
            );
            count("failed");
            return None;
        }
        Ok(Err(_)) => {
            span.in_scope(|| tracing::error!("a compiled read panicked"));
            observability::count_failure(operation, name, metrics);
            return Some(internal_error("internal error"));
        }
        Err(_) => {
            span.in_scope(|| tracing::warn!("compiled read timed out"));
            observability::count_failure(operation, name, metrics);
            return Some(internal_error("the operation took too long"));
        }
    };
    observability::conclude(&mut response, true, operation, name, metrics);
    count("answered");
    Some(response)
}

/// A response of one INTERNAL error (never the client's fault).
fn internal_error(message: &str) -> Response {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code::INTERNAL);
    Response::from_errors(vec![error])
}

/// Errors raised by async-graphql itself (syntax, validation, limits, argument
/// coercion) carry no code: they are all the client's input.
fn default_code(error: &mut ServerError) {
    let field = invalid_argument_field(&error.message).map(str::to_owned);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code::BAD_USER_INPUT);
        if let Some(field) = field {
            extensions.set("field", field);
        }
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.draining.load(std::sync::atomic::Ordering::Acquire) {
        return HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "draining" }));
    }
    let (database, cache) = futures_util::join!(state.db.ping(), state.cache.health());
    let body = |status: &str, database: &str| {
        serde_json::json!({
            "status": status,
            "database": database,
            "cache": cache.as_str(),
            "cacheBackend": state.cache.backend(),
        })
    };
    match database {
        Ok(()) => HttpResponse::Ok().json(body("ready", "ok")),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            HttpResponse::ServiceUnavailable().json(body("unavailable", "unreachable"))
        }
    }
}
