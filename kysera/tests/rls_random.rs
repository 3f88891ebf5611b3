//! Custom row-level policies against an oracle, on every database: generated policies (allow
//! and deny conditions over an integer, a text and a nullable column, with and/or/not, every
//! comparison, LIKE, IN with NULLs, NULL tests) are applied to generated rows and writes, and
//! what the library lets through, returns and changes is compared with the same policy
//! evaluated here in SQL's three-valued logic — reads, inserts (the new row), updates (the old
//! row to be touched, the new row to be kept) and deletes.

#[macro_use]
mod common;

use common::oracle::{Row, n_value, s_value, truth};

use std::collections::BTreeMap;
use std::sync::Arc;

use kysera::query::{CmpOp, Delete, Filter, Insert, Operation, Select, Update, col};
use kysera::rls::{self, Access, AuthContext, Policy, Rls, RlsSchema};
use kysera::{Error, Executor, Value};

/// A small deterministic generator (xorshift), so a failure can be replayed from its seed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
}

const NS: [Option<i64>; 6] = [None, Some(-1), Some(0), Some(1), Some(5), Some(100)];
const SS: [Option<&str>; 5] = [None, Some("a"), Some("b"), Some("ab"), Some("ba")];
const PATTERNS: [&str; 4] = ["a%", "%b", "_b", "%"];

fn gen_row(g: &mut Gen) -> Row {
    Row {
        n: g.pick(&NS),
        s: g.pick(&SS).map(str::to_string),
        k: g.below(3) as i64,
    }
}

/// A random condition over `n`, `s` and `k`.
fn gen_cond(g: &mut Gen, depth: u32) -> Filter {
    if depth > 0 && g.below(3) == 0 {
        let a = gen_cond(g, depth - 1);
        let b = gen_cond(g, depth - 1);
        return match g.below(3) {
            0 => a.and(b),
            1 => a.or(b),
            _ => !a,
        };
    }
    let ops = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Lte,
        CmpOp::Gt,
        CmpOp::Gte,
    ];
    match g.below(8) {
        0 | 1 => col("n").compare(g.pick(&ops), kysera::query::val(g.pick(&NS[1..]).unwrap())),
        2 => col("k").compare(g.pick(&ops), kysera::query::val(g.below(3) as i64)),
        3 => {
            let s = g.pick(&SS[1..]).unwrap();
            if g.below(2) == 0 {
                col("s").eq(s)
            } else {
                col("s").ne(s)
            }
        }
        4 => {
            let p = g.pick(&PATTERNS);
            if g.below(2) == 0 {
                col("s").like(p)
            } else {
                col("s").not_like(p)
            }
        }
        5 => {
            let list: Vec<Value> = (0..1 + g.below(3)).map(|_| n_value(g.pick(&NS))).collect();
            if g.below(2) == 0 {
                col("n").is_in(list)
            } else {
                col("n").not_in(list)
            }
        }
        6 => {
            if g.below(2) == 0 {
                col("n").is_null()
            } else {
                col("n").is_not_null()
            }
        }
        _ => {
            if g.below(2) == 0 {
                col("s").is_null()
            } else {
                col("s").is_not_null()
            }
        }
    }
}

/// One operation's policy: an allow condition (`None`: allowed everywhere) and a deny one.
#[derive(Debug, Clone)]
struct OpPolicy {
    allow: Option<Filter>,
    deny: Option<Filter>,
}

impl OpPolicy {
    /// Whether a row is one this operation may see / write: allowed (true) and not denied
    /// (its deny condition is not true — a NULL does not deny).
    fn admits(&self, row: &Row) -> bool {
        let allowed = self
            .allow
            .as_ref()
            .is_none_or(|a| truth(a, row) == Some(true));
        let denied = self
            .deny
            .as_ref()
            .is_some_and(|d| truth(d, row) == Some(true));
        allowed && !denied
    }
}

fn gen_policy(g: &mut Gen) -> OpPolicy {
    OpPolicy {
        allow: (g.below(4) != 0).then(|| gen_cond(g, 2)),
        deny: (g.below(2) == 0).then(|| gen_cond(g, 1)),
    }
}

fn schema(table: &str, policies: &BTreeMap<&'static str, (Operation, OpPolicy)>) -> RlsSchema {
    let mut schema = RlsSchema::new();
    for (op, p) in policies.values() {
        let allow = p.allow.clone();
        schema = schema.policy(
            table,
            Policy::allow([*op], move |_| match &allow {
                Some(c) => Access::Where(c.clone()),
                None => Access::Yes,
            }),
        );
        if let Some(d) = p.deny.clone() {
            schema = schema.policy(
                table,
                Policy::deny([*op], move |_| Access::Where(d.clone())),
            );
        }
    }
    schema
}

async fn stored(plain: &Executor, table: &str) -> BTreeMap<i64, Row> {
    let rows = plain.raw().fetch_all(Select::from(table)).await.unwrap();
    rows.iter()
        .map(|r| {
            (
                r.get::<i64>("id").unwrap(),
                Row {
                    n: r.get("n").unwrap(),
                    s: r.get("s").unwrap(),
                    k: r.get("k").unwrap(),
                },
            )
        })
        .collect()
}

