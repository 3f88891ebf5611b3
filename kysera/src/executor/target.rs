//! Where a statement goes (the pool, a transaction's connection, a one-statement transaction
//! of PostgreSQL's native RLS) and `on_target!`, the one place every statement is run from.

use std::sync::Arc;

use super::Pool;
use super::breaker::Permit;
use super::finish::CallerGone;
use super::shared::TxShared;
use super::transaction;
use crate::core::classify::not_sent;
use crate::core::error::{Error, Result};

/// Where a query goes, and the circuit breaker's permit for it (counted when it ends).
pub(super) struct Target {
    pub(super) to: To,
    pub(super) permit: Option<Permit>,
    /// The transaction the statement runs in: poisoned if the database undoes it.
    pub(super) tx: Option<Arc<TxShared>>,
}

/// Where a query goes: the pool, or the connection of a transaction (locked for the query).
/// Owned, so the statement can run in a task of its own.
pub(super) enum To {
    Pool(Pool),
    Tx(transaction::ConnGuard),
    /// PostgreSQL native RLS outside a transaction: a transaction of the one statement, begun
    /// with the auth context's settings and committed after it.
    #[cfg(feature = "postgres")]
    PgLocal(transaction::OwnedTx),
}

/// A connection of `pool` for one statement, acquired apart from running it, so that failing
/// to get one ([`Error::Unavailable`]: nothing sent) is told apart from losing one while the
/// statement runs. If the caller gave up while it waited, nobody wants the statement any more:
/// it is not sent.
pub(super) async fn acquire<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    gone: &CallerGone,
) -> Result<sqlx::pool::PoolConnection<DB>> {
    let conn = pool.acquire().await.map_err(not_sent)?;
    if gone.is_gone() {
        return Err(Error::TransactionClosed);
    }
    Ok(conn)
}

/// Runs `$body` inside the statement's span (`$probe`, see `observe`), with `$c` bound to a
/// sqlx executor for the target (`$target`, a `Result<Target>`) and `$wrap` to the
/// matching [`Row`] constructor — as a [`finish::Finish`] that owns the connection (or the
/// transaction's lock), so a caller dropped at any await point never leaves a command
/// half-done on a connection: the statement finishes in a task of its own, then the
/// connection goes back to the pool (or the transaction's lock is released), and a
/// one-statement transaction whose caller is gone is rolled back instead of committed.
macro_rules! on_target {
    ($probe:expr, $target:expr, |$c:ident, $wrap:ident| $body:expr) => {{
        let probe: $crate::executor::observe::Probe = $probe;
        let result = match $target {
            Ok($crate::executor::Target {
                to: target,
                permit,
                tx,
            }) => {
                let span = probe.span();
                let run = |gone: $crate::executor::finish::CallerGone| {
                    let statement = async move {
                        // Read by the one-statement transactions of PostgreSQL's native RLS.
                        let _ = &gone;
                        match target {
                            #[cfg(feature = "sqlite")]
                            $crate::executor::To::Pool($crate::executor::Pool::Sqlite(pool)) => {
                                let mut conn =
                                    match $crate::executor::target::acquire(&pool, &gone).await {
                                        Ok(conn) => conn,
                                        Err(e) => return Err(e),
                                    };
                                let $c = &mut *conn;
                                let $wrap = Row::Sqlite;
                                $body
                            }
                            #[cfg(feature = "postgres")]
                            $crate::executor::To::Pool($crate::executor::Pool::Postgres(pool)) => {
                                let mut conn =
                                    match $crate::executor::target::acquire(&pool, &gone).await {
                                        Ok(conn) => conn,
                                        Err(e) => return Err(e),
                                    };
                                let $c = &mut *conn;
                                let $wrap = Row::Postgres;
                                $body
                            }
                            #[cfg(feature = "mysql")]
                            $crate::executor::To::Pool($crate::executor::Pool::MySql(pool)) => {
                                let mut conn =
                                    match $crate::executor::target::acquire(&pool, &gone).await {
                                        Ok(conn) => conn,
                                        Err(e) => return Err(e),
                                    };
                                let $c = &mut *conn;
                                let $wrap = Row::MySql;
                                $body
                            }
                            #[cfg(feature = "postgres")]
                            $crate::executor::To::PgLocal(mut owned) => {
                                let result = match owned.conn() {
                                    Ok($crate::executor::transaction::TxConn::Postgres(tx)) => {
                                        let $c = &mut **tx;
                                        let $wrap = Row::Postgres;
                                        $body
                                    }
                                    #[allow(unreachable_patterns)]
                                    _ => Err(Error::TransactionClosed),
                                };
                                match result {
                                    // The caller is gone: its statement is undone with the
                                    // transaction.
                                    Ok(_) if gone.is_gone() => Err(Error::TransactionClosed),
                                    Ok(v) => owned.commit().await.map(|()| v),
                                    Err(e) => Err(e),
                                }
                            }
                            $crate::executor::To::Tx(mut guard) => match guard.as_mut() {
                                #[cfg(feature = "sqlite")]
                                Some($crate::executor::transaction::TxConn::Sqlite(tx)) => {
                                    let $c = &mut **tx;
                                    let $wrap = Row::Sqlite;
                                    $body
                                }
                                #[cfg(feature = "postgres")]
                                Some($crate::executor::transaction::TxConn::Postgres(tx)) => {
                                    let $c = &mut **tx;
                                    let $wrap = Row::Postgres;
                                    $body
                                }
                                #[cfg(feature = "mysql")]
                                Some($crate::executor::transaction::TxConn::MySql(tx)) => {
                                    let $c = &mut **tx;
                                    let $wrap = Row::MySql;
                                    $body
                                }
                                None => Err(Error::TransactionClosed),
                            },
                        }
                    };
                    tracing::Instrument::instrument(statement, span)
                };
                // The statement's result when its caller is gone: dropped (a one-statement
                // transaction rolls back as it drops).
                let result = $crate::executor::finish::Finish::new(run, drop)
                    .await
                    .and_then(|result| result);
                if let Some(permit) = permit {
                    permit.record(&result);
                }
                if let (Some(tx), Err(e)) = (&tx, &result) {
                    tx.poison_if_undone(e);
                }
                result
            }
            Err(e) => Err(e),
        };
        probe.finish(&result);
        result
    }};
}
