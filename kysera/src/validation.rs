//! Validation of create and update input, run before the database sees it.
//!
//! Rules are declared on model fields and checked by code the derive generates:
//!
//! ```
//! use kysera::Model;
//!
//! fn not_reserved(v: &String) -> Result<(), String> {
//!     if v == "admin" { Err("is reserved".into()) } else { Ok(()) }
//! }
//!
//! #[derive(kysera::Repository)]
//! struct User {
//!     #[kysera(generated)]
//!     id: i64,
//!     #[kysera(validate(email, length(max = 255)))]
//!     email: String,
//!     #[kysera(validate(length(min = 1, max = 100), custom = "not_reserved"))]
//!     name: String,
//!     #[kysera(validate(range(min = 0, max = 150)))]
//!     age: Option<i32>,
//! }
//!
//! let bad = NewUser { email: "nope".into(), name: "admin".into(), age: Some(200) };
//! let errors = User::validate_new(&bad).unwrap_err();
//! assert_eq!(errors.fields(), ["email", "name", "age"]);
//! // Patches check only the fields they set.
//! assert!(User::validate_patch(&UserPatch::default().name("Ada")).is_ok());
//! ```
//!
//! The derive checks the rules themselves at compile time (an unknown rule, `length` on a number
//! or a `range` bound of the wrong type does not compile); the values are checked at run time,
//! every field at once, and a failure is [`Error::Validation`](crate::Error::Validation) listing
//! each field and what is wrong with it.

use std::fmt;

pub use crate::core::input::{FieldError, ValidationErrors};

/// Things that have a length for `validate(length(…))`: strings and byte vectors.
#[diagnostic::on_unimplemented(
    message = "`validate(length(...))` needs a String or Vec<u8> field, not `{Self}`",
    note = "help: use `range(min = …, max = …)` for numbers"
)]
pub trait HasLength {
    /// The length: characters for text, bytes for binary.
    fn length(&self) -> usize;
}

impl HasLength for String {
    fn length(&self) -> usize {
        self.chars().count()
    }
}

impl HasLength for Vec<u8> {
    fn length(&self) -> usize {
        self.len()
    }
}

/// Checks `length(min, max)`.
pub fn check_length(
    errors: &mut ValidationErrors,
    field: &'static str,
    value: &impl HasLength,
    min: Option<usize>,
    max: Option<usize>,
) {
    let n = value.length();
    match (min, max) {
        (Some(lo), Some(hi)) if n < lo || n > hi => {
            errors.add(field, format!("must be {lo} to {hi} long (is {n})"))
        }
        (Some(lo), None) if n < lo => {
            errors.add(field, format!("must be at least {lo} long (is {n})"))
        }
        (None, Some(hi)) if n > hi => {
            errors.add(field, format!("must be at most {hi} long (is {n})"))
        }
        _ => {}
    }
}

/// Numbers, for `validate(range(…))`: `T` is the type of the bounds, the number itself.
#[diagnostic::on_unimplemented(
    message = "`validate(range(...))` needs a number field, not `{Self}`",
    label = "not a number",
    note = "help: remove `range(...)` from this field; use `length(min = …, max = …)` for text"
)]
pub trait Ranged<T> {
    /// The number to compare with the bounds.
    fn number(&self) -> &T;
    /// Whether it is a finite number (NaN and ±infinity are in no range).
    fn finite(&self) -> bool {
        true
    }
}
macro_rules! ranged {
    ($($t:ty),*) => {$(
        impl Ranged<$t> for $t {
            fn number(&self) -> &$t {
                self
            }
        }
    )*};
}
ranged!(i8, i16, i32, i64, u8, u16, u32);
impl Ranged<f32> for f32 {
    fn number(&self) -> &f32 {
        self
    }
    fn finite(&self) -> bool {
        self.is_finite()
    }
}
impl Ranged<f64> for f64 {
    fn number(&self) -> &f64 {
        self
    }
    fn finite(&self) -> bool {
        self.is_finite()
    }
}

/// Text, for `validate(email)`.
#[diagnostic::on_unimplemented(
    message = "`validate(email)` needs a String field, not `{Self}`",
    label = "not text",
    note = "help: remove `email` from this field's `validate(...)`; it checks text only"
)]
pub trait EmailText {
    /// The text to check.
    fn text(&self) -> &str;
}
impl EmailText for String {
    fn text(&self) -> &str {
        self
    }
}
impl EmailText for &str {
    fn text(&self) -> &str {
        self
    }
}

/// Checks `range(min, max)`.
pub fn check_range<T: PartialOrd + fmt::Display>(
    errors: &mut ValidationErrors,
    field: &'static str,
    value: &impl Ranged<T>,
    min: Option<T>,
    max: Option<T>,
) {
    // NaN compares false with every bound, so it would pass any range: refuse it (and the
    // infinities) outright.
    if !value.finite() {
        errors.add(
            field,
            format!("must be a finite number (is {})", value.number()),
        );
        return;
    }
    let value = value.number();
    if let Some(lo) = &min
        && value < lo
    {
        errors.add(field, format!("must be at least {lo} (is {value})"));
    } else if let Some(hi) = &max
        && value > hi
    {
        errors.add(field, format!("must be at most {hi} (is {value})"));
    }
}

/// Checks `email`: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn check_email(errors: &mut ValidationErrors, field: &'static str, value: &impl EmailText) {
    let value = value.text();
    let ok = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !ok {
        errors.add(field, "must be an email address");
    }
}

/// Runs `custom = "path"`: a function returning `Err(message)` on failure.
pub fn check_custom<T: ?Sized>(
    errors: &mut ValidationErrors,
    field: &'static str,
    value: &T,
    f: impl FnOnce(&T) -> Result<(), String>,
) {
    if let Err(message) = f(value) {
        errors.add(field, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let mut e = ValidationErrors::default();
        check_length(&mut e, "name", &String::new(), Some(1), Some(5));
        check_length(&mut e, "name", &"héllo".to_string(), Some(1), Some(5));
        check_range(&mut e, "age", &200, Some(0), Some(150));
        check_range(&mut e, "age", &-1, Some(0), None);
        check_range(&mut e, "age", &3, Some(0), Some(150));
        check_range(&mut e, "score", &f64::NAN, Some(0.0), Some(1.0));
        check_range(&mut e, "score", &f64::INFINITY, None, None);
        check_range(&mut e, "score", &-4.5, Some(-5.0), None);
        check_email(&mut e, "email", &"a@b.co");
        check_email(&mut e, "email", &"not an email");
        check_email(&mut e, "email", &"a@b");
        check_custom(&mut e, "handle", "root", |v: &str| {
            if v == "root" {
                Err("is reserved".into())
            } else {
                Ok(())
            }
        });
        assert_eq!(
            e.fields(),
            [
                "name", "age", "age", "score", "score", "email", "email", "handle"
            ]
        );
        assert_eq!(e.errors[0].message, "must be 1 to 5 long (is 0)");
        assert!(e.to_string().starts_with("`name` must be 1 to 5 long"));
        assert!(ValidationErrors::default().into_result().is_ok());
    }
}
