//! Enrolments: volunteering, decisions, mentor training and supervision.

use super::scalars::DateTime;
use async_graphql::{Context, Enum, InputObject, Object};
use entity::enrolment;
use uuid::Uuid;

use super::context::ContextExt;
use super::error::GqlResultExt;
use super::guards::AreaGuard;
use super::loaders::{EmployeeKey, ProgrammeKey, load, load_required};
use super::people::Employee;
use super::programmes::Programme;
use crate::domain::access::Area;
use crate::domain::enrolments::{self, EnrolRequest};

/// The side of the relation.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::ParticipantRole")]
pub enum ParticipantRole {
    Mentor,
    Mentee,
}

/// Decision state of an enrolment.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entity::enums::EnrolmentStatus")]
pub enum EnrolmentStatus {
    Pending,
    Approved,
    Rejected,
    Withdrawn,
}

/// A volunteer's enrolment.
pub struct Enrolment(pub enrolment::Model);

/// Loads an employee the caller may see, or None.
async fn visible_employee(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Employee>> {
    if !ctx.employee_scope().await?.contains(id) {
        return Ok(None);
    }
    let found = load(ctx, EmployeeKey(id)).await?;
    Ok(found.map(Employee))
}

#[Object]
impl Enrolment {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn programme(&self, ctx: &Context<'_>) -> async_graphql::Result<Programme> {
        Ok(Programme(
            load_required(ctx, ProgrammeKey(self.0.programme_id)).await?,
        ))
    }
    /// The volunteer (whoever sees the enrolment sees its employee).
    async fn employee(&self, ctx: &Context<'_>) -> async_graphql::Result<Employee> {
        Ok(Employee(
            load_required(ctx, EmployeeKey(self.0.employee_id)).await?,
        ))
    }
    async fn role(&self) -> ParticipantRole {
        self.0.role.into()
    }
    async fn status(&self) -> EnrolmentStatus {
        self.0.status.into()
    }
    /// Volunteers only: the moment the employee consented. Never null.
    async fn consented_at(&self) -> DateTime {
        self.0.consented_at.into()
    }
    async fn motivation(&self) -> Option<&str> {
        self.0.motivation.as_deref()
    }
    /// Mentors: when their mentor training was completed.
    async fn training_completed_at(&self) -> Option<DateTime> {
        self.0.training_completed_at.map(DateTime)
    }
    /// Mentors: the coach who supervises them (null when not visible to the caller).
    async fn supervisor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Employee>> {
        match self.0.supervisor_id {
            Some(id) => visible_employee(ctx, id).await,
            None => Ok(None),
        }
    }
    /// Mentors: how many mentees they accept.
    async fn capacity(&self) -> i32 {
        self.0.capacity
    }
}

/// A volunteer's request to take part.
#[derive(InputObject)]
pub struct EnrolInput {
    programme_id: Uuid,
    role: ParticipantRole,
    /// Must be true: enrolment is voluntary and consent is recorded.
    consent: bool,
    motivation: Option<String>,
    capacity: Option<i32>,
}

/// Mutations of enrolments.
#[derive(Default)]
pub struct EnrolmentMutation;

#[Object]
impl EnrolmentMutation {
    /// Enrols the caller, and only the caller, in a programme open to volunteers.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn enrol(
        &self,
        ctx: &Context<'_>,
        input: EnrolInput,
    ) -> async_graphql::Result<Enrolment> {
        let request = EnrolRequest {
            programme_id: input.programme_id,
            role: input.role.into(),
            consent: input.consent,
            motivation: input.motivation,
            capacity: input.capacity,
        };
        Ok(Enrolment(
            enrolments::enrol(ctx.db()?, &ctx.actor()?, request)
                .await
                .gql()?,
        ))
    }

    /// The volunteer withdraws; their pairings end early.
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn withdraw_enrolment(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Enrolment> {
        Ok(Enrolment(
            enrolments::withdraw(ctx.db()?, &ctx.actor()?, id)
                .await
                .gql()?,
        ))
    }

    /// Approves or rejects a pending enrolment.
    #[graphql(guard = "AreaGuard(Area::Administration)")]
    async fn decide_enrolment(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        approve: bool,
        reason: Option<String>,
    ) -> async_graphql::Result<Enrolment> {
        Ok(Enrolment(
            enrolments::decide(ctx.db()?, &ctx.actor()?, id, approve, reason)
                .await
                .gql()?,
        ))
    }

    /// Records a mentor's completed training (admins, or the mentor's supervisor).
    #[graphql(guard = "AreaGuard(Area::People)")]
    async fn record_mentor_training(
        &self,
        ctx: &Context<'_>,
        enrolment_id: Uuid,
        completed_at: Option<DateTime>,
    ) -> async_graphql::Result<Enrolment> {
        let updated = enrolments::record_training(
            ctx.db()?,
            &ctx.actor()?,
            enrolment_id,
            completed_at.map(|at| at.0),
        )
        .await
        .gql()?;
        Ok(Enrolment(updated))
    }

    /// Names a mentor's supervisor.
    #[graphql(guard = "AreaGuard(Area::Administration)")]
    async fn assign_supervisor(
        &self,
        ctx: &Context<'_>,
        enrolment_id: Uuid,
        supervisor_id: Uuid,
    ) -> async_graphql::Result<Enrolment> {
        let updated =
            enrolments::assign_supervisor(ctx.db()?, &ctx.actor()?, enrolment_id, supervisor_id)
                .await
                .gql()?;
        Ok(Enrolment(updated))
    }
}
