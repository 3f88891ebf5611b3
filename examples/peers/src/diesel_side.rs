//! The workloads through Diesel 2 (synchronous), on a connection of its own to the same
//! database. Diesel's schema and structs are per backend (its SQL types differ: timestamps are
//! `TimestamptzSqlite`, `Timestamptz` and `Datetime`), so one macro writes each backend's.

use std::cell::{RefCell, RefMut};

use chrono::Utc;
use diesel::prelude::*;

use crate::{Op, USERS, audit_values, doc_id, op};

/// Diesel's connection to whichever database the run is on.
pub enum Conn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
    MySql(MysqlConnection),
}

impl Conn {
    /// Connects to the URL Kysera was given.
    pub fn establish(url: &str) -> Conn {
        if let Some(rest) = url.strip_prefix("sqlite://") {
            let path = rest.split('?').next().unwrap();
            Conn::Sqlite(SqliteConnection::establish(path).unwrap())
        } else if url.starts_with("postgres") {
            Conn::Pg(PgConnection::establish(url).unwrap())
        } else {
            Conn::MySql(MysqlConnection::establish(url).unwrap())
        }
    }
}

diesel::define_sql_function! {
    /// MySQL's key of the connection's last insert (the first row's, for a multi-row insert).
    fn last_insert_id() -> Unsigned<BigInt>;
}

/// The tables and row structs of one backend.
macro_rules! schema {
    ($module:ident, $backend:ty, $ts:ident, $time:ty) => {
        pub mod $module {
            diesel::table! {
                kr_users (id) { id -> BigInt, email -> Text, name -> Text, active -> Bool, }
            }
            diesel::table! {
                kr_posts (id) { id -> BigInt, author_id -> BigInt, title -> Text, }
            }
            diesel::table! {
                kr_docs (id) {
                    id -> BigInt, tenant_id -> Text, title -> Text, created_at -> $ts,
                    updated_at -> $ts, deleted_at -> Nullable<$ts>,
                }
            }
            diesel::table! {
                kr_audited_docs (id) {
                    id -> BigInt, tenant_id -> Text, title -> Text, created_at -> $ts,
                    updated_at -> $ts, deleted_at -> Nullable<$ts>,
                }
            }
            diesel::table! {
                kr_peer_audit (id) {
                    id -> BigInt, table_name -> Text, entity_id -> Text, operation -> Text,
                    old_values -> Text, new_values -> Text, changed_by -> Text,
                    changed_at -> $ts,
                }
            }
            diesel::joinable!(kr_posts -> kr_users (author_id));
            diesel::allow_tables_to_appear_in_same_query!(kr_users, kr_posts);

            /// A user.
            #[derive(Debug, diesel::Queryable, diesel::Selectable)]
            #[diesel(table_name = kr_users, check_for_backend($backend))]
            #[allow(dead_code)]
            pub struct User {
                pub id: i64,
                pub email: String,
                pub name: String,
                pub active: bool,
            }

            /// A user to insert.
            #[derive(diesel::Insertable)]
            #[diesel(table_name = kr_users)]
            pub struct NewUser {
                pub email: String,
                pub name: String,
                pub active: bool,
            }

            /// A document (read from `kr_docs`; `kr_audited_docs` has the same columns).
            #[derive(Debug, diesel::Queryable, diesel::Selectable)]
            #[diesel(table_name = kr_docs, check_for_backend($backend))]
            #[allow(dead_code)]
            pub struct Doc {
                pub id: i64,
                pub tenant_id: String,
                pub title: String,
                pub created_at: $time,
                pub updated_at: $time,
                pub deleted_at: Option<$time>,
            }

            /// An audit entry to insert.
            #[derive(diesel::Insertable)]
            #[diesel(table_name = kr_peer_audit)]
            pub struct NewEntry {
                pub table_name: String,
                pub entity_id: String,
                pub operation: String,
                pub old_values: String,
                pub new_values: String,
                pub changed_by: String,
                pub changed_at: $time,
            }

            /// The columns of a `kr_audited_docs` row, in `Doc`'s order.
            pub fn audited_columns() -> (
                kr_audited_docs::id,
                kr_audited_docs::tenant_id,
                kr_audited_docs::title,
                kr_audited_docs::created_at,
                kr_audited_docs::updated_at,
                kr_audited_docs::deleted_at,
            ) {
                use kr_audited_docs::*;
                (id, tenant_id, title, created_at, updated_at, deleted_at)
            }
        }
    };
}
schema!(
    sqlite,
    diesel::sqlite::Sqlite,
    TimestamptzSqlite,
    chrono::DateTime<chrono::Utc>
);
schema!(
    pg,
    diesel::pg::Pg,
    Timestamptz,
    chrono::DateTime<chrono::Utc>
);
schema!(mysql, diesel::mysql::Mysql, Datetime, chrono::NaiveDateTime);

