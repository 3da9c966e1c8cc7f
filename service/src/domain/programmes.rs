//! Programmes: reading them (drafts are the programme team's work in
//! progress: only admins see them), creating them and moving them along
//! their lifecycle DRAFT → ENROLLING → MATCHING → ACTIVE → CLOSED.

use chrono::{NaiveDate, Utc};
use entity::enums::{EmployeeStatus, ProgrammeFormat, ProgrammeStatus};
use entity::{employee, programme};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::access::{self, Area};
use super::audit::{self, Actor, AuditEntry};
use super::pagination::{Cursor, Page, PageRequest, after_condition};
use super::pairings::lifecycle;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// One programme, if it exists and the caller may see it.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> AppResult<programme::Model> {
    let found = programme::Entity::find_by_id(id).one(db).await?;
    match found {
        Some(p) if access::sees_programme(caller, p.status) => Ok(p),
        _ => Err(AppError::NotFound("programme")),
    }
}

/// A page of programmes by name, optionally of one status.
pub async fn list(
    db: &DatabaseConnection,
    caller: &Caller,
    page: &PageRequest,
    status: Option<ProgrammeStatus>,
) -> AppResult<Page<programme::Model>> {
    let mut query = programme::Entity::find();
    if let Some(status) = status {
        query = query.filter(programme::Column::Status.eq(status));
    }
    if !caller.is_admin() {
        query = query.filter(programme::Column::Status.ne(ProgrammeStatus::Draft));
    }
    if let Some(after) = &page.after {
        query = query.filter(after_condition(
            programme::Column::Name,
            programme::Column::Id,
            after,
        ));
    }
    let rows = query
        .order_by_asc(programme::Column::Name)
        .order_by_asc(programme::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page, |p| Cursor {
        key: p.name.clone(),
        id: p.id,
    }))
}

/// Programmes by id (for DataLoaders).
pub async fn by_ids(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> AppResult<std::collections::HashMap<Uuid, programme::Model>> {
    let rows = programme::Entity::find()
        .filter(programme::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|p| (p.id, p)).collect())
}

/// What an admin asks for when creating a programme (raw, not yet validated).
#[derive(Clone, Debug)]
pub struct ProgrammeRequest {
    /// Display name, 1–200 characters.
    pub name: String,
    /// Why the programme exists; may be empty while DRAFT.
    pub purpose: String,
    /// ONE_TO_ONE or GROUP.
    pub format: ProgrammeFormat,
    /// Mentees per mentor (GROUP: 1–10, default 3; ONE_TO_ONE: 1).
    pub max_mentees_per_mentor: Option<i32>,
    /// Days between sessions (1–365, default 14).
    pub session_cadence_days: Option<i32>,
    /// Sessions a pairing aims for (1–100, default 6).
    pub target_sessions: Option<i32>,
    /// Mentors must be trained and supervised before pairing (default true).
    pub requires_mentor_training: Option<bool>,
    /// First day.
    pub starts_on: Option<NaiveDate>,
    /// Last day (not before the first).
    pub ends_on: Option<NaiveDate>,
    /// The approving executive (an active employee).
    pub sponsor_id: Option<Uuid>,
}

fn within(field: &str, value: Option<i32>, default: i32, low: i32, high: i32) -> AppResult<i32> {
    let value = value.unwrap_or(default);
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::bad_input(
            field,
            format!("{field} must be between {low} and {high}"),
        ))
    }
}

