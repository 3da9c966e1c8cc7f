//! Field guards: which kind of caller may reach a field at all. The rule is
//! `domain::access::may_reach`; this only hooks it into async-graphql, so a
//! field declares its area next to its signature.

use async_graphql::{Context, Guard};

use super::context::ContextExt;
use super::error::GqlResultExt;
use crate::domain::access::{self, Area};

/// Refuses the field with FORBIDDEN unless the caller may reach `0`.
pub struct AreaGuard(pub Area);

impl Guard for AreaGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        access::require(ctx.caller()?, self.0).gql()
    }
}
