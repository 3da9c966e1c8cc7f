//! The GraphQL layer: maps domain results to the contract's types and errors.
//! It holds no business rule; every resolver calls a function in `domain/`.

pub mod calendar;
pub mod compiled;
pub mod context;
pub mod delegations;
pub mod enrolments;
pub mod error;
pub mod fair_share;
pub mod federation;
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
use crate::domain::metrics::MetricsSource;
use async_graphql::{
    EmptySubscription, MergedObject, ObjectType, Request, Response, Schema, SchemaBuilder,
};
use fair_share::Gated;
use sea_orm::DatabaseConnection;

use crate::config::{GraphqlConfig, PublicBaseUrl};
use crate::domain::notifications::NotifySettings;
use crate::domain::seal::Keyring;
use crate::domain::settings::RuleSettings;

/// Declares a Query root: every query field, one object per area, and the
/// `$extra` parts.
macro_rules! query_root {
    ($(#[$doc:meta])* $name:ident $(, $extra:ty)*) => {
        $(#[$doc])*
        #[derive(MergedObject, Default)]
        #[graphql(name = "Query")]
        pub struct $name(
            people::PeopleQuery,
            programmes::ProgrammeQuery,
            pairings::PairingQuery,
            calendar::CalendarQuery,
            delegations::DelegationQuery,
            notifications::NotificationQuery,
            hris::HrisQuery,
            metrics::MetricsQuery,
            privacy::AuditQuery,
            privacy::PersonalDataQuery
            $(, $extra)*
        );
    };
}

query_root!(
    /// Every query root field, one object per area.
    QueryRoot
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

query_root!(
    /// The Query of the Apollo Federation subgraph: every query field and
    /// the entity resolvers (`_entities`).
    SubgraphQueryRoot,
    federation::EntityQuery
);

/// The executable schema, built once and shared by all workers: the plain
/// schema, or the same schema as a federation subgraph
/// (`GRAPHQL_FEDERATION`). Two types, because async-graphql turns
/// federation on for any schema that has entity resolvers.
#[derive(Clone)]
pub enum AppSchema {
    /// `_service` and `_entities` do not exist.
    Plain(Schema<Gated<QueryRoot>, MutationRoot, EmptySubscription>),
    /// An Apollo Federation v2 subgraph.
    Subgraph(Schema<Gated<SubgraphQueryRoot>, MutationRoot, EmptySubscription>),
}

impl AppSchema {
    /// Runs one request.
    pub async fn execute(&self, request: impl Into<Request>) -> Response {
        match self {
            AppSchema::Plain(schema) => schema.execute(request).await,
            AppSchema::Subgraph(schema) => schema.execute(request).await,
        }
    }

    /// Every type a variable may be declared with ([`input_type_names`];
    /// a subgraph's `_Any` too, for `_entities`).
    pub fn input_type_names(&self) -> std::collections::HashSet<String> {
        let mut names = input_type_names(&self.sdl());
        if matches!(self, AppSchema::Subgraph(_)) {
            names.insert("_Any".to_owned());
        }
        names
    }

    /// The schema in SDL (without federation's own fields and directives).
    pub fn sdl(&self) -> String {
        match self {
            AppSchema::Plain(schema) => schema.sdl(),
            AppSchema::Subgraph(schema) => schema.sdl(),
        }
    }
}

/// What the resolvers read besides the databases and the cache.
pub struct SchemaSettings {
    /// The service's URL as users reach it.
    pub public_base_url: PublicBaseUrl,
    /// The notification rules.
    pub notify: NotifySettings,
    /// The keys sealed notes and comments open with.
    pub keyring: std::sync::Arc<Keyring>,
    /// Each caller's share of the pool; the HTTP layer holds the same one,
    /// for the reads it answers without the executor (`compiled`).
    pub caller_share: fair_share::CallerShare,
}

/// Builds the schema with the configured limits. Introspection and field
/// suggestions ("Did you mean …") are both off unless enabled: they map the API.
pub fn build_schema(
    config: &GraphqlConfig,
    rules: RuleSettings,
    db: DatabaseConnection,
    metrics_db: MetricsSource,
    cache: FreeTimeCache,
    settings: SchemaSettings,
) -> AppSchema {
    let data = SchemaData {
        db,
        rules,
        metrics_db,
        cache,
        settings,
    };
    if config.federation {
        let builder = Schema::build(
            Gated::<SubgraphQueryRoot>::default(),
            MutationRoot::default(),
            EmptySubscription,
        );
        AppSchema::Subgraph(
            configure(builder, config, data)
                .enable_federation()
                .finish(),
        )
    } else {
        let builder = Schema::build(
            Gated::<QueryRoot>::default(),
            MutationRoot::default(),
            EmptySubscription,
        );
        AppSchema::Plain(configure(builder, config, data).finish())
    }
}

/// What every resolver may read, handed to the schema once.
struct SchemaData {
    db: DatabaseConnection,
    rules: RuleSettings,
    metrics_db: MetricsSource,
    cache: FreeTimeCache,
    settings: SchemaSettings,
}

/// The data and limits of either schema.
fn configure<Q: ObjectType + 'static>(
    builder: SchemaBuilder<Q, MutationRoot, EmptySubscription>,
    config: &GraphqlConfig,
    data: SchemaData,
) -> SchemaBuilder<Q, MutationRoot, EmptySubscription> {
    let mut builder = builder
        .data(data.db)
        .data(data.rules)
        .data(data.metrics_db)
        .data(data.cache)
        .data(data.settings.public_base_url)
        .data(data.settings.notify)
        .data(data.settings.keyring)
        .limit_depth(config.max_depth)
        .limit_complexity(config.max_complexity)
        .limit_recursive_depth(config.max_recursive_depth)
        .limit_directives(config.max_directives)
        .data(data.settings.caller_share);
    if !config.introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder
}

/// The names of every type a variable may be declared with: the built-in
/// scalars and the schema's own scalars, enums and input objects (from its
/// SDL; see `limits::check_variable_types`).
pub fn input_type_names(sdl: &str) -> std::collections::HashSet<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let mut names: std::collections::HashSet<String> = ["Int", "Float", "String", "Boolean", "ID"]
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    if let Ok(document) = async_graphql::parser::parse_schema(sdl) {
        for definition in document.definitions {
            if let TypeSystemDefinition::Type(ty) = definition
                && matches!(
                    ty.node.kind,
                    TypeKind::Scalar | TypeKind::Enum(_) | TypeKind::InputObject(_)
                )
            {
                names.insert(ty.node.name.node.to_string());
            }
        }
    }
    names
}

/// The SDL of the schema, as `tandem export-schema` prints it and
/// `schema.graphql` holds it.
pub fn sdl() -> String {
    let config = crate::config::Config::from_source(&std::collections::HashMap::new());
    let schema = match config {
        Ok(config) => offline_schema(&config),
        Err(_) => AppSchema::Plain(
            Schema::build(
                Gated::<QueryRoot>::default(),
                MutationRoot::default(),
                EmptySubscription,
            )
            .finish(),
        ),
    };
    schema.sdl()
}

/// The schema `config` describes, over no database: for what needs only
/// its types and limits (the SDL, `compiled::within_limits`' tests).
pub fn offline_schema(config: &crate::config::Config) -> AppSchema {
    build_schema(
        &config.graphql,
        RuleSettings::default(),
        DatabaseConnection::default(),
        MetricsSource {
            db: DatabaseConnection::default(),
            cache: crate::cache::MetricsCache::new(
                std::sync::Arc::new(InProcessCache::with_capacity(1)),
                std::time::Duration::ZERO,
            ),
        },
        FreeTimeCache::new(std::sync::Arc::new(InProcessCache::default())),
        SchemaSettings {
            public_base_url: config.public_base_url.clone(),
            notify: NotifySettings::default(),
            keyring: std::sync::Arc::new(Keyring::none()),
            caller_share: fair_share::CallerShare::new(config.graphql.max_parallel_per_caller),
        },
    )
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

    #[test]
    fn variables_may_be_declared_with_every_input_type_and_no_output_type() {
        let names = super::input_type_names(&super::sdl());
        for input in [
            "Int",
            "Boolean",
            "UUID",
            "DateTime",
            "Upload",
            "CreateProgrammeInput",
        ] {
            assert!(names.contains(input), "{input}");
        }
        for output in ["Employee", "Query", "Pairing"] {
            assert!(!names.contains(output), "{output}");
        }
    }
}
