//! GraphQL over HTTP: which media type a response is written in and which
//! status it carries, as the GraphQL-over-HTTP specification asks.
//!
//! - `Accept: application/graphql-response+json` gets that type back, and a
//!   request error (a document that does not parse or validate, variables
//!   that do not coerce) answers 400 without a `data` entry.
//! - `Accept: application/json`, `*/*` or no Accept gets `application/json`
//!   back, and a request error answers 200 (legacy clients read the body).
//! - An Accept naming neither answers 406.
//!
//! Refusals of our own limits (nesting, size, aliases) stay 4xx whatever the
//! client accepts: they protect the service, they are not GraphQL errors.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use async_graphql::{BatchResponse, Response, ServerError};

use crate::graphql::observability;

/// The two media types a GraphQL response may be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json`: the legacy type, every error answered 200.
    Json,
    /// `application/graphql-response+json`: request errors answered 4xx.
    GraphQLResponse,
}

impl MediaType {
    const JSON: &'static str = "application/json";
    const GRAPHQL_RESPONSE: &'static str = "application/graphql-response+json";

    /// The Content-Type header value, always with its charset.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
        }
    }

    /// The type the request's Accept header asks for.
    pub fn of(req: &HttpRequest) -> Result<Self, NotAcceptable> {
        let accept = match req.headers().get(header::ACCEPT) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| NotAcceptable)?),
        };
        negotiate(accept)
    }
}

/// The Accept header names neither GraphQL response type (406).
#[derive(Debug, PartialEq, Eq)]
pub struct NotAcceptable;

/// Picks the response type from an Accept header: the acceptable type with
/// the highest quality; on a tie `application/graphql-response+json`, the
/// specification's own type; wildcards and no header mean `application/json`.
pub fn negotiate(accept: Option<&str>) -> Result<MediaType, NotAcceptable> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(MediaType::Json);
    };
    let mut best: Option<(u16, MediaType)> = None;
    // At most 32 entries are looked at: an Accept header is short.
    for entry in accept.split(',').take(32) {
        let mut parts = entry.split(';');
        let essence = parts.next().unwrap_or_default().trim();
        let quality = parts.find_map(quality_of).unwrap_or(1000);
        if quality == 0 {
            continue;
        }
        let media = if essence.eq_ignore_ascii_case(MediaType::GRAPHQL_RESPONSE) {
            MediaType::GraphQLResponse
        } else if essence.eq_ignore_ascii_case(MediaType::JSON)
            || essence == "*/*"
            || essence.eq_ignore_ascii_case("application/*")
        {
            MediaType::Json
        } else {
            continue;
        };
        let better = match best {
            None => true,
            Some((q, kind)) => {
                quality > q
                    || (quality == q && media == MediaType::GraphQLResponse && kind != media)
            }
        };
        if better {
            best = Some((quality, media));
        }
    }
    best.map(|(_, media)| media).ok_or(NotAcceptable)
}

/// `q=0.5` → 500 (thousandths, as RFC 9110 allows three decimals).
fn quality_of(parameter: &str) -> Option<u16> {
    let (name, value) = parameter.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Some(0);
    }
    match whole {
        "1" => Some(1000),
        "0" => {
            let padded = format!("{fraction:0<3}");
            Some(padded.parse().unwrap_or(0))
        }
        _ => Some(0),
    }
}

/// Whether a response reports a request error: the operation never
/// reached execution, as [`observability::conclude`] marks it
/// ([`observability::NOT_EXECUTED`]). A mutation that ran, a timeout or a
/// panic is never one, whatever its errors look like.
pub fn is_request_error(response: &Response) -> bool {
    response
        .extensions
        .contains_key(observability::NOT_EXECUTED)
}

/// One operation's body: a request error has no `data` entry, as the
/// specification asks, and the mark never leaves the service.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Executed(&'a Response),
    RequestError { errors: &'a [ServerError] },
}

impl<'a> Body<'a> {
    fn of(response: &'a Response) -> Self {
        if is_request_error(response) {
            Body::RequestError {
                errors: &response.errors,
            }
        } else {
            Body::Executed(response)
        }
    }
}

/// The HTTP response for executed (or validated) operations.
pub fn respond(media: MediaType, response: &BatchResponse) -> HttpResponse {
    let (status, body) = match response {
        BatchResponse::Single(single) => {
            let status = match media {
                MediaType::GraphQLResponse if is_request_error(single) => StatusCode::BAD_REQUEST,
                _ => StatusCode::OK,
            };
            (status, serialize(&Body::of(single)))
        }
        // A batch is one 200: each operation reports its own errors.
        BatchResponse::Batch(all) => {
            let bodies: Vec<Body<'_>> = all.iter().map(Body::of).collect();
            (StatusCode::OK, serialize(&bodies))
        }
    };
    match body {
        // The type depends on Accept; the answer on the caller (its token).
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, media.content_type()))
            .insert_header((header::VARY, "Accept"))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .body(body),
        Err(err) => {
            tracing::error!(error = %err, "could not serialise a GraphQL response");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Room reserved for an answer's JSON before it is written: the
/// intranet's pages fit (the nested "my pairings" answer is about 6 KiB),
/// so the buffer is not regrown and copied half a dozen times on the way
/// (`serde_json::to_vec` starts at 128 bytes). Larger answers still grow it.
const RESPONSE_BUFFER_BYTES: usize = 8 * 1024;

/// `value` as JSON, in a buffer sized for a usual answer.
fn serialize(value: &impl serde::Serialize) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(RESPONSE_BUFFER_BYTES);
    serde_json::to_writer(&mut body, value)?;
    Ok(body)
}

