//! The ground floor: what every other layer speaks — the error type, the database dialects and
//! statement kinds, and the details of refused input. It imports nothing else of the crate.
//!
//! The folder is private; its items are re-exported at the crate root and from
//! [`error`](crate::error).

pub mod adapter;
pub(crate) mod classify;
pub mod error;
pub mod input;
pub mod sql;
