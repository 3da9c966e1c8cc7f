//! People: employees, departments, skills and skill profiles.

use std::sync::Arc;

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, Enum, InputObject, Object};
use entity::{department, employee, skill, skill_profile};
use uuid::Uuid;

use super::context::ContextExt;
use super::error::GqlResultExt;
use super::guards::AreaGuard;
use super::loaders::{DepartmentKey, EmployeeKey, SkillKey, SkillProfileKey, load, load_required};
use crate::domain::access::Area;
use crate::domain::employees::{self, SearchText};
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::skills::{self, LevelEntry};

/// Generation derived from the birth year.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::Generation")]
pub enum Generation {
    BabyBoomer,
    GenX,
    GenY,
    GenZ,
    Unknown,
}

/// Employment status from the HRIS.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::EmployeeStatus")]
pub enum EmployeeStatus {
    Active,
    OnLeave,
    Terminated,
}

/// Teach or learn.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::SkillDirection")]
pub enum SkillDirection {
    Offers,
    Wants,
}

/// When a self-assessment is taken.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::AssessmentPhase")]
pub enum AssessmentPhase {
    Baseline,
    Exit,
}

/// One skill of the caller's profile.
#[derive(InputObject)]
pub struct SkillProfileInput {
    skill_id: Uuid,
    direction: SkillDirection,
    /// OFFERS: the level the person can teach; WANTS: the level they want
    /// to reach. 1 basics .. 4 expert; 0 is refused (leave the skill out).
    level: i32,
}

/// One self-assessed level.
#[derive(InputObject)]
pub struct SkillAssessmentInput {
    skill_id: Uuid,
    /// 0 none .. 4 expert
    level: i32,
}

/// Mutations of the caller's own skills.
#[derive(Default)]
pub struct SkillMutation;

#[Object]
impl SkillMutation {
    /// Replaces the caller's skill profile.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn set_skill_profile(
        &self,
        ctx: &Context<'_>,
        entries: Vec<SkillProfileInput>,
    ) -> async_graphql::Result<Vec<SkillProfileEntry>> {
        let entries = entries
            .into_iter()
            .map(|e| {
                (
                    LevelEntry {
                        skill_id: e.skill_id,
                        level: e.level,
                    },
                    e.direction.into(),
                )
            })
            .collect();
        let saved = skills::set_profile(ctx.db()?, ctx.caller()?, entries)
            .await
            .gql()?;
        Ok(saved.into_iter().map(SkillProfileEntry).collect())
    }

    /// Records the caller's BASELINE or EXIT levels for a programme they take part in.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn submit_skill_assessment(
        &self,
        ctx: &Context<'_>,
        programme_id: Uuid,
        phase: AssessmentPhase,
        entries: Vec<SkillAssessmentInput>,
    ) -> async_graphql::Result<bool> {
        let entries = entries
            .into_iter()
            .map(|e| LevelEntry {
                skill_id: e.skill_id,
                level: e.level,
            })
            .collect();
        skills::submit_assessment(
            ctx.db()?,
            ctx.caller()?,
            programme_id,
            phase.into(),
            entries,
        )
        .await
        .gql()?;
        Ok(true)
    }
}

/// An organisational unit.
pub struct Department(pub department::Model);

#[Object]
impl Department {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Department>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        let found = load(ctx, DepartmentKey(parent)).await?;
        Ok(found.map(Department))
    }
}

/// A person of the company.
pub struct Employee(pub Arc<employee::Model>);

impl From<employee::Model> for Employee {
    fn from(row: employee::Model) -> Self {
        Self(Arc::new(row))
    }
}