/// The body of errors raised before execution (a syntax error): 200 under
/// `application/json`, 400 under `application/graphql-response+json`.
pub fn request_error(media: MediaType, message: &str, code: &str) -> HttpResponse {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    let mut response = Response::from_errors(vec![error]);
    observability::mark_not_executed(&mut response);
    respond(media, &BatchResponse::Single(response))
}

/// 406 with the types we can write.
pub fn not_acceptable() -> HttpResponse {
    let mut response = HttpResponse::NotAcceptable().json(serde_json::json!({
        "errors": [{
            "message": "Accept must allow application/graphql-response+json or application/json",
            "extensions": { "code": crate::graphql::error::code::BAD_USER_INPUT }
        }]
    }));
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_accept_header_means_json() {
        assert_eq!(negotiate(None), Ok(MediaType::Json));
        assert_eq!(negotiate(Some("  ")), Ok(MediaType::Json));
    }

    #[test]
    fn wildcards_mean_json() {
        assert_eq!(negotiate(Some("*/*")), Ok(MediaType::Json));
        assert_eq!(negotiate(Some("application/*")), Ok(MediaType::Json));
    }

    #[test]
    fn each_type_alone_is_answered_in_that_type() {
        assert_eq!(negotiate(Some("application/json")), Ok(MediaType::Json));
        assert_eq!(
            negotiate(Some("application/graphql-response+json")),
            Ok(MediaType::GraphQLResponse)
        );
        assert_eq!(
            negotiate(Some("Application/JSON; charset=utf-8")),
            Ok(MediaType::Json)
        );
    }

    #[test]
    fn both_at_equal_quality_prefer_the_specification_type() {
        assert_eq!(
            negotiate(Some("application/json, application/graphql-response+json")),
            Ok(MediaType::GraphQLResponse)
        );
        assert_eq!(
            negotiate(Some("application/graphql-response+json, application/json")),
            Ok(MediaType::GraphQLResponse)
        );
    }

    #[test]
    fn quality_decides_between_the_two() {
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json;q=0.5, application/json;q=0.9"
            )),
            Ok(MediaType::Json)
        );
        assert_eq!(
            negotiate(Some(
                "application/json;q=0.1, */*;q=0.05, application/graphql-response+json"
            )),
            Ok(MediaType::GraphQLResponse)
        );
    }

    #[test]
    fn a_type_refused_with_zero_quality_is_not_chosen() {
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json;q=0, application/json"
            )),
            Ok(MediaType::Json)
        );
        assert_eq!(negotiate(Some("application/json;q=0")), Err(NotAcceptable));
    }

    #[test]
    fn an_accept_naming_neither_type_is_not_acceptable() {
        assert_eq!(negotiate(Some("text/html")), Err(NotAcceptable));
        assert_eq!(
            negotiate(Some("application/xml, text/plain")),
            Err(NotAcceptable)
        );
    }

    #[test]
    fn malformed_qualities_count_as_refusals() {
        assert_eq!(negotiate(Some("application/json;q=2")), Err(NotAcceptable));
        assert_eq!(
            negotiate(Some("application/json;q=0.x")),
            Err(NotAcceptable)
        );
        assert_eq!(
            negotiate(Some("application/json;q=0.0001")),
            Err(NotAcceptable)
        );
    }

    #[test]
    fn a_response_that_never_ran_is_a_request_error_sent_without_data_or_mark() {
        let mut response = Response::from_errors(vec![ServerError::new("Unknown field", None)]);
        observability::mark_not_executed(&mut response);
        assert!(is_request_error(&response));
        let body = serde_json::to_value(Body::of(&response)).unwrap_or_default();
        assert_eq!(
            body,
            serde_json::json!({ "errors": [{ "message": "Unknown field" }] })
        );
    }

    #[test]
    fn errors_without_paths_from_an_operation_that_ran_are_not_a_request_error() {
        let error = ServerError::new("Unknown field", None);
        assert!(!is_request_error(&Response::from_errors(vec![error])));
    }

    #[test]
    fn a_field_error_is_not_a_request_error() {
        let mut error = ServerError::new("not found", None);
        error.path = vec![async_graphql::PathSegment::Field("me".to_owned())];
        assert!(!is_request_error(&Response::from_errors(vec![error])));
    }

    #[test]
    fn a_timeout_is_not_the_clients_error() {
        let mut error = ServerError::new("the operation took too long", None);
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", crate::graphql::error::code::INTERNAL);
        assert!(!is_request_error(&Response::from_errors(vec![error])));
    }

    #[test]
    fn a_response_with_data_is_not_a_request_error() {
        let response = Response::new(
            async_graphql::Value::from_json(serde_json::json!({"a": 1})).unwrap_or_default(),
        );
        assert!(!is_request_error(&response));
    }
}
