//! The workloads through SeaORM 2, on the same sqlx pool as Kysera and hand-written sqlx.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ActiveValue::Unchanged, ColumnTrait,
    DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, TransactionTrait,
};

use crate::{Op, USERS, audit_values, doc_id, op};

pub mod user {
    use sea_orm::entity::prelude::*;

    /// `kr_users`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "kr_users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub email: String,
        pub name: String,
        pub active: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod post {
    use sea_orm::entity::prelude::*;

    /// `kr_posts`, each with its author.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "kr_posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub author_id: i64,
        pub title: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::AuthorId",
            to = "super::user::Column::Id"
        )]
        Author,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Author.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// The documents' columns, for `kr_docs` and `kr_audited_docs`.
macro_rules! doc_entity {
    ($module:ident, $table:literal) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            /// A document with soft delete, timestamps and a tenant, all by hand.
            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i64,
                pub tenant_id: String,
                pub title: String,
                pub created_at: ChronoDateTimeUtc,
                pub updated_at: ChronoDateTimeUtc,
                pub deleted_at: Option<ChronoDateTimeUtc>,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}
doc_entity!(doc, "kr_docs");
doc_entity!(audited_doc, "kr_audited_docs");

pub mod peer_audit {
    use sea_orm::entity::prelude::*;

    /// The hand-written audit log.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "kr_peer_audit")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub table_name: String,
        pub entity_id: String,
        pub operation: String,
        pub old_values: String,
        pub new_values: String,
        pub changed_by: String,
        pub changed_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, FromQueryResult)]
#[allow(dead_code)]
struct PostAuthor {
    id: i64,
    title: String,
    author: String,
}

/// SeaORM's connection over Kysera's sqlx pool.
pub fn connect(pool: &kysera::Pool) -> DatabaseConnection {
    match pool {
        kysera::Pool::Sqlite(p) => sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(p.clone()),
        kysera::Pool::Postgres(p) => {
            sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(p.clone())
        }
        kysera::Pool::MySql(p) => sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(p.clone()),
        _ => unreachable!(),
    }
}

fn new_user(email: String, name: String) -> user::ActiveModel {
    user::ActiveModel {
        id: NotSet,
        email: Set(email),
        name: Set(name),
        active: Set(true),
    }
}

/// The workloads, in [`crate::WORKLOADS`]' order.
pub fn ops(db: &DatabaseConnection) -> Vec<Op<'_>> {
    let mysql = db.get_database_backend() == DbBackend::MySql;
    vec![
        op(move |i| async move {
            user::Entity::find_by_id(i % USERS + 1)
                .one(db)
                .await
                .unwrap()
                .unwrap();
        }),
        op(move |i| async move {
            user::Entity::find()
                .filter(user::Column::Active.eq(true))
                .filter(user::Column::Id.gt(i % 500))
                .order_by_asc(user::Column::Id)
                .limit(100)
                .all(db)
                .await
                .unwrap();
        }),
        op(move |i| async move {
            post::Entity::find()
                .select_only()
                .column(post::Column::Id)
                .column(post::Column::Title)
                .column_as(user::Column::Name, "author")
                .join(JoinType::InnerJoin, post::Relation::Author.def())
                .filter(post::Column::Id.gt(i % 300))
                .order_by_asc(post::Column::Id)
                .limit(100)
                .into_model::<PostAuthor>()
                .all(db)
                .await
                .unwrap();
        }),
        op(move |i| async move {
            new_user(format!("n{i}@x.io"), format!("New {i}"))
                .insert(db)
                .await
                .unwrap();
        }),
        op(move |i| async move {
            user::ActiveModel {
                id: Unchanged(i % USERS + 1),
                name: Set(format!("Renamed {i}")),
                ..Default::default()
            }
            .update(db)
            .await
            .unwrap();
        }),
        op(move |i| async move {
            let rows = (0..100).map(|k| new_user(format!("m{i}-{k}@x.io"), format!("Many {k}")));
            if mysql {
                // No INSERT … RETURNING on MySQL in SeaORM: the rows back by their keys,
                // consecutive within one statement, in the same transaction.
                let tx = db.begin().await.unwrap();
                let last = user::Entity::insert_many(rows)
                    .exec(&tx)
                    .await
                    .unwrap()
                    .last_insert_id
                    .unwrap();
                let got = user::Entity::find()
                    .filter(user::Column::Id.gte(last))
                    .filter(user::Column::Id.lt(last + 100))
                    .order_by_asc(user::Column::Id)
                    .all(&tx)
                    .await
                    .unwrap();
                assert_eq!(got.len(), 100);
                tx.commit().await.unwrap();
            } else {
                let got = user::Entity::insert_many(rows)
                    .exec_with_returning(db)
                    .await
                    .unwrap();
                assert_eq!(got.len(), 100);
            }
        }),
        op(move |i| async move {
            doc::Entity::find_by_id(doc_id(i))
                .filter(doc::Column::DeletedAt.is_null())
                .filter(doc::Column::TenantId.eq("acme"))
                .one(db)
                .await
                .unwrap()
                .unwrap();
        }),
        op(move |i| async move {
            let (id, now): (i64, DateTime<Utc>) = (doc_id(i), Utc::now());
            let tx = db.begin().await.unwrap();
            let old = audited_doc::Entity::find_by_id(id)
                .filter(audited_doc::Column::DeletedAt.is_null())
                .filter(audited_doc::Column::TenantId.eq("acme"))
                .lock_exclusive()
                .one(&tx)
                .await
                .unwrap()
                .unwrap();
            let new = audited_doc::ActiveModel {
                id: Unchanged(id),
                title: Set(format!("Title {i}")),
                updated_at: Set(now),
                ..Default::default()
            }
            .update(&tx)
            .await
            .unwrap();
            peer_audit::Entity::insert(peer_audit::ActiveModel {
                id: NotSet,
                table_name: Set("kr_audited_docs".into()),
                entity_id: Set(id.to_string()),
                operation: Set("update".into()),
                old_values: Set(audit_values(&old.title)),
                new_values: Set(audit_values(&new.title)),
                changed_by: Set("bench".into()),
                changed_at: Set(now),
            })
            .exec_without_returning(&tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }),
    ]
}
