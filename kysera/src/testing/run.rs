//! What `#[kysera::test]` runs: the test once per database it names, each time on a fresh,
//! isolated database — SQLite in memory, or a throwaway PostgreSQL or MySQL database created
//! from `KYSERA_TEST_POSTGRES_URL` / `KYSERA_TEST_MYSQL_URL` and dropped afterwards (kept when
//! the test fails and `KYSERA_TEST_KEEP_FAILED` is set) — with migrations and fixtures applied.

use std::future::Future;
use std::pin::Pin;

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;
use crate::executor::Executor;
use crate::migrate::Migrator;

/// A test function's outcome: `()` or a `Result` whose error is printed.
pub trait TestOutcome {
    /// `Err` with the failure's text when the test failed.
    fn into_outcome(self) -> std::result::Result<(), String>;
}

impl TestOutcome for () {
    fn into_outcome(self) -> std::result::Result<(), String> {
        Ok(())
    }
}

impl<E: std::fmt::Debug> TestOutcome for std::result::Result<(), E> {
    fn into_outcome(self) -> std::result::Result<(), String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// The options `#[kysera::test(…)]` passes (generated code; not a stable API).
#[doc(hidden)]
pub struct TestOptions {
    /// The test's name, in messages.
    pub name: &'static str,
    /// Which databases: `sqlite`, `postgres`, `mysql`, `mysql-emulated`.
    pub databases: &'static [&'static str],
    /// The migrations to apply first.
    pub migrations: Option<Migrator>,
    /// Fixture files or folders to load next (absolute paths).
    pub fixtures: &'static [&'static str],
}

type TestFn<'a> = &'a (
        dyn Fn(Executor) -> Pin<Box<dyn Future<Output = std::result::Result<(), String>> + Send>>
            + Sync
    );

/// A fresh database of `dialect`, and how to drop it (`None` when nothing is to be dropped:
/// SQLite in memory, or a server whose URL is not set — then `Ok(None)` for the database too).
async fn fresh(dialect: Dialect) -> Result<Option<(Executor, Option<(Executor, String)>)>> {
    let var = match dialect {
        Dialect::Sqlite => {
            return Ok(Some((
                crate::executor::connect("sqlite::memory:").await?,
                None,
            )));
        }
        Dialect::Postgres => "KYSERA_TEST_POSTGRES_URL",
        Dialect::MySql => "KYSERA_TEST_MYSQL_URL",
    };
    let Some(url) = std::env::var(var).ok().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let admin = crate::executor::connect(&url).await?;
    let name = format!("kysera_test_{}", uuid::Uuid::new_v4().simple());
    let quoted = dialect.adapter().escape_identifier(&name)?;
    admin
        .raw()
        .execute_sql(
            sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")),
            vec![],
        )
        .await?;
    // The same URL with the new database's name as its path.
    let (base, query) = url
        .split_once('?')
        .map_or((url.as_str(), None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut test_url = format!("{}/{name}", &base[..path_start]);
    // A `dbname` parameter would override the path: left out.
    let params: Vec<&str> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty() && !p.starts_with("dbname="))
        .collect();
    if !params.is_empty() {
        test_url.push('?');
        test_url.push_str(&params.join("&"));
    }
    match crate::executor::connect(&test_url).await {
        Ok(db) => Ok(Some((db, Some((admin, name))))),
        Err(e) => {
            let _ = drop_database(dialect, &admin, &name).await;
            Err(e)
        }
    }
}

async fn drop_database(dialect: Dialect, admin: &Executor, name: &str) -> Result<()> {
    let quoted = dialect.adapter().escape_identifier(name)?;
    let drop_it = format!("DROP DATABASE IF EXISTS {quoted}");
    let sql = match dialect {
        // FORCE (PostgreSQL 13+) ends sessions a test left open; without it on older servers.
        Dialect::Postgres => format!("{drop_it} WITH (FORCE)"),
        _ => drop_it.clone(),
    };
    let raw = admin.raw();
    match raw.execute_sql(sqlx::AssertSqlSafe(sql), vec![]).await {
        Ok(_) => Ok(()),
        Err(_) if dialect == Dialect::Postgres => raw
            .execute_sql(sqlx::AssertSqlSafe(drop_it), vec![])
            .await
            .map(drop),
        Err(e) => Err(e),
    }
}

/// Runs the test on each database of `options` (generated code calls this from a `#[test]`
/// function); panics with the failure, as a test does.
#[doc(hidden)]
pub fn run_test(options: TestOptions, test: TestFn<'_>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the test");
    let mut failures = Vec::new();
    let mut ran = 0;
    for which in options.databases {
        let dialect = match *which {
            "sqlite" => Dialect::Sqlite,
            "postgres" => Dialect::Postgres,
            _ => Dialect::MySql,
        };
        let label = if *which == "mysql-emulated" {
            "MySQL (RETURNING emulated)".to_string()
        } else {
            dialect.to_string()
        };
        let outcome = runtime.block_on(async {
            let Some((mut db, to_drop)) = fresh(dialect).await.map_err(|e| chain(&e))? else {
                eprintln!(
                    "{}: skipped on {label}: its URL variable is not set",
                    options.name
                );
                return Ok(false);
            };
            if *which == "mysql-emulated" {
                // The same server without MariaDB's own RETURNING: writes read their rows
                // back, as on Oracle MySQL.
                db = Executor::new(db.pool().clone());
            }
            // Setup and test in a task of their own: a panic in either is caught, and the
            // database is dropped whatever happened.
            let setup = (options.migrations.clone(), options.fixtures);
            let run = test(db.clone());
            let task_db = db.clone();
            let task = tokio::spawn(async move {
                if let Some(m) = &setup.0 {
                    m.up(&task_db)
                        .await
                        .map_err(|e| format!("setting up the database: {}", chain(&e)))?;
                }
                for f in setup.1 {
                    super::seed_database(&task_db, f)
                        .await
                        .map_err(|e| format!("loading fixtures: {}", chain(&e)))?;
                }
                run.await
            });
            let result = match task.await {
                Ok(r) => r,
                Err(e) if e.is_panic() => Err(panic_text(e.into_panic())),
                Err(e) => Err(e.to_string()),
            };
            // A connection the test still holds (a task it spawned) must not hang the run.
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), db.pool().close()).await;
            if let Some((admin, name)) = to_drop {
                if result.is_err() && std::env::var_os("KYSERA_TEST_KEEP_FAILED").is_some() {
                    eprintln!(
                        "{}: kept the database `{name}` of the failed run on {label}",
                        options.name
                    );
                } else if let Err(e) = drop_database(dialect, &admin, &name).await {
                    eprintln!("{}: could not drop `{name}`: {e}", options.name);
                }
                admin.pool().close().await;
            }
            result.map(|()| true)
        });
        match outcome {
            Ok(true) => ran += 1,
            Ok(false) => {}
            Err(e) => failures.push(format!("on {label}: {e}")),
        }
    }
    if !failures.is_empty() {
        panic!("{} failed {}", options.name, failures.join("; "));
    }
    if ran == 0 {
        panic!(
            "{} ran on no database: set KYSERA_TEST_POSTGRES_URL / KYSERA_TEST_MYSQL_URL, or include sqlite",
            options.name
        );
    }
}

fn chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        // Errors often print their source in their own text already.
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => format!("panicked: {s}"),
        Err(p) => match p.downcast::<&str>() {
            Ok(s) => format!("panicked: {s}"),
            Err(_) => "panicked".into(),
        },
    }
}
