//! The employee directory as identity providers provision it (SCIM): one
//! person at a time, through the same planning and rules as the nightly
//! push, each change recorded as a run of source `scim`.

use entity::enums::HrisSyncMode;
use entity::{department, employee};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::plan::DEFAULT_TIMEZONE;
use super::{EmployeeRecord, SyncRequest};
use crate::auth::{Caller, Role};
use crate::domain::employees;
use crate::error::{AppError, AppResult};

/// The filters provisioning clients send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserFilter {
    /// Everyone.
    All,
    /// `userName eq "…"` (the email, case-insensitively).
    UserName(String),
    /// `externalId eq "…"`.
    ExternalId(String),
}

/// An attribute of an employee a provisioning client may ask to unassign
/// (SCIM PATCH `remove`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribute {
    /// The work email (SCIM `userName`, and the one address of `emails`).
    Email,
    /// The HRIS key.
    ExternalId,
    /// First name.
    GivenName,
    /// Last name.
    FamilyName,
    /// The name shown.
    DisplayName,
    /// Job title.
    JobTitle,
    /// IANA time zone.
    Timezone,
    /// Employment status (SCIM `active`).
    Status,
}

/// Unassigns `attribute` on `record`. Names and title simply go; an
/// employee always has a display name and a time zone, so those fall back to
/// what Tandem gives a person whose record names none: the display name is
/// derived again ("given family", else the email's local part) and the time
/// zone becomes [`DEFAULT_TIMEZONE`]. The email (the person's identity and
/// sign-in), the HRIS key and the status cannot be unassigned: refused
/// with a message saying what to do instead.
pub fn unassign(record: &mut EmployeeRecord, attribute: Attribute) -> AppResult<()> {
    match attribute {
        Attribute::GivenName => record.given_name = None,
        Attribute::FamilyName => record.family_name = None,
        Attribute::DisplayName => record.display_name = None,
        Attribute::JobTitle => record.job_title = None,
        Attribute::Timezone => record.timezone = Some(DEFAULT_TIMEZONE.to_owned()),
        Attribute::Email => {
            return Err(AppError::bad_input(
                "email",
                "the work email identifies the employee and cannot be removed; replace it instead",
            ));
        }
        Attribute::ExternalId => {
            return Err(AppError::bad_input(
                "externalId",
                "externalId cannot change",
            ));
        }
        Attribute::Status => {
            return Err(AppError::bad_input(
                "status",
                "an employee always has a status; set active to false to deactivate",
            ));
        }
    }
    Ok(())
}

fn require_hris(caller: &Caller) -> AppResult<()> {
    if caller.has_role(Role::Hris) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the HRIS account provisions users",
        ))
    }
}

/// A page of employees (`offset`, `limit`) matching `filter`, and how many match.
pub async fn list(
    db: &DatabaseConnection,
    caller: &Caller,
    filter: &UserFilter,
    offset: u64,
    limit: u64,
) -> AppResult<(u64, Vec<employee::Model>)> {
    require_hris(caller)?;
    let mut query = employees::findable();
    query = match filter {
        UserFilter::All => query,
        UserFilter::UserName(name) => {
            query.filter(employee::Column::Email.eq(name.trim().to_lowercase()))
        }
        UserFilter::ExternalId(key) => query.filter(employee::Column::ExternalId.eq(key.trim())),
    };
    let total = query.clone().count(db).await?;
    let page = query
        .order_by_asc(employee::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((total, page))
}

/// One employee by id.
pub async fn get(db: &DatabaseConnection, caller: &Caller, id: Uuid) -> AppResult<employee::Model> {
    require_hris(caller)?;
    employees::findable()
        .filter(employee::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("user"))
}

/// Whether an employee already has this email (stored in lower case) or key.
pub async fn exists(
    db: &DatabaseConnection,
    caller: &Caller,
    email: &str,
    external_id: &str,
) -> AppResult<bool> {
    require_hris(caller)?;
    let found = employees::findable()
        .filter(
            Condition::any()
                .add(employee::Column::Email.eq(email.trim().to_lowercase()))
                .add(employee::Column::ExternalId.eq(external_id.trim())),
        )
        .count(db)
        .await?;
    Ok(found > 0)
}

/// The record that reproduces `person` as stored, so a partial change
/// from a provisioning client keeps every attribute it does not send.
pub async fn record_of(
    db: &DatabaseConnection,
    person: &employee::Model,
) -> AppResult<EmployeeRecord> {
    let department = match person.department_id {
        Some(id) => department::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|d| d.external_id),
        None => None,
    };
    let manager = match person.manager_id {
        Some(id) => employee::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|m| m.external_id),
        None => None,
    };
    Ok(EmployeeRecord {
        external_id: person.external_id.clone(),
        email: person.email.clone(),
        given_name: person.given_name.clone(),
        family_name: person.family_name.clone(),
        display_name: Some(person.display_name.clone()),
        job_title: person.job_title.clone(),
        department_external_id: department,
        manager_external_id: manager,
        seniority_level: person.seniority_level,
        birth_year: None,
        timezone: Some(person.timezone.clone()),
        status: Some(person.status),
    })
}

