//! DataLoaders: one per relation, created per request (so nothing is cached
//! across requests) and batching every lookup of one resolver round into one
//! `WHERE id IN (…)` query — no N+1. Within a query, what was loaded is kept
//! for later rounds (a pairing's mentees, read for the mentees and again for
//! its sessions' access, are read once); within a mutation nothing is kept.
//! Rows asked again and again in one answer (a pairing's mentees, its
//! mentor, a programme, a goal's skill) are shared (`Arc`), not copied on
//! every ask. A page of sessions hands its topics to its sessions directly
//! (`MentoringSession::with_topics`), not through the loaders.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{
    department, employee, goal, pairing, programme, session_feedback, skill, skill_profile,
};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::context::ContextExt;
use crate::domain::pagination::{Cursor, PageRequest};
use crate::domain::pairings::joined::WithRelations;
use crate::domain::pairings::members::GoalWithSkill;
use crate::domain::session_pages::{self, SessionsPage};
use crate::domain::{departments, employees, pairings, programmes, sessions, skills};
use crate::error::AppError;

/// Loader errors must be cloneable; the cause is shared.
pub type LoadError = Arc<AppError>;

/// Batches lookups against one table.
pub struct TableLoader {
    db: DatabaseConnection,
}

/// The loaders of one request.
pub struct Loaders {
    /// Employees, departments, skills and skill profiles by id.
    pub tables: DataLoader<TableLoader, HashMapCache>,
}

impl Loaders {
    /// Fresh loaders over `db`. Zero batching delay: lookups issued in the same
    /// resolver round are still batched, without a timer on every request
    /// (async-graphql issue #1306).
    /// `reads_only`: the request is a query, so a row loaded once may be
    /// served again for the rest of the request.
    pub fn new(db: DatabaseConnection, reads_only: bool) -> Self {
        let tables =
            DataLoader::with_cache(TableLoader { db }, tokio::spawn, HashMapCache::default())
                .delay(Duration::ZERO);
        tables.enable_all_cache(reads_only);
        Self { tables }
    }

    /// Hands the caller's own row, read by sign-in, to the loaders (`me`
    /// makes no statement).
    pub async fn prime_caller(&self, employee: employee::Model) {
        self.tables
            .feed_one(EmployeeKey(employee.id), Arc::new(employee))
            .await;
    }

    /// Hands what a joined read brought (programmes, mentors, mentees) to
    /// the loaders, so the resolvers that ask for them make no statement;
    /// answers the pairings. Only a query's loaders keep it.
    pub async fn prime_pairings(&self, rows: Vec<WithRelations>) -> Vec<pairing::Model> {
        let mut programmes = Vec::new();
        let mut employees = Vec::new();
        let mut mentees = Vec::new();
        let mut pairings = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(programme) = row.programme {
                programmes.push((ProgrammeKey(programme.id), Arc::new(programme)));
            }
            if let Some(mentor) = row.mentor {
                employees.push((EmployeeKey(mentor.id), Arc::new(mentor)));
            }
            if let Some(list) = row.mentees {
                let ids = list.iter().map(|mentee| mentee.id).collect();
                mentees.push((MenteesKey(row.pairing.id), ids));
                employees.extend(
                    list.into_iter()
                        .map(|mentee| (EmployeeKey(mentee.id), Arc::new(mentee))),
                );
            }
            pairings.push(row.pairing);
        }
        self.tables.feed_many(programmes).await;
        self.tables.feed_many(employees).await;
        self.tables.feed_many(mentees).await;
        pairings
    }

    /// Hands the skills read with goals to the loaders (the goals' `skill`
    /// makes no statement); answers the goals.
    pub async fn prime_goal_skills(&self, goals: Vec<GoalWithSkill>) -> Vec<goal::Model> {
        let mut skills = Vec::new();
        let goals = goals
            .into_iter()
            .map(|found| {
                skills.extend(
                    found
                        .skill
                        .map(|skill| (SkillKey(skill.id), Arc::new(skill))),
                );
                found.goal
            })
            .collect();
        self.tables.feed_many(skills).await;
        goals
    }
}

/// Key of an employee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EmployeeKey(pub Uuid);
/// Key of a programme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProgrammeKey(pub Uuid);
/// Key of a pairing's mentee ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MenteesKey(pub Uuid);
/// Key of a pairing's goals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GoalsKey(pub Uuid);
/// Key of a pairing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PairingKey(pub Uuid);
/// Key of a session's topic skill ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TopicsKey(pub Uuid);
/// Key of a session's feedback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeedbackKey(pub Uuid);
/// Key of a pairing's activity (latest held session, next one, poor ratings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActivityKey(pub Uuid);
/// Key of one page of a pairing's sessions: the pairing and the page asked
/// (size and the client's cursor).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionsPageKey {
    pairing: Uuid,
    first: u64,
    after: Option<Cursor>,
}

