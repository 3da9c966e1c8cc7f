//! `programmeMetrics` for analysts and admins. Figures come from
//! `domain::metrics` (SQL aggregation, k-anonymity); this maps them.

use async_graphql::{Context, Enum, Object, SimpleObject};
use uuid::Uuid;

use super::context::ContextExt;
use super::error::{GqlResultExt, to_graphql};
use super::guards::AreaGuard;
use super::loaders::{SkillKey, load_required};
use super::people::Skill;
use super::scalars::Date;
use crate::cache::Kept;
use crate::domain::access::Area;
use crate::domain::metrics::{self, Dimension, MetricsSource, Period, Scope, Summary};
use crate::error::AppError;

fn metrics_db<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a MetricsSource> {
    ctx.data_opt::<MetricsSource>()
        .ok_or_else(|| to_graphql(AppError::Internal(anyhow::anyhow!("metrics pool missing"))))
}

/// How participants are grouped.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::metrics::Dimension")]
pub enum MetricDimension {
    Department,
    Generation,
    Role,
    Seniority,
}

/// Timeline granularity.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::metrics::Period")]
pub enum MetricInterval {
    Week,
    Month,
}

/// One group of a breakdown.
#[derive(SimpleObject)]
pub struct MetricGroup {
    key: String,
    participants: i32,
    sessions_held: Option<i32>,
    average_rating: Option<f64>,
    /// True when the group holds fewer people than minGroupSize: its figures are null.
    suppressed: bool,
}

/// One period of the timeline.
#[derive(SimpleObject)]
pub struct TimelinePoint {
    period_start: Date,
    sessions_held: i32,
    active_pairings: i32,
    average_rating: Option<f64>,
}

/// Self-assessed progress on a skill.
pub struct SkillProgress(metrics::SkillProgress);

#[Object]
impl SkillProgress {
    async fn skill(&self, ctx: &Context<'_>) -> async_graphql::Result<Skill> {
        Ok(Skill(load_required(ctx, SkillKey(self.0.skill_id)).await?))
    }
    async fn participants(&self) -> i32 {
        small(self.0.participants)
    }
    async fn baseline_average(&self) -> Option<f64> {
        self.0.baseline_average
    }
    async fn exit_average(&self) -> Option<f64> {
        self.0.exit_average
    }
    async fn suppressed(&self) -> bool {
        self.0.suppressed
    }
}

fn small(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A programme's figures.
pub struct ProgrammeMetrics {
    scope: Scope,
    summary: Kept<Summary>,
}

#[Object]
impl ProgrammeMetrics {
    async fn programme_id(&self) -> Uuid {
        self.scope.programme_id
    }
    /// Groups smaller than this are suppressed (k-anonymity).
    async fn min_group_size(&self) -> i32 {
        small(self.scope.min_group_size)
    }
    async fn mentors(&self) -> i32 {
        small(self.summary.value.mentors)
    }
    async fn mentees(&self) -> i32 {
        small(self.summary.value.mentees)
    }
    async fn mentors_trained(&self) -> i32 {
        small(self.summary.value.mentors_trained)
    }
    async fn active_pairings(&self) -> i32 {
        small(self.summary.value.active_pairings)
    }
    async fn completed_pairings(&self) -> i32 {
        small(self.summary.value.completed_pairings)
    }
    async fn ended_early_pairings(&self) -> i32 {
        small(self.summary.value.ended_early_pairings)
    }
    async fn sessions_held(&self) -> i32 {
        small(self.summary.value.sessions_held)
    }
    async fn sessions_cancelled(&self) -> i32 {
        small(self.summary.value.sessions_cancelled)
    }
    /// Sessions marked NO_SHOW: they did not take place, and never count as held.
    async fn sessions_no_show(&self) -> i32 {
        small(self.summary.value.sessions_no_show)
    }
    /// Share of pairings whose mentor and mentees sit in different departments.
    async fn cross_department_share(&self) -> Option<f64> {
        self.summary.value.cross_department_share
    }
    async fn average_rating(&self) -> Option<f64> {
        self.summary.value.average_rating
    }
    /// Net promoter score from SessionFeedback.recommend, -100..100.
    async fn nps(&self) -> Option<f64> {
        self.summary.value.nps
    }
    /// Share of participating mentors still ACTIVE employees.
    async fn mentor_retention_rate(&self) -> Option<f64> {
        self.summary.value.mentor_retention_rate
    }
    /// Names of the counts above that read 0 because they describe fewer than
    /// minGroupSize people: those counts are non-null, so this tells a hidden
    /// figure from a true 0.
    async fn suppressed_figures(&self) -> Vec<String> {
        self.summary.value.suppressed.clone()
    }
    #[graphql(complexity = "super::limits::cost::BREAKDOWN + child_complexity")]
    async fn breakdown(
        &self,
        ctx: &Context<'_>,
        dimension: MetricDimension,
    ) -> async_graphql::Result<Vec<MetricGroup>> {
        let groups = metrics_db(ctx)?
            .figures(self.scope)
            .breakdown(Dimension::from(dimension))
            .await
            .gql()?;
        Ok(groups
            .into_iter()
            .map(|g| MetricGroup {
                key: g.key,
                participants: small(g.participants),
                sessions_held: g.sessions_held.map(small),
                average_rating: g.average_rating,
                suppressed: g.suppressed,
            })
            .collect())
    }
    #[graphql(complexity = "super::limits::cost::TIMELINE + child_complexity")]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        interval: MetricInterval,
    ) -> async_graphql::Result<Vec<TimelinePoint>> {
        let points = metrics_db(ctx)?
            .figures(self.scope)
            .timeline(&self.summary, Period::from(interval))
            .await
            .gql()?;
        Ok(points
            .into_iter()
            .map(|p| TimelinePoint {
                period_start: Date(p.period_start),
                sessions_held: small(p.sessions_held),
                active_pairings: small(p.active_pairings),
                average_rating: p.average_rating,
            })
            .collect())
    }
    #[graphql(complexity = "super::limits::cost::SKILL_PROGRESS + child_complexity")]
    async fn skill_progress(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SkillProgress>> {
        let progress = metrics_db(ctx)?
            .figures(self.scope)
            .skill_progress()
            .await
            .gql()?;
        Ok(progress.into_iter().map(SkillProgress).collect())
    }
}

/// Programme metrics.
#[derive(Default)]
pub struct MetricsQuery;

#[Object]
impl MetricsQuery {
    /// A programme's figures for analysts and admins. `from` (a Monday) and
    /// `to` (a Sunday, inclusive) restrict sessions and feedback to whole ISO
    /// weeks; only weeks already over count, each only when it describes at
    /// least minGroupSize people, so no two windows differ by one person.
    #[graphql(
        guard = "AreaGuard(Area::Metrics)",
        complexity = "super::limits::cost::PROGRAMME_METRICS + child_complexity"
    )]
    async fn programme_metrics(
        &self,
        ctx: &Context<'_>,
        programme_id: Uuid,
        from: Option<Date>,
        to: Option<Date>,
    ) -> async_graphql::Result<ProgrammeMetrics> {
        let source = metrics_db(ctx)?;
        let k = ctx.settings()?.min_group_size;
        let scope = metrics::scope(
            &source.db,
            ctx.caller()?,
            programme_id,
            from.map(|d| d.0),
            to.map(|d| d.0),
            k,
        )
        .await
        .gql()?;
        let summary = source.figures(scope).summary().await.gql()?;
        Ok(ProgrammeMetrics { scope, summary })
    }
}
