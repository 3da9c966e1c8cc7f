//! `GET /exports/programmes/{id}/{table}.csv`: spreadsheets for the people
//! who live in them. An HTTP adapter only: who may export and what the rows
//! hold are `domain::exports`'.
//!
//! - `enrolments.csv`, `pairings.csv`, `sessions.csv`: admins.
//! - `metrics.csv` (optional `from`, `to`: whole ISO weeks): analysts and
//!   admins, k-anonymous exactly as `programmeMetrics`.
//!
//! The bearer token, the rate limit and the error codes are GraphQL's (the
//! body of a refusal is a GraphQL-shaped error). The CSV is RFC 4180 (CRLF,
//! quotes where needed), UTF-8 with a byte-order mark so Excel reads accents
//! right, delimited by `EXPORT_CSV_DELIMITER`; a text cell that a
//! spreadsheet would run as a formula is prefixed with `'`. Rows are streamed page by
//! page: memory holds one page whatever the programme's size. A failure after
//! the first bytes cannot change the status any more: the download is cut
//! short (the client sees an incomplete transfer) and the cause is logged.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use chrono::NaiveDate;
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::exports::{self, Row, Table};
use crate::error::AppError;
use crate::graphql::error::{code, code_of};
use crate::http::{AppState, authenticate, error_response, too_many};

/// The routes, as request spans name them.
pub const ROUTE: &str = "/exports/programmes/{id}/{file}";

/// UTF-8's byte-order mark: Excel reads the file as UTF-8 only with it.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Registers the export routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(ROUTE, web::get().to(export));
}

/// `from` and `to` of the metrics export.
#[derive(serde::Deserialize)]
struct Window {
    from: Option<String>,
    to: Option<String>,
}

async fn export(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let caller = match authenticate(&req, &state).await {
        Ok(signed_in) => signed_in.caller,
        Err(response) => return response,
    };
    if let Some(limited) = state.limiter.check(&caller).await {
        return too_many(limited);
    }
    let (id, file) = path.into_inner();
    let Ok(programme_id) = Uuid::parse_str(&id) else {
        return refusal(AppError::bad_input("id", "the programme id is not a UUID"));
    };
    let Some(name) = file.strip_suffix(".csv") else {
        return not_found();
    };
    if name == "metrics" {
        return metrics(&req, &state, &caller, programme_id).await;
    }
    let Some(table) = Table::from_name(name) else {
        return not_found();
    };
    let programme = match exports::authorize(&state.db, &caller, programme_id).await {
        Ok(programme) => programme,
        Err(err) => return refusal(err),
    };
    let filename = format!("programme-{programme_id}-{}.csv", table.name());
    let rows = stream(state.into_inner(), table, programme);
    csv_response(&filename).streaming(rows)
}

/// The programme's metrics, one figure a row (small: built whole).
async fn metrics(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    programme_id: Uuid,
) -> HttpResponse {
    let Ok(window) = web::Query::<Window>::from_query(req.query_string()) else {
        return refusal(AppError::bad_input(
            "from",
            "from and to are dates (YYYY-MM-DD)",
        ));
    };
    let (from, to) = match (
        date(window.from.as_deref(), "from"),
        date(window.to.as_deref(), "to"),
    ) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(err), _) | (_, Err(err)) => return refusal(err),
    };
    let k = state.config.rules.min_group_size;
    let rows =
        match exports::metrics_rows(&state.metrics_db, caller, programme_id, (from, to), k).await {
            Ok(rows) => rows,
            Err(err) => return refusal(err),
        };
    let delimiter = state.config.export_csv_delimiter;
    match csv_bytes(delimiter, Some(exports::METRICS_HEADER), &rows) {
        Ok(body) => {
            let filename = format!("programme-{programme_id}-metrics.csv");
            csv_response(&filename).body(body)
        }
        Err(err) => refusal(err),
    }
}

fn date(value: Option<&str>, field: &str) -> Result<Option<NaiveDate>, AppError> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| AppError::bad_input(field, format!("{field} is a date (YYYY-MM-DD)")))
        })
        .transpose()
}

