//! Why input was refused before it reached the database: validation failures of create and
//! update input, and refused pagination cursors. They are part of [`Error`](super::error::Error),
//! so they live beside it; [`validation`](crate::validation) and
//! [`pagination`](crate::pagination) re-export them.

use std::fmt;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The Rust field name.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Every field that failed validation, in field order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors {
    /// The failures.
    pub errors: Vec<FieldError>,
}

impl ValidationErrors {
    /// Records a failure.
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field,
            message: message.into(),
        });
    }

    /// `Ok` when nothing failed.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// The names of the failing fields.
    pub fn fields(&self) -> Vec<&'static str> {
        self.errors.iter().map(|e| e.field).collect()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "`{}` {}", e.field, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CursorError {
    /// Not a cursor this library produced, or altered since.
    #[error("the cursor is malformed or has been altered")]
    Tampered,
    /// Produced for a different ordering than the one asked for now.
    #[error("the cursor was made for a different order ({0})")]
    OrderMismatch(String),
}