impl ProgrammeRequest {
    /// Checks every field and fills defaults; the first invalid field is named.
    fn validate(self) -> AppResult<programme::Model> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AppError::bad_input(
                "name",
                "name must be 1 to 200 characters",
            ));
        }
        if self.purpose.chars().count() > 5000 {
            return Err(AppError::bad_input(
                "purpose",
                "purpose is limited to 5000 characters",
            ));
        }
        let max_mentees = match self.format {
            ProgrammeFormat::OneToOne => {
                within("maxMenteesPerMentor", self.max_mentees_per_mentor, 1, 1, 1)?
            }
            ProgrammeFormat::Group => {
                within("maxMenteesPerMentor", self.max_mentees_per_mentor, 3, 1, 10)?
            }
        };
        if let (Some(starts), Some(ends)) = (self.starts_on, self.ends_on)
            && ends < starts
        {
            return Err(AppError::bad_input(
                "endsOn",
                "endsOn must not be before startsOn",
            ));
        }
        let now = Utc::now();
        Ok(programme::Model {
            id: super::new_id(),
            name,
            purpose: self.purpose.trim().to_owned(),
            status: ProgrammeStatus::Draft,
            format: self.format,
            max_mentees_per_mentor: max_mentees,
            session_cadence_days: within(
                "sessionCadenceDays",
                self.session_cadence_days,
                14,
                1,
                365,
            )?,
            target_sessions: within("targetSessions", self.target_sessions, 6, 1, 100)?,
            requires_mentor_training: self.requires_mentor_training.unwrap_or(true),
            starts_on: self.starts_on,
            ends_on: self.ends_on,
            sponsor_id: self.sponsor_id,
            created_at: now,
            updated_at: now,
        })
    }
}

