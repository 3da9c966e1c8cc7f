//! GraphiQL, served by the binary itself: the page, React and GraphiQL are
//! embedded at build time (`service/assets/graphiql`, refreshed by its
//! `update.sh`), so it works on an intranet without internet access. Served
//! in dev mode, or with `GRAPHIQL=true`, under a Content-Security-Policy that
//! lets the page load and call nothing but this server.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;

/// Only this origin: no inline or evaluated script; inline styles (GraphiQL's
/// editor sets them) and the fonts and icons its stylesheet carries as
/// `data:` URLs; no framing, no form posts, no `<base>`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const PAGE: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("../../assets/graphiql/index.html"),
};

/// What `/graphiql/{name}` serves.
const ASSETS: [Asset; 6] = [
    Asset {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        name: "init.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/init.js"),
    },
    Asset {
        name: "tandem.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/graphiql/tandem.css"),
    },
];

/// Each asset's strong ETag (its SHA-256), computed once, on first use.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .chain(std::iter::once(&PAGE))
        .map(|asset| format!("\"{}\"", crate::graphql::trusted::hash_of_bytes(asset.body)))
        .collect()
});

/// The page (`GET /graphql` without a query string), or 404 when GraphiQL
/// is off.
pub fn page(req: &HttpRequest, state: &AppState) -> HttpResponse {
    if !state.config.graphql.graphiql {
        return not_served();
    }
    serve(req, &PAGE, ETAGS.last())
}

/// `GET /graphiql/{name}`: one of the page's files.
pub async fn asset(
    req: HttpRequest,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !state.config.graphql.graphiql {
        return not_served();
    }
    match ASSETS.iter().position(|asset| asset.name == name.as_str()) {
        Some(index) => serve(&req, &ASSETS[index], ETAGS.get(index)),
        None => HttpResponse::NotFound().finish(),
    }
}

fn not_served() -> HttpResponse {
    super::error_response(
        actix_web::http::StatusCode::NOT_FOUND,
        crate::graphql::error::code::NOT_FOUND,
        "GraphiQL is served in dev mode or with GRAPHIQL=true only",
    )
}

/// The file with its ETag (304 when the browser has it), revalidated on
/// each use: a new binary may carry new files under the same names.
fn serve(req: &HttpRequest, asset: &Asset, etag: Option<&String>) -> HttpResponse {
    let matches = etag.is_some_and(|etag| {
        req.headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|candidate| candidate.trim() == etag))
    });
    let mut response = if matches {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type(asset.content_type)
            .body(asset.body)
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(value) = etag.and_then(|etag| HeaderValue::from_str(etag).ok()) {
        headers.insert(header::ETAG, value);
    }
    response
}
