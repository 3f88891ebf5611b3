//! Typed columns: [`Column<M, T>`] compares only with values of the field's type, `like` only on
//! text and `is_null` only on `Option`s, so a wrong comparison does not compile.

use std::fmt;
use std::marker::PhantomData;

use crate::core::error::{Error, Result};
use crate::query::{CmpOp, ColumnRef, Expr, Filter, Nullable, Order, OrderBy, Value, val};
use crate::row::{Decodable, Row};

use super::condition::Where;

/// A Rust type that can be a model field: it can be bound as a parameter and decoded from every
/// database.
///
/// Implemented for `i8`, `i16`, `i32`, `i64`, `u8`, `u16`, `u32` (not `u64`: PostgreSQL and
/// SQLite have no integer that holds it), `f32`, `f64`, `bool`, `String`, `Vec<u8>`,
/// `chrono::{NaiveDate, NaiveTime, NaiveDateTime, DateTime<Utc>}`, `uuid::Uuid`,
/// `serde_json::Value`, typed JSON (`sqlx::types::Json<T>`), `rust_decimal::Decimal` (feature
/// `rust_decimal`), `time::{Date, Time, PrimitiveDateTime, OffsetDateTime}` (feature `time`),
/// the application's own types (`#[derive(kysera::Type)]`, see
/// [`Type`](crate::Type)), and `Option` of each.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a supported column type",
    label = "unsupported column type",
    note = "help: use an integer (i8, i16, i32, i64, u8, u16, u32), f32, f64, bool, String, Vec<u8>, a chrono date/time, uuid::Uuid or serde_json::Value, or an Option of one; `#[derive(kysera::Type)]` for a newtype or an enum of your own; mark fields that are not columns #[kysera(skip)]"
)]
pub trait ColumnType:
    Decodable
    + Clone
    + PartialEq
    + fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The type values are compared with: the type itself, or `T` for `Option<T>`.
    type Compare: Into<Value>;

    // Generated code reaches every capability through `<T as ColumnType>::…`, so a field of an
    // unsupported type gives one error (`T` is not a supported column type), not one per use.

    /// The value bound as a query parameter.
    fn to_value(&self) -> Value;

    #[doc(hidden)]
    const __FAMILY: crate::row::TypeFamily = <Self as Decodable>::FAMILY;

    #[doc(hidden)]
    fn __to_value(&self) -> Value {
        self.to_value()
    }
    #[doc(hidden)]
    fn __to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
    #[doc(hidden)]
    fn __value_from_json(column: &str, v: &serde_json::Value) -> Result<Value> {
        serde_json::from_value::<Self>(v.clone())
            .map(|x| x.to_value())
            .map_err(|e| Error::InvalidQuery(format!("column `{column}`: {e}")))
    }
    #[doc(hidden)]
    fn __decode(row: &Row, column: &str) -> Result<Self> {
        row.get::<Self>(column)
    }
    #[doc(hidden)]
    fn __clone(&self) -> Self {
        self.clone()
    }
    #[doc(hidden)]
    fn __clone_opt(v: &Option<Self>) -> Option<Self> {
        v.clone()
    }
    #[doc(hidden)]
    fn __eq_opt(a: &Option<Self>, b: &Option<Self>) -> bool {
        a == b
    }
    #[doc(hidden)]
    fn __eq(&self, other: &Self) -> bool {
        self == other
    }
    #[doc(hidden)]
    fn __debug(&self) -> &dyn fmt::Debug {
        self
    }
    #[doc(hidden)]
    fn __debug_opt(v: &Option<Self>) -> &dyn fmt::Debug {
        v
    }
}

/// A column type that is not an `Option`.
pub trait NonNullColumnType: ColumnType<Compare = Self> {}

macro_rules! column_types {
    ($($t:ty),* $(,)?) => {$(
        impl ColumnType for $t {
            type Compare = $t;
            fn to_value(&self) -> Value {
                self.clone().into()
            }
        }
        impl NonNullColumnType for $t {}
    )*};
}
column_types!(
    i8,
    u8,
    u16,
    u32,
    i16,
    i32,
    i64,
    f32,
    f64,
    bool,
    String,
    Vec<u8>,
    chrono::NaiveDate,
    chrono::NaiveTime,
    chrono::NaiveDateTime,
    chrono::DateTime<chrono::Utc>,
    uuid::Uuid,
    serde_json::Value,
);

#[cfg(feature = "time")]
column_types!(
    time::Date,
    time::Time,
    time::PrimitiveDateTime,
    time::OffsetDateTime
);

