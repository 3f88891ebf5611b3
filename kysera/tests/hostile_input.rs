//! Input built to break the data layer: conditions nested thousands deep (a stack overflow
//! would take the process down), chains of one operator that must be flattened rather than
//! refused, and NUL characters in names and SQL text — on every database.

#[macro_use]
mod common;

use kysera::query::{Filter, MAX_FILTER_DEPTH, Select, col};
use kysera::{AssertSqlSafe, Error};

fn is_invalid<T>(res: &kysera::Result<T>) -> bool {
    matches!(res, Err(Error::InvalidQuery(_)))
}

/// `NOT (a AND (b OR (NOT (c AND …))))`, alternating operators `depth` levels deep.
fn alternating(depth: usize) -> Filter {
    let mut f = col("id").gt(0i64);
    for i in 0..depth {
        f = match i % 3 {
            0 => Filter::And(vec![col("id").gt(0i64), f]),
            1 => Filter::Or(vec![col("id").lt(0i64), f]),
            _ => !f,
        };
    }
    f
}

per_database! {
    #[flavor(flavor = "multi_thread", worker_threads = 2)]
    async fn deep_conditions_are_refused_or_flattened(db) {
        let d = db.dialect();
        let t = common::table("hostile");
        common::ddl(&db, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY)")).await;
        db.raw()
            .execute_sql(AssertSqlSafe(format!("INSERT INTO {t} (id) VALUES (1), (2)")), vec![])
            .await
            .unwrap();

        // Alternating operators far past the limit: a clear error on every path, no crash.
        let deep = || alternating(5_000);
        assert!(is_invalid(&db.to_sql(Select::from(&t).filter(deep()))), "{d}: to_sql");
        assert!(is_invalid(&db.fetch_all(Select::from(&t).filter(deep())).await), "{d}: fetch_all");
        assert!(is_invalid(&db.count(Select::from(&t).filter(deep())).await), "{d}: count");
        assert!(is_invalid(&db.exists(Select::from(&t).filter(deep())).await), "{d}: exists");
        assert!(
            is_invalid(&db.execute(kysera::query::Delete::from(&t).filter(deep())).await),
            "{d}: delete"
        );
        assert!(is_invalid(&db.raw().fetch_all(Select::from(&t).filter(deep())).await), "{d}: raw");
        assert_eq!(db.count(Select::from(&t)).await.unwrap(), 2, "{d}: nothing deleted");

        // Within the limit: runs (AND and OR alternating, true for every row).
        let mut fine = col("id").gt(0i64);
        for i in 0..MAX_FILTER_DEPTH - 1 {
            fine = if i % 2 == 0 {
                Filter::And(vec![col("id").gt(0i64), fine])
            } else {
                Filter::Or(vec![col("id").lt(0i64), fine])
            };
        }
        assert_eq!(db.count(Select::from(&t).filter(fine)).await.unwrap(), 2, "{d}");

        // A long chain of one operator, or of double negations, is flattened, not refused.
        let mut and_chain = col("id").gt(0i64);
        for _ in 0..10_000 {
            and_chain = Filter::And(vec![and_chain, col("id").lt(100i64)]);
        }
        assert_eq!(db.count(Select::from(&t).filter(and_chain)).await.unwrap(), 2, "{d}: AND chain");
        let mut or_chain = col("id").eq(2i64);
        for _ in 0..10_000 {
            or_chain = Filter::Or(vec![col("id").eq(-1i64), or_chain]);
        }
        assert_eq!(db.count(Select::from(&t).filter(or_chain)).await.unwrap(), 1, "{d}: OR chain");
        let mut nots = col("id").eq(1i64);
        for _ in 0..10_001 {
            nots = !nots;
        }
        assert_eq!(db.count(Select::from(&t).filter(nots)).await.unwrap(), 1, "{d}: 10 001 NOTs");
        common::drop_tables(&db, &[&t]).await;
    }
}

per_database! {
    async fn nul_characters_in_names_and_sql_are_refused(db) {
        let d = db.dialect();
        let t = common::table("nul");
        common::ddl(&db, &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY)")).await;
        let bad_table = format!("{t}\0; DROP TABLE {t}");
        assert!(is_invalid(&db.fetch_all(Select::from(&bad_table)).await), "{d}: table");
        assert!(
            is_invalid(&db.fetch_all(Select::from(&t).filter(col("id\0x").eq(1i64))).await),
            "{d}: column"
        );
        assert!(
            is_invalid(&db.fetch_all(Select::from(&t).alias("a\0b")).await),
            "{d}: alias"
        );
        assert!(
            is_invalid(&db.execute(kysera::query::Insert::into(&t).set("id\0", 1i64)).await),
            "{d}: insert column"
        );
        let raw = db
            .raw()
            .execute_sql(AssertSqlSafe(format!("DELETE FROM {t}\0 WHERE id = 1")), vec![])
            .await;
        assert!(is_invalid(&raw), "{d}: raw SQL");
        // A NUL inside a bound value is data, not SQL: it is not refused for that reason.
        let value = db
            .fetch_all(Select::from(&t).filter(col("id").eq(1i64).or(col("id").eq(2i64))))
            .await;
        assert!(value.is_ok(), "{d}");
        // The table is still there.
        assert_eq!(db.count(Select::from(&t)).await.unwrap(), 0, "{d}");
        common::drop_tables(&db, &[&t]).await;
    }
}