/// A write that gives its row back: `RETURNING` where the backend has it, else the write and
/// then a read by key.
macro_rules! written {
    (mysql, $c:ident, $write:expr, $read_back:expr, $as:expr) => {{
        $write.execute($c).unwrap();
        $read_back.select($as).first($c).unwrap()
    }};
    ($style:ident, $c:ident, $write:expr, $read_back:expr, $as:expr) => {
        $write.returning($as).get_result($c).unwrap()
    };
}

/// `FOR UPDATE` where the backend has it (SQLite locks the whole database on write).
macro_rules! locked {
    (sqlite, $q:expr) => {
        $q
    };
    ($style:ident, $q:expr) => {
        $q.for_update()
    };
}

/// The rows of one multi-row insert: `RETURNING`, or on MySQL the keys from the first.
macro_rules! inserted_many {
    (mysql, $c:ident, $rows:expr) => {{
        use self::mysql::*;
        $c.transaction::<_, diesel::result::Error, _>(|c| {
            diesel::insert_into(kr_users::table)
                .values(&$rows)
                .execute(c)?;
            let first = diesel::select(last_insert_id()).get_result::<u64>(c)? as i64;
            kr_users::table
                .filter(kr_users::id.ge(first))
                .filter(kr_users::id.lt(first + 100))
                .order(kr_users::id.asc())
                .select(User::as_select())
                .load(c)
        })
        .unwrap()
    }};
    ($style:ident, $c:ident, $rows:expr) => {
        diesel::insert_into(kr_users::table)
            .values(&$rows)
            .returning(User::as_returning())
            .get_results($c)
            .unwrap()
    };
}

