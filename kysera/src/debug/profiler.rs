//! `QueryProfiler`: every statement of the executors it is attached to, grouped by normalised
//! SQL, with counts, times (plugins against the database) and percentiles; and N+1 detection
//! within a scope.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::format::normalize_sql;
use crate::executor::{Executor, QueryObserver, StatementEvent};

/// Samples kept per statement for its percentiles (beyond that, a uniform sample of them).
const SAMPLES: usize = 10_000;
/// Slowest examples kept per statement.
const EXAMPLES: usize = 3;

/// Records the statements of the executors it is [attached](Self::attach) to and reports them
/// per normalised statement ([`normalize_sql`]): count, total, mean, p50, p95, max, rows,
/// plugin time against database time, and the slowest examples. Resettable, can be turned off
/// (an attached, disabled profiler costs one atomic load per statement), printable as a table.
///
/// Within a [`scope`](Self::scope) (a request, a task) it also flags N+1 patterns: the same
/// statement run more than [`n_plus_one_threshold`](Self::n_plus_one_threshold) times, with
/// where it was first run from when a backtrace can say.
///
/// ```no_run
/// use kysera::debug::QueryProfiler;
/// # async fn f(db: kysera::Executor) -> kysera::Result<()> {
/// let profiler = QueryProfiler::new();
/// let db = profiler.attach(&db);
/// db.raw().fetch_all_sql("SELECT 1", vec![]).await?;
/// println!("{}", profiler.report());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct QueryProfiler {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: AtomicBool,
    threshold: AtomicU64,
    stats: Mutex<HashMap<String, Acc>>,
}

/// What one statement has added up to.
#[derive(Default)]
struct Acc {
    count: u64,
    errors: u64,
    rows: u64,
    total: Duration,
    plugin: Duration,
    database: Duration,
    max: Duration,
    samples: Vec<Duration>,
    slowest: Vec<Example>,
}

/// One run of a statement.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Example {
    /// The SQL as it ran.
    pub sql: String,
    /// How long it took (plugins and database).
    pub duration: Duration,
    /// The rows it returned or changed.
    pub rows: Option<u64>,
}

/// One statement's figures in a [`ProfileReport`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StatementStats {
    /// The normalised statement.
    pub statement: String,
    /// How many times it ran.
    pub count: u64,
    /// How many of those failed.
    pub errors: u64,
    /// Rows returned or changed, in all.
    pub rows: u64,
    /// Time in all (plugins and database).
    pub total: Duration,
    /// Of which in the plugins' interceptors.
    pub plugin_time: Duration,
    /// Of which asking for a connection and running it.
    pub database_time: Duration,
    /// Mean time per run.
    pub mean: Duration,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// Slowest run.
    pub max: Duration,
    /// The slowest runs, slowest first.
    pub slowest: Vec<Example>,
}

/// A [`QueryProfiler`]'s figures, statements by total time, largest first. Its `Display` is a
/// table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProfileReport {
    /// One entry per normalised statement.
    pub statements: Vec<StatementStats>,
}

impl ProfileReport {
    /// Statements run, in all.
    pub fn count(&self) -> u64 {
        self.statements.iter().map(|s| s.count).sum()
    }
    /// Time in all.
    pub fn total(&self) -> Duration {
        self.statements.iter().map(|s| s.total).sum()
    }
    /// The figures of one normalised statement, if it ran.
    pub fn statement(&self, normalised: &str) -> Option<&StatementStats> {
        self.statements.iter().find(|s| s.statement == normalised)
    }
}

/// A statement run more times than the threshold within one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NPlusOne {
    /// The normalised statement.
    pub statement: String,
    /// How many times it ran in the scope.
    pub count: u64,
    /// Where it was first run from (`function at file:line`), when a backtrace can say.
    pub location: Option<String>,
}

/// What ran within one [`QueryProfiler::scope`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ScopeReport {
    /// Statements run in the scope.
    pub statements: u64,
    /// Statements run more often than the threshold: likely N+1 loops to batch.
    pub repeated: Vec<NPlusOne>,
}

/// The N+1 counts of one scope.
struct ScopeState {
    profiler: usize,
    seen: Mutex<HashMap<String, (u64, Option<std::backtrace::Backtrace>)>>,
    statements: AtomicU64,
}

