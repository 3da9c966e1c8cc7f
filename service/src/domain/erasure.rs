//! Erasing a person (GDPR art. 17), at an admin's request
//! ([`erase_employee`]) or when retention says so (the same
//! [`erase_people`]): what identifies them goes, what the programme's
//! figures are made of stays.
//!
//! Erased: names, email, job title, time zone, manager link, the HRIS
//! externalId (its SHA-256 is kept in `erased_identities`, so a later push
//! of the same id is refused without the id being stored), skills,
//! weekly availability and unavailabilities, delegations either way,
//! notification history and preferences, the calendar feed, the comments
//! of the feedback they wrote, the private notes of their sessions, the
//! free texts of their enrolments (motivation, decision reason) and the
//! HRIS sync's row errors about them.
//!
//! Kept, nameless: the employee row (id, department, generation, seniority
//! — what metrics break figures down by), enrolments with their consent
//! times, pairings, sessions, ratings, goals and skill assessments, and the
//! audit log (ids only; the identity provider subject replaced). So the
//! erasure of a leaver leaves every figure of `programmeMetrics` as it was
//! ([`erase_employee`] first ends what a current participant takes part in,
//! as a departure would, and that moves the figures a departure moves).

use aws_lc_rs::digest;
use chrono::{DateTime, Utc};
use entity::enums::EmployeeStatus;
use entity::{
    audit_log, calendar_feed, delegation, employee, enrolment, erased_identity, hris_row_error,
    mentoring_session, notification, notification_preference, pairing, pairing_mentee,
    session_feedback, skill_profile, unavailability, weekly_slot,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum as _, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
};
use std::collections::HashMap;
use uuid::Uuid;

use super::access::{self, Area};
use super::audit::{self, Actor, AuditEntry};
use crate::error::{AppError, AppResult};

/// What an erased person is called wherever a name is shown.
pub const ERASED_NAME: &str = "Erased person";

/// How an erased person's externalId begins (`erased:<id>`): the HRIS may
/// not use it, so no push can match the nameless row.
pub const ERASED_KEY_PREFIX: &str = "erased:";

/// Rows changed per statement.
const CHUNK: usize = 1_000;

/// The SHA-256 (lower-case hex) of an HRIS externalId, as
/// `erased_identities` keeps it.
pub fn identity_hash(external_id: &str) -> String {
    super::feeds::hex(digest::digest(&digest::SHA256, external_id.trim().as_bytes()).as_ref())
}

/// When each erased identity was erased, by hash (for the HRIS plan).
pub async fn erased_identities<C: ConnectionTrait>(
    db: &C,
) -> AppResult<HashMap<String, DateTime<Utc>>> {
    Ok(erased_identity::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.external_id_hash, row.erased_at))
        .collect())
}

/// Admins: erases one employee now. `confirm` must repeat their externalId
/// (a typo cannot erase the wrong person); their live pairings end and
/// their future sessions are cancelled first, as for a leaver.
pub async fn erase_employee(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    confirm: &str,
) -> AppResult<()> {
    access::require(actor.caller, Area::Administration)?;
    let person = employee::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("employee"))?;
    if let Some(at) = person.erased_at {
        return Err(AppError::Conflict(format!(
            "the employee was already erased on {}",
            at.format("%Y-%m-%d")
        )));
    }
    if confirm.trim() != person.external_id {
        return Err(AppError::bad_input(
            "confirm",
            "confirm must repeat the employee's externalId",
        ));
    }
    let now = Utc::now();
    crate::error::retry_once(|| async {
        let txn = super::write_txn(db).await?;
        super::hris::terminate(&txn, &[id], now).await?;
        let erased = erase_people(&txn, &[id], now).await?;
        if erased == 0 {
            return Err(AppError::Conflict(
                "the employee was already erased".to_owned(),
            ));
        }
        let entry = AuditEntry::new("employee.erase", "employee", id, serde_json::json!({}));
        audit::record(&txn, actor, entry).await?;
        txn.commit().await?;
        Ok(())
    })
    .await
}

/// Erases the personal data of those of `people` who are TERMINATED and
/// not erased yet (see the module documentation); answers how many were.
/// Each row is claimed by the update that erases it (`erased_at IS NULL`),
/// so two erasures at once erase once, and someone rehired meanwhile is
/// left alone.
pub async fn erase_people<C: ConnectionTrait>(
    db: &C,
    people: &[Uuid],
    now: DateTime<Utc>,
) -> AppResult<u64> {
    let mut erased = 0;
    for chunk in people.chunks(CHUNK) {
        let rows: Vec<(Uuid, String, String)> = crate::domain::employees::findable()
            .select_only()
            .column(employee::Column::Id)
            .column(employee::Column::ExternalId)
            .column(employee::Column::Email)
            .filter(employee::Column::Id.is_in(chunk.iter().copied()))
            .filter(employee::Column::Status.eq(EmployeeStatus::Terminated.to_value()))
            .into_tuple()
            .all(db)
            .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            if anonymise(db, row.0, now).await? {
                claimed.push(row);
            }
        }
        if claimed.is_empty() {
            continue;
        }
        let ids: Vec<Uuid> = claimed.iter().map(|(id, _, _)| *id).collect();
        remember_identities(db, &claimed, now).await?;
        forget_what_they_own(db, &ids).await?;
        forget_their_traces(db, &claimed).await?;
        erased += ids.len() as u64;
    }
    Ok(erased)
}

