//! The cache of lowered shapes (`query::shape`): random queries of every kind, lowered through
//! the cache and directly, must give the same SQL and the same bound values — a query of a shape
//! seen before binds its own values, each in its place.

use kysera::__fuzz::lower_cached_and_direct;
use kysera::Dialect;
use kysera::query::{Delete, Expr, Filter, Insert, Order, Query, Select, Update, Value, col};

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random queries whose structure comes from `shape` and whose values come from `values`:
/// two calls with the same `shape` seed give two queries of one shape.
struct Gen {
    shape: Rng,
    values: Rng,
}

impl Gen {
    fn value(&mut self) -> Value {
        let v = self.values.next();
        match self.shape.below(9) {
            0 => Value::BigInt(Some(v as i64 >> 8)),
            1 => Value::Int(Some(v as i32)),
            2 => Value::String(Some(format!("s{v:x}"))),
            3 => Value::Bool(Some(v.is_multiple_of(2))),
            4 => Value::Double(Some((v % 100_000) as f64 / 7.0)),
            5 => Value::Uuid(Some(uuid::Uuid::from_u64_pair(v, v.rotate_left(7)))),
            6 => Value::SmallInt(Some(v as i16)),
            7 => Value::Bytes(Some(v.to_le_bytes().to_vec())),
            _ => Value::ChronoDate(chrono::NaiveDate::from_num_days_from_ce_opt(
                700_000 + (v % 20_000) as i32,
            )),
        }
    }
    fn column(&mut self) -> Expr {
        let names = ["a", "b", "t.c", "d"];
        col(names[self.shape.below(4) as usize])
    }
    fn filter(&mut self, depth: u32) -> Filter {
        match self.shape.below(if depth > 2 { 5 } else { 9 }) {
            0 => {
                let v = self.value();
                self.column().eq(v)
            }
            1 => {
                let v = self.value();
                self.column().gt(v)
            }
            2 => {
                let n = self.shape.below(4);
                let c = self.column();
                c.is_in((0..n).map(|_| self.value()).collect::<Vec<_>>())
            }
            3 => {
                let chars = ['a', '%', '_', '\\', 'b'];
                let n = self.shape.below(4) + 1;
                let p: String = (0..n)
                    .map(|_| chars[(self.values.next() % 5) as usize])
                    .collect();
                self.column().like(p)
            }
            4 => self.column().is_null(),
            5 => Filter::And(
                (0..self.shape.below(3) + 1)
                    .map(|_| self.filter(depth + 1))
                    .collect(),
            ),
            6 => Filter::Or(
                (0..self.shape.below(3) + 1)
                    .map(|_| self.filter(depth + 1))
                    .collect(),
            ),
            7 if self.shape.below(2) == 0 => !self.filter(depth + 1),
            // A deny policy's form, with its own TRUE / FALSE: never bound, so never confused
            // with the query's booleans.
            7 => {
                let deny = col("flag")
                    .eq(self.values.next().is_multiple_of(2))
                    .is_not_true();
                let v = self.values.next() % 2 == 1;
                Filter::And(vec![deny, col("other").eq(v)])
            }
            _ => Filter::Identical {
                left: self.column(),
                right: Expr::Value(Value::String(Some(format!("x{}", self.values.next())))),
            },
        }
    }
    fn query(&mut self) -> Query {
        match self.shape.below(4) {
            0 | 1 => {
                let mut s = Select::from("t").columns([col("a"), col("b")]);
                if self.shape.below(2) == 0 {
                    s = s.filter(self.filter(0));
                }
                if self.shape.below(2) == 0 {
                    s = s
                        .order_by(col("a"), Order::Desc)
                        .limit(1 + self.shape.below(50));
                }
                if self.shape.below(3) == 0 {
                    s = s.offset(self.values.below(1_000));
                }
                s.into()
            }
            2 => {
                let v = self.value();
                let w = self.value();
                Insert::into("t").columns(["a", "b"]).values([v, w]).into()
            }
            _ => {
                if self.shape.below(2) == 0 {
                    let v = self.value();
                    Update::table("t").set("a", v).filter(self.filter(0)).into()
                } else {
                    Delete::from("t").filter(self.filter(0)).into()
                }
            }
        }
    }
}

#[test]
fn a_kept_shape_binds_each_query_its_own_values() {
    let before = lower_cached_and_direct(&Select::from("t").into(), Dialect::Sqlite).2;
    for seed in 1..400u64 {
        for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            for round in 0..3u64 {
                let mut g = Gen {
                    shape: Rng(seed * 0x9E37_79B9),
                    values: Rng(seed * 31 + round * 7919 + 1),
                };
                let q = g.query();
                match lower_cached_and_direct(&q, dialect) {
                    (Ok(c), Ok(d), _) => assert_eq!(c, d, "seed {seed} round {round} {dialect}"),
                    (Err(_), Err(_), _) => {}
                    (c, d, _) => panic!("seed {seed} round {round} {dialect}: {c:?} / {d:?}"),
                }
            }
        }
    }
    // Most shapes were served from the cache in their second and third rounds.
    let after = lower_cached_and_direct(&Select::from("t").into(), Dialect::Sqlite).2;
    assert!(after - before > 1_000, "{} hits", after - before);
}

#[test]
fn equal_values_do_not_fix_a_shape_and_long_lists_go_uncached() {
    // First seen with equal values: not kept; then with distinct ones: each in its place.
    let q = |a: i64, b: i64| -> Query {
        Select::from("eq_t")
            .filter(col("x").eq(a).and(col("y").eq(b)))
            .into()
    };
    for (a, b) in [(5, 5), (1, 2), (2, 1), (7, 7), (3, 4)] {
        let (c, d, _) = lower_cached_and_direct(&q(a, b), Dialect::Sqlite);
        assert_eq!(c.unwrap(), d.unwrap());
    }
    // Long lists are written inline from their values: the two agree whatever the values.
    for n in [0i64, 1] {
        let long: Query = Select::from("t")
            .filter(col("x").is_in((n..n + 1_500).collect::<Vec<_>>()))
            .into();
        let (c, d, _) = lower_cached_and_direct(&long, Dialect::Postgres);
        assert_eq!(c.unwrap(), d.unwrap());
    }
}