#[Object]
impl Employee {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn job_title(&self) -> Option<&str> {
        self.0.job_title.as_deref()
    }
    /// Null for someone seen only as a delegation partner.
    async fn department(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Department>> {
        let Some(id) = self.0.department_id else {
            return Ok(None);
        };
        if !ctx.employee_scope().await?.reads_profile(self.0.id) {
            return Ok(None);
        }
        let found = load(ctx, DepartmentKey(id)).await?;
        Ok(found.map(Department))
    }
    /// The manager, when the caller may see them (null otherwise).
    async fn manager(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Employee>> {
        let Some(id) = self.0.manager_id else {
            return Ok(None);
        };
        if !ctx.employee_scope().await?.contains(id) {
            return Ok(None);
        }
        let found = load(ctx, EmployeeKey(id)).await?;
        Ok(found.map(Employee))
    }
    /// Derived from the birth year the HRIS sends; the birth year itself is never stored.
    /// UNKNOWN for someone seen only as a delegation partner.
    async fn generation(&self, ctx: &Context<'_>) -> async_graphql::Result<Generation> {
        if !ctx.employee_scope().await?.reads_profile(self.0.id) {
            return Ok(Generation::Unknown);
        }
        Ok(self.0.generation.into())
    }
    /// HRIS grade: higher means more senior (e.g. 1 intern ... 9 executive committee).
    /// Null for someone seen only as a delegation partner.
    async fn seniority_level(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i32>> {
        if !ctx.employee_scope().await?.reads_profile(self.0.id) {
            return Ok(None);
        }
        Ok(self.0.seniority_level)
    }
    /// IANA time zone, e.g. Europe/Paris.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    async fn status(&self) -> EmployeeStatus {
        self.0.status.into()
    }
    /// What they offer and want: not for someone who sees them only as a
    /// delegation partner.
    async fn skills(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SkillProfileEntry>> {
        if !ctx.employee_scope().await?.reads_profile(self.0.id) {
            return Ok(Vec::new());
        }
        let entries = load(ctx, SkillProfileKey(self.0.id)).await?;
        Ok(entries
            .unwrap_or_default()
            .into_iter()
            .map(SkillProfileEntry)
            .collect())
    }
}

/// A digital topic of the catalogue.
pub struct Skill(pub Arc<skill::Model>);

impl From<skill::Model> for Skill {
    fn from(row: skill::Model) -> Self {
        Self(Arc::new(row))
    }
}

#[Object]
impl Skill {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn category(&self) -> &str {
        &self.0.category
    }
}

/// One skill an employee offers or wants, with a level.
pub struct SkillProfileEntry(pub skill_profile::Model);

#[Object]
impl SkillProfileEntry {
    async fn skill(&self, ctx: &Context<'_>) -> async_graphql::Result<Skill> {
        Ok(Skill(load_required(ctx, SkillKey(self.0.skill_id)).await?))
    }
    async fn direction(&self) -> SkillDirection {
        self.0.direction.into()
    }
    /// OFFERS: the level the person can teach; WANTS: the level they want
    /// to reach (1 basics .. 4 expert).
    async fn level(&self) -> i32 {
        self.0.level
    }
}

/// A page's cursor, encoded into the opaque text clients see only when an
/// answer shows it (`cursor`, `pageInfo`): a list of sessions inside a list
/// of pairings seldom asks for it.
pub struct PageCursor(Cursor);

impl CursorType for PageCursor {
    type Error = crate::error::AppError;

    fn decode_cursor(text: &str) -> Result<Self, Self::Error> {
        Cursor::decode(text).map(PageCursor)
    }

    fn encode_cursor(&self) -> String {
        self.0.encode()
    }
}

/// A Relay connection whose cursors are encoded when shown.
pub type PageConnection<N> = Connection<PageCursor, N>;

/// Turns a domain page into a Relay connection.
pub fn connection<M, N>(page: Page<M>, mut node: impl FnMut(M) -> N) -> PageConnection<N>
where
    N: async_graphql::OutputType,
{
    let mut connection = Connection::new(page.has_previous, page.has_next);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|(cursor, row)| Edge::new(PageCursor(cursor), node(row))),
    );
    connection
}

/// Query fields about people and skills.
#[derive(Default)]
pub struct PeopleQuery;

#[Object]
impl PeopleQuery {
    /// The employee linked to the caller's token; null for service accounts.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Employee>> {
        // Through the loaders, which a query's sign-in has handed the row.
        let Some(id) = ctx.caller()?.employee_id else {
            return Ok(None);
        };
        Ok(load(ctx, EmployeeKey(id)).await?.map(Employee))
    }

    /// The skill catalogue.
    #[graphql(guard = "AreaGuard(Area::Catalogue)")]
    async fn skills(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Skill>> {
        Ok(skills::list(ctx.db()?)
            .await
            .gql()?
            .into_iter()
            .map(Skill::from)
            .collect())
    }

    /// One employee the caller may see (NOT_FOUND otherwise).
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn employee(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<Employee>> {
        let scope = ctx.employee_scope().await?;
        Ok(Some(Employee::from(
            employees::get(ctx.db()?, scope, id).await.gql()?,
        )))
    }

    /// Employees the caller may see, by display name; `search` matches name or email.
    #[graphql(
        guard = "AreaGuard(Area::People)",
        complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity"
    )]
    async fn employees(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> async_graphql::Result<PageConnection<Employee>> {
        let page = PageRequest::parse(first, after.as_deref()).gql()?;
        let search = SearchText::parse(search.as_deref()).gql()?;
        let scope = ctx.employee_scope().await?;
        let rows = employees::list(ctx.db()?, scope, &page, search.as_ref())
            .await
            .gql()?;
        Ok(connection(rows, Employee::from))
    }
}
