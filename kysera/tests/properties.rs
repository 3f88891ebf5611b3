//! Property tests (proptest), bounded in time for CI: random condition trees lowered and run on
//! SQLite against an evaluation of the same condition in Rust (three-valued logic), cursor walks
//! over random rows and orders (integers, floats with infinities and ties, text), and the
//! validation rules against their definitions. `PROPTEST_CASES=10000 cargo test --test
//! properties` runs them longer.

#[allow(unused_macros)]
mod common;

use common::oracle::{Row, n_value, s_value, truth};
use kysera::query::{CmpOp, Filter, Insert, Select, col, val};
use kysera::validation::{ValidationErrors, check_email, check_length, check_range};
use kysera::{Executor, Model, Repository, Value};
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn row() -> impl Strategy<Value = Row> {
    (
        proptest::option::of(-3i64..4),
        proptest::option::of(prop::sample::select(vec!["a", "b", "ab", "ba", "A", "a%"])),
        0i64..3,
    )
        .prop_map(|(n, s, k)| Row {
            n,
            s: s.map(str::to_string),
            k,
        })
}

fn op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Lte,
        CmpOp::Gt,
        CmpOp::Gte,
    ])
}

fn atom() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (op(), -3i64..4).prop_map(|(o, v)| col("n").compare(o, val(v))),
        (op(), 0i64..3).prop_map(|(o, v)| col("k").compare(o, val(v))),
        (prop::sample::select(vec!["a", "b", "ab"]), any::<bool>()).prop_map(|(s, eq)| if eq {
            col("s").eq(s)
        } else {
            col("s").ne(s)
        }),
        (
            prop::sample::select(vec!["a%", "%b", "_b", "%", "a"]),
            any::<bool>()
        )
            .prop_map(|(p, yes)| if yes {
                col("s").like(p)
            } else {
                col("s").not_like(p)
            }),
        (
            prop::collection::vec(proptest::option::of(-3i64..4), 0..4),
            any::<bool>()
        )
            .prop_map(|(vs, yes)| {
                let vs: Vec<Value> = vs.into_iter().map(n_value).collect();
                if yes {
                    col("n").is_in(vs)
                } else {
                    col("n").not_in(vs)
                }
            }),
        any::<bool>().prop_map(|yes| if yes {
            col("n").is_null()
        } else {
            col("s").is_not_null()
        }),
    ]
}

fn condition() -> impl Strategy<Value = Filter> {
    atom().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Filter::Or),
            inner.prop_map(|f| !f),
        ]
    })
}

/// Case-sensitive LIKE on SQLite, so the oracle's byte semantics hold for "A".
async fn table(db: &Executor, rows: &[Row]) -> String {
    let t = common::table("prop");
    common::ddl(
        db,
        &format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, n BIGINT, s TEXT, k BIGINT NOT NULL)"),
    )
    .await;
    db.raw()
        .execute_sql("PRAGMA case_sensitive_like = ON", vec![])
        .await
        .unwrap();
    for (i, r) in rows.iter().enumerate() {
        db.execute(
            Insert::into(&t)
                .set("id", i as i64)
                .set("n", n_value(r.n))
                .set("s", s_value(&r.s))
                .set("k", r.k),
        )
        .await
        .unwrap();
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(128)
    ))]

    /// Lowering: the rows SQLite returns for a random condition are the rows where it is true.
    #[test]
    fn conditions_select_the_rows_they_mean(
        rows in prop::collection::vec(row(), 0..12),
        f in condition(),
    ) {
        let rt = runtime();
        rt.block_on(async {
            let db = common::sqlite().await;
            let t = table(&db, &rows).await;
            let got = db.fetch_all(Select::from(&t).filter(f.clone())).await.unwrap();
            let mut got: Vec<i64> = got.iter().map(|r| r.get("id").unwrap()).collect();
            got.sort();
            let want: Vec<i64> = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| truth(&f, r) == Some(true))
                .map(|(i, _)| i as i64)
                .collect();
            prop_assert_eq!(got, want);
            // Negation with IS NOT TRUE selects exactly the others.
            let rest = db.count(Select::from(&t).filter(f.clone().is_not_true())).await.unwrap();
            prop_assert_eq!(rest as usize, rows.len() - rows.iter().filter(|r| truth(&f, r) == Some(true)).count());
            Ok(())
        })?;
    }

    /// Validation: `length` counts characters, `range` admits exactly the finite values within
    /// its bounds, `email` wants one `@`, a local part and a dotted domain without spaces.
    #[test]
    fn validation_rules_match_their_definitions(
        s in ".{0,12}",
        x in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
        lo in -10.0f64..10.0,
        span in 0.0f64..10.0,
    ) {
        let mut e = ValidationErrors::default();
        check_length(&mut e, "s", &s, Some(2), Some(6));
        let n = s.chars().count();
        prop_assert_eq!(e.fields().is_empty(), (2..=6).contains(&n));

        let mut e = ValidationErrors::default();
        check_range(&mut e, "x", &x, Some(lo), Some(lo + span));
        prop_assert_eq!(e.fields().is_empty(), x.is_finite() && x >= lo && x <= lo + span);

        let mut e = ValidationErrors::default();
        check_email(&mut e, "e", &s.as_str());
        let valid = match s.split_once('@') {
            Some((l, dom)) => !l.is_empty() && !dom.contains('@') && dom.contains('.')
                && !dom.starts_with('.') && !dom.ends_with('.') && !s.chars().any(char::is_whitespace),
            None => false,
        };
        prop_assert_eq!(e.fields().is_empty(), valid);
    }
}