/// The headers of a CSV download.
fn csv_response(filename: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/csv; charset=utf-8; header=present")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    response
}

/// Where a streamed export stands between pages.
struct Cursor {
    state: std::sync::Arc<AppState>,
    table: Table,
    programme: entity::programme::Model,
    /// None before the first page (the BOM and header go first).
    after: Option<uuid::Uuid>,
    started: bool,
    done: bool,
    now: chrono::DateTime<chrono::Utc>,
}

/// The export as a stream of CSV chunks, one page each.
fn stream(
    state: std::sync::Arc<AppState>,
    table: Table,
    programme: entity::programme::Model,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    let cursor = Cursor {
        state,
        table,
        programme,
        after: None,
        started: false,
        done: false,
        now: chrono::Utc::now(),
    };
    futures_util::stream::try_unfold(cursor, |mut cursor| async move {
        if cursor.done {
            return Ok(None);
        }
        let page = exports::page(
            &cursor.state.db,
            cursor.table,
            &cursor.programme,
            cursor.after,
            cursor.now,
        )
        .await
        .map_err(|err| cut_short(cursor.table, err))?;
        let header = (!cursor.started).then(|| cursor.table.header());
        let chunk = csv_bytes(cursor.state.config.export_csv_delimiter, header, &page.rows)
            .map_err(|err| cut_short(cursor.table, err))?;
        cursor.started = true;
        cursor.after = page.next_after;
        cursor.done = page.next_after.is_none();
        Ok(Some((Bytes::from(chunk), cursor)))
    })
}

/// Logs why a download stopped midway; the error ends the response.
fn cut_short(table: Table, err: AppError) -> actix_web::Error {
    tracing::error!(error = ?err, table = table.name(), "CSV export cut short");
    actix_web::error::ErrorInternalServerError("export failed")
}

/// Rows as CSV (the BOM and `header` first when given).
fn csv_bytes(delimiter: u8, header: Option<&[&str]>, rows: &[Row]) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::with_capacity(rows.len() * 128 + BOM.len());
    if header.is_some() {
        out.extend_from_slice(BOM);
    }
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    let failed = |err: csv::Error| AppError::Internal(anyhow::Error::new(err).context("csv"));
    if let Some(header) = header {
        writer.write_record(header).map_err(failed)?;
    }
    for row in rows {
        for cell in row {
            writer
                .write_field(neutralized(cell).as_bytes())
                .map_err(failed)?;
        }
        writer.write_record(None::<&[u8]>).map_err(failed)?;
    }
    writer
        .into_inner()
        .map_err(|err| AppError::Internal(anyhow::anyhow!("csv: {}", err.error())))
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or
/// carriage return first, or their full-width forms; OWASP's CSV injection)
/// gets a leading `'`, unless it is a plain number (a negative NPS stays a
/// number). Names and departments come from the HRIS and SCIM.
fn neutralized(cell: &str) -> std::borrow::Cow<'_, str> {
    const FORMULA_STARTS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];
    let risky = cell.starts_with(FORMULA_STARTS) && cell.parse::<f64>().is_err();
    if risky {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn not_found() -> HttpResponse {
    error_response(StatusCode::NOT_FOUND, code::NOT_FOUND, "no such export")
}

/// A domain refusal with GraphQL's code and the matching status.
fn refusal(err: AppError) -> HttpResponse {
    let status = match &err {
        AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::BadInput { .. } => StatusCode::BAD_REQUEST,
        AppError::Conflict(_) | AppError::Retry => StatusCode::CONFLICT,
        AppError::Internal(cause) => {
            tracing::error!(error = ?cause, "CSV export failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    // An internal error's text is the generic "internal error".
    let mut response = error_response(status, code_of(&err), &err.to_string());
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::neutralized;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        assert_eq!(neutralized("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralized("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralized("+33 1 23"), "'+33 1 23");
        assert_eq!(neutralized("＝1+1"), "'＝1+1");
        assert_eq!(neutralized("-12.500"), "-12.500");
        assert_eq!(neutralized("Zoë Lefèvre"), "Zoë Lefèvre");
        assert_eq!(neutralized(""), "");
    }
}
