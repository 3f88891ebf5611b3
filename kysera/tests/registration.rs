//! Model registration cannot silently drop a policy: two models of one table that declare
//! different behaviour columns block the table (every query on it is refused, by any path),
//! rather than the first registered winning. (A registration the linker dropped is re-added on
//! the model's first use: see the unit tests of `behaviour::registry`.)

#[macro_use]
mod common;

use chrono::{DateTime, Utc};
use kysera::query::{Insert, Select, col};
use kysera::{Error, Repository};

/// Soft-deletes with `deleted_at`…
#[derive(Debug, Repository)]
#[kysera(table = "k_conflicting_docs")]
#[soft_delete]
struct Doc {
    #[kysera(generated)]
    id: i64,
    title: String,
    deleted_at: Option<DateTime<Utc>>,
}

/// …while this model of the same table says `removed_at`.
#[derive(Debug, Repository)]
#[kysera(table = "k_conflicting_docs")]
#[soft_delete(column = "removed_at")]
struct DocView {
    #[kysera(generated)]
    id: i64,
    title: String,
    removed_at: Option<DateTime<Utc>>,
}

fn conflict<T: std::fmt::Debug>(r: kysera::Result<T>) -> bool {
    matches!(r, Err(Error::ConflictingModels { ref table, .. }) if table.eq_ignore_ascii_case("k_conflicting_docs"))
}

per_database! {
    async fn models_that_disagree_block_their_table_on_every_path(db) {
        let d = db.dialect();
        assert!(conflict(Doc::repo(&db).find_all().await), "{d}");
        assert!(conflict(DocView::repo(&db).find_all().await), "{d}");
        assert!(
            conflict(Doc::repo(&db).create(NewDoc { title: "x".into() }).await),
            "{d}"
        );
        assert!(conflict(Doc::repo(&db).find().count().await), "{d}");
        // The query builder, in any case spelling, and joined.
        assert!(
            conflict(db.fetch_all(Select::from("k_conflicting_docs")).await),
            "{d}"
        );
        assert!(
            conflict(
                db.execute(Insert::into("K_CONFLICTING_DOCS").set("title", "x"))
                    .await
            ),
            "{d}"
        );
        let joined = Select::from("other").left_join(
            "k_conflicting_docs",
            "k",
            col("k.id").eq_col(col("other.doc_id")),
        );
        assert!(conflict(db.fetch_all(joined).await), "{d}");
        // Inside a transaction too.
        let in_tx = db
            .transaction(async |tx| tx.fetch_all(Select::from("k_conflicting_docs")).await)
            .await;
        assert!(conflict(in_tx), "{d}");
        // Registering explicitly reports it.
        assert!(conflict(kysera::register::<DocView>()), "{d}");
        let msg = kysera::register::<Doc>().unwrap_err().to_string();
        assert!(msg.contains("Doc") && msg.contains("DocView"), "{msg}");
    }
}