#[derive(Debug, Clone, PartialEq, kysera::Repository)]
#[kysera(table = "k_hostile_readings")]
struct Reading {
    #[kysera(assigned)]
    id: i64,
    f: f64,
}

per_database! {
    async fn cursor_walks_cross_infinities(db) {
        use kysera::Model;
        let d = db.dialect();
        common::drop_tables(&db, &[Reading::INFO.table]).await;
        common::ddl(&db, &format!("CREATE TABLE {} (id BIGINT PRIMARY KEY, f DOUBLE PRECISION NOT NULL)", Reading::INFO.table)).await;
        // MySQL stores no infinity (refused at the write); the others walk across it.
        let mut values = vec![-1.5, 0.0, 0.0, 2.5, 1e300];
        if d != kysera::Dialect::MySql {
            values.extend([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY]);
        }
        let repo = Reading::repo(&db);
        for (i, f) in values.iter().enumerate() {
            repo.create(NewReading { id: i as i64 + 1, f: *f }).await.unwrap();
        }
        for descending in [false, true] {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..20 {
                let order = if descending { Reading::F.desc() } else { Reading::F.asc() };
                let page = repo
                    .find()
                    .order_by(order)
                    .cursor(2, cursor.as_deref())
                    .await
                    .unwrap_or_else(|e| panic!("{d}: {e}"));
                seen.extend(page.items.iter().map(|r| (r.f, r.id)));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            let mut expected: Vec<(f64, i64)> =
                values.iter().enumerate().map(|(i, f)| (*f, i as i64 + 1)).collect();
            expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            if descending {
                expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            }
            assert_eq!(seen, expected, "{d}: descending = {descending}");
        }
        common::drop_tables(&db, &[Reading::INFO.table]).await;
    }
}

#[derive(Debug, Clone, PartialEq, kysera::Repository)]
#[kysera(table = "k_hostile_gauges")]
struct Gauge {
    #[kysera(assigned)]
    id: i64,
    r: f32,
}

per_database! {
    async fn cursor_walks_over_f32_fields_of_inexact_columns(db) {
        use kysera::Model;
        let d = db.dialect();
        common::drop_tables(&db, &[Gauge::INFO.table]).await;
        // A DOUBLE column holding values no f32 represents exactly, read through f32 fields
        // (PostgreSQL reads an f32 only from a REAL column, which stores f32 values).
        let pg = d == kysera::Dialect::Postgres;
        let column = if pg { "REAL" } else { "DOUBLE PRECISION" };
        common::ddl(&db, &format!("CREATE TABLE {} (id BIGINT PRIMARY KEY, r {column} NOT NULL)", Gauge::INFO.table)).await;
        let stored = |r: f64| if pg { f64::from(r as f32) } else { r };
        let values = [0.1f64, 0.1, 0.1, 0.2, 0.30000000000000004, 0.3, 1.0 / 3.0];
        for (i, r) in values.iter().enumerate() {
            db.raw()
                .execute(kysera::query::Insert::into(Gauge::INFO.table).set("id", i as i64).set("r", *r))
                .await
                .unwrap();
        }
        let repo = Gauge::repo(&db);
        for descending in [false, true] {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..20 {
                let order = if descending { Gauge::R.desc() } else { Gauge::R.asc() };
                let page = repo.find().order_by(order).cursor(2, cursor.as_deref()).await.unwrap();
                seen.extend(page.items.iter().map(|g| g.id));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            let mut expected: Vec<(f64, i64)> =
                values.iter().enumerate().map(|(i, r)| (stored(*r), i as i64)).collect();
            expected.sort_by(|a, b| {
                let o = a.0.total_cmp(&b.0);
                (if descending { o.reverse() } else { o }).then(a.1.cmp(&b.1))
            });
            let expected: Vec<i64> = expected.iter().map(|e| e.1).collect();
            assert_eq!(seen, expected, "{d}: descending = {descending}");
        }
        common::drop_tables(&db, &[Gauge::INFO.table]).await;
    }
}

#[derive(Debug, Clone, PartialEq, kysera::Repository)]
#[kysera(table = "k_hostile_scores")]
struct Score {
    #[kysera(assigned)]
    id: i64,
    points: Option<i64>,
}

per_database! {
    async fn cursors_over_nullable_columns_are_refused_unless_nulls_are_filtered(db) {
        use kysera::Model;
        let d = db.dialect();
        common::drop_tables(&db, &[Score::INFO.table]).await;
        common::ddl(&db, &format!("CREATE TABLE {} (id BIGINT PRIMARY KEY, points BIGINT NULL)", Score::INFO.table)).await;
        let repo = Score::repo(&db);
        for id in 0..10i64 {
            let points = (id % 3 != 0).then_some(id);
            repo.create(NewScore { id, points }).await.unwrap();
        }
        let refused = repo.find().order_by(Score::POINTS.asc()).cursor(3, None).await;
        assert!(
            matches!(&refused, Err(kysera::Error::InvalidQuery(m)) if m.contains("points")),
            "{d}: {refused:?}"
        );
        // With the NULLs filtered out, the walk sees every non-null row once.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = repo
                .find()
                .filter(Score::POINTS.is_not_null())
                .order_by(Score::POINTS.desc())
                .cursor(3, cursor.as_deref())
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|s| s.id));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen, [8, 7, 5, 4, 2, 1], "{d}");
        common::drop_tables(&db, &[Score::INFO.table]).await;
    }
}