impl SessionsPageKey {
    /// The page `request` asks of `pairing`'s sessions.
    pub fn new(pairing: Uuid, request: &PageRequest) -> Self {
        Self {
            pairing,
            first: request.first,
            after: request.after.clone(),
        }
    }
}
/// Key of a department.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DepartmentKey(pub Uuid);
/// Key of a skill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SkillKey(pub Uuid);
/// Key of an employee's skill profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SkillProfileKey(pub Uuid);

fn ids<K: Copy>(keys: &[K], id: impl Fn(K) -> Uuid) -> Vec<Uuid> {
    keys.iter().map(|k| id(*k)).collect()
}

fn rekey<K: std::hash::Hash + Eq, V, W: From<V>>(
    map: HashMap<Uuid, V>,
    key: impl Fn(Uuid) -> K,
) -> HashMap<K, W> {
    map.into_iter()
        .map(|(id, v)| (key(id), W::from(v)))
        .collect()
}

impl Loader<EmployeeKey> for TableLoader {
    type Value = Arc<employee::Model>;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.employees", skip_all, fields(keys = keys.len() as i64))]
    async fn load(
        &self,
        keys: &[EmployeeKey],
    ) -> Result<HashMap<EmployeeKey, Self::Value>, Self::Error> {
        let found = employees::by_ids(&self.db, &ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(rekey(found, EmployeeKey))
    }
}

impl Loader<DepartmentKey> for TableLoader {
    type Value = department::Model;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.departments", skip_all, fields(keys = keys.len() as i64))]
    async fn load(
        &self,
        keys: &[DepartmentKey],
    ) -> Result<HashMap<DepartmentKey, Self::Value>, Self::Error> {
        let found = departments::by_ids(&self.db, &ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(rekey(found, DepartmentKey))
    }
}

impl Loader<ProgrammeKey> for TableLoader {
    type Value = Arc<programme::Model>;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.programmes", skip_all, fields(keys = keys.len() as i64))]
    async fn load(
        &self,
        keys: &[ProgrammeKey],
    ) -> Result<HashMap<ProgrammeKey, Self::Value>, Self::Error> {
        let found = programmes::by_ids(&self.db, &ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(rekey(found, ProgrammeKey))
    }
}

impl Loader<MenteesKey> for TableLoader {
    type Value = Arc<[Uuid]>;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.pairing_mentees", skip_all, fields(keys = keys.len() as i64))]
    async fn load(
        &self,
        keys: &[MenteesKey],
    ) -> Result<HashMap<MenteesKey, Self::Value>, Self::Error> {
        let found = pairings::mentees_of(&self.db, &ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(rekey(found, MenteesKey))
    }
}

impl Loader<GoalsKey> for TableLoader {
    type Value = Vec<GoalWithSkill>;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.goals", skip_all, fields(keys = keys.len() as i64))]
    async fn load(&self, keys: &[GoalsKey]) -> Result<HashMap<GoalsKey, Self::Value>, Self::Error> {
        let found = pairings::goals_of(&self.db, &ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(rekey(found, GoalsKey))
    }
}

impl Loader<PairingKey> for TableLoader {
    type Value = pairing::Model;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.pairings", skip_all, fields(keys = keys.len() as i64))]
    async fn load(
        &self,
        keys: &[PairingKey],
    ) -> Result<HashMap<PairingKey, Self::Value>, Self::Error> {
        let found = pairings::by_ids(&self.db, &ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(rekey(found, PairingKey))
    }
}

impl Loader<SessionsPageKey> for TableLoader {
    type Value = SessionsPage;
    type Error = LoadError;

