//! The audit log: who changed what, when, in which request. Written in the
//! same transaction as the change it records, so neither exists without the
//! other.

use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::AppResult;

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
