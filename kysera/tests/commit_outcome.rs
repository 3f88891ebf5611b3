//! A COMMIT whose connection is lost has an unknown outcome, and says so with its own error
//! kind; the pool keeps answering afterwards.

#[macro_use]
mod common;

use kysera::query::{Insert, Select};
use kysera::{AssertSqlSafe, Dialect, Error};

per_database! {
    async fn a_commit_on_a_lost_connection_is_of_unknown_outcome(db) {
        let d = db.dialect();
        if d == Dialect::Sqlite {
            return; // embedded: there is no connection to lose
        }
        let t = common::table("commit");
        common::ddl(&db, &format!("CREATE TABLE {t} (x BIGINT NOT NULL)")).await;
        let killer = db.clone();
        let r: kysera::Result<()> = db
            .transaction(async |tx| {
                tx.execute(Insert::into(&t).set("x", 1i64)).await?;
                let (who, kill) = match d {
                    Dialect::Postgres => ("SELECT pg_backend_pid() AS id", "SELECT pg_terminate_backend"),
                    _ => ("SELECT CAST(CONNECTION_ID() AS SIGNED) AS id", "KILL"),
                };
                let id: i64 = match d {
                    Dialect::Postgres => tx.raw().fetch_all_sql(who, vec![]).await?[0].get::<i32>("id")? as i64,
                    _ => tx.raw().fetch_all_sql(who, vec![]).await?[0].get::<i64>("id")?,
                };
                // Another connection ends this transaction's connection before it commits.
                killer.raw().execute_sql(AssertSqlSafe(match d {
                    Dialect::Postgres => format!("{kill}({id})"),
                    _ => format!("{kill} {id}"),
                }), vec![]).await?;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                Ok(())
            })
            .await;
        assert!(matches!(r, Err(Error::CommitOutcomeUnknown { .. })), "{d}: {r:?}");
        // The pool answers, and the lost transaction was not committed (here the server
        // rolled it back; the caller could not have known).
        assert_eq!(db.count(Select::from(&t)).await.unwrap(), 0, "{d}");
        common::drop_tables(&db, &[&t]).await;
    }
}
