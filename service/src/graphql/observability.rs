//! A span per GraphQL operation, named after it, with its type — never its
//! variables (they may hold personal data) — and, when metrics are on, one
//! count of `graphql.server.operations` by type, name and outcome (`ok`,
//! `error`; `invalid` when it never ran).
//!
//! The HTTP layer does this around the schema's execution, knowing the
//! operation from the document it admitted, rather than an async-graphql
//! extension: with any extension registered, async-graphql runs every
//! field through the extension chain (a registry lookup and a boxed future
//! a field), which cost 15 % of the CPU of the intranet's nested
//! `myPairings` query (docs/benchmarks.md, session 13).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::Response;
use async_graphql::parser::types::OperationType;

use crate::instruments::Metrics;

/// The response extension marking a request that never reached execution
/// (validation, variable coercion): a GraphQL-over-HTTP request error. The
/// HTTP layer reads it for the status and never sends it
/// (`http::negotiation`).
pub const NOT_EXECUTED: &str = "tandem.notExecuted";

/// Marks `response` as a request error (see [`NOT_EXECUTED`]).
pub fn mark_not_executed(response: &mut Response) {
    response
        .extensions
        .insert(NOT_EXECUTED.to_owned(), async_graphql::Value::Boolean(true));
}

/// The span of one operation, named after it, with its type (None: the
/// document names no such operation, which execution reports). The HTTP
/// layer runs the schema inside it, so every statement of the operation
/// sits under it.
pub fn operation_span(name: Option<&str>, ty: Option<OperationType>) -> tracing::Span {
    tracing::info_span!(
        "graphql.operation",
        graphql.operation.name = name.unwrap_or(""),
        graphql.operation.type = ty.map(type_name),
    )
}

/// Set once the query root starts resolving a field or looking up an
/// entity: execution began. The one signal for `_entities`, whose refusals
/// ("Entity not found.") async-graphql locates nowhere. Shared between the
/// request's data (the query root sets it) and the HTTP layer (reads it).
#[derive(Clone, Default)]
pub struct RootStarted(Arc<AtomicBool>);

impl RootStarted {
    /// Records that a root field or entity lookup started.
    pub fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether one did.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Whether async-graphql refused the request before executing it: no root
/// field of the query started (`root_started`), and errors without data,
/// none of them located in the answer. Every error a field raises carries
/// its path (a root field's too, a mutation's included); what is refused
/// before execution (syntax, an unknown operation name, validation,
/// limits, variables) carries none.
pub fn never_executed(response: &Response, root_started: bool) -> bool {
    !root_started
        && !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// Concludes the schema's answer to one operation: marks a request that
/// never ran ([`NOT_EXECUTED`]) and, when metrics are on, counts the
/// operation by type, name and outcome. Not for an answer the schema did
/// not give (a timeout, a panic): those ran, see [`count_failure`].
pub fn conclude(
    response: &mut Response,
    root_started: bool,
    ty: Option<OperationType>,
    name: Option<&str>,
    metrics: Option<&Metrics>,
) {
    if never_executed(response, root_started) {
        mark_not_executed(response);
        count(metrics, None, None, "invalid");
    } else {
        let outcome = if response.is_ok() { "ok" } else { "error" };
        count(metrics, ty, name, outcome);
    }
}

/// Counts an operation the schema never answered (a timeout, a panic) as
/// an error: it ran.
pub fn count_failure(ty: Option<OperationType>, name: Option<&str>, metrics: Option<&Metrics>) {
    count(metrics, ty, name, "error");
}

/// One count of `graphql.server.operations`, when metrics are on.
fn count(
    metrics: Option<&Metrics>,
    ty: Option<OperationType>,
    name: Option<&str>,
    outcome: &'static str,
) {
    if let Some(metrics) = metrics {
        metrics.graphql_operation(ty.map_or("unknown", type_name), name, outcome);
    }
}

fn type_name(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{PathSegment, ServerError, Value};

    use super::*;

    fn field_error(field: &str) -> ServerError {
        ServerError::new("refused", None).with_path(vec![PathSegment::Field(field.to_owned())])
    }

    #[test]
    fn an_error_located_nowhere_without_data_never_ran() {
        let refused = Response::from_errors(vec![ServerError::new("Unknown field", None)]);
        assert!(never_executed(&refused, false));
    }

    #[test]
    fn a_root_field_error_that_nulls_the_answer_ran() {
        let failed = Response::from_errors(vec![field_error("endPairing")]);
        assert!(!never_executed(&failed, false));
    }

    #[test]
    fn an_answer_with_data_ran_whatever_its_errors() {
        let mut partial =
            Response::new(Value::from_json(serde_json::json!({ "me": null })).unwrap());
        partial.errors.push(ServerError::new("timeout", None));
        assert!(!never_executed(&partial, false));
    }

    #[test]
    fn an_answer_without_errors_ran() {
        assert!(!never_executed(&Response::new(Value::Null), false));
    }

    #[test]
    fn an_entity_lookup_refused_without_a_path_ran() {
        let not_found = Response::from_errors(vec![ServerError::new("Entity not found.", None)]);
        assert!(!never_executed(&not_found, true));
    }

    #[test]
    fn one_located_error_among_others_means_it_ran() {
        let mixed = Response::from_errors(vec![
            ServerError::new("unlocated", None),
            field_error("pairing"),
        ]);
        assert!(!never_executed(&mixed, false));
    }
}