#[derive(Debug, Clone, PartialEq, kysera::Repository)]
#[kysera(table = "k_hostile_signed")]
struct Entry {
    #[kysera(assigned)]
    id: i64,
    rank: i64,
}

per_database! {
    async fn signed_cursors_refuse_what_the_executor_did_not_make(plain) {
        use base64::Engine as _;
        use kysera::Model;
        let d = plain.dialect();
        common::drop_tables(&plain, &[Entry::INFO.table]).await;
        common::ddl(&plain, &format!("CREATE TABLE {} (id BIGINT PRIMARY KEY, rank BIGINT NOT NULL)", Entry::INFO.table)).await;
        let db = plain.with_cursor_key(b"0123456789abcdef0123456789abcdef");
        let repo = Entry::repo(&db);
        for id in 0..7i64 {
            repo.create(NewEntry { id, rank: id % 3 }).await.unwrap();
        }
        let first = repo.find().order_by(Entry::RANK.asc()).cursor(3, None).await.unwrap();
        let signed = first.next_cursor.clone().unwrap();
        let second = repo.find().order_by(Entry::RANK.asc()).cursor(3, Some(&signed)).await.unwrap();
        assert_eq!(second.items.len(), 3, "{d}");

        let invalid = |r: kysera::Result<kysera::CursorPage<Entry>>| {
            matches!(r, Err(kysera::Error::InvalidCursor(_)))
        };
        // An unsigned cursor (what an executor without the key makes), one under another key,
        // and one forged with a value of the wrong type: refused before any SQL.
        let unsigned = Entry::repo(&plain).find().order_by(Entry::RANK.asc()).cursor(3, None).await.unwrap();
        let unsigned = unsigned.next_cursor.unwrap();
        assert!(invalid(repo.find().order_by(Entry::RANK.asc()).cursor(3, Some(&unsigned)).await), "{d}");
        let other = plain.with_cursor_key(b"another key");
        assert!(
            invalid(Entry::repo(&other).find().order_by(Entry::RANK.asc()).cursor(3, Some(&signed)).await),
            "{d}"
        );
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&signed).unwrap();
        let text = String::from_utf8_lossy(&bytes[33..]).replace("{\"i\":", "{\"s\":\"x\",\"i\":");
        bytes.truncate(33);
        bytes.extend_from_slice(text.as_bytes());
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert!(invalid(repo.find().order_by(Entry::RANK.asc()).cursor(3, Some(&forged)).await), "{d}");

        // Encrypted cursors: every row once across the pages, and nothing else accepted.
        let sealed_db = plain.with_encrypted_cursors(b"0123456789abcdef0123456789abcdef");
        let sealed_repo = Entry::repo(&sealed_db);
        let (mut seen, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let page = sealed_repo.find().order_by(Entry::RANK.asc()).cursor(2, cursor.as_deref()).await.unwrap();
            seen.extend(page.items.iter().map(|e| e.id));
            match page.next_cursor {
                Some(c) => {
                    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&c).unwrap();
                    assert!(!String::from_utf8_lossy(&raw).contains("rank"), "{d}: unreadable");
                    cursor = Some(c);
                }
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, (0..7).collect::<Vec<_>>(), "{d}");
        for foreign in [&signed, &unsigned, &forged] {
            assert!(invalid(sealed_repo.find().order_by(Entry::RANK.asc()).cursor(3, Some(foreign)).await), "{d}");
        }
        let sealed = sealed_repo.find().order_by(Entry::RANK.asc()).cursor(3, None).await.unwrap().next_cursor.unwrap();
        assert!(invalid(repo.find().order_by(Entry::RANK.asc()).cursor(3, Some(&sealed)).await), "{d}: not a signed cursor");
        let other = plain.with_encrypted_cursors(b"another key");
        assert!(invalid(Entry::repo(&other).find().order_by(Entry::RANK.asc()).cursor(3, Some(&sealed)).await), "{d}");
        common::drop_tables(&plain, &[Entry::INFO.table]).await;
    }
}