/// Creates a DRAFT programme (admins only), recorded in the audit log.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    request: ProgrammeRequest,
) -> AppResult<programme::Model> {
    access::require(actor.caller, Area::Administration)?;
    let model = request.validate()?;
    if let Some(sponsor) = model.sponsor_id {
        let active = employee::Entity::find_by_id(sponsor)
            .one(db)
            .await?
            .is_some_and(|e| e.status != EmployeeStatus::Terminated);
        if !active {
            return Err(AppError::bad_input(
                "sponsorId",
                "the sponsor must be an employee of the company",
            ));
        }
    }
    let txn = super::write_txn(db).await?;
    let created = programme::ActiveModel::from(model).insert(&txn).await?;
    let details = serde_json::json!({ "name": created.name, "format": created.format.to_value() });
    audit::record(
        &txn,
        actor,
        AuditEntry::new("programme.create", "programme", created.id, details),
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// Whether the lifecycle allows `from → to`; the error names the current state.
pub fn check_transition(programme: &programme::Model, to: ProgrammeStatus) -> AppResult<()> {
    use ProgrammeStatus::*;
    let from = programme.status;
    let allowed = matches!(
        (from, to),
        (Draft, Enrolling)
            | (Enrolling, Matching)
            | (Matching, Active)
            | (Active, Closed)
            | (Active, Enrolling)
    );
    if !allowed {
        return Err(AppError::Conflict(format!(
            "the programme is {}: it cannot move to {}",
            from.to_value(),
            to.to_value()
        )));
    }
    if from == Draft && (programme.sponsor_id.is_none() || programme.purpose.trim().is_empty()) {
        return Err(AppError::Conflict(
            "the programme is DRAFT: it needs a sponsor and a purpose before enrolment opens"
                .into(),
        ));
    }
    Ok(())
}

/// Moves a programme along its lifecycle (admins only). Closing completes its
/// running pairings and cancels their future sessions, all in one
/// transaction with the audit record. The programme's row is locked first
/// (the pairing lifecycle's guard), so a transition racing with another, or
/// with a pairing being made or accepted, sees the other's result.
pub async fn transition(
    db: &DatabaseConnection,
    actor: &Actor<'_>,
    id: Uuid,
    to: ProgrammeStatus,
) -> AppResult<programme::Model> {
    access::require(actor.caller, Area::Administration)?;
    let txn = super::write_txn(db).await?;
    let lock = lifecycle::lock_programme(&txn, id).await?;
    let current = lock.programme(id)?.clone();
    check_transition(&current, to)?;
    let now = Utc::now();
    programme::Entity::update_many()
        .col_expr(programme::Column::Status, Expr::value(to.to_value()))
        .col_expr(programme::Column::UpdatedAt, Expr::value(now))
        .filter(programme::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    if to == ProgrammeStatus::Closed {
        lifecycle::complete_for_closing(&txn, &lock, id, now).await?;
    }
    let details = serde_json::json!({ "from": current.status.to_value(), "to": to.to_value() });
    audit::record(
        &txn,
        actor,
        AuditEntry::new("programme.transition", "programme", id, details),
    )
    .await?;
    let updated = programme::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("programme"))?;
    txn.commit().await?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(format: ProgrammeFormat) -> ProgrammeRequest {
        ProgrammeRequest {
            name: "Tandems".into(),
            purpose: "Learn".into(),
            format,
            max_mentees_per_mentor: None,
            session_cadence_days: None,
            target_sessions: None,
            requires_mentor_training: None,
            starts_on: None,
            ends_on: None,
            sponsor_id: None,
        }
    }

    fn field_of(result: AppResult<programme::Model>) -> String {
        match result {
            Err(AppError::BadInput { field, .. }) => field,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_format() {
        let group = request(ProgrammeFormat::Group).validate().unwrap();
        assert_eq!(
            (
                group.max_mentees_per_mentor,
                group.session_cadence_days,
                group.target_sessions
            ),
            (3, 14, 6)
        );
        assert!(group.requires_mentor_training);
        assert_eq!(group.status, ProgrammeStatus::Draft);
        assert_eq!(
            request(ProgrammeFormat::OneToOne)
                .validate()
                .unwrap()
                .max_mentees_per_mentor,
            1
        );
    }

    #[test]
    fn each_invalid_field_is_named() {
        let blank = ProgrammeRequest {
            name: "  ".into(),
            ..request(ProgrammeFormat::Group)
        };
        assert_eq!(field_of(blank.validate()), "name");
        let one_to_many = ProgrammeRequest {
            max_mentees_per_mentor: Some(2),
            ..request(ProgrammeFormat::OneToOne)
        };
        assert_eq!(field_of(one_to_many.validate()), "maxMenteesPerMentor");
        let cadence = ProgrammeRequest {
            session_cadence_days: Some(0),
            ..request(ProgrammeFormat::Group)
        };
        assert_eq!(field_of(cadence.validate()), "sessionCadenceDays");
        let day = |d| NaiveDate::from_ymd_opt(2027, 1, d);
        let backwards = ProgrammeRequest {
            starts_on: day(10),
            ends_on: day(9),
            ..request(ProgrammeFormat::Group)
        };
        assert_eq!(field_of(backwards.validate()), "endsOn");
    }

    #[test]
    fn only_the_lifecycle_moves_are_allowed() {
        use ProgrammeStatus::*;
        let mut programme = request(ProgrammeFormat::Group).validate().unwrap();
        programme.sponsor_id = Some(Uuid::nil());
        let all = [Draft, Enrolling, Matching, Active, Closed];
        let allowed = [
            (Draft, Enrolling),
            (Enrolling, Matching),
            (Matching, Active),
            (Active, Closed),
            (Active, Enrolling),
        ];
        for from in all {
            for to in all {
                programme.status = from;
                let result = check_transition(&programme, to);
                assert_eq!(
                    result.is_ok(),
                    allowed.contains(&(from, to)),
                    "{from:?} → {to:?}"
                );
                if let Err(AppError::Conflict(message)) = result {
                    assert!(message.contains(&from.to_value()), "{message}");
                }
            }
        }
    }

    #[test]
    fn leaving_draft_needs_a_sponsor_and_a_purpose() {
        let mut programme = request(ProgrammeFormat::Group).validate().unwrap();
        assert!(matches!(
            check_transition(&programme, ProgrammeStatus::Enrolling),
            Err(AppError::Conflict(_))
        ));
        programme.sponsor_id = Some(Uuid::nil());
        programme.purpose = " ".into();
        assert!(matches!(
            check_transition(&programme, ProgrammeStatus::Enrolling),
            Err(AppError::Conflict(_))
        ));
        programme.purpose = "Learn".into();
        assert!(check_transition(&programme, ProgrammeStatus::Enrolling).is_ok());
    }
}
