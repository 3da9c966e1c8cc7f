//! Personal data: the audit log readable by admins (accountability: who
//! changed what, when, in which request), each employee's own data
//! (`myData`), and erasure (`eraseEmployee`).

use async_graphql::{Context, Json, Object};
use entity::audit_log;
use uuid::Uuid;

use super::context::ContextExt;
use super::error::GqlResultExt;
use super::guards::AreaGuard;
use super::loaders::{EmployeeKey, load};
use super::people::{Employee, PageConnection, connection};
use super::scalars::DateTime;
use crate::domain::access::Area;
use crate::domain::audit::{self, LogFilter};
use crate::domain::pagination::PageRequest;
use crate::domain::{erasure, personal_data};

/// One recorded action.
pub struct AuditEntry(pub audit_log::Model);

#[Object]
impl AuditEntry {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn at(&self) -> DateTime {
        self.0.at.into()
    }
    /// The employee who acted; null for service accounts (and for entries
    /// written before the log named employees).
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Employee>> {
        let Some(id) = self.0.actor_employee_id else {
            return Ok(None);
        };
        Ok(load(ctx, EmployeeKey(id)).await?.map(Employee))
    }
    /// The token subject that acted (a service account's name, or an
    /// employee's subject at the identity provider).
    async fn actor_subject(&self) -> &str {
        &self.0.actor
    }
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }
    async fn target_id(&self) -> Uuid {
        self.0.target_id.unwrap_or_default()
    }
    /// The HTTP request that made the change (X-Request-Id).
    async fn request_id(&self) -> Option<&str> {
        Some(self.0.request_id.as_str()).filter(|id| !id.is_empty())
    }
    /// What changed: ids and counts, never personal data.
    async fn details(&self) -> Json<serde_json::Value> {
        Json(self.0.details.clone())
    }
}

/// Query fields about the audit log.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Admins: who changed what, newest first, filtered by the employee who
    /// acted, the record acted on and the action.
    #[graphql(
        guard = "AreaGuard(Area::Administration)",
        complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity"
    )]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        actor_id: Option<Uuid>,
        target_id: Option<Uuid>,
        action: Option<String>,
    ) -> async_graphql::Result<PageConnection<AuditEntry>> {
        let page = PageRequest::parse(first, after.as_deref()).gql()?;
        let filter = LogFilter {
            actor_id,
            target_id,
            action,
        };
        let rows = audit::log(ctx.db()?, ctx.caller()?, &filter, &page)
            .await
            .gql()?;
        Ok(connection(rows, AuditEntry))
    }
}

/// Query fields about one's own data.
#[derive(Default)]
pub struct PersonalDataQuery;

#[Object]
impl PersonalDataQuery {
    /// Everything Tandem holds about the caller, as one JSON document (GDPR
    /// art. 15 and 20); README "Personal data" describes each field.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn my_data(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<serde_json::Value>> {
        let data = personal_data::my_data(ctx.db()?, ctx.caller()?, ctx.keyring()?)
            .await
            .gql()?;
        Ok(Json(data))
    }
}

/// Mutations about personal data.
#[derive(Default)]
pub struct PersonalDataMutation;

#[Object]
impl PersonalDataMutation {
    /// Admins: erase an employee's personal data (GDPR art. 17); aggregates
    /// stay, the person cannot be found again. `confirm` must equal the
    /// employee's externalId.
    #[graphql(guard = "AreaGuard(Area::Administration)")]
    async fn erase_employee(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        confirm: String,
    ) -> async_graphql::Result<bool> {
        erasure::erase_employee(ctx.db()?, &ctx.actor()?, id, &confirm)
            .await
            .gql()?;
        Ok(true)
    }
}
