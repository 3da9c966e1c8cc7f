//! Delegations: an executive (the principal) lets an assistant (the
//! delegate) manage their mentoring agenda. The delegate may, for the
//! principal's ACTIVE pairings only, list them, read their common free
//! time, book, move and cancel their sessions, and add or remove the
//! principal's unavailability — never read notes, feedback, goals, skills
//! or assessments, nor act in programmes. Not transitive: only a live row
//! from the principal to the caller counts, and only while both are ACTIVE
//! employees. Every delegated action is audited with both names.

use chrono::Utc;
use entity::enums::EmployeeStatus;
use entity::{delegation, employee};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, SqlErr,
};
use uuid::Uuid;

use super::access::{self, Area};
use super::audit::{self, Actor, AuditEntry};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// Grants `delegate_id` the management of the principal's agenda. The
/// principal is the caller, or — for admins only — `principal_id` (audited
/// as granted by the admin). Granting a live delegation again answers it.
pub async fn grant(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    principal_id: Option<Uuid>,
    delegate_id: Uuid,
) -> AppResult<delegation::Model> {
    access::require(actor.caller, Area::People)?;
    let me = actor.caller.employee_id;
    let principal = match principal_id {
        Some(other) if Some(other) != me => {
            if !actor.caller.is_admin() {
                return Err(AppError::forbidden(
                    "only the programme team grants a delegation on someone's behalf",
                ));
            }
            other
        }
        Some(own) => own,
        None => me.ok_or_else(|| {
            AppError::bad_input("principalId", "name the executive who delegates")
        })?,
    };
    if principal == delegate_id {
        return Err(AppError::bad_input(
            "delegateId",
            "a delegation goes to someone else",
        ));
    }
    let txn = super::write_txn(db).await?;
    require_active(&txn, principal, "principalId").await?;
    require_active(&txn, delegate_id, "delegateId").await?;
    if let Some(live) = live_between(&txn, principal, delegate_id).await? {
        return Ok(live);
    }
    let granted_by = (Some(principal) != me).then_some(me).flatten();
    let created = delegation::ActiveModel {
        id: Set(super::new_id()),
        principal_id: Set(principal),
        delegate_id: Set(delegate_id),
        granted_by: Set(granted_by),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            AppError::Conflict("this delegation was just granted; read it again".into())
        }
        _ => AppError::from(e),
    })?;
    let details = serde_json::json!({ "principal": principal, "delegate": delegate_id });
    audit::record(
        &txn,
        actor,
        AuditEntry::new("delegation.grant", "delegation", created.id, details),
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// An ACTIVE employee, or field-named BAD_USER_INPUT.
async fn require_active<C: ConnectionTrait>(db: &C, id: Uuid, field: &str) -> AppResult<()> {
    let status: Option<EmployeeStatus> = employee::Entity::find_by_id(id)
        .select_only()
        .column(employee::Column::Status)
        .into_tuple()
        .one(db)
        .await?;
    // One message whether the id is unknown or a leaver's: no oracle.
    match status {
        Some(EmployeeStatus::Active) => Ok(()),
        _ => Err(AppError::bad_input(
            field,
            "only an active employee takes part in a delegation",
        )),
    }
}

async fn live_between<C: ConnectionTrait>(
    db: &C,
    principal: Uuid,
    delegate: Uuid,
) -> AppResult<Option<delegation::Model>> {
    Ok(delegation::Entity::find()
        .filter(delegation::Column::PrincipalId.eq(principal))
        .filter(delegation::Column::DelegateId.eq(delegate))
        .filter(delegation::Column::RevokedAt.is_null())
        .one(db)
        .await?)
}

/// Revokes a live delegation: its principal, its delegate (giving it up) or
/// an admin; it stops working at once. Anyone else: NOT_FOUND.
pub async fn revoke(db: &DatabaseConnection, actor: &Actor<'_>, id: Uuid) -> AppResult<bool> {
    access::require(actor.caller, Area::People)?;
    let txn = super::write_txn(db).await?;
    let found = delegation::Entity::find_by_id(id)
        .filter(delegation::Column::RevokedAt.is_null())
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("delegation"))?;
    let me = actor.caller.employee_id;
    let concerned = me == Some(found.principal_id) || me == Some(found.delegate_id);
    if !concerned && !actor.caller.is_admin() {
        return Err(AppError::NotFound("delegation"));
    }
    let revoked = delegation::Entity::update_many()
        .col_expr(delegation::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(delegation::Column::Id.eq(id))
        .filter(delegation::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if revoked.rows_affected == 1 {
        let details =
            serde_json::json!({ "principal": found.principal_id, "delegate": found.delegate_id });
        audit::record(
            &txn,
            actor,
            AuditEntry::new("delegation.revoke", "delegation", id, details),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(revoked.rows_affected == 1)
}

/// The live delegations the caller granted or holds, newest first.
pub async fn mine(db: &DatabaseConnection, caller: &Caller) -> AppResult<Vec<delegation::Model>> {
    let Some(me) = caller.employee_id else {
        return Ok(Vec::new());
    };
    Ok(delegation::Entity::find()
        .filter(delegation::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(delegation::Column::PrincipalId.eq(me))
                .add(delegation::Column::DelegateId.eq(me)),
        )
        .order_by_desc(delegation::Column::Id)
        .limit(1_000)
        .all(db)
        .await?)
}

/// Those of `principals` who delegated to the caller: live rows only, the
/// principal still ACTIVE (a TERMINATED delegate cannot sign in at all).
pub async fn principals_among<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    principals: &[Uuid],
) -> AppResult<Vec<Uuid>> {
    let Some(me) = caller.employee_id else {
        return Ok(Vec::new());
    };
    if principals.is_empty() {
        return Ok(Vec::new());
    }
    let active = employee::Entity::find()
        .select_only()
        .column(employee::Column::Id)
        .filter(employee::Column::Status.eq(EmployeeStatus::Active))
        .into_query();
    Ok(delegation::Entity::find()
        .select_only()
        .column(delegation::Column::PrincipalId)
        .filter(delegation::Column::DelegateId.eq(me))
        .filter(delegation::Column::RevokedAt.is_null())
        .filter(delegation::Column::PrincipalId.is_in(principals.iter().copied()))
        .filter(delegation::Column::PrincipalId.in_subquery(active))
        .into_tuple()
        .all(db)
        .await?)
}

/// The principal, if they delegated to the caller; NOT_FOUND otherwise (no
/// oracle: a delegation that does not exist and one that is not the
/// caller's look the same).
pub async fn require_principal<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    principal: Uuid,
) -> AppResult<Uuid> {
    if principals_among(db, caller, &[principal]).await?.is_empty() {
        return Err(AppError::NotFound("employee"));
    }
    Ok(principal)
}

/// Audits an action a delegate took for a principal: both are named.
pub async fn record_delegated<C: ConnectionTrait>(
    db: &C,
    actor: &Actor<'_>,
    principal: Uuid,
    entry: AuditEntry<'_>,
) -> AppResult<()> {
    let mut entry = entry;
    entry.details = serde_json::json!({
        "principal": principal,
        "delegate": actor.caller.employee_id,
        "change": entry.details,
    });
    audit::record(db, actor, entry).await
}

/// Ends the delegations of leavers, either way (a TERMINATED principal or
/// delegate ends them).
pub async fn revoke_for_leavers<C: ConnectionTrait>(db: &C, leavers: &[Uuid]) -> AppResult<()> {
    for chunk in leavers.chunks(10_000) {
        delegation::Entity::update_many()
            .col_expr(delegation::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(delegation::Column::RevokedAt.is_null())
            .filter(
                Condition::any()
                    .add(delegation::Column::PrincipalId.is_in(chunk.iter().copied()))
                    .add(delegation::Column::DelegateId.is_in(chunk.iter().copied())),
            )
            .exec(db)
            .await?;
    }
    Ok(())
}