async fn remember_identities<C: ConnectionTrait>(
    db: &C,
    rows: &[(Uuid, String, String)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let models = rows.iter().map(|(_, key, _)| erased_identity::ActiveModel {
        external_id_hash: sea_orm::Set(identity_hash(key)),
        erased_at: sea_orm::Set(now),
    });
    erased_identity::Entity::insert_many(models)
        .on_conflict_do_nothing_on([erased_identity::Column::ExternalIdHash])
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The employee row, nameless: unique placeholders for the unique columns,
/// identifying columns emptied, erased now. False when another erasure
/// (or a rehire) got there first.
async fn anonymise<C: ConnectionTrait>(db: &C, id: Uuid, now: DateTime<Utc>) -> AppResult<bool> {
    let done = employee::Entity::update_many()
        .col_expr(
            employee::Column::ExternalId,
            Expr::value(format!("{ERASED_KEY_PREFIX}{id}")),
        )
        .col_expr(
            employee::Column::Email,
            Expr::value(format!("erased-{id}@erased.invalid")),
        )
        .col_expr(
            employee::Column::GivenName,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            employee::Column::FamilyName,
            Expr::value(Option::<String>::None),
        )
        .col_expr(employee::Column::DisplayName, Expr::value(ERASED_NAME))
        .col_expr(
            employee::Column::JobTitle,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            employee::Column::ManagerId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(employee::Column::Timezone, Expr::value("UTC"))
        .col_expr(employee::Column::ErasedAt, Expr::value(now))
        .col_expr(employee::Column::UpdatedAt, Expr::value(now))
        .filter(employee::Column::Id.eq(id))
        .filter(employee::Column::ErasedAt.is_null())
        .filter(employee::Column::Status.eq(EmployeeStatus::Terminated.to_value()))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// What else names them: the HRIS sync's row errors about their id or
/// email, and their identity provider subject in the audit log (the
/// entries keep their employee id).
async fn forget_their_traces<C: ConnectionTrait>(
    db: &C,
    rows: &[(Uuid, String, String)],
) -> AppResult<()> {
    for (id, key, email) in rows {
        hris_row_error::Entity::delete_many()
            .filter(
                sea_orm::Condition::any()
                    .add(hris_row_error::Column::ExternalId.eq(key.as_str()))
                    .add(hris_row_error::Column::Message.contains(email.as_str())),
            )
            .exec(db)
            .await?;
        audit_log::Entity::update_many()
            .col_expr(
                audit_log::Column::Actor,
                Expr::value(format!("{ERASED_KEY_PREFIX}{id}")),
            )
            .filter(audit_log::Column::ActorEmployeeId.eq(*id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Deletes or empties what belongs to the people `ids` only.
async fn forget_what_they_own<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> AppResult<()> {
    let those = || ids.iter().copied();
    skill_profile::Entity::delete_many()
        .filter(skill_profile::Column::EmployeeId.is_in(those()))
        .exec(db)
        .await?;
    weekly_slot::Entity::delete_many()
        .filter(weekly_slot::Column::EmployeeId.is_in(those()))
        .exec(db)
        .await?;
    unavailability::Entity::delete_many()
        .filter(unavailability::Column::EmployeeId.is_in(those()))
        .exec(db)
        .await?;
    delegation::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(delegation::Column::PrincipalId.is_in(those()))
                .add(delegation::Column::DelegateId.is_in(those())),
        )
        .exec(db)
        .await?;
    notification::Entity::delete_many()
        .filter(notification::Column::RecipientId.is_in(those()))
        .exec(db)
        .await?;
    notification_preference::Entity::delete_many()
        .filter(notification_preference::Column::EmployeeId.is_in(those()))
        .exec(db)
        .await?;
    calendar_feed::Entity::delete_many()
        .filter(calendar_feed::Column::EmployeeId.is_in(those()))
        .exec(db)
        .await?;
    enrolment::Entity::update_many()
        .col_expr(
            enrolment::Column::Motivation,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            enrolment::Column::DecisionReason,
            Expr::value(Option::<String>::None),
        )
        .filter(enrolment::Column::EmployeeId.is_in(those()))
        .exec(db)
        .await?;
    session_feedback::Entity::update_many()
        .col_expr(
            session_feedback::Column::Comment,
            Expr::value(Option::<String>::None),
        )
        .filter(session_feedback::Column::AuthorId.is_in(those()))
        .exec(db)
        .await?;
    let pairings = pairings_of(db, ids).await?;
    for chunk in pairings.chunks(CHUNK) {
        mentoring_session::Entity::update_many()
            .col_expr(
                mentoring_session::Column::PrivateNotes,
                Expr::value(Option::<String>::None),
            )
            .filter(mentoring_session::Column::PairingId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The pairings the people `ids` took part in, as mentor or mentee.
async fn pairings_of<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> AppResult<Vec<Uuid>> {
    let mut found: Vec<Uuid> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::Id)
        .filter(pairing::Column::MentorId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let as_mentee: Vec<Uuid> = pairing_mentee::Entity::find()
        .select_only()
        .column(pairing_mentee::Column::PairingId)
        .filter(pairing_mentee::Column::MenteeId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    found.extend(as_mentee);
    found.sort();
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_hash_is_the_sha256_of_the_trimmed_id_in_hex() {
        // sha256("E-1001")
        assert_eq!(identity_hash(" E-1001 "), identity_hash("E-1001"));
        assert_eq!(identity_hash("E-1001").len(), 64);
        assert_eq!(
            identity_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