async fn reset(plain: &Executor, table: &str, rows: &[Row]) {
    plain.raw().execute(Delete::from(table)).await.unwrap();
    for (i, r) in rows.iter().enumerate() {
        plain
            .raw()
            .execute(
                Insert::into(table)
                    .set("id", (i + 1) as i64)
                    .set("n", n_value(r.n))
                    .set("s", s_value(&r.s))
                    .set("k", r.k),
            )
            .await
            .unwrap();
    }
}

fn refused<T: std::fmt::Debug>(res: &kysera::Result<T>) -> bool {
    match res {
        Err(Error::AccessDenied { .. }) => true,
        Ok(_) => false,
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

per_database! {
    async fn generated_policies_match_the_three_valued_oracle(plain) {
        let d = plain.dialect();
        let table = common::table("rrand");
        common::ddl(
            &plain,
            &format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, n BIGINT NULL, s VARCHAR(10) NULL, k BIGINT NOT NULL)"),
        )
        .await;
        let ctx = AuthContext::user("u");
        let rounds: u64 = 60;
        for seed in 1..=rounds {
            let mut g = Gen(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
            let rows: Vec<Row> = (0..6).map(|_| gen_row(&mut g)).collect();
            let mut policies = BTreeMap::new();
            policies.insert("select", (Operation::Select, gen_policy(&mut g)));
            policies.insert("insert", (Operation::Insert, gen_policy(&mut g)));
            policies.insert("update", (Operation::Update, gen_policy(&mut g)));
            policies.insert("delete", (Operation::Delete, gen_policy(&mut g)));
            let db = plain
                .with_plugins(vec![Arc::new(Rls::new(schema(&table, &policies)))])
                .unwrap();
            let what = |op: &str| format!("{d} seed {seed} {op}: {:?}", policies[op].1);

            // Reads.
            reset(&plain, &table, &rows).await;
            let seen = rls::with_context(ctx.clone(), db.fetch_all(Select::from(&table)))
                .await
                .unwrap();
            let mut seen: Vec<i64> = seen.iter().map(|r| r.get::<i64>("id").unwrap()).collect();
            seen.sort();
            let expected: Vec<i64> = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| policies["select"].1.admits(r))
                .map(|(i, _)| i as i64 + 1)
                .collect();
            assert_eq!(seen, expected, "{}", what("select"));

            // An insert: allowed exactly when the new row is admitted.
            let new = gen_row(&mut g);
            // Half the rounds declare the key: the rows are then checked as stored, after the
            // write; the others before it.
            let keyed = seed % 2 == 0;
            let mut ins = Insert::into(&table);
            if keyed {
                ins = ins.primary_key(["id"]);
            }
            let ins = ins
                .set("id", 100i64)
                .set("n", n_value(new.n))
                .set("s", s_value(&new.s))
                .set("k", new.k);
            let res = rls::with_context(ctx.clone(), db.execute(ins)).await;
            let admitted = policies["insert"].1.admits(&new);
            assert_eq!(!refused(&res), admitted, "{} row {new:?}", what("insert"));
            let after = stored(&plain, &table).await;
            assert_eq!(after.get(&100), admitted.then_some(&new), "{}", what("insert"));

            // An update of one row: it touches the row only when the old row is admitted, and
            // is refused (changing nothing) when the new row is not.
            reset(&plain, &table, &rows).await;
            let target = g.below(rows.len() as u64) as usize;
            let mut changed = rows[target].clone();
            let mut upd = Update::table(&table).filter(col("id").eq(target as i64 + 1));
            if keyed {
                upd = upd.primary_key(["id"]);
            }
            match g.below(3) {
                0 => {
                    changed.n = g.pick(&NS);
                    upd = upd.set("n", n_value(changed.n));
                }
                1 => {
                    changed.s = g.pick(&SS).map(str::to_string);
                    upd = upd.set("s", s_value(&changed.s));
                }
                _ => {
                    changed.k = g.below(3) as i64;
                    changed.n = g.pick(&NS);
                    upd = upd.set("k", changed.k).set("n", n_value(changed.n));
                }
            }
            let res = rls::with_context(ctx.clone(), db.execute(upd)).await;
            let policy = &policies["update"].1;
            let touched = policy.admits(&rows[target]);
            let refuse = touched && !policy.admits(&changed);
            assert_eq!(
                refused(&res),
                refuse,
                "{} old {:?} new {changed:?}",
                what("update"),
                rows[target]
            );
            let mut expected: BTreeMap<i64, Row> =
                rows.iter().cloned().enumerate().map(|(i, r)| (i as i64 + 1, r)).collect();
            if touched && !refuse {
                expected.insert(target as i64 + 1, changed.clone());
            }
            assert_eq!(stored(&plain, &table).await, expected, "{}", what("update"));

            // A delete of every row: exactly the admitted ones go.
            let res = rls::with_context(ctx.clone(), db.execute(Delete::from(&table).filter(col("k").gte(0i64))))
                .await;
            let admitted: Vec<i64> = expected
                .iter()
                .filter(|(_, r)| policies["delete"].1.admits(r))
                .map(|(id, _)| *id)
                .collect();
            assert!(!refused(&res), "{}", what("delete"));
            assert_eq!(res.unwrap(), admitted.len() as u64, "{}", what("delete"));
            let left = stored(&plain, &table).await;
            assert!(admitted.iter().all(|id| !left.contains_key(id)), "{}", what("delete"));
            assert_eq!(left.len(), expected.len() - admitted.len(), "{}", what("delete"));
        }
        common::drop_tables(&plain, &[&table]).await;
    }
}
