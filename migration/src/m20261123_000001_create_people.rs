//! People: departments (a tree), employees (with their manager), the skill
//! catalogue and the skills each employee offers or wants.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, string_null, string_uniq};

use crate::ddl::{
    create_indexes, drop_tables, enum_value, fk, id, index, instant, int_in, int_in_null, unique,
    uuid_ref, uuid_ref_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("departments")
                    .col(id())
                    .col(string_uniq("external_id"))
                    .col(string("name"))
                    .col(uuid_ref_null("parent_id"))
                    .col(instant("created_at"))
                    .col(instant("updated_at"))
                    .foreign_key(&mut fk(
                        "departments",
                        "parent_id",
                        "departments",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("employees")
                    .col(id())
                    .col(string_uniq("external_id"))
                    .col(string_uniq("email"))
                    .col(string_null("given_name"))
                    .col(string_null("family_name"))
                    .col(string("display_name"))
                    .col(string_null("job_title"))
                    .col(uuid_ref_null("department_id"))
                    .col(uuid_ref_null("manager_id"))
                    .col(enum_value(
                        "employees",
                        "generation",
                        &["BABY_BOOMER", "GEN_X", "GEN_Y", "GEN_Z", "UNKNOWN"],
                    ))
                    .col(int_in_null("employees", "seniority_level", 1, 12))
                    .col(string("timezone"))
                    .col(enum_value(
                        "employees",
                        "status",
                        &["ACTIVE", "ON_LEAVE", "TERMINATED"],
                    ))
                    .col(big_integer("availability_version").default(0))
                    .col(instant("created_at"))
                    .col(instant("updated_at"))
                    // Emails are stored normalised, so the unique key is case-insensitive.
                    .check((
                        "ck-employees-email-lower",
                        Expr::col("email").eq(Func::lower(Expr::col("email"))),
                    ))
                    .check((
                        "ck-employees-manager-not-self",
                        Expr::col("manager_id").ne(Expr::col("id")),
                    ))
                    .foreign_key(&mut fk(
                        "employees",
                        "department_id",
                        "departments",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "employees",
                        "manager_id",
                        "employees",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("skills")
                    .col(id())
                    .col(string_uniq("slug"))
                    .col(string("name"))
                    .col(string("category"))
                    .col(instant("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("skill_profiles")
                    .col(id())
                    .col(uuid_ref("employee_id"))
                    .col(uuid_ref("skill_id"))
                    .col(enum_value(
                        "skill_profiles",
                        "direction",
                        &["OFFERS", "WANTS"],
                    ))
                    .col(int_in("skill_profiles", "level", 0, 4))
                    .col(instant("updated_at"))
                    .foreign_key(&mut fk(
                        "skill_profiles",
                        "employee_id",
                        "employees",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "skill_profiles",
                        "skill_id",
                        "skills",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("departments", &["parent_id"]),
                index("employees", &["manager_id"]),
                index("employees", &["department_id"]),
                index("employees", &["display_name", "id"]),
                index("employees", &["status"]),
                unique("skill_profiles", &["employee_id", "skill_id", "direction"]),
                index("skill_profiles", &["skill_id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &["skill_profiles", "skills", "employees", "departments"],
        )
        .await
    }
}
