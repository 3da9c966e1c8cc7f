//! `GET /calendar/{token}.ics`: the personal iCalendar feed that calendar
//! clients subscribe to. An HTTP adapter only: the token, the lookup and the
//! calendar are `domain::feeds`'.
//!
//! The token in the path is the credential, so no `Authorization` header is
//! read, and the path never reaches a log or a span: the request span names
//! the route pattern (`/calendar/{token}.ics`), not the path. A token of the
//! wrong shape answers 404 before any database query; a well-formed token
//! nobody holds, a rotated one and a leaver's answer the same 404.
//!
//! Clients poll: the response carries a strong ETag over the body and
//! `Cache-Control: private, max-age=300`; a matching `If-None-Match`
//! answers 304 without a body.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use aws_lc_rs::digest;
use base64::Engine as _;

use crate::domain::feeds::{self, FeedToken};
use crate::error::AppError;
use crate::http::AppState;

/// The route, as the request span names it (never the path itself).
pub const ROUTE: &str = "/calendar/{token}.ics";
const CONTENT_TYPE: &str = "text/calendar; charset=utf-8";
const CACHE_CONTROL: &str = "private, max-age=300";

/// Registers the feed route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(ROUTE, web::get().to(feed));
}

async fn feed(
    req: HttpRequest,
    token: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(token) = FeedToken::parse(&token) else {
        return not_found();
    };
    match feeds::calendar_of(&state.db, &token, chrono::Utc::now()).await {
        Ok(Some(body)) => calendar(&req, body),
        Ok(None) => not_found(),
        Err(AppError::Retry) => {
            let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "try again");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Err(AppError::Internal(cause)) => {
            tracing::error!(error = ?cause, "calendar feed failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
        Err(_) => not_found(),
    }
}

/// 200 with the calendar, or 304 when the client holds this very body.
fn calendar(req: &HttpRequest, body: String) -> HttpResponse {
    let etag = etag_of(body.as_bytes());
    let mut response = if holds(req, &etag) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok().content_type(CONTENT_TYPE).body(body)
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    response
}

/// A strong entity tag: the quoted base64url SHA-256 of the body.
fn etag_of(body: &[u8]) -> String {
    let hash = digest::digest(&digest::SHA256, body);
    format!(
        "\"{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_ref())
    )
}

/// Whether `If-None-Match` names `etag` (or `*`). RFC 9110 §13.1.2 compares
/// weakly here: a `W/` prefix is ignored.
fn holds(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

fn plain(status: StatusCode, message: &'static str) -> HttpResponse {
    let mut response = HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(message);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The one answer for every token that opens no feed.
fn not_found() -> HttpResponse {
    plain(StatusCode::NOT_FOUND, "calendar feed not found")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_etag_is_strong_quoted_and_follows_the_body() {
        let tag = etag_of(b"BEGIN:VCALENDAR");
        assert!(tag.starts_with('"') && tag.ends_with('"') && !tag.starts_with("W/"));
        assert_eq!(tag.len(), 45);
        assert_eq!(tag, etag_of(b"BEGIN:VCALENDAR"));
        assert_ne!(tag, etag_of(b"BEGIN:VCALENDAR "));
    }

    #[test]
    fn if_none_match_names_the_tag_in_a_list_weakly_or_as_a_star() {
        let tag = "\"abc\"";
        let with = |value: &str| {
            TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, value))
                .to_http_request()
        };
        assert!(holds(&with("\"abc\""), tag));
        assert!(holds(&with("\"x\", W/\"abc\""), tag));
        assert!(holds(&with("*"), tag));
        assert!(!holds(&with("\"abd\""), tag));
        assert!(!holds(&with("abc"), tag));
        assert!(!holds(&TestRequest::default().to_http_request(), tag));
    }
}