/// By hand: its JSON (audit entries) is its text whatever serde features `rust_decimal` was
/// built with (`serde-float` would write a lossy number).
#[cfg(feature = "rust_decimal")]
impl ColumnType for rust_decimal::Decimal {
    type Compare = rust_decimal::Decimal;
    fn to_value(&self) -> Value {
        (*self).into()
    }
    fn __to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.to_string())
    }
    fn __value_from_json(column: &str, v: &serde_json::Value) -> Result<Value> {
        let parsed = match v {
            serde_json::Value::String(s) => s.parse().ok(),
            serde_json::Value::Number(n) => n.to_string().parse().ok(),
            _ => None,
        };
        parsed
            .map(|d: rust_decimal::Decimal| d.into())
            .ok_or_else(|| Error::InvalidQuery(format!("column `{column}`: {v} is not a decimal")))
    }
}
#[cfg(feature = "rust_decimal")]
impl NonNullColumnType for rust_decimal::Decimal {}

/// Typed JSON (`Json<Settings>`): stored as JSON (`JSONB` / `JSON` on PostgreSQL, `JSON` on
/// MySQL, text on SQLite), read back into `T`; a stored document that is not a `T` is
/// [`Error::Decode`] naming the column.
impl<T> ColumnType for sqlx::types::Json<T>
where
    T: serde::Serialize
        + serde::de::DeserializeOwned
        + Clone
        + PartialEq
        + fmt::Debug
        + Send
        + Sync
        + 'static,
{
    type Compare = sqlx::types::Json<T>;
    fn to_value(&self) -> Value {
        Value::from(self)
    }
}
impl<T> NonNullColumnType for sqlx::types::Json<T> where
    T: serde::Serialize
        + serde::de::DeserializeOwned
        + Clone
        + PartialEq
        + fmt::Debug
        + Send
        + Sync
        + 'static
{
}

impl<T> ColumnType for Option<T>
where
    T: NonNullColumnType + Nullable + Into<Value>,
    Option<T>: Decodable,
{
    type Compare = T;
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => T::null(),
        }
    }
}

/// A typed column of model `M` holding Rust type `T`: comparisons take values of `T` (or of
/// the inner type for `Option` columns), so comparing with a value of another type does not
/// compile.
///
/// ```
/// #[derive(kysera::Repository)]
/// struct User {
///     id: i64,
///     email: String,
///     age: Option<i32>,
/// }
/// let by_email = User::EMAIL.eq("ada@example.com");
/// let adults = User::AGE.gte(18).or(User::AGE.is_null()); // Option columns compare with the inner type
/// let order = User::ID.desc();
/// ```
///
/// ```compile_fail
/// # #[derive(kysera::Repository)] struct User { id: i64, email: String }
/// let wrong = User::EMAIL.eq(5); // `String: From<{integer}>` is not satisfied
/// ```
pub struct Column<M, T> {
    name: &'static str,
    table: Option<&'static str>,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for Column<M, T> {}

impl<M, T> fmt::Debug for Column<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.table {
            Some(t) => write!(f, "Column({t}.{})", self.name),
            None => write!(f, "Column({})", self.name),
        }
    }
}

impl<M, T> Column<M, T> {
    /// A column named `name` (used by generated code).
    pub const fn new(name: &'static str) -> Self {
        Column {
            name,
            table: None,
            _marker: PhantomData,
        }
    }

    /// The same column qualified by a table name or alias, for joins.
    pub const fn of(self, table: &'static str) -> Self {
        Column {
            name: self.name,
            table: Some(table),
            _marker: PhantomData,
        }
    }

    /// The column name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The column as an IR expression.
    pub fn expr(&self) -> Expr {
        Expr::Column(ColumnRef {
            table: self.table.map(str::to_string),
            column: self.name.to_string(),
        })
    }
}

impl<M, T: ColumnType> Column<M, T> {
    fn cmp(&self, op: CmpOp, v: impl Into<T::Compare>) -> Where<M> {
        Where::new(self.expr().compare(op, val(v.into())))
    }

