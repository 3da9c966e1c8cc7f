//! Delegations: assistants who manage an executive's mentoring agenda.

use async_graphql::{Context, Object};
use entity::delegation;
use uuid::Uuid;

use super::context::ContextExt;
use super::error::GqlResultExt;
use super::guards::AreaGuard;
use super::loaders::{EmployeeKey, load_required};
use super::pairings::Pairing;
use super::people::Employee;
use super::scalars::DateTime;
use crate::domain::access::Area;
use crate::domain::{delegations, pairings};

/// An executive lets an assistant manage their mentoring agenda.
pub struct Delegation(pub delegation::Model);

#[Object]
impl Delegation {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The executive.
    async fn principal(&self, ctx: &Context<'_>) -> async_graphql::Result<Employee> {
        Ok(Employee(
            load_required(ctx, EmployeeKey(self.0.principal_id)).await?,
        ))
    }
    /// The assistant who may manage the principal's mentoring agenda.
    async fn delegate(&self, ctx: &Context<'_>) -> async_graphql::Result<Employee> {
        Ok(Employee(
            load_required(ctx, EmployeeKey(self.0.delegate_id)).await?,
        ))
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

/// Reading delegations and what they open.
#[derive(Default)]
pub struct DelegationQuery;

#[Object]
impl DelegationQuery {
    /// Delegations the caller granted or holds.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn my_delegations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Delegation>> {
        let found = delegations::mine(ctx.db()?, ctx.caller()?).await.gql()?;
        Ok(found.into_iter().map(Delegation).collect())
    }

    /// Pairings of an executive who delegated to the caller (schedule only:
    /// no notes, no feedback, no goals).
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn pairings_of(
        &self,
        ctx: &Context<'_>,
        principal_id: Uuid,
    ) -> async_graphql::Result<Vec<Pairing>> {
        let found = pairings::members::of_principal(ctx.db()?, ctx.caller()?, principal_id)
            .await
            .gql()?;
        Ok(found.into_iter().map(Pairing).collect())
    }
}

/// Granting and revoking delegations.
#[derive(Default)]
pub struct DelegationMutation;

#[Object]
impl DelegationMutation {
    /// Lets `delegateId` manage the caller's mentoring agenda; admins may
    /// grant on an executive's behalf with `principalId` (audited).
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn grant_delegation(
        &self,
        ctx: &Context<'_>,
        delegate_id: Uuid,
        principal_id: Option<Uuid>,
    ) -> async_graphql::Result<Delegation> {
        let granted = delegations::grant(ctx.db()?, &ctx.actor()?, principal_id, delegate_id)
            .await
            .gql()?;
        Ok(Delegation(granted))
    }

    /// Ends a delegation at once (its principal, its delegate, or an admin);
    /// true when it was live.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn revoke_delegation(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<bool> {
        delegations::revoke(ctx.db()?, &ctx.actor()?, id)
            .await
            .gql()
    }
}
