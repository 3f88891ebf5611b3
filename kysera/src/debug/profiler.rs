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
/// (an attached, disabled profiler costs a flag check per statement: its executor then
/// prepares no event), printable as a table.
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
#[derive(Default, Clone)]
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
    /// Where it ran from (`function at file:line`; the run that crossed the threshold, in a
    /// loop the loop's call site), when a backtrace can say: debug builds name the file and
    /// line, release builds at most the function.
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
    /// Runs per statement, and where the run that crossed the threshold came from.
    seen: Mutex<HashMap<String, (u64, Option<String>)>>,
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
        // Copied under the lock, sorted after it, so statements are not held up meanwhile.
        let copied: Vec<(String, Acc)> = lock(&self.inner.stats)
            .iter()
            .map(|(k, a)| (k.clone(), a.clone()))
            .collect();
        let mut statements: Vec<StatementStats> = copied
            .into_iter()
            .map(|(statement, a)| {
                let mut sorted = a.samples;
                sorted.sort_unstable();
                StatementStats {
                    statement,
                    count: a.count,
                    errors: a.errors,
                    rows: a.rows,
                    total: a.total,
                    plugin_time: a.plugin,
                    database_time: a.database,
                    mean: Duration::from_nanos(
                        (a.total.as_nanos() / u128::from(a.count.max(1))) as u64,
                    ),
                    p50: percentile(&sorted, 50),
                    p95: percentile(&sorted, 95),
                    max: a.max,
                    slowest: a.slowest,
                }
            })
            .collect();
        statements.sort_by(|a, b| b.total.cmp(&a.total).then(a.statement.cmp(&b.statement)));
        ProfileReport { statements }
    }

    /// Runs `work` as one scope (a request, a task): statements it runs, on executors this
    /// profiler is attached to, are counted per normalised statement, and those run more than
    /// the threshold are reported (and logged at `warn`, target `kysera::debug`, as they cross
    /// it). Statements of tasks `work` spawns are not in the scope, and a scope opened inside
    /// another (of any profiler) stands in for the outer one until it ends.
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
            .map(|(statement, (count, location))| NPlusOne {
                statement: statement.clone(),
                count: *count,
                location: location.clone(),
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
        let count = {
            let mut seen = lock(&state.seen);
            let entry = seen.entry(statement.to_string()).or_insert((0, None));
            entry.0 += 1;
            entry.0
        };
        if count == threshold.saturating_add(1) {
            // The run that crosses the threshold comes from the loop's call site (a
            // backtrace only then, resolved outside the lock).
            let location = caller(&std::backtrace::Backtrace::force_capture());
            if let Some(entry) = lock(&state.seen).get_mut(statement) {
                entry.1 = location.clone();
            }
            tracing::warn!(target: "kysera::debug", statement, count, location = location.as_deref().unwrap_or("unknown"),
                "N+1: the same statement ran more than {threshold} times in one scope; batch it");
        }
    }
}

impl QueryObserver for QueryProfiler {
    fn is_active(&self) -> bool {
        self.is_enabled()
    }

    fn on_statement(&self, e: &StatementEvent<'_>) {
        if !self.is_enabled() {
            return;
        }
        let statement = normalize_sql(e.sql);
        let took = e.plugin_time + e.database_time;
        self.count_in_scope(&statement);
        let draw = cheap_random();
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
            let r = (draw % a.count) as usize;
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

/// A random number, cheaply (xorshift per thread, seeded from the clock): for sampling, not
/// for secrets.
fn cheap_random() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                | 1)
                ^ 0x9E37_79B9_7F4A_7C15,
        );
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
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
    // Frames are `N: symbol` lines; inlined ones are symbol lines without the number; each may
    // be followed by an `at file:line:column` line.
    let mut lines = text.lines().map(str::trim_start).peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("at ") {
            continue;
        }
        let symbol = match line.split_once(": ") {
            Some((n, sym)) if n.chars().all(|c| c.is_ascii_digit()) => sym,
            _ => line,
        };
        let at = lines
            .peek()
            .filter(|l| l.starts_with("at "))
            .map(|l| l.trim_start_matches("at ").to_string());
        if symbol.is_empty() || SKIP.iter().any(|s| symbol.starts_with(s)) {
            continue;
        }
        let symbol = symbol.trim_end_matches("::{{closure}}");
        return Some(match at {
            Some(at) => format!("{symbol} at {at}"),
            None => symbol.to_string(),
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
