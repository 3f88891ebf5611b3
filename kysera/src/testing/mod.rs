//! Testing utilities (`@kysera/testing` in the TypeScript Kysera; feature `testing`, meant for
//! dev-dependencies): work in a transaction that is always rolled back, factories of model rows,
//! and seeding and cleaning a database — on all three databases, through the executor, so the
//! plugins (timestamps, audit, row-level security) apply as in the application.
//!
//! ```no_run
//! use kysera::testing::{Factory, test_in_transaction};
//! # #[derive(Debug, kysera::Repository)]
//! # struct User { #[kysera(generated)] id: i64, email: String, name: String }
//! # async fn f(db: kysera::Executor) -> kysera::Result<()> {
//! let users = Factory::<User>::new(|n| NewUser { email: format!("user{n}@example.com"), name: format!("User {n}") });
//! test_in_transaction(&db, async |tx| {
//!     let ada = users.create_with(&tx, |u| u.name = "Ada".into()).await?;
//!     let more = users.create_many(&tx, 3).await?;
//!     assert_eq!(User::repo(&tx).count(None).await?, 4);
//!     Ok(())
//! })
//! .await?; // rolled back: the table is as it was
//! # Ok(()) }
//! ```

mod clean;
mod factory;
mod run;
mod seed;

pub use clean::{Clean, clean_database};
pub use factory::Factory;
/// Fake data for factories (the [`fake`](https://docs.rs/fake) crate):
/// `Factory::<User>::new(|_| NewUser { email: SafeEmail().fake(), name: Name().fake() })` with
/// `use kysera::testing::fake::{Fake, faker::{internet::en::SafeEmail, name::en::Name}}`.
pub use fake;
pub use run::TestOutcome;
#[doc(hidden)]
pub use run::{TestOptions as __TestOptions, run_test as __run_test};
pub use seed::{seed_database, seed_json, seed_yaml};

use crate::core::error::{Error, Result};
use crate::executor::Executor;

/// What the transaction of [`test_in_transaction`] ends with: always an error, so it rolls back.
enum Undo<T> {
    Done(Result<T>),
}

impl<T> From<Error> for Undo<T> {
    fn from(e: Error) -> Self {
        Undo::Done(Err(e))
    }
}

/// Runs `f` in a transaction that is always rolled back — when `f` returns `Ok`, `Err` or panics
/// (the panic then continues) — and returns what `f` returned. Transactions `f` opens inside nest
/// as savepoints and work as usual.
pub async fn test_in_transaction<T, F, Fut>(db: &Executor, f: F) -> Result<T>
where
    F: FnOnce(Executor) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let outcome: std::result::Result<(), Undo<T>> = db
        .transaction_with_error(async |tx| Err(Undo::Done(f(tx).await)))
        .await;
    match outcome {
        Err(Undo::Done(result)) => result,
        // The closure always fails, so the transaction never commits.
        Ok(()) => Err(Error::InvalidQuery("the test transaction committed".into())),
    }
}