tokio::task_local! {
    static SCOPE: Arc<ScopeState>;
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Default for QueryProfiler {
    fn default() -> Self {
        QueryProfiler::new()
    }
}

impl fmt::Debug for QueryProfiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryProfiler")
            .field("enabled", &self.is_enabled())
            .field("statements", &lock(&self.inner.stats).len())
            .finish()
    }
}

impl QueryProfiler {
    /// An empty, enabled profiler; N+1 threshold 5.
    pub fn new() -> Self {
        QueryProfiler {
            inner: Arc::new(Inner {
                enabled: AtomicBool::new(true),
                threshold: AtomicU64::new(5),
                stats: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A new executor over `db` whose statements this profiler records.
    pub fn attach(&self, db: &Executor) -> Executor {
        db.with_observer(Arc::new(self.clone()))
    }

    /// Turns recording on or off (what was recorded stays).
    pub fn set_enabled(&self, on: bool) {
        self.inner.enabled.store(on, Ordering::Relaxed);
    }

    /// Whether it records.
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::Relaxed)
    }

    /// Sets how many runs of one statement a scope allows before flagging it (5).
    pub fn n_plus_one_threshold(&self, n: u64) -> &Self {
        self.inner.threshold.store(n, Ordering::Relaxed);
        self
    }

    /// Forgets everything recorded.
    pub fn reset(&self) {
        lock(&self.inner.stats).clear();
    }

    /// The figures so far.
    pub fn report(&self) -> ProfileReport {
        let stats = lock(&self.inner.stats);
        let mut statements: Vec<StatementStats> = stats
            .iter()
            .map(|(statement, a)| {
                let mut sorted = a.samples.clone();
                sorted.sort_unstable();
                StatementStats {
                    statement: statement.clone(),
                    count: a.count,
                    errors: a.errors,
                    rows: a.rows,
                    total: a.total,
                    plugin_time: a.plugin,
                    database_time: a.database,
                    mean: a.total / (a.count.max(1) as u32),
                    p50: percentile(&sorted, 50),
                    p95: percentile(&sorted, 95),
                    max: a.max,
                    slowest: a.slowest.clone(),
                }
            })
            .collect();
        statements.sort_by(|a, b| b.total.cmp(&a.total).then(a.statement.cmp(&b.statement)));
        ProfileReport { statements }
    }

    /// Runs `work` as one scope (a request, a task): statements it runs, on executors this
    /// profiler is attached to, are counted per normalised statement, and those run more than
    /// the threshold are reported (and logged at `warn`, target `kysera::debug`, as they cross
    /// it). Statements of tasks `work` spawns are not in the scope.
    pub async fn scope<F: Future>(&self, work: F) -> (F::Output, ScopeReport) {
        let state = Arc::new(ScopeState {
            profiler: Arc::as_ptr(&self.inner) as usize,
            seen: Mutex::new(HashMap::new()),
            statements: AtomicU64::new(0),
        });
        let out = SCOPE.scope(state.clone(), work).await;
        let threshold = self.inner.threshold.load(Ordering::Relaxed);
        let mut repeated: Vec<NPlusOne> = lock(&state.seen)
            .iter()
            .filter(|(_, (n, _))| *n > threshold)
            .map(|(statement, (count, trace))| NPlusOne {
                statement: statement.clone(),
                count: *count,
                location: trace.as_ref().and_then(caller),
            })
            .collect();
        repeated.sort_by(|a, b| b.count.cmp(&a.count).then(a.statement.cmp(&b.statement)));
        let report = ScopeReport {
            statements: state.statements.load(Ordering::Relaxed),
            repeated,
        };
        (out, report)
    }

    fn count_in_scope(&self, statement: &str) {
        let me = Arc::as_ptr(&self.inner) as usize;
        let Ok(state) = SCOPE.try_with(|s| s.clone()) else {
            return;
        };
        if state.profiler != me {
            return;
        }
        state.statements.fetch_add(1, Ordering::Relaxed);
        let threshold = self.inner.threshold.load(Ordering::Relaxed);
        let mut seen = lock(&state.seen);
        let entry = seen.entry(statement.to_string()).or_insert_with(|| {
            // Where the first run came from: resolved only if the statement is flagged.
            (0, Some(std::backtrace::Backtrace::force_capture()))
        });
        entry.0 += 1;
        if entry.0 == threshold + 1 {
            let location = entry.1.as_ref().and_then(caller);
            tracing::warn!(target: "kysera::debug", statement, count = entry.0, location = location.as_deref().unwrap_or("unknown"),
                "N+1: the same statement ran more than {threshold} times in one scope; batch it");
        }
    }
}

impl QueryObserver for QueryProfiler {
    fn on_statement(&self, e: &StatementEvent<'_>) {
        if !self.is_enabled() {
            return;
        }
        let statement = normalize_sql(e.sql);
        let took = e.plugin_time + e.database_time;
        self.count_in_scope(&statement);
        let mut stats = lock(&self.inner.stats);
        let a = stats.entry(statement).or_default();
        a.count += 1;
        a.errors += e.error.is_some() as u64;
        a.rows += e.rows.unwrap_or(0);
        a.total += took;
        a.plugin += e.plugin_time;
        a.database += e.database_time;
        a.max = a.max.max(took);
        if a.samples.len() < SAMPLES {
            a.samples.push(took);
        } else {
            // Reservoir sampling: every run so far equally likely to be kept.
            let r = (uuid::Uuid::new_v4().as_u128() % a.count as u128) as usize;
            if r < SAMPLES {
                a.samples[r] = took;
            }
        }
        if a.slowest.len() < EXAMPLES || a.slowest.last().is_some_and(|s| s.duration < took) {
            a.slowest.push(Example {
                sql: e.sql.to_string(),
                duration: took,
                rows: e.rows,
            });
            a.slowest.sort_by_key(|x| std::cmp::Reverse(x.duration));
            a.slowest.truncate(EXAMPLES);
        }
    }
}

/// The nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// The first frame of a backtrace outside this library, its runtime and the standard library:
/// `function at file:line`.
fn caller(trace: &std::backtrace::Backtrace) -> Option<String> {
    const SKIP: &[&str] = &[
        "kysera::",
        "<kysera::",
        "tokio::",
        "<tokio::",
        "std::",
        "<std::",
        "core::",
        "<core::",
        "alloc::",
        "<alloc::",
        "futures",
        "<futures",
        "tracing::",
        "<tracing::",
        "sqlx",
        "<sqlx",
        "__rust",
        "rust_begin",
        "<F as ",
        "<&",
        "<Box<",
        "<alloc",
        "<core",
    ];
    let text = trace.to_string();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((_, symbol)) = line.trim_start().split_once(": ") else {
            continue;
        };
        if !line.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let at = lines
            .peek()
            .map(|l| l.trim_start())
            .filter(|l| l.starts_with("at "))
            .map(|l| l.trim_start_matches("at ").to_string());
        if SKIP.iter().any(|s| symbol.starts_with(s)) {
            continue;
        }
        return Some(match at {
            Some(at) => format!("{} at {at}", symbol.trim_end_matches("::{{closure}}")),
            None => symbol.trim_end_matches("::{{closure}}").to_string(),
        });
    }
    None
}

impl fmt::Display for ProfileReport {
    /// A table: one row per statement, largest total first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1000.0);
        let header = [
            "count",
            "total ms",
            "mean ms",
            "p50 ms",
            "p95 ms",
            "max ms",
            "plugins ms",
            "db ms",
            "rows",
        ];
        let rows: Vec<[String; 9]> = self
            .statements
            .iter()
            .map(|s| {
                [
                    s.count.to_string(),
                    ms(s.total),
                    ms(s.mean),
                    ms(s.p50),
                    ms(s.p95),
                    ms(s.max),
                    ms(s.plugin_time),
                    ms(s.database_time),
                    s.rows.to_string(),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.len());
            }
        }
        for (w, h) in widths.iter().zip(header) {
            write!(f, "{h:>w$}  ")?;
        }
        writeln!(f, "statement")?;
        for (r, s) in rows.iter().zip(&self.statements) {
            for (w, c) in widths.iter().zip(r) {
                write!(f, "{c:>w$}  ")?;
            }
            let mut text: String = s.statement.chars().take(100).collect();
            if s.statement.chars().count() > 100 {
                text.push('…');
            }
            writeln!(f, "{text}")?;
        }
        write!(
            f,
            "{} statements, {} ms in all",
            self.count(),
            ms(self.total())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let s: Vec<Duration> = (1..=20).map(Duration::from_millis).collect();
        assert_eq!(percentile(&s, 50), Duration::from_millis(10));
        assert_eq!(percentile(&s, 95), Duration::from_millis(19));
        assert_eq!(percentile(&s[..1], 95), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }
}
