//! The nightly HRIS sync: the company's departments and people, pushed by
//! the HR system's service account.
//!
//! HR exports are sometimes wrong, so a run never fails because of a bad
//! row: each row is validated and resolved on its own ([`plan`]), rejected
//! rows are reported with the field at fault, and the rest is applied. A
//! run that writes is recorded (OPEN, then COMPLETED or FAILED). Writes go
//! in transactions of bounded size, each leaving the database consistent
//! (managers are written before the people they manage), and every run is
//! idempotent, so re-running a run that failed half-way completes it.

pub mod directory;
pub mod plan;

use chrono::{DateTime, Utc};
use entity::enums::{EmployeeStatus, EnrolmentStatus, HrisSyncMode, HrisSyncState};
use entity::{department, employee, enrolment, hris_row_error, hris_sync_run};
use futures_util::{StreamExt as _, stream};
use sea_orm::sea_query::{Alias, Expr, Func, OnConflict, Query};
use sea_orm::{
    ActiveEnum as _, ActiveModelTrait as _, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, IntoActiveModel, Iterable as _, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

pub use plan::{DepartmentRecord, EmployeeRecord, RowError};

use super::pairings::lifecycle;
use crate::auth::{Caller, Role};
use crate::error::{AppError, AppResult};

/// Rows per INSERT statement on SQLite (18 columns: well under its
/// bind-parameter limit). PostgreSQL takes a transaction's rows in one
/// statement with a single JSON parameter ([`upsert_employees_pg`]).
const ROWS_PER_STATEMENT: usize = 1_000;
/// Employees per transaction: a failure loses at most this much progress.
const ROWS_PER_TRANSACTION: usize = 5_000;
/// Transactions writing employees at once on PostgreSQL: its checks of
/// each row (two references, seven indexes) then use two cores instead of
/// one, and a third keeps them busy while another commits or its batch is
/// encoded (100,000 employees on 2 cores, six alternating pairs of runs:
/// 2.14 s median against 2.23 s with two writers; docs/benchmarks.md,
/// session 16). SQLite has a single writer.
const PARALLEL_WRITERS: usize = 3;
/// Rows of one level of the management tree worth splitting between the
/// writers; smaller levels share sequential transactions.
const SIDE_BY_SIDE_FROM: usize = 1_000;
/// Leavers per transaction (each ends pairings, sessions, enrolments).
const LEAVERS_PER_TRANSACTION: usize = 500;
/// Largest input accepted in one call.
pub const MAX_EMPLOYEES: usize = 200_000;
/// Largest department list accepted in one call.
pub const MAX_DEPARTMENTS: usize = 50_000;
/// Why a leaver's pairings end, as recorded on them.
const LEAVER_REASON: &str = "participant left the company";

/// One call of `syncEmployees`.
#[derive(Clone, Debug)]
pub struct SyncRequest {
    /// UPSERT, or FULL_SNAPSHOT (absent active employees are leavers).
    pub mode: HrisSyncMode,
    /// Which system sent it (e.g. `workday`).
    pub source: String,
    /// Compute everything, write nothing.
    pub dry_run: bool,
    /// FULL_SNAPSHOT: allow deactivating more than the configured share.
    pub allow_mass_deactivation: bool,
    /// Departments, applied before employees.
    pub departments: Vec<DepartmentRecord>,
    /// Employees.
    pub employees: Vec<EmployeeRecord>,
}

/// A run as recorded, with its rejected rows (in input order).
#[derive(Clone, Debug)]
pub struct SyncReport {
    /// The run's row (not stored for a dry run).
    pub run: hris_sync_run::Model,
    /// Its row errors.
    pub errors: Vec<hris_row_error::Model>,
}

/// Applies an HRIS push; `max_deactivation_ratio` guards snapshots.
#[tracing::instrument(name = "hris.sync", skip_all, fields(employees = request.employees.len() as i64, dry_run = request.dry_run))]
pub async fn sync(
    db: &DatabaseConnection,
    caller: &Caller,
    max_deactivation_ratio: f64,
    request: SyncRequest,
) -> AppResult<SyncReport> {
    if !caller.has_role(Role::Hris) {
        return Err(AppError::forbidden(
            "only the HRIS service account syncs employees",
        ));
    }
    let source = request.source.trim();
    if source.is_empty() || source.chars().count() > 100 {
        return Err(AppError::bad_input(
            "source",
            "source has 1 to 100 characters",
        ));
    }
    if request.employees.len() > MAX_EMPLOYEES {
        return Err(AppError::bad_input(
            "employees",
            format!("at most {MAX_EMPLOYEES} employees per call"),
        ));
    }
    if request.departments.len() > MAX_DEPARTMENTS {
        return Err(AppError::bad_input(
            "departments",
            format!("at most {MAX_DEPARTMENTS} departments per call"),
        ));
    }
    let now = Utc::now();
    let stored = plan::Stored {
        departments: department::Entity::find().all(db).await?,
        // Erased rows are nobody's: no record can match or update them.
        employees: crate::domain::employees::findable().all(db).await?,
        erased: crate::domain::erasure::erased_identities(db).await?,
    };
    let snapshot = request.mode == HrisSyncMode::FullSnapshot;
    let plan = plan_off_the_workers(
        request.departments,
        request.employees,
        snapshot,
        stored,
        now,
    )
    .await?;
    let mut run = hris_sync_run::Model {
        id: super::new_id(),
        mode: request.mode,
        source: source.to_owned(),
        dry_run: request.dry_run,
        state: HrisSyncState::Open,
        created: count(plan.created),
        updated: count(plan.updated),
        unchanged: count(plan.unchanged),
        deactivated: count(plan.terminations.len()),
        failed: count(plan.errors.len()),
        started_at: now,
        completed_at: None,
    };
    let errors = error_rows(run.id, &plan.errors);
    if snapshot
        && !request.allow_mass_deactivation
        && plan.absent as f64 > max_deactivation_ratio * plan.active_before as f64
    {
        return Err(refuse_mass_deactivation(db, run, &plan, max_deactivation_ratio).await);
    }
    if request.dry_run {
        run.state = HrisSyncState::Completed;
        run.completed_at = Some(Utc::now());
        return Ok(SyncReport { run, errors });
    }
    hris_sync_run::Entity::insert(run.clone().into_active_model())
        .exec_without_returning(db)
        .await?;
    // Applying a plan twice gives the same rows: a transaction lost to a
    // concurrent one is simply run again, once.
    match crate::error::retry_once(|| apply(db, &plan, now)).await {
        Ok(()) => {
            run.state = HrisSyncState::Completed;
            run.completed_at = Some(Utc::now());
            finish(db, &run, &errors).await?;
            tracing::info!(
                run = %run.id, created = run.created, updated = run.updated,
                unchanged = run.unchanged, deactivated = run.deactivated, failed = run.failed,
                "HRIS sync completed"
            );
            Ok(SyncReport { run, errors })
        }
        Err(cause) => {
            run.state = HrisSyncState::Failed;
            run.completed_at = Some(Utc::now());
            if let Err(also) = finish(db, &run, &errors).await {
                tracing::error!(run = %run.id, error = ?also, "could not record the failed run");
            }
            Err(cause)
        }
    }
}

/// Plans the run on a blocking thread: planning 200,000 rows takes
/// seconds, which would stall every request sharing the async worker
/// (`/healthz` included). The inputs are dropped there too.
async fn plan_off_the_workers(
    departments: Vec<DepartmentRecord>,
    employees: Vec<EmployeeRecord>,
    snapshot: bool,
    stored: plan::Stored,
    now: DateTime<Utc>,
) -> AppResult<plan::Plan> {
    tokio::task::spawn_blocking(move || {
        plan::plan(&departments, &employees, snapshot, &stored, now)
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("HRIS planning failed: {e}")))
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn error_rows(run_id: Uuid, errors: &[RowError]) -> Vec<hris_row_error::Model> {
    errors
        .iter()
        .map(|e| hris_row_error::Model {
            id: super::new_id(),
            run_id,
            row_index: count(e.row_index),
            external_id: e.external_id.chars().take(200).collect(),
            field: e.field.map(str::to_owned),
            message: e.message.clone(),
        })
        .collect()
}

/// Records the refused run (FAILED, nothing applied) and answers CONFLICT.
async fn refuse_mass_deactivation(
    db: &DatabaseConnection,
    mut run: hris_sync_run::Model,
    plan: &plan::Plan,
    ratio: f64,
) -> AppError {
    let message = format!(
        "this snapshot would deactivate {} of {} active employees, more than the {}% allowed \
         (HRIS_MAX_DEACTIVATION_RATIO); nothing was changed. Check the export, or send \
         allowMassDeactivation: true if so many people really left",
        plan.absent,
        plan.active_before,
        (ratio * 100.0).round()
    );
    if !run.dry_run {
        run.state = HrisSyncState::Failed;
        run.created = 0;
        run.updated = 0;
        run.unchanged = 0;
        run.deactivated = 0;
        run.completed_at = Some(Utc::now());
        let refused = hris_sync_run::Entity::insert(run.into_active_model())
            .exec_without_returning(db)
            .await;
        if let Err(error) = refused {
            tracing::error!(?error, "could not record the refused run");
        }
    }
    tracing::warn!(
        absent = plan.absent,
        active = plan.active_before,
        "HRIS snapshot refused"
    );
    AppError::Conflict(message)
}

/// Writes the plan: departments, then employees managers-first, then leavers.
async fn apply(db: &DatabaseConnection, plan: &plan::Plan, now: DateTime<Utc>) -> AppResult<()> {
    if !plan.departments.is_empty() {
        let txn = super::write_txn(db).await?;
        for chunk in plan.departments.chunks(ROWS_PER_STATEMENT) {
            upsert_departments(&txn, chunk).await?;
        }
        txn.commit().await?;
    }
    if db.get_database_backend() == DbBackend::Postgres {
        // Each step starts once the one before it (the managers of its
        // people) is committed.
        let steps = plan::write_steps(
            &plan.employees,
            ROWS_PER_TRANSACTION,
            SIDE_BY_SIDE_FROM,
            PARALLEL_WRITERS,
        );
        for step in steps {
            match step {
                plan::Step::Alone(rows) => write_employees(db, rows, now).await?,
                plan::Step::SideBySide(parts) => write_side_by_side(db, parts, now).await?,
            }
        }
    } else {
        for batch in plan.employees.chunks(ROWS_PER_TRANSACTION) {
            write_employees(db, batch, now).await?;
        }
    }
    for leavers in plan.terminations.chunks(LEAVERS_PER_TRANSACTION) {
        let txn = super::write_txn(db).await?;
        terminate(&txn, leavers, now).await?;
        txn.commit().await?;
    }
    Ok(())
}

async fn upsert_departments<C: ConnectionTrait>(
    db: &C,
    rows: &[department::Model],
) -> AppResult<()> {
    let models = rows.iter().cloned().map(IntoActiveModel::into_active_model);
    department::Entity::insert_many(models)
        .on_conflict(
            OnConflict::column(department::Column::ExternalId)
                .update_columns([
                    department::Column::Name,
                    department::Column::ParentId,
                    department::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// What an upsert does to an employee who exists (same external id): the
/// HRIS's fields are replaced, and a new time zone bumps the availability
/// version (cached free time is stale). One rule for both databases.
fn on_employee_conflict(now: DateTime<Utc>) -> OnConflict {
    use employee::Column as E;
    let micros = now.timestamp_micros();
    let bumped = Expr::cust(format!(
        "CASE WHEN employees.timezone = excluded.timezone THEN employees.availability_version \
         WHEN employees.availability_version + 1 > {micros} THEN employees.availability_version + 1 \
         ELSE {micros} END"
    ));
    OnConflict::column(E::ExternalId)
        .update_columns([
            E::Email,
            E::GivenName,
            E::FamilyName,
            E::DisplayName,
            E::JobTitle,
            E::DepartmentId,
            E::ManagerId,
            E::Generation,
            E::SeniorityLevel,
            E::Timezone,
            E::Status,
            E::TerminatedAt,
            E::UpdatedAt,
        ])
        .value(E::AvailabilityVersion, bumped)
        .to_owned()
}

/// Inserts new employees and updates changed ones in one statement.
async fn upsert_employees<C: ConnectionTrait>(
    db: &C,
    rows: &[employee::Model],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let models = rows.iter().cloned().map(IntoActiveModel::into_active_model);
    employee::Entity::insert_many(models)
        .on_conflict(on_employee_conflict(now))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// An employee as `json_populate_recordset` reads it on PostgreSQL: the
/// keys are the table's column names.
#[derive(serde::Serialize)]
struct EmployeeJson<'a> {
    id: Uuid,
    external_id: &'a str,
    email: &'a str,
    given_name: Option<&'a str>,
    family_name: Option<&'a str>,
    display_name: &'a str,
    job_title: Option<&'a str>,
    department_id: Option<Uuid>,
    manager_id: Option<Uuid>,
    generation: String,
    seniority_level: Option<i32>,
    timezone: &'a str,
    status: String,
    availability_version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    terminated_at: Option<DateTime<Utc>>,
    erased_at: Option<DateTime<Utc>>,
}

impl<'a> From<&'a employee::Model> for EmployeeJson<'a> {
    fn from(row: &'a employee::Model) -> Self {
        Self {
            id: row.id,
            external_id: &row.external_id,
            email: &row.email,
            given_name: row.given_name.as_deref(),
            family_name: row.family_name.as_deref(),
            display_name: &row.display_name,
            job_title: row.job_title.as_deref(),
            department_id: row.department_id,
            manager_id: row.manager_id,
            generation: row.generation.to_value(),
            seniority_level: row.seniority_level,
            timezone: &row.timezone,
            status: row.status.to_value(),
            availability_version: row.availability_version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            terminated_at: row.terminated_at,
            erased_at: row.erased_at,
        }
    }
}

/// Writes `parts` in transactions of their own, [`PARALLEL_WRITERS`] at a
/// time. When one fails, the others are still allowed to finish (none is
/// abandoned half-way) before the first error is answered; only a request
/// cancelled or timed out drops them, and their transactions roll back.
async fn write_side_by_side(
    db: &DatabaseConnection,
    parts: Vec<&[employee::Model]>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    // Collected first: futures are lazy, and a closure mapping the stream
    // would not be `Send` for every lifetime.
    let writes: Vec<_> = parts
        .into_iter()
        .map(|rows| write_employees(db, rows, now))
        .collect();
    let outcomes: Vec<AppResult<()>> = stream::iter(writes)
        .buffer_unordered(PARALLEL_WRITERS)
        .collect()
        .await;
    outcomes.into_iter().collect()
}

/// One transaction of employees, managers first: a single statement on
/// PostgreSQL ([`upsert_employees_pg`]), [`ROWS_PER_STATEMENT`] rows per
/// statement on SQLite ([`upsert_employees`]).
async fn write_employees(
    db: &DatabaseConnection,
    rows: &[employee::Model],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let txn = super::write_txn(db).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        upsert_employees_pg(&txn, rows, now).await?;
    } else {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            upsert_employees(&txn, chunk, now).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// [`upsert_employees`] on PostgreSQL: the rows go as one JSON parameter
/// that `json_populate_recordset` turns into the table's rows. A whole
/// transaction's rows take one statement of fixed shape, where a VALUES list
/// costs a bound parameter per cell (18,000 per 1,000 rows) to build, bind,
/// parse and plan.
async fn upsert_employees_pg<C: ConnectionTrait>(
    db: &C,
    rows: &[employee::Model],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let batch: Vec<EmployeeJson<'_>> = rows.iter().map(EmployeeJson::from).collect();
    let json = serde_json::to_string(&batch)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("encoding employees: {e}")))?;
    let columns: Vec<employee::Column> = employee::Column::iter().collect();
    let rows_of = Alias::new("r");
    let mut read = Query::select();
    read.columns(columns.iter().map(|c| (rows_of.clone(), *c)))
        .from_function(
            Func::cust("json_populate_recordset")
                .arg(Expr::cust("NULL::employees"))
                .arg(Func::cast_as(json, Alias::new("json"))),
            rows_of,
        );
    let mut upsert = Query::insert();
    upsert
        .into_table(employee::Entity)
        .columns(columns)
        .select_from(read)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("employee upsert: {e}")))?
        .on_conflict(on_employee_conflict(now));
    db.execute(&upsert).await?;
    Ok(())
}

/// Sets `leavers` TERMINATED and ends what they took part in: live pairings
/// end early (proposed ones are declined), their future sessions are
/// cancelled, their live enrolments withdrawn. Their token already opens
/// nothing once they are TERMINATED. Their programmes are locked first (the
/// pairing lifecycle's guard), so a pairing being made for a leaver at the
/// same instant either ends here or is refused for want of an enrolment.
pub async fn terminate<C: ConnectionTrait>(
    db: &C,
    leavers: &[Uuid],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let programmes = lifecycle::programmes_of(db, leavers).await?;
    let lock = lifecycle::lock_programmes(db, programmes.iter().copied()).await?;
    // Enrolled somewhere new between the read and the lock: run again.
    let now_in = lifecycle::programmes_of(db, leavers).await?;
    if now_in.iter().any(|p| !programmes.contains(p)) {
        return Err(AppError::Retry);
    }
    lifecycle::end_for_departure(db, &lock, leavers, None, LEAVER_REASON, now).await?;
    super::delegations::revoke_for_leavers(db, leavers).await?;
    employee::Entity::update_many()
        .col_expr(
            employee::Column::Status,
            Expr::value(EmployeeStatus::Terminated.to_value()),
        )
        .col_expr(employee::Column::UpdatedAt, Expr::value(now))
        .col_expr(employee::Column::TerminatedAt, Expr::value(now))
        .filter(employee::Column::Id.is_in(leavers.iter().copied()))
        .filter(employee::Column::Status.ne(EmployeeStatus::Terminated))
        .exec(db)
        .await?;
    enrolment::Entity::update_many()
        .col_expr(
            enrolment::Column::Status,
            Expr::value(EnrolmentStatus::Withdrawn.to_value()),
        )
        .col_expr(enrolment::Column::WithdrawnAt, Expr::value(now))
        .col_expr(enrolment::Column::UpdatedAt, Expr::value(now))
        .filter(enrolment::Column::EmployeeId.is_in(leavers.iter().copied()))
        .filter(enrolment::Column::Status.is_in(super::enrolments::LIVE))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores the run's final state and its row errors, in one transaction.
async fn finish(
    db: &DatabaseConnection,
    run: &hris_sync_run::Model,
    errors: &[hris_row_error::Model],
) -> AppResult<()> {
    let txn = super::write_txn(db).await?;
    for chunk in errors.chunks(ROWS_PER_STATEMENT) {
        let models = chunk
            .iter()
            .cloned()
            .map(IntoActiveModel::into_active_model);
        hris_row_error::Entity::insert_many(models)
            .exec_without_returning(&txn)
            .await?;
    }
    hris_sync_run::ActiveModel {
        id: Set(run.id),
        state: Set(run.state),
        completed_at: Set(run.completed_at),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A recorded run and its errors, for admins and the HRIS account.
pub async fn run(
    db: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
) -> AppResult<Option<SyncReport>> {
    if !caller.is_admin() && !caller.has_role(Role::Hris) {
        return Err(AppError::forbidden(
            "HRIS runs are for the programme team and the HRIS account",
        ));
    }
    let Some(run) = hris_sync_run::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let errors = hris_row_error::Entity::find()
        .filter(hris_row_error::Column::RunId.eq(id))
        .order_by_asc(hris_row_error::Column::RowIndex)
        .all(db)
        .await?;
    Ok(Some(SyncReport { run, errors }))
}