    /// One statement per distinct page asked (usually one: a list of
    /// pairings asks each the same page).
    #[tracing::instrument(name = "dataloader.session_pages", skip_all, fields(keys = keys.len() as i64))]
    async fn load(
        &self,
        keys: &[SessionsPageKey],
    ) -> Result<HashMap<SessionsPageKey, Self::Value>, Self::Error> {
        let mut by_page: HashMap<(u64, Option<Cursor>), Vec<Uuid>> = HashMap::new();
        for key in keys {
            by_page
                .entry((key.first, key.after.clone()))
                .or_default()
                .push(key.pairing);
        }
        let mut found = HashMap::with_capacity(keys.len());
        for ((first, after), pairings) in by_page {
            let request = PageRequest { first, after };
            let pages = session_pages::pages_of(&self.db, &pairings, &request)
                .await
                .map_err(Arc::new)?;
            found.extend(pages.into_iter().map(|(pairing, page)| {
                let key = SessionsPageKey::new(pairing, &request);
                (key, page)
            }));
        }
        Ok(found)
    }
}

impl Loader<ActivityKey> for TableLoader {
    type Value = pairings::health::Activity;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.pairing_activity", skip_all, fields(keys = keys.len() as i64))]
    async fn load(
        &self,
        keys: &[ActivityKey],
    ) -> Result<HashMap<ActivityKey, Self::Value>, Self::Error> {
        let found =
            pairings::health::activity_of(&self.db, &ids(keys, |k| k.0), chrono::Utc::now())
                .await
                .map_err(Arc::new)?;
        Ok(rekey(found, ActivityKey))
    }
}

impl Loader<TopicsKey> for TableLoader {
    type Value = Arc<[Uuid]>;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.session_topics", skip_all, fields(keys = keys.len() as i64))]
    async fn load(
        &self,
        keys: &[TopicsKey],
    ) -> Result<HashMap<TopicsKey, Self::Value>, Self::Error> {
        let found = sessions::topics_of(&self.db, &ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(rekey(found, TopicsKey))
    }
}

impl Loader<FeedbackKey> for TableLoader {
    type Value = Vec<session_feedback::Model>;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.feedback", skip_all, fields(keys = keys.len() as i64))]
    async fn load(
        &self,
        keys: &[FeedbackKey],
    ) -> Result<HashMap<FeedbackKey, Self::Value>, Self::Error> {
        let found = sessions::feedback_of(&self.db, &ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(rekey(found, FeedbackKey))
    }
}

impl Loader<SkillKey> for TableLoader {
    type Value = Arc<skill::Model>;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.skills", skip_all, fields(keys = keys.len() as i64))]
    async fn load(&self, keys: &[SkillKey]) -> Result<HashMap<SkillKey, Self::Value>, Self::Error> {
        let found = skills::by_ids(&self.db, &ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(rekey(found, SkillKey))
    }
}

impl Loader<SkillProfileKey> for TableLoader {
    type Value = Vec<skill_profile::Model>;
    type Error = LoadError;

    #[tracing::instrument(name = "dataloader.skill_profiles", skip_all, fields(keys = keys.len() as i64))]
    async fn load(
        &self,
        keys: &[SkillProfileKey],
    ) -> Result<HashMap<SkillProfileKey, Self::Value>, Self::Error> {
        let found = skills::profiles_of(&self.db, &ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(rekey(found, SkillProfileKey))
    }
}

/// Loads one row through the request's batching loader.
pub async fn load<K>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<Option<<TableLoader as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    TableLoader: Loader<K, Error = LoadError>,
{
    ctx.loaders()?
        .tables
        .load_one(key)
        .await
        .map_err(load_error)
}

/// Loads the rows of `keys` in one batch, in the order of `keys` (rows
/// that no longer exist are left out): a list of ids becomes a list of rows.
pub async fn load_in_order<K>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = K>,
) -> async_graphql::Result<Vec<<TableLoader as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    TableLoader: Loader<K, Error = LoadError>,
{
    let keys: Vec<K> = keys.into_iter().collect();
    let mut found = ctx
        .loaders()?
        .tables
        .load_many(keys.iter().cloned())
        .await
        .map_err(load_error)?;
    Ok(keys.iter().filter_map(|key| found.remove(key)).collect())
}

/// Loads a row that a foreign key guarantees (its absence is an internal error).
pub async fn load_required<K>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<<TableLoader as Loader<K>>::Value>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + std::fmt::Debug + 'static,
    TableLoader: Loader<K, Error = LoadError>,
{
    // The message is formatted only when the row is missing: this runs for
    // every programme and mentor of a list.
    let missing = key.clone();
    load(ctx, key).await?.ok_or_else(|| {
        super::error::to_graphql(AppError::Internal(anyhow::anyhow!("{missing:?} missing")))
    })
}

/// Maps a shared loader error to a GraphQL error with its code.
pub fn load_error(err: LoadError) -> async_graphql::Error {
    match Arc::try_unwrap(err) {
        Ok(owned) => super::error::to_graphql(owned),
        Err(shared) => super::error::to_graphql(AppError::Internal(anyhow::anyhow!("{shared:?}"))),
    }
}
