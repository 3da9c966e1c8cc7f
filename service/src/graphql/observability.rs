//! A span per GraphQL operation, named after it, with its type — never its
//! variables (they may hold personal data) — and, when metrics are on, one
//! count of `graphql.server.operations` by type, name and outcome (`ok`,
//! `error`; `invalid` when it never ran).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, ServerResult, Variables};
use tracing::Instrument as _;

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

/// Factory registered on the schema.
pub struct OperationSpans;

impl ExtensionFactory for OperationSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationSpan::default())
    }
}

/// Per-request state: the operation types found by the parser, by name,
/// and whether execution started (else the request was refused: syntax,
/// validation, variables).
#[derive(Default)]
struct OperationSpan {
    types: Mutex<HashMap<Option<String>, OperationType>>,
    executed: std::sync::atomic::AtomicBool,
}

fn type_name(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationSpan {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let span = tracing::info_span!(
            "graphql.operation",
            graphql.operation.name = tracing::field::Empty,
            graphql.operation.type = tracing::field::Empty,
        );
        let mut response = next.run(ctx).instrument(span).await;
        if !self.executed.load(std::sync::atomic::Ordering::Acquire) {
            mark_not_executed(&mut response);
            if let Some(metrics) = ctx.data_opt::<Arc<crate::instruments::Metrics>>() {
                metrics.graphql_operation("unknown", None, "invalid");
            }
        }
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Ok(mut types) = self.types.lock() {
            match &document.operations {
                DocumentOperations::Single(op) => {
                    types.insert(None, op.node.ty);
                }
                DocumentOperations::Multiple(ops) => {
                    types.extend(
                        ops.iter()
                            .map(|(name, op)| (Some(name.to_string()), op.node.ty)),
                    );
                }
            }
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let span = tracing::Span::current();
        span.record("graphql.operation.name", operation_name.unwrap_or(""));
        let ty = self.types.lock().ok().and_then(|types| {
            types
                .get(&operation_name.map(str::to_owned))
                .or_else(|| types.get(&None))
                .copied()
        });
        if let Some(ty) = ty {
            span.record("graphql.operation.type", type_name(ty));
        }
        self.executed
            .store(true, std::sync::atomic::Ordering::Release);
        let response = next.run(ctx, operation_name).await;
        if let Some(metrics) = ctx.data_opt::<Arc<crate::instruments::Metrics>>() {
            let outcome = if response.is_ok() { "ok" } else { "error" };
            let kind = ty.map_or("unknown", type_name);
            metrics.graphql_operation(kind, operation_name, outcome);
        }
        response
    }
}