/// One backend's workloads, in [`crate::WORKLOADS`]' order.
macro_rules! backend_ops {
    ($name:ident, $variant:ident, $conn:ty, $style:ident, $now:expr) => {
        fn $name(cell: &RefCell<Conn>) -> Vec<Op<'_>> {
            use self::$style::*;
            fn conn(cell: &RefCell<Conn>) -> RefMut<'_, $conn> {
                RefMut::map(cell.borrow_mut(), |c| match c {
                    Conn::$variant(c) => c,
                    _ => unreachable!(),
                })
            }
            vec![
                op(move |i| async move {
                    let c = &mut *conn(cell);
                    kr_users::table
                        .find(i % USERS + 1)
                        .select(User::as_select())
                        .first(c)
                        .unwrap();
                }),
                op(move |i| async move {
                    let c = &mut *conn(cell);
                    kr_users::table
                        .filter(kr_users::active.eq(true))
                        .filter(kr_users::id.gt(i % 500))
                        .order(kr_users::id.asc())
                        .limit(100)
                        .select(User::as_select())
                        .load(c)
                        .unwrap();
                }),
                op(move |i| async move {
                    let c = &mut *conn(cell);
                    kr_posts::table
                        .inner_join(kr_users::table)
                        .filter(kr_posts::id.gt(i % 300))
                        .order(kr_posts::id.asc())
                        .limit(100)
                        .select((kr_posts::id, kr_posts::title, kr_users::name))
                        .load::<(i64, String, String)>(c)
                        .unwrap();
                }),
                op(move |i| async move {
                    let c = &mut *conn(cell);
                    let new = NewUser {
                        email: format!("n{i}@x.io"),
                        name: format!("New {i}"),
                        active: true,
                    };
                    let _: User = written!(
                        $style,
                        c,
                        diesel::insert_into(kr_users::table).values(&new),
                        kr_users::table.find(
                            diesel::select(last_insert_id())
                                .get_result::<u64>(c)
                                .unwrap() as i64
                        ),
                        User::as_select()
                    );
                }),
                op(move |i| async move {
                    let c = &mut *conn(cell);
                    let id = i % USERS + 1;
                    let _: User = written!(
                        $style,
                        c,
                        diesel::update(kr_users::table.find(id))
                            .set(kr_users::name.eq(format!("Renamed {i}"))),
                        kr_users::table.find(id),
                        User::as_select()
                    );
                }),
                op(move |i| async move {
                    let c = &mut *conn(cell);
                    let rows: Vec<NewUser> = (0..100)
                        .map(|k| NewUser {
                            email: format!("m{i}-{k}@x.io"),
                            name: format!("Many {k}"),
                            active: true,
                        })
                        .collect();
                    let got: Vec<User> = inserted_many!($style, c, rows);
                    assert_eq!(got.len(), 100);
                }),
                op(move |i| async move {
                    let c = &mut *conn(cell);
                    kr_docs::table
                        .find(doc_id(i))
                        .filter(kr_docs::deleted_at.is_null())
                        .filter(kr_docs::tenant_id.eq("acme"))
                        .select(Doc::as_select())
                        .first(c)
                        .unwrap();
                }),
                op(move |i| async move {
                    let c = &mut *conn(cell);
                    let (id, now) = (doc_id(i), $now);
                    c.transaction::<_, diesel::result::Error, _>(|c| {
                        let old: Doc = locked!(
                            $style,
                            kr_audited_docs::table
                                .find(id)
                                .filter(kr_audited_docs::deleted_at.is_null())
                                .filter(kr_audited_docs::tenant_id.eq("acme"))
                                .select(audited_columns())
                        )
                        .first(c)?;
                        let new: Doc = written!(
                            $style,
                            c,
                            diesel::update(kr_audited_docs::table.find(id)).set((
                                kr_audited_docs::title.eq(format!("Title {i}")),
                                kr_audited_docs::updated_at.eq(now),
                            )),
                            kr_audited_docs::table.find(id),
                            audited_columns()
                        );
                        diesel::insert_into(kr_peer_audit::table)
                            .values(&NewEntry {
                                table_name: "kr_audited_docs".into(),
                                entity_id: id.to_string(),
                                operation: "update".into(),
                                old_values: audit_values(&old.title),
                                new_values: audit_values(&new.title),
                                changed_by: "bench".into(),
                                changed_at: now,
                            })
                            .execute(c)?;
                        Ok(())
                    })
                    .unwrap();
                }),
            ]
        }
    };
}
backend_ops!(sqlite_ops, Sqlite, SqliteConnection, sqlite, Utc::now());
backend_ops!(pg_ops, Pg, PgConnection, pg, Utc::now());
backend_ops!(
    mysql_ops,
    MySql,
    MysqlConnection,
    mysql,
    Utc::now().naive_utc()
);

/// The workloads on the connection's backend.
pub fn ops(cell: &RefCell<Conn>) -> Vec<Op<'_>> {
    let ops = match &*cell.borrow() {
        Conn::Sqlite(_) => sqlite_ops,
        Conn::Pg(_) => pg_ops,
        Conn::MySql(_) => mysql_ops,
    };
    ops(cell)
}