/// Applies one record with the rules of the HRIS push (validation,
/// leavers' effects, a recorded run) and answers the stored employee.
pub async fn provision(
    db: &DatabaseConnection,
    caller: &Caller,
    max_deactivation_ratio: f64,
    record: EmployeeRecord,
) -> AppResult<employee::Model> {
    require_hris(caller)?;
    let key = record.external_id.trim().to_owned();
    let taken = employee::Entity::find()
        .filter(employee::Column::Email.eq(record.email.trim().to_lowercase()))
        .filter(employee::Column::ExternalId.ne(key.as_str()))
        .count(db)
        .await?;
    if taken > 0 {
        return Err(AppError::Conflict(
            "the email belongs to another employee".to_owned(),
        ));
    }
    let request = SyncRequest {
        mode: HrisSyncMode::Upsert,
        source: "scim".to_owned(),
        dry_run: false,
        allow_mass_deactivation: false,
        departments: Vec::new(),
        employees: vec![record],
    };
    let report = super::sync(db, caller, max_deactivation_ratio, request).await?;
    if let Some(error) = report.errors.first() {
        return Err(AppError::bad_input(
            error.field.clone().unwrap_or_default(),
            error.message.clone(),
        ));
    }
    employee::Entity::find()
        .filter(employee::Column::ExternalId.eq(key))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("user"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unassigned_attributes_fall_back_to_what_a_new_employee_gets() {
        let mut record = EmployeeRecord {
            email: "ada@corp.example".into(),
            given_name: Some("Ada".into()),
            display_name: Some("Countess".into()),
            job_title: Some("Analyst".into()),
            timezone: Some("Europe/London".into()),
            ..Default::default()
        };
        for attribute in [
            Attribute::GivenName,
            Attribute::DisplayName,
            Attribute::JobTitle,
            Attribute::Timezone,
        ] {
            unassign(&mut record, attribute).unwrap();
        }
        assert_eq!(record.given_name, None);
        assert_eq!(record.display_name, None, "derived again when planned");
        assert_eq!(record.job_title, None);
        assert_eq!(record.timezone.as_deref(), Some(DEFAULT_TIMEZONE));
    }

    #[test]
    fn identity_key_and_status_cannot_be_unassigned() {
        let mut record = EmployeeRecord {
            email: "ada@corp.example".into(),
            external_id: "E-1".into(),
            ..Default::default()
        };
        for attribute in [Attribute::Email, Attribute::ExternalId, Attribute::Status] {
            let refused = unassign(&mut record, attribute).unwrap_err();
            assert!(
                matches!(refused, AppError::BadInput { .. }),
                "{attribute:?}"
            );
        }
        assert_eq!(record.email, "ada@corp.example");
        assert_eq!(record.external_id, "E-1");
    }
}
