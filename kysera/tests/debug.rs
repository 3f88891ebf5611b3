//! `kysera::debug` on all three databases: statement spans captured with a test subscriber and
//! their fields asserted (values never among them), the slow-statement warning, the debug log,
//! the profiler's figures against a known sequence of statements, an N+1 loop flagged where a
//! batched read is not, and EXPLAIN after the plugins.
#![cfg(feature = "testing")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kysera::debug::{DebugOptions, ExplainOptions, QueryLog, QueryProfiler, normalize_sql};
use kysera::query::{Insert, Query, Select, col};
use kysera::sqlx::AssertSqlSafe;
use kysera::{Dialect, Error, Executor, Plugin, QueryContext};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = HashMap<String, String>;

/// Spans (when they close) and events, with their fields as text.
#[derive(Clone, Default)]
struct Captured {
    spans: Arc<Mutex<Vec<Fields>>>,
    events: Arc<Mutex<Vec<Fields>>>,
}

struct Capture(Captured);

#[derive(Default)]
struct Visitor(Fields);

impl Visit for Visitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut v = Visitor::default();
        attrs.record(&mut v);
        v.0.insert("name".into(), attrs.metadata().name().into());
        ctx.span(id).unwrap().extensions_mut().insert(v);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let mut ext = span.extensions_mut();
        if let Some(v) = ext.get_mut::<Visitor>() {
            values.record(v);
        }
    }
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        if let Some(v) = span.extensions_mut().remove::<Visitor>() {
            self.0.spans.lock().unwrap().push(v.0);
        }
    }
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut v = Visitor::default();
        event.record(&mut v);
        v.0.insert("level".into(), event.metadata().level().to_string());
        v.0.insert("target".into(), event.metadata().target().into());
        self.0.events.lock().unwrap().push(v.0);
    }
}

/// Adds `n >= 0` to every SELECT on its table: a plugin that rewrites.
struct NonNegative(String);
impl Plugin for NonNegative {
    fn name(&self) -> &str {
        "non-negative"
    }
    fn intercept(&self, query: &mut Query, _: &QueryContext) -> kysera::Result<()> {
        if let Query::Select(s) = query
            && s.table.name == self.0
        {
            s.add_filter(col("n").gte(0i64));
        }
        Ok(())
    }
}

/// Looks at every query and changes none.
struct Onlooker;
impl Plugin for Onlooker {
    fn name(&self) -> &str {
        "onlooker"
    }
    fn intercept(&self, _: &mut Query, _: &QueryContext) -> kysera::Result<()> {
        Ok(())
    }
}

async fn table(db: &Executor, name: &str) {
    db.raw()
        .execute_sql(
            AssertSqlSafe(format!(
                "CREATE TABLE {name} (id BIGINT PRIMARY KEY, n BIGINT NOT NULL, secret VARCHAR(64))"
            )),
            vec![],
        )
        .await
        .unwrap();
}

/// One subscriber for the whole test binary, installed once: a scoped subscriber per test
/// races with the callsite registrations of tests running at the same time (tracing caches
/// each call site's interest), and can miss spans. Tests pick their own spans out by
/// database and table.
fn captured() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(Capture(captured.clone())),
        )
        .expect("no other global subscriber in this test binary");
        captured
    })
}

