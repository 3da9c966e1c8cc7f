//! HRIS sync: `syncEmployees` (the HRIS account) and `hrisSyncRun` (admins
//! and the HRIS account). The rules live in `domain::hris`.

use super::scalars::DateTime;
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use uuid::Uuid;

use super::context::ContextExt;
use super::error::GqlResultExt;
use super::guards::AreaGuard;
use super::people::EmployeeStatus;
use crate::domain::access::Area;
use crate::domain::hris::{self, DepartmentRecord, EmployeeRecord, SyncReport, SyncRequest};

/// How absent employees are treated.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::HrisSyncMode")]
pub enum HrisSyncMode {
    /// Only the records sent change anything.
    Upsert,
    /// The records are the whole company: active employees missing are leavers.
    FullSnapshot,
}

/// Where a run stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::HrisSyncState")]
pub enum HrisSyncState {
    Open,
    Completed,
    Failed,
}

/// A department as the HRIS sends it.
#[derive(InputObject)]
pub struct DepartmentRecordInput {
    external_id: String,
    name: String,
    parent_external_id: Option<String>,
}

/// An employee as the HRIS sends it. Names, title, department, manager and
/// seniority are replaced by the record; time zone, status and generation
/// are kept when omitted.
// Also read straight from JSON (serde) by the HTTP layer's one-pass read of
// a whole-company push (`PushedEmployees`): the same fields and types,
// nothing else accepted, so what this refuses is read the ordinary way. (A
// plain comment: a doc comment would become the schema's description.)
#[derive(InputObject, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EmployeeRecordInput {
    external_id: String,
    email: String,
    given_name: Option<String>,
    family_name: Option<String>,
    display_name: Option<String>,
    job_title: Option<String>,
    department_external_id: Option<String>,
    manager_external_id: Option<String>,
    seniority_level: Option<i32>,
    /// Used only to derive the generation; never stored.
    birth_year: Option<i32>,
    timezone: Option<String>,
    #[serde(default, deserialize_with = "enum_by_graphql_name")]
    status: Option<EmployeeStatus>,
}

/// An enum value read from a JSON string (or null) only, by the names
/// GraphQL gives its values: serde alone would also take `{"ACTIVE": null}`.
fn enum_by_graphql_name<'de, D, E>(deserializer: D) -> Result<Option<E>, D::Error>
where
    D: serde::Deserializer<'de>,
    E: async_graphql::InputType,
{
    use serde::Deserialize as _;
    let Some(name) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    E::parse(Some(async_graphql::Value::Enum(async_graphql::Name::new(
        name,
    ))))
    .map(Some)
    .map_err(|_| serde::de::Error::custom("not a value of the enum"))
}

/// One push of the HRIS.
#[derive(InputObject)]
pub struct HrisSyncInput {
    mode: HrisSyncMode,
    source: String,
    dry_run: Option<bool>,
    departments: Option<Vec<DepartmentRecordInput>>,
    employees: Vec<EmployeeRecordInput>,
    /// FULL_SNAPSHOT only: allow deactivating more than the configured share of active employees.
    allow_mass_deactivation: Option<bool>,
}

