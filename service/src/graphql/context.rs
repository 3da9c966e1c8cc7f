//! Per-request data resolvers read: the database, the caller and the
//! caller's employee scope (computed at most once per request).

use async_graphql::Context;
use sea_orm::DatabaseConnection;
use std::collections::HashSet;

use tokio::sync::OnceCell;
use uuid::Uuid;

use super::error::to_graphql;
use super::loaders::Loaders;
use crate::auth::Caller;
use crate::cache::FreeTimeCache;
use crate::config::PublicBaseUrl;
use crate::domain::access::{self, EmployeeScope};
use crate::domain::audit::Actor;
use crate::domain::notifications::NotifySettings;
use crate::domain::seal::Keyring;
use crate::domain::settings::RuleSettings;
use crate::error::AppError;

/// Data attached to each request by the HTTP layer.
pub struct RequestData {
    /// Who is calling.
    pub caller: Caller,
    /// The HTTP request's id, for the audit log.
    pub request_id: String,
    scope: OnceCell<EmployeeScope>,
    supervised: OnceCell<HashSet<(Uuid, Uuid)>>,
}

impl RequestData {
    /// Request data for `caller` in request `request_id`.
    pub fn new(caller: Caller, request_id: String) -> Self {
        Self {
            caller,
            request_id,
            scope: OnceCell::new(),
            supervised: OnceCell::new(),
        }
    }
}

/// Typed access to the request's data from a resolver context.
pub trait ContextExt {
    /// The shared database pool.
    fn db(&self) -> async_graphql::Result<&DatabaseConnection>;
    /// The free-time cache.
    fn cache(&self) -> async_graphql::Result<&FreeTimeCache>;
    /// The authenticated caller.
    fn caller(&self) -> async_graphql::Result<&Caller>;
    /// The caller and request id, for changes that are audited.
    fn actor(&self) -> async_graphql::Result<Actor<'_>>;
    /// The business rules' settings in force.
    fn settings(&self) -> async_graphql::Result<&RuleSettings>;
    /// The notification rules in force.
    fn notify_settings(&self) -> async_graphql::Result<&NotifySettings>;
    /// The keys sealed notes and comments open with.
    fn keyring(&self) -> async_graphql::Result<&Keyring>;
    /// The service's URL as users reach it (links handed out).
    fn public_base_url(&self) -> async_graphql::Result<&PublicBaseUrl>;
    /// The request's DataLoaders.
    fn loaders(&self) -> async_graphql::Result<&Loaders>;
    /// The employees this caller may see.
    fn employee_scope(&self) -> impl Future<Output = async_graphql::Result<&EmployeeScope>> + Send;
    /// The (programme, mentor) pairs the caller supervises (once per request).
    fn supervised_mentors(
        &self,
    ) -> impl Future<Output = async_graphql::Result<&HashSet<(Uuid, Uuid)>>> + Send;
}

fn missing(what: &str) -> async_graphql::Error {
    to_graphql(AppError::Internal(anyhow::anyhow!(
        "{what} missing from the GraphQL context"
    )))
}

impl ContextExt for Context<'_> {
    fn db(&self) -> async_graphql::Result<&DatabaseConnection> {
        self.data_opt::<DatabaseConnection>()
            .ok_or_else(|| missing("database"))
    }

    fn cache(&self) -> async_graphql::Result<&FreeTimeCache> {
        self.data_opt::<FreeTimeCache>()
            .ok_or_else(|| missing("cache"))
    }

    fn settings(&self) -> async_graphql::Result<&RuleSettings> {
        self.data_opt::<RuleSettings>()
            .ok_or_else(|| missing("rule settings"))
    }

    fn notify_settings(&self) -> async_graphql::Result<&NotifySettings> {
        self.data_opt::<NotifySettings>()
            .ok_or_else(|| missing("notification settings"))
    }

    fn keyring(&self) -> async_graphql::Result<&Keyring> {
        self.data_opt::<std::sync::Arc<Keyring>>()
            .map(std::sync::Arc::as_ref)
            .ok_or_else(|| missing("notes keyring"))
    }

    fn public_base_url(&self) -> async_graphql::Result<&PublicBaseUrl> {
        self.data_opt::<PublicBaseUrl>()
            .ok_or_else(|| missing("public base URL"))
    }

    fn caller(&self) -> async_graphql::Result<&Caller> {
        self.data_opt::<RequestData>()
            .map(|d| &d.caller)
            .ok_or_else(|| missing("caller"))
    }

    fn actor(&self) -> async_graphql::Result<Actor<'_>> {
        let data = self
            .data_opt::<RequestData>()
            .ok_or_else(|| missing("caller"))?;
        Ok(Actor {
            caller: &data.caller,
            request_id: &data.request_id,
        })
    }

    fn loaders(&self) -> async_graphql::Result<&Loaders> {
        self.data_opt::<Loaders>().ok_or_else(|| missing("loaders"))
    }

    async fn employee_scope(&self) -> async_graphql::Result<&EmployeeScope> {
        let data = self
            .data_opt::<RequestData>()
            .ok_or_else(|| missing("caller"))?;
        let db = self.db()?;
        data.scope
            .get_or_try_init(|| access::employee_scope(db, &data.caller))
            .await
            .map_err(to_graphql)
    }

    async fn supervised_mentors(&self) -> async_graphql::Result<&HashSet<(Uuid, Uuid)>> {
        let data = self
            .data_opt::<RequestData>()
            .ok_or_else(|| missing("caller"))?;
        let db = self.db()?;
        data.supervised
            .get_or_try_init(|| access::supervised_mentors(db, &data.caller))
            .await
            .map_err(to_graphql)
    }
}
