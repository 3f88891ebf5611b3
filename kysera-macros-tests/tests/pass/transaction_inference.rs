// The common case needs no annotations: a transaction's closure returns kysera::Result, so
// `Ok(value)` infers (it used to fail with E0283). An error type of one's own goes through
// `transaction_with_error`.
use kysera::query::Select;

#[derive(Debug)]
enum AppError {
    Db(kysera::Error),
}

impl From<kysera::Error> for AppError {
    fn from(e: kysera::Error) -> Self {
        AppError::Db(e)
    }
}

async fn counts(db: &kysera::Executor) -> kysera::Result<i64> {
    let n = db
        .transaction(async |tx| {
            let n = tx.count(Select::from("t")).await?;
            Ok(n)
        })
        .await?;
    let m = kysera::dal::with_transaction(db, async |tx| Ok(tx.count(Select::from("t")).await? + 1))
        .await?;
    let nested = db
        .transaction(async |tx| tx.transaction(async |inner| Ok(inner.count(Select::from("t")).await?)).await)
        .await?;
    // An auth context around `?` and `Ok`: `rls::within` (any future: `rls::with_context`).
    let ctx = kysera::rls::AuthContext::user("u").with_tenant("t");
    let scoped = kysera::rls::within(ctx, async {
        let k = db.count(Select::from("t")).await?;
        Ok(k)
    })
    .await?;
    Ok(n + m + nested + scoped)
}

async fn app(db: &kysera::Executor) -> Result<i64, AppError> {
    db.transaction_with_error(async |tx| Ok(tx.count(Select::from("t")).await?))
        .await
}

fn main() {
    let _ = (counts, app);
    let _ = |e: AppError| match e {
        AppError::Db(_) => (),
    };
}