#[kysera::test(databases = "all")]
async fn every_statement_has_a_span_with_its_fields(db: Executor) {
    let captured = captured();
    let d = db.dialect();
    let system = match d {
        Dialect::Postgres => "postgresql",
        Dialect::MySql => "mysql",
        _ => "sqlite",
    };
    table(&db, "k_span").await;
    let db = db
        .with_plugins(vec![
            Arc::new(NonNegative("k_span".into())),
            Arc::new(Onlooker),
        ])
        .unwrap();
    for id in [1i64, 2] {
        db.execute(
            Insert::into("k_span")
                .set("id", id)
                .set("n", id)
                .set("secret", "secret-value-42"),
        )
        .await
        .unwrap();
    }
    let rows = db
        .fetch_all(Select::from("k_span").filter(col("id").lt(10i64)))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let dup = db
        .execute(
            Insert::into("k_span")
                .set("id", 1i64)
                .set("n", 1i64)
                .set("secret", "secret-value-42"),
        )
        .await;
    assert!(matches!(dup, Err(Error::UniqueViolation(_))), "{dup:?}");

    // This database's statements on this test's table. A span is captured when it closes,
    // and the failed statement's can close a moment after the error is returned (seen about
    // one run in six on SQLite; why it outlives the statement is not yet known): wait for it.
    let collect = || -> Vec<Fields> {
        captured
            .spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| {
                s["name"] == "db.query"
                    && s.get("db.system").is_some_and(|v| v == system)
                    && s.get("db.sql.table").is_some_and(|t| t == "k_span")
            })
            .cloned()
            .collect()
    };
    let mut spans = collect();
    for _ in 0..100 {
        if spans.iter().any(|s| s.contains_key("error.kind")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        spans = collect();
    }
    let reads: Vec<&Fields> = spans
        .iter()
        .filter(|s| s["db.operation"] == "SELECT")
        .collect();
    assert_eq!(reads.len(), 1, "{d}: {spans:#?}");
    let read = reads[0];
    let system = match d {
        Dialect::Postgres => "postgresql",
        Dialect::MySql => "mysql",
        _ => "sqlite",
    };
    assert_eq!(read["db.system"], system, "{d}");
    assert_eq!(read["db.operation"], "SELECT", "{d}");
    assert_eq!(read["db.sql.table"], "k_span", "{d}");
    assert!(read["db.statement"].contains("k_span"), "{d}: {read:?}");
    assert_eq!(read["db.params"], "2", "{d}: the filter and the plugin's");
    assert_eq!(read["db.rows"], "2", "{d}");
    assert!(read.contains_key("duration_us"), "{d}");
    assert_eq!(
        read["kysera.plugins"], "non-negative",
        "{d}: only the plugin that rewrote it"
    );
    assert_eq!(read["otel.kind"], "client", "{d}");
    assert!(!read.contains_key("error.kind"), "{d}");
    let failed = spans
        .iter()
        .find(|s| s.contains_key("error.kind"))
        .unwrap_or_else(|| panic!("{d}: the failed insert's span: {spans:#?}"));
    assert_eq!(failed["db.operation"], "INSERT", "{d}");
    assert_eq!(failed["error.kind"], "UniqueViolation", "{d}");
    assert_eq!(failed["otel.status_code"], "ERROR", "{d}");
    assert!(
        !failed.contains_key("kysera.plugins"),
        "{d}: no plugin changed it"
    );
    // No value reaches a span or an event.
    let all_spans = captured.spans.lock().unwrap().clone();
    let events = captured.events.lock().unwrap().clone();
    for f in all_spans.iter().chain(events.iter()) {
        assert!(
            f.values().all(|v| !v.contains("secret-value-42")),
            "{d}: a value was logged: {f:?}"
        );
    }

    // Slow statements are logged at warn (a threshold of zero makes every one slow).
    let slow = db.with_slow_statement_threshold(Some(Duration::ZERO));
    slow.raw()
        .fetch_all_sql("SELECT 1 AS one", vec![])
        .await
        .unwrap();
    let events = captured.events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|e| e["level"] == "WARN" && e.get("sql").is_some_and(|s| s == "SELECT 1 AS one")),
        "{d}: {events:?}"
    );
}

