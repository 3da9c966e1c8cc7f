//! The audit log: who changed what, when, in which request. Written in the
//! same transaction as the change it records, so neither exists without the
//! other.

use chrono::Utc;
use entity::audit_log;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::Value;
use uuid::Uuid;

use super::access::{self, Area};
use super::pagination::{Cursor, Page, PageRequest};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// Who acts, and in which request.
#[derive(Clone, Debug)]
pub struct Actor<'a> {
    /// The authenticated caller.
    pub caller: &'a Caller,
    /// The HTTP request's id.
    pub request_id: &'a str,
}

/// One administrative action on one record.
#[derive(Clone, Debug)]
pub struct AuditEntry<'a> {
    /// What was done, e.g. `programme.transition`.
    pub action: &'a str,
    /// The kind of record, e.g. `programme`.
    pub target_type: &'a str,
    /// The record's id.
    pub target_id: Option<Uuid>,
    /// What changed (never personal data beyond ids).
    pub details: Value,
}

impl<'a> AuditEntry<'a> {
    /// An entry for `action` on the record `target_type`/`target_id`.
    pub fn new(action: &'a str, target_type: &'a str, target_id: Uuid, details: Value) -> Self {
        Self {
            action,
            target_type,
            target_id: Some(target_id),
            details,
        }
    }
}

/// Appends `entry` to the audit log on `db` (pass the change's transaction).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &Actor<'_>,
    entry: AuditEntry<'_>,
) -> AppResult<()> {
    audit_log::ActiveModel {
        id: Set(super::new_id()),
        actor: Set(actor.caller.subject.clone()),
        actor_employee_id: Set(actor.caller.employee_id),
        action: Set(entry.action.to_owned()),
        target_type: Set(entry.target_type.to_owned()),
        target_id: Set(entry.target_id),
        request_id: Set(actor.request_id.to_owned()),
        details: Set(entry.details),
        at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// What the audit log is filtered by (all given must hold).
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    /// The employee who acted.
    pub actor_id: Option<Uuid>,
    /// The record acted on.
    pub target_id: Option<Uuid>,
    /// The action, exactly (e.g. `employee.erase`).
    pub action: Option<String>,
}

/// Admins: the audit log, newest first (ids are time-ordered), filtered.
pub async fn log(
    db: &DatabaseConnection,
    caller: &Caller,
    filter: &LogFilter,
    page: &PageRequest,
) -> AppResult<Page<audit_log::Model>> {
    access::require(caller, Area::Administration)?;
    if filter
        .action
        .as_ref()
        .is_some_and(|a| a.is_empty() || a.chars().count() > 100)
    {
        return Err(AppError::bad_input(
            "action",
            "an action has 1 to 100 characters",
        ));
    }
    let mut query = audit_log::Entity::find();
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit_log::Column::ActorEmployeeId.eq(actor));
    }
    if let Some(target) = filter.target_id {
        query = query.filter(audit_log::Column::TargetId.eq(target));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::Column::Action.eq(action.as_str()));
    }
    if let Some(after) = &page.after {
        query = query.filter(audit_log::Column::Id.lt(after.id));
    }
    let rows = query
        .order_by_desc(audit_log::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page, |row| Cursor {
        key: String::new(),
        id: row.id,
    }))
}