    /// `column = value`
    pub fn eq(&self, v: impl Into<T::Compare>) -> Where<M> {
        self.cmp(CmpOp::Eq, v)
    }
    /// `column <> value`
    pub fn ne(&self, v: impl Into<T::Compare>) -> Where<M> {
        self.cmp(CmpOp::Ne, v)
    }
    /// `column < value`
    pub fn lt(&self, v: impl Into<T::Compare>) -> Where<M> {
        self.cmp(CmpOp::Lt, v)
    }
    /// `column <= value`
    pub fn lte(&self, v: impl Into<T::Compare>) -> Where<M> {
        self.cmp(CmpOp::Lte, v)
    }
    /// `column > value`
    pub fn gt(&self, v: impl Into<T::Compare>) -> Where<M> {
        self.cmp(CmpOp::Gt, v)
    }
    /// `column >= value`
    pub fn gte(&self, v: impl Into<T::Compare>) -> Where<M> {
        self.cmp(CmpOp::Gte, v)
    }
    /// `column = other` (another column, typically of a joined model): a plain [`Filter`], for
    /// the query builder's joins, since it names two models.
    pub fn eq_col<N, U: ColumnType<Compare = T::Compare>>(&self, other: Column<N, U>) -> Filter {
        self.expr().eq_col(other.expr())
    }
    /// `column IN (values…)`
    pub fn is_in<V: Into<T::Compare>>(&self, values: impl IntoIterator<Item = V>) -> Where<M> {
        Where::new(
            self.expr()
                .is_in(values.into_iter().map(|v| Into::<Value>::into(v.into()))),
        )
    }
    /// `column NOT IN (values…)`
    pub fn not_in<V: Into<T::Compare>>(&self, values: impl IntoIterator<Item = V>) -> Where<M> {
        Where::new(
            self.expr()
                .not_in(values.into_iter().map(|v| Into::<Value>::into(v.into()))),
        )
    }
    /// Ascending order on this column.
    pub fn asc(&self) -> OrderBy {
        OrderBy {
            expr: self.expr(),
            order: Order::Asc,
        }
    }
    /// Descending order on this column.
    pub fn desc(&self) -> OrderBy {
        OrderBy {
            expr: self.expr(),
            order: Order::Desc,
        }
    }
}

impl<M, T> Column<M, Option<T>> {
    /// `column IS NULL` (only on `Option` columns).
    pub fn is_null(&self) -> Where<M> {
        Where::new(self.expr().is_null())
    }
    /// `column IS NOT NULL` (only on `Option` columns).
    pub fn is_not_null(&self) -> Where<M> {
        Where::new(self.expr().is_not_null())
    }
}

/// Text columns: `String`, own types stored as `String` ([`Type`](crate::Type)), and `Option`s
/// of them.
pub trait TextColumn {}
impl TextColumn for String {}
impl TextColumn for Option<String> {}

impl<M, T: ColumnType + TextColumn> Column<M, T> {
    /// `column LIKE pattern` (only on text columns).
    pub fn like(&self, pattern: impl Into<String>) -> Where<M> {
        Where::new(self.expr().like(pattern))
    }
    /// `column NOT LIKE pattern` (only on text columns).
    pub fn not_like(&self, pattern: impl Into<String>) -> Where<M> {
        Where::new(self.expr().not_like(pattern))
    }
    /// The column contains `text`, matched literally (only on text columns).
    pub fn contains(&self, text: &str) -> Where<M> {
        Where::new(self.expr().contains(text))
    }
    /// The column starts with `text`, matched literally (only on text columns).
    pub fn starts_with(&self, text: &str) -> Where<M> {
        Where::new(self.expr().starts_with(text))
    }
    /// The column ends with `text`, matched literally (only on text columns).
    pub fn ends_with(&self, text: &str) -> Where<M> {
        Where::new(self.expr().ends_with(text))
    }
}

/// One or more typed columns of model `M`, named together: a single column (`User::EMAIL`) or a
/// tuple of up to four (`(Member::ORG_ID, Member::EMAIL)`), as an upsert's conflict key or the
/// columns it updates. A column of another model does not compile.
pub trait Columns<M> {
    /// The column names, in order.
    fn names(&self) -> Vec<&'static str>;
}

impl<M, T> Columns<M> for Column<M, T> {
    fn names(&self) -> Vec<&'static str> {
        vec![self.name]
    }
}

macro_rules! column_tuples {
    ($(($($t:ident $i:tt),+)),* $(,)?) => {$(
        impl<M, $($t),+> Columns<M> for ($(Column<M, $t>,)+) {
            fn names(&self) -> Vec<&'static str> {
                vec![$(self.$i.name),+]
            }
        }
    )*};
}
column_tuples!((A 0), (A 0, B 1), (A 0, B 1, C 2), (A 0, B 1, C 2, D 3));
