//! Apollo Federation v2: with `GRAPHQL_FEDERATION=true` the schema is a
//! subgraph (`_service { sdl }`, `_entities`) whose Employee, Programme and
//! Pairing carry `@key(fields: "id")`, and Employee also
//! `@key(fields: "externalId")`, so the company's people subgraph joins on
//! the HRIS id. Each entity is looked up through the same domain function
//! as `employee(id)`, `programme(id)` and `pairing(id)`, behind the same
//! area check (async-graphql applies no field guard to entity resolvers, so
//! each calls `access::require` itself): a representation the caller may not see answers NOT_FOUND exactly
//! as the query does (async-graphql fails the whole `_entities` list then).

use async_graphql::{Context, Object};
use uuid::Uuid;

use super::context::ContextExt;
use super::error::GqlResultExt;
use super::pairings::Pairing;
use super::people::Employee;
use super::programmes::Programme;
use crate::domain::access::{self, Area};
use crate::domain::{employees, pairings, programmes};

/// The entity resolvers (`_entities`), merged into the subgraph's Query.
#[derive(Default)]
pub struct EntityQuery;

#[Object]
impl EntityQuery {
    /// Employee by `id`.
    #[graphql(entity)]
    async fn employee_by_id(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Employee> {
        access::require(ctx.caller()?, Area::People).gql()?;
        let scope = ctx.employee_scope().await?;
        Ok(Employee::from(
            employees::get(ctx.db()?, scope, id).await.gql()?,
        ))
    }

    /// Employee by `externalId`, the HRIS id other subgraphs know.
    #[graphql(entity)]
    async fn employee_by_external_id(
        &self,
        ctx: &Context<'_>,
        external_id: String,
    ) -> async_graphql::Result<Employee> {
        access::require(ctx.caller()?, Area::People).gql()?;
        let scope = ctx.employee_scope().await?;
        Ok(Employee::from(
            employees::get_by_external_id(ctx.db()?, scope, &external_id)
                .await
                .gql()?,
        ))
    }

    /// Programme by `id`.
    #[graphql(entity)]
    async fn programme_by_id(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Programme> {
        access::require(ctx.caller()?, Area::Programmes).gql()?;
        Ok(Programme::from(
            programmes::get(ctx.db()?, ctx.caller()?, id).await.gql()?,
        ))
    }

    /// Pairing by `id`.
    #[graphql(entity)]
    async fn pairing_by_id(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Pairing> {
        access::require(ctx.caller()?, Area::People).gql()?;
        Ok(Pairing(
            pairings::get(ctx.db()?, ctx.caller()?, id).await.gql()?,
        ))
    }
}
