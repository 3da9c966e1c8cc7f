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

/// Whether async-graphql refused the request before executing it: errors
/// and no data, none of them located in the answer. Every error a field
/// raises carries its path (a root field's too); what is refused before
/// execution (syntax, an unknown operation name, validation, limits,
/// variables) carries none.
pub fn never_executed(response: &Response) -> bool {
    !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// Concludes the schema's answer to one operation: marks a request that
/// never ran ([`NOT_EXECUTED`]) and, when metrics are on, counts the
/// operation by type, name and outcome. Not for an answer the schema did
/// not give (a timeout, a panic): those ran.
pub fn conclude(
    response: &mut Response,
    ty: Option<OperationType>,
    name: Option<&str>,
    metrics: Option<&Metrics>,
) {
    if never_executed(response) {
        mark_not_executed(response);
        if let Some(metrics) = metrics {
            metrics.graphql_operation("unknown", None, "invalid");
        }
    } else if let Some(metrics) = metrics {
        let outcome = if response.is_ok() { "ok" } else { "error" };
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
        assert!(never_executed(&refused));
    }

    #[test]
    fn a_root_field_error_that_nulls_the_answer_ran() {
        let failed = Response::from_errors(vec![field_error("endPairing")]);
        assert!(!never_executed(&failed));
    }

    #[test]
    fn an_answer_with_data_ran_whatever_its_errors() {
        let mut partial =
            Response::new(Value::from_json(serde_json::json!({ "me": null })).unwrap());
        partial.errors.push(ServerError::new("timeout", None));
        assert!(!never_executed(&partial));
    }

    #[test]
    fn an_answer_without_errors_ran() {
        assert!(!never_executed(&Response::new(Value::Null)));
    }

    #[test]
    fn one_located_error_among_others_means_it_ran() {
        let mixed = Response::from_errors(vec![
            ServerError::new("unlocated", None),
            field_error("pairing"),
        ]);
        assert!(!never_executed(&mixed));
    }
}
