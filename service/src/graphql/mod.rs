//! The GraphQL layer: maps domain results to the contract's types and errors.
//! It holds no business rule; every resolver calls a function in `domain/`.

pub mod calendar;
pub mod context;
pub mod delegations;
pub mod enrolments;
pub mod error;
pub mod fair_share;
pub mod guards;
pub mod hris;
pub mod limits;
pub mod loaders;
pub mod metrics;
pub mod notifications;
pub mod observability;
pub mod pairings;
pub mod people;
pub mod privacy;
pub mod programmes;
pub mod scalars;
pub mod sessions;
pub mod trusted;

use crate::cache::{FreeTimeCache, InProcessCache};
use async_graphql::{EmptySubscription, MergedObject, Schema};
use metrics::MetricsDb;
use sea_orm::DatabaseConnection;

use crate::config::{GraphqlConfig, PublicBaseUrl};
use crate::domain::notifications::NotifySettings;
use crate::domain::seal::Keyring;
use crate::domain::settings::RuleSettings;

/// Every query root field, one object per area.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    people::PeopleQuery,
    programmes::ProgrammeQuery,
    pairings::PairingQuery,
    calendar::CalendarQuery,
    delegations::DelegationQuery,
    notifications::NotificationQuery,
    hris::HrisQuery,
    metrics::MetricsQuery,
    privacy::AuditQuery,
    privacy::PersonalDataQuery,
);

/// Every mutation, one object per area.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    programmes::ProgrammeMutation,
    enrolments::EnrolmentMutation,
    pairings::PairingMutation,
    sessions::SessionMutation,
    people::SkillMutation,
    calendar::CalendarMutation,
    delegations::DelegationMutation,
    notifications::NotificationMutation,
    hris::HrisMutation,
    privacy::PersonalDataMutation,
);

/// The executable schema, built once and shared by all workers.
pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// What the resolvers read besides the databases and the cache.
pub struct SchemaSettings {
    /// The service's URL as users reach it.
    pub public_base_url: PublicBaseUrl,
    /// The notification rules.
    pub notify: NotifySettings,
    /// The keys sealed notes and comments open with.
    pub keyring: std::sync::Arc<Keyring>,
}

/// Builds the schema with the configured limits. Introspection and field
/// suggestions ("Did you mean …") are both off unless enabled: they map the API.
pub fn build_schema(
    config: &GraphqlConfig,
    rules: RuleSettings,
    db: DatabaseConnection,
    metrics_db: MetricsDb,
    cache: FreeTimeCache,
    settings: SchemaSettings,
) -> AppSchema {
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .data(db)
    .data(rules)
    .data(metrics_db)
    .data(cache)
    .data(settings.public_base_url)
    .data(settings.notify)
    .data(settings.keyring)
    .limit_depth(config.max_depth)
    .limit_complexity(config.max_complexity)
    .limit_recursive_depth(config.max_recursive_depth)
    .limit_directives(config.max_directives)
    .extension(observability::OperationSpans)
    .extension(fair_share::CallerShare::new(config.max_parallel_per_caller));
    if !config.introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder.finish()
}

/// The SDL of the schema, as `tandem export-schema` prints it and
/// `schema.graphql` holds it.
pub fn sdl() -> String {
    let config = crate::config::Config::from_source(&std::collections::HashMap::new());
    let schema = match config {
        Ok(config) => build_schema(
            &config.graphql,
            RuleSettings::default(),
            DatabaseConnection::default(),
            MetricsDb(DatabaseConnection::default()),
            FreeTimeCache::new(std::sync::Arc::new(InProcessCache::default())),
            SchemaSettings {
                public_base_url: config.public_base_url,
                notify: NotifySettings::default(),
                keyring: std::sync::Arc::new(Keyring::none()),
            },
        ),
        Err(_) => Schema::build(
            QueryRoot::default(),
            MutationRoot::default(),
            EmptySubscription,
        )
        .finish(),
    };
    schema.sdl()
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};

    /// The named type under any list and non-null wrappers.
    fn named(ty: &Type) -> &str {
        match &ty.base {
            BaseType::Named(name) => name.as_str(),
            BaseType::List(inner) => named(inner),
        }
    }

    /// `limits::check_text` refuses every integer literal beyond 32 bits,
    /// which is right only while no argument or input field takes a wider
    /// number (Float, ID, JSON). Adding one must revisit that check.
    #[test]
    fn schema_inputs_take_no_wider_numbers() {
        let Ok(document) = async_graphql::parser::parse_schema(super::sdl()) else {
            panic!("the exported schema does not parse");
        };
        let mut inputs = Vec::new();
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let owner = ty.node.name.node.as_str();
            match &ty.node.kind {
                TypeKind::Object(object) => {
                    for field in &object.fields {
                        for argument in &field.node.arguments {
                            inputs.push((owner, named(&argument.node.ty.node).to_owned()));
                        }
                    }
                }
                TypeKind::InputObject(input) => {
                    for field in &input.fields {
                        inputs.push((owner, named(&field.node.ty.node).to_owned()));
                    }
                }
                _ => {}
            }
        }
        assert!(
            inputs.iter().any(|(_, ty)| ty == "Int"),
            "no Int input found"
        );
        let wider: Vec<_> = inputs
            .iter()
            .filter(|(_, ty)| matches!(ty.as_str(), "Float" | "ID" | "JSON"))
            .collect();
        assert!(wider.is_empty(), "inputs taking wider numbers: {wider:?}");
    }
}
