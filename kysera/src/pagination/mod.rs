//! Offset and cursor (keyset) pagination: the page types repositories and DAL functions
//! return, and the cursor encoding. Pure logic over the query IR; the queries themselves run in
//! [`dal`](crate::dal).

mod cursor;
mod offset;

pub use crate::core::input::CursorError;
pub use cursor::CursorPage;
pub(crate) use cursor::{CursorKey, after, decode_cursor, encode_cursor};
pub(crate) use offset::total_pages;
pub use offset::{Page, PageRequest};