impl From<HrisSyncInput> for SyncRequest {
    fn from(input: HrisSyncInput) -> Self {
        Self {
            mode: input.mode.into(),
            source: input.source,
            dry_run: input.dry_run.unwrap_or(false),
            allow_mass_deactivation: input.allow_mass_deactivation.unwrap_or(false),
            departments: input
                .departments
                .unwrap_or_default()
                .into_iter()
                .map(|d| DepartmentRecord {
                    external_id: d.external_id,
                    name: d.name,
                    parent_external_id: d.parent_external_id,
                })
                .collect(),
            employees: input.employees.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<EmployeeRecordInput> for EmployeeRecord {
    fn from(e: EmployeeRecordInput) -> Self {
        Self {
            external_id: e.external_id,
            email: e.email,
            given_name: e.given_name,
            family_name: e.family_name,
            display_name: e.display_name,
            job_title: e.job_title,
            department_external_id: e.department_external_id,
            manager_external_id: e.manager_external_id,
            seniority_level: e.seniority_level,
            birth_year: e.birth_year,
            timezone: e.timezone,
            status: e.status.map(Into::into),
        }
    }
}

impl EmployeeRecordInput {
    /// Its text fields, for the checks every text of a request passes.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        [&self.external_id, &self.email]
            .into_iter()
            .chain(
                [
                    &self.given_name,
                    &self.family_name,
                    &self.display_name,
                    &self.job_title,
                    &self.department_external_id,
                    &self.manager_external_id,
                    &self.timezone,
                ]
                .into_iter()
                .flatten(),
            )
            .map(String::as_str)
    }
}

/// The employees of a `syncEmployees` push, read from the request body into
/// records by the HTTP layer (`http::hris_push`), handed to the resolver as
/// request data while the `input` variable carries an empty list. A 100,000
/// employee push then costs one JSON pass instead of GraphQL values built,
/// validated, copied and converted several times over.
pub struct PushedEmployees(std::sync::Mutex<Vec<EmployeeRecordInput>>);

impl PushedEmployees {
    /// Records read from the body, in input order.
    pub fn new(records: Vec<EmployeeRecordInput>) -> Self {
        Self(std::sync::Mutex::new(records))
    }

    /// The records (once: the request has one `syncEmployees` field).
    fn take(&self) -> Vec<EmployeeRecord> {
        let mut records = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *records)
            .into_iter()
            .map(Into::into)
            .collect()
    }
}

/// A rejected row of a run.
#[derive(SimpleObject)]
pub struct HrisRowError {
    external_id: String,
    field: Option<String>,
    message: String,
}

/// One HRIS push, with its counts (every input row is counted once:
/// departments and employees alike) and its rejected rows.
pub struct HrisSyncRun(SyncReport);

#[Object]
impl HrisSyncRun {
    /// Not stored for a dry run.
    async fn id(&self) -> Uuid {
        self.0.run.id
    }
    async fn mode(&self) -> HrisSyncMode {
        self.0.run.mode.into()
    }
    async fn source(&self) -> &str {
        &self.0.run.source
    }
    async fn dry_run(&self) -> bool {
        self.0.run.dry_run
    }
    async fn state(&self) -> HrisSyncState {
        self.0.run.state.into()
    }
    async fn created(&self) -> i32 {
        self.0.run.created
    }
    async fn updated(&self) -> i32 {
        self.0.run.updated
    }
    async fn unchanged(&self) -> i32 {
        self.0.run.unchanged
    }
    /// Employees terminated by their record or absent from a snapshot.
    async fn deactivated(&self) -> i32 {
        self.0.run.deactivated
    }
    async fn failed(&self) -> i32 {
        self.0.run.failed
    }
    /// Rejected rows in input order.
    async fn errors(&self) -> Vec<HrisRowError> {
        self.0
            .errors
            .iter()
            .map(|e| HrisRowError {
                external_id: e.external_id.clone(),
                field: e.field.clone(),
                message: e.message.clone(),
            })
            .collect()
    }
    async fn started_at(&self) -> DateTime {
        self.0.run.started_at.into()
    }
    async fn completed_at(&self) -> Option<DateTime> {
        self.0.run.completed_at.map(DateTime)
    }
}

/// Reading HRIS runs.
#[derive(Default)]
pub struct HrisQuery;

#[Object]
impl HrisQuery {
    /// A recorded run (admins and the HRIS account).
    #[graphql(guard = "AreaGuard(Area::Hris)")]
    async fn hris_sync_run(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<HrisSyncRun>> {
        let found = hris::run(ctx.db()?, ctx.caller()?, id).await.gql()?;
        Ok(found.map(HrisSyncRun))
    }
}

/// The HRIS push.
#[derive(Default)]
pub struct HrisMutation;

#[Object]
impl HrisMutation {
    /// Applies the HRIS's departments and employees (the HRIS account only):
    /// bad rows are reported, good rows applied; idempotent.
    #[graphql(guard = "AreaGuard(Area::Hris)")]
    async fn sync_employees(
        &self,
        ctx: &Context<'_>,
        input: HrisSyncInput,
    ) -> async_graphql::Result<HrisSyncRun> {
        let ratio = ctx.settings()?.hris_max_deactivation_ratio;
        let mut request = SyncRequest::from(input);
        if let Some(pushed) = ctx.data_opt::<PushedEmployees>() {
            request.employees = pushed.take();
        }
        let report = hris::sync(ctx.db()?, ctx.caller()?, ratio, request)
            .await
            .gql()?;
        Ok(HrisSyncRun(report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::InputType as _;
    use async_graphql::registry::{MetaType, Registry};

    /// The fields GraphQL reads: serde must read each by the same name
    /// (and, refusing unknown fields, no other), so a body read in one pass
    /// means what GraphQL would read.
    #[test]
    fn serde_reads_a_record_by_the_names_graphql_gives_its_fields() {
        let mut registry = Registry::default();
        EmployeeRecordInput::create_type_info(&mut registry);
        let Some(MetaType::InputObject { input_fields, .. }) =
            registry.types.get("EmployeeRecordInput")
        else {
            panic!("EmployeeRecordInput is not registered as an input object");
        };
        assert_eq!(input_fields.len(), 12);
        for (name, field) in input_fields {
            let value = match field.ty.trim_end_matches('!') {
                "Int" => serde_json::json!(3),
                "EmployeeStatus" => serde_json::json!("ON_LEAVE"),
                _ => serde_json::json!("x"),
            };
            let mut record = serde_json::json!({ "externalId": "E", "email": "e@corp.example" });
            record[name.as_str()] = value;
            let read: Result<EmployeeRecordInput, _> = serde_json::from_value(record.clone());
            assert!(
                read.is_ok(),
                "serde refuses GraphQL's field {name}: {record}"
            );
        }
        let status = |value: serde_json::Value| {
            serde_json::from_value::<EmployeeRecordInput>(
                serde_json::json!({ "externalId": "E", "email": "e@corp.example", "status": value }),
            )
            .ok()
            .and_then(|record| record.status)
            .map(entity::enums::EmployeeStatus::from)
        };
        assert_eq!(
            status(serde_json::json!("ON_LEAVE")),
            Some(entity::enums::EmployeeStatus::OnLeave)
        );
        assert_eq!(status(serde_json::json!({ "ACTIVE": null })), None);
        assert_eq!(status(serde_json::json!("OnLeave")), None);

        // Every text field is among the texts checked for control characters.
        for (name, field) in input_fields {
            if field.ty.trim_end_matches('!') != "String" {
                continue;
            }
            let mut record = serde_json::json!({ "externalId": "E", "email": "e@corp.example" });
            record[name.as_str()] = serde_json::json!("a\u{0}b");
            let read: EmployeeRecordInput = serde_json::from_value(record).unwrap();
            assert!(
                read.texts().any(crate::domain::text::holds_refused_char),
                "{name} is not among the texts checked"
            );
        }
    }
}
