//! Column types of the application's own — newtype ids, enums, anything stored as one of the
//! built-in column types: [`Type`], usually derived (`#[derive(kysera::Type)]`). A derived
//! `Type` is a [`ColumnType`](super::ColumnType) like the built-in ones: a model field, a typed
//! column that compares only with values of its type, `Option` of it for a nullable column.
//!
//! The derive writes the `Decodable` and `ColumnType` impls itself ([`column_type!`](crate::column_type))
//! rather than blanket impls doing it: a field of a type that is neither then gets the one error
//! "not a supported column type", not one per use of the field in generated code.

use std::fmt;

use super::column::{ColumnType, NonNullColumnType, TextColumn};
use crate::query::{Nullable, Value};
use crate::row::{Decodable, Index, Row, TypeFamily, sealed};

/// A Rust type stored as a built-in column type ([`Repr`](Self::Repr)): a newtype id stored as
/// its integer, an enum stored as text or as an integer.
///
/// `#[derive(kysera::Type)]` writes it for a struct of one field (`struct UserId(i64)`: stored
/// as the field) and for an enum of unit variants (stored as the variant's name — as written,
/// or `#[kysera(rename_all = "snake_case")]`, `#[kysera(rename = "…")]` on a variant — or, with
/// `#[kysera(repr = "i32")]`, as its discriminant). Written by hand, `from_repr` refuses a stored
/// value that is not one of the type's (the read is then an [`Error::Decode`](crate::Error::Decode)
/// naming the column).
///
/// A column type is also `Serialize` and `Deserialize` (audit entries, fixtures and cursors
/// carry values as JSON): derive them too, `#[serde(transparent)]` for a newtype. Implemented
/// by hand, `Type` needs [`column_type!`](crate::column_type) after it (what the derive
/// writes).
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, kysera::Type)]
/// #[serde(transparent)]
/// struct UserId(i64);
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, kysera::Type)]
/// #[kysera(rename_all = "snake_case")]
/// #[serde(rename_all = "snake_case")]
/// enum Status { Active, OnHold }
///
/// use kysera::Type;
/// assert_eq!(Status::OnHold.to_repr(), "on_hold");
/// assert_eq!(Status::from_repr("active".into()), Ok(Status::Active));
/// assert!(Status::from_repr("gone".into()).is_err());
/// assert_eq!(UserId(7).to_repr(), 7);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Kysera column type",
    label = "not a column type",
    note = "help: derive it: `#[derive(kysera::Type)]` on a one-field struct or an enum of unit variants (with serde's Serialize and Deserialize)"
)]
pub trait Type:
    Clone
    + PartialEq
    + fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The built-in column type it is stored as (`i64`, `String`, …, or another `Type`).
    type Repr: NonNullColumnType + Nullable;
    /// The stored form.
    fn to_repr(&self) -> Self::Repr;
    /// From the stored form; `Err` (why) for a value that is not one of this type's.
    fn from_repr(repr: Self::Repr) -> Result<Self, String>;
}

/// What [`column_type!`](crate::column_type) makes `T`'s `Decodable::__get`: its repr, read
/// and converted.
pub fn decode_type<T: Type>(row: &Row, index: Index<'_>) -> Result<T, sqlx::Error> {
    let repr = <T::Repr as Decodable>::__get(row, index)?;
    T::from_repr(repr).map_err(|why| refused(index, why))
}

/// The impls that make a [`Type`] a column type — `Decodable`, [`ColumnType`] and
/// [`NonNullColumnType`] — for a type whose `Type` impl is written by hand
/// (`#[derive(kysera::Type)]` writes them itself).
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// struct Cents(i64);
/// impl kysera::Type for Cents {
///     type Repr = i64;
///     fn to_repr(&self) -> i64 { self.0 }
///     fn from_repr(v: i64) -> Result<Self, String> {
///         if v >= 0 { Ok(Cents(v)) } else { Err(format!("{v} is a negative amount")) }
///     }
/// }
/// kysera::column_type!(Cents);
/// fn is_column<T: kysera::ColumnType>() {}
/// is_column::<Cents>();
/// is_column::<Option<Cents>>();
/// ```
///
/// (They are not blanket impls over every `Type` so that a field of a type that is no column
/// type gets one error, "not a supported column type", not one per use in generated code.)
#[macro_export]
macro_rules! column_type {
    ($t:ty) => {
        impl $crate::__private::v0_1::DecodableSeal for $t {}
        impl $crate::Decodable for $t {
            const FAMILY: $crate::TypeFamily =
                <<$t as $crate::Type>::Repr as $crate::Decodable>::FAMILY;
            fn __get(
                row: &$crate::Row,
                index: $crate::__private::v0_1::Index<'_>,
            ) -> ::core::result::Result<Self, $crate::sqlx::Error> {
                $crate::__private::v0_1::decode_type::<$t>(row, index)
            }
        }
        impl $crate::ColumnType for $t {
            type Compare = $t;
            fn to_value(&self) -> $crate::Value {
                $crate::ColumnType::to_value(&$crate::Type::to_repr(self))
            }
        }
        impl $crate::NonNullColumnType for $t {}
    };
}

impl<T: Type> sealed::Sealed for Option<T> {}
impl<T: Type> Decodable for Option<T>
where
    Option<T::Repr>: Decodable,
{
    const FAMILY: TypeFamily = <T::Repr as Decodable>::FAMILY;
    fn __get(row: &Row, index: Index<'_>) -> Result<Self, sqlx::Error> {
        match <Option<T::Repr> as Decodable>::__get(row, index)? {
            None => Ok(None),
            Some(repr) => T::from_repr(repr)
                .map(Some)
                .map_err(|why| refused(index, why)),
        }
    }
}

/// A stored value `from_repr` refused, as the driver reports a column it cannot decode (so the
/// read is an [`Error::Decode`](crate::Error::Decode) naming the column and the types).
fn refused(index: Index<'_>, why: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: match index {
            Index::Name(n) => n.to_string(),
            Index::Position(i) => i.to_string(),
        },
        source: why.into(),
    }
}

impl<T: Type> Nullable for T {
    fn null() -> Value {
        <T::Repr as Nullable>::null()
    }
}

impl<T: Type> From<T> for Value {
    fn from(v: T) -> Value {
        v.to_repr().to_value()
    }
}

/// An own type stored as text takes `like` as `String` does (`Order::STATUS.like("pa%")`).
impl<T: Type<Repr = String>> TextColumn for T {}
impl<T: Type<Repr = String>> TextColumn for Option<T> {}
