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
    /// Which databases: `sqlite`, `postgres`, `mysql`.
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
    let q = if dialect == Dialect::MySql { '`' } else { '"' };
    admin
        .raw()
        .execute_sql(
            sqlx::AssertSqlSafe(format!("CREATE DATABASE {q}{name}{q}")),
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
    if let Some(q) = query {
        test_url.push('?');
        test_url.push_str(q);
    }
    let db = crate::executor::connect(&test_url).await?;
    Ok(Some((db, Some((admin, name)))))
}

async fn drop_database(dialect: Dialect, admin: &Executor, name: &str) -> Result<()> {
    let sql = match dialect {
        Dialect::Postgres => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        _ => format!("DROP DATABASE IF EXISTS `{name}`"),
    };
    admin
        .raw()
        .execute_sql(sqlx::AssertSqlSafe(sql), vec![])
        .await
        .map(drop)
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
    for which in options.databases {
        let dialect = match *which {
            "sqlite" => Dialect::Sqlite,
            "postgres" => Dialect::Postgres,
            _ => Dialect::MySql,
        };
        let outcome = runtime.block_on(async {
            let Some((db, to_drop)) = fresh(dialect).await.map_err(|e| format!("{e}"))? else {
                eprintln!(
                    "{}: skipped on {dialect}: its URL variable is not set",
                    options.name
                );
                return Ok(());
            };
            let prepared: Result<()> = async {
                if let Some(m) = &options.migrations {
                    m.up(&db).await?;
                }
                for f in options.fixtures {
                    super::seed_database(&db, f).await?;
                }
                Ok(())
            }
            .await;
            let result = match prepared {
                Err(e) => Err(format!("setting up the database: {}", chain(&e))),
                // In a task of its own, so a panic is caught and the database still dropped.
                Ok(()) => match tokio::spawn(test(db.clone())).await {
                    Ok(r) => r,
                    Err(e) if e.is_panic() => Err(panic_text(e.into_panic())),
                    Err(e) => Err(e.to_string()),
                },
            };
            db.pool().close().await;
            if let Some((admin, name)) = to_drop {
                if result.is_err() && std::env::var_os("KYSERA_TEST_KEEP_FAILED").is_some() {
                    eprintln!(
                        "{}: kept the database `{name}` of the failed run on {dialect}",
                        options.name
                    );
                } else if let Err(e) = drop_database(dialect, &admin, &name).await {
                    eprintln!("{}: could not drop `{name}`: {e}", options.name);
                }
                admin.pool().close().await;
            }
            result
        });
        if let Err(e) = outcome {
            failures.push(format!("on {dialect}: {e}"));
        }
    }
    if !failures.is_empty() {
        panic!("{} failed {}", options.name, failures.join("; "));
    }
}

fn chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
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