#[derive(Debug, Clone, PartialEq, Repository)]
#[kysera(table = "k_prop_points")]
struct Point {
    #[kysera(assigned)]
    id: i64,
    a: i64,
    f: f64,
    s: String,
    t: chrono::NaiveDateTime,
    u: uuid::Uuid,
    b: bool,
}

fn when(minute: u32) -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 28)
        .unwrap()
        .and_hms_micro_opt(1, minute, 0, minute * 7)
        .unwrap()
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-3i32..4).prop_map(f64::from),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.1),
        Just(1e300),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48)
    ))]

    /// Cursor walks: every row exactly once, in order, whatever the page size, the order terms
    /// and their directions, over ties, infinities, text, timestamps, UUIDs and booleans.
    #[test]
    fn cursor_walks_visit_every_row_once_in_order(
        points in prop::collection::vec(
            (0i64..3, float(), prop::sample::select(vec!["a", "b", "B", "ab", "", "é", "☃", "e\u{301}", "𝄞"]), 0u32..3, 0u8..3, any::<bool>()),
            0..15,
        ),
        terms in prop::collection::vec((0usize..6, any::<bool>()), 1..3),
        page in prop_oneof![1u64..5, 5u64..=100],
    ) {
        let rt = runtime();
        rt.block_on(async {
            let db = common::sqlite().await;
            common::ddl(&db, &format!("CREATE TABLE {} (id INTEGER PRIMARY KEY, a BIGINT NOT NULL, f DOUBLE NOT NULL, s TEXT NOT NULL, t TEXT NOT NULL, u BLOB NOT NULL, b BOOLEAN NOT NULL)", Point::INFO.table)).await;
            let repo = Point::repo(&db);
            let rows: Vec<Point> = points
                .iter()
                .enumerate()
                .map(|(i, (a, f, s, t, u, b))| Point {
                    id: i as i64,
                    a: *a,
                    f: *f,
                    s: s.to_string(),
                    t: when(*t),
                    u: uuid::Uuid::from_bytes([*u; 16]),
                    b: *b,
                })
                .collect();
            for p in &rows {
                repo.create(NewPoint { id: p.id, a: p.a, f: p.f, s: p.s.clone(), t: p.t, u: p.u, b: p.b })
                    .await
                    .unwrap();
            }
            let mut find = repo.find();
            for (column, desc) in &terms {
                find = find.order_by(match (column, desc) {
                    (0, false) => Point::A.asc(),
                    (0, true) => Point::A.desc(),
                    (1, false) => Point::F.asc(),
                    (1, true) => Point::F.desc(),
                    (2, false) => Point::S.asc(),
                    (2, true) => Point::S.desc(),
                    (3, false) => Point::T.asc(),
                    (3, true) => Point::T.desc(),
                    (4, false) => Point::U.asc(),
                    (4, true) => Point::U.desc(),
                    (_, false) => Point::B.asc(),
                    (_, true) => Point::B.desc(),
                });
            }
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..=rows.len() + 1 {
                let p = find.clone().cursor(page, cursor.as_deref()).await.unwrap();
                seen.extend(p.items.iter().map(|r| r.id));
                cursor = p.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            let mut want = rows.clone();
            want.sort_by(|x, y| {
                let mut o = std::cmp::Ordering::Equal;
                for (column, desc) in &terms {
                    let c = match column {
                        0 => x.a.cmp(&y.a),
                        1 => x.f.total_cmp(&y.f),
                        2 => x.s.as_bytes().cmp(y.s.as_bytes()),
                        3 => x.t.cmp(&y.t),
                        4 => x.u.cmp(&y.u),
                        _ => x.b.cmp(&y.b),
                    };
                    let c = if *desc { c.reverse() } else { c };
                    o = o.then(c);
                }
                o.then(x.id.cmp(&y.id))
            });
            let want: Vec<i64> = want.iter().map(|p| p.id).collect();
            prop_assert_eq!(seen, want);
            Ok(())
        })?;
    }
}