#[kysera::test(databases = "all")]
async fn the_debug_log_shows_statements_and_values_when_asked(db: Executor) {
    let d = db.dialect();
    table(&db, "k_dbg").await;
    let log = QueryLog::new();
    let logged = db.with_debug(
        DebugOptions::default()
            .values(true)
            .formatted(true)
            .log_to(&log),
    );
    logged
        .execute(
            Insert::into("k_dbg")
                .set("id", 1i64)
                .set("n", 5i64)
                .set("secret", "it's"),
        )
        .await
        .unwrap();
    let rows = logged
        .fetch_all(Select::from("k_dbg").filter(col("n").eq(5i64)))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let entries = log.entries();
    let (insert, select) = (&entries[entries.len() - 2], &entries[entries.len() - 1]);
    assert!(insert.sql.starts_with("INSERT INTO"), "{d}: {insert:?}");
    assert!(
        insert
            .values
            .as_ref()
            .unwrap()
            .contains(&"'it''s'".to_string()),
        "{d}: {insert:?}"
    );
    assert!(
        select.sql.starts_with("SELECT\n"),
        "{d}: formatted: {select:?}"
    );
    assert_eq!(select.rows, Some(1), "{d}");
    assert_eq!(
        select.values.as_deref(),
        Some(&["5".to_string()][..]),
        "{d}"
    );

    // A write whose rows come back (on MySQL through the emulation's read-back) is logged
    // too, as one statement.
    let before = log.entries().len();
    let changed = logged
        .fetch_all(
            kysera::query::Update::table("k_dbg")
                .set("n", 6i64)
                .filter(col("id").eq(1i64))
                .returning(kysera::query::Returning::All)
                .primary_key(["id"]),
        )
        .await
        .unwrap();
    assert_eq!(changed.len(), 1, "{d}");
    let entries = log.entries();
    assert_eq!(entries.len(), before + 1, "{d}: {entries:#?}");
    let update = entries.last().unwrap();
    assert!(update.sql.starts_with("UPDATE"), "{d}: {update:?}");
    assert_eq!(update.rows, Some(1), "{d}");
    // A failure's message can quote values: only its kind unless values are asked for.
    let quiet = QueryLog::new();
    let _ = db
        .with_debug(DebugOptions::default().log_to(&quiet))
        .execute(
            Insert::into("k_dbg")
                .set("id", 1i64)
                .set("n", 1i64)
                .set("secret", "hidden@example.com"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        quiet.entries()[0].error.as_deref(),
        Some("UniqueViolation"),
        "{d}"
    );

    let quiet = QueryLog::new();
    let db2 = db.with_debug(DebugOptions::default().log_to(&quiet));
    db2.fetch_all(Select::from("k_dbg")).await.unwrap();
    assert_eq!(
        quiet.entries()[0].values,
        None,
        "{d}: no values unless asked"
    );
}

#[kysera::test(databases = "all")]
async fn the_profiler_adds_up_a_known_sequence(db: Executor) {
    let d = db.dialect();
    table(&db, "k_prof").await;
    let profiler = QueryProfiler::new();
    let db = profiler
        .attach(&db)
        .with_plugins(vec![Arc::new(NonNegative("k_prof".into()))])
        .unwrap();
    for id in 1..=3i64 {
        db.execute(Insert::into("k_prof").set("id", id).set("n", id))
            .await
            .unwrap();
    }
    let dup = db
        .execute(Insert::into("k_prof").set("id", 1i64).set("n", 1i64))
        .await;
    assert!(dup.is_err());
    for limit in [1u64, 2] {
        db.fetch_all(Select::from("k_prof").filter(col("id").lte(limit as i64)))
            .await
            .unwrap();
    }
    let report = profiler.report();
    assert_eq!(report.count(), 6, "{d}:\n{report}");
    let insert = report
        .statements
        .iter()
        .find(|s| s.statement.starts_with("INSERT"))
        .expect("the inserts, as one statement");
    assert_eq!(
        (insert.count, insert.errors, insert.rows),
        (4, 1, 3),
        "{d}:\n{report}"
    );
    let select = report
        .statements
        .iter()
        .find(|s| s.statement.starts_with("SELECT"))
        .expect("the reads, as one statement");
    assert_eq!((select.count, select.rows), (2, 3), "{d}:\n{report}");
    for s in &report.statements {
        assert!(
            s.p50 <= s.p95 && s.p95 <= s.max && s.max <= s.total,
            "{d}: {s:?}"
        );
        assert_eq!(s.total, s.plugin_time + s.database_time, "{d}: {s:?}");
        assert!(s.database_time > Duration::ZERO, "{d}");
        assert!(!s.slowest.is_empty() && s.slowest.len() <= 3, "{d}");
    }
    assert_eq!(report.total(), insert.total + select.total);
    let table = report.to_string();
    assert!(
        table.contains("p95 ms") && table.contains("6 statements"),
        "{table}"
    );

    profiler.set_enabled(false);
    db.fetch_all(Select::from("k_prof")).await.unwrap();
    assert_eq!(
        profiler.report().count(),
        6,
        "{d}: disabled records nothing"
    );
    profiler.reset();
    assert_eq!(profiler.report().count(), 0);
}

#[kysera::test(databases = "all")]
async fn an_n_plus_one_loop_is_flagged_and_a_batched_read_is_not(db: Executor) {
    let d = db.dialect();
    table(&db, "k_posts").await;
    for id in 1..=10i64 {
        db.execute(Insert::into("k_posts").set("id", id).set("n", id % 3))
            .await
            .unwrap();
    }
    let profiler = QueryProfiler::new();
    profiler.n_plus_one_threshold(5);
    let db = profiler.attach(&db);
    let ((), looped) = profiler
        .scope(async {
            for id in 1..=10i64 {
                db.fetch_all(Select::from("k_posts").filter(col("id").eq(id)))
                    .await
                    .unwrap();
            }
        })
        .await;
    assert_eq!(looped.statements, 10, "{d}");
    assert_eq!(looped.repeated.len(), 1, "{d}: {looped:?}");
    let flagged = &looped.repeated[0];
    assert_eq!(flagged.count, 10, "{d}");
    assert!(flagged.statement.contains("k_posts"), "{d}: {flagged:?}");
    let location = flagged.location.as_deref().unwrap_or_default();
    assert!(
        location.contains("debug.rs"),
        "{d}: where the loop is: {location}"
    );

    let ids: Vec<i64> = (1..=10).collect();
    let ((), batched) = profiler
        .scope(async {
            db.fetch_all(Select::from("k_posts").filter(col("id").is_in(ids)))
                .await
                .unwrap();
        })
        .await;
    assert_eq!(batched.statements, 1, "{d}");
    assert!(batched.repeated.is_empty(), "{d}: {batched:?}");
    // Outside any scope nothing is counted for N+1, but the profiler still records.
    let before = profiler.report().count();
    db.fetch_all(Select::from("k_posts")).await.unwrap();
    assert_eq!(profiler.report().count(), before + 1);
    assert_eq!(
        normalize_sql(&flagged.statement),
        flagged.statement,
        "normalising is idempotent"
    );
}

#[kysera::test(databases = "all")]
async fn explain_shows_the_plan_after_the_plugins(db: Executor) {
    let d = db.dialect();
    table(&db, "k_explain").await;
    db.raw()
        .execute_sql("CREATE INDEX k_explain_n ON k_explain (n)", vec![])
        .await
        .unwrap();
    let db = db
        .with_plugins(vec![Arc::new(NonNegative("k_explain".into()))])
        .unwrap();
    db.execute(Insert::into("k_explain").set("id", 1i64).set("n", 1i64))
        .await
        .unwrap();
    let plan = db
        .explain(Select::from("k_explain").filter(col("id").eq(1i64)))
        .await
        .unwrap_or_else(|e| panic!("{d}: {e}"));
    assert!(plan.contains("k_explain"), "{d}: {plan}");
    match d {
        // The plugin's condition is in the plan.
        Dialect::Postgres => assert!(plan.contains("n >= "), "{d}: {plan}"),
        Dialect::MySql => assert!(plan.contains("select_type: SIMPLE"), "{d}: {plan}"),
        _ => assert!(
            plan.contains("SEARCH") || plan.contains("SCAN"),
            "{d}: {plan}"
        ),
    }
    let analyzed = db
        .explain_with(
            kysera::query::Delete::from("k_explain").filter(col("id").eq(1i64)),
            ExplainOptions::default().analyze(true),
        )
        .await;
    match d {
        Dialect::Postgres => {
            let plan = analyzed.unwrap();
            assert!(plan.contains("actual time"), "{plan}");
            // It ran, and was rolled back.
            assert_eq!(db.count(Select::from("k_explain")).await.unwrap(), 1);
        }
        _ => assert!(
            matches!(analyzed, Err(Error::Unsupported { .. })),
            "{d}: {analyzed:?}"
        ),
    }
}
