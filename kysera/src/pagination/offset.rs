//! Offset pagination: page `n` of `limit` rows, with the total count.

use serde::Serialize;

use crate::core::error::{Error, Result};

/// One page of an offset-paginated query (`paginate` in the TypeScript Kysera).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The rows on this page.
    pub items: Vec<T>,
    /// The number of matching rows on all pages.
    pub total: i64,
    /// This page's number, from 1.
    pub page: u64,
    /// The page size.
    pub limit: u64,
    /// The number of pages (0 when there are no rows).
    pub total_pages: u64,
}

/// The page and size asked for; a page below 1 or a limit of 0 is an error when used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// The page number, from 1.
    pub page: u64,
    /// The page size.
    pub limit: u64,
}

impl PageRequest {
    /// Page `page` (from 1) of `limit` rows.
    pub fn new(page: u64, limit: u64) -> Self {
        PageRequest { page, limit }
    }

    pub(crate) fn check(&self) -> Result<u64> {
        if self.page == 0 || self.limit == 0 {
            return Err(Error::InvalidQuery(format!(
                "page and limit start at 1 (got page {}, limit {})",
                self.page, self.limit
            )));
        }
        (self.page - 1)
            .checked_mul(self.limit)
            .ok_or_else(|| Error::InvalidQuery("page * limit overflows".into()))
    }
}

pub(crate) fn total_pages(total: i64, limit: u64) -> u64 {
    (total.max(0) as u64).div_ceil(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        assert_eq!(total_pages(0, 10), 0);
        assert_eq!(total_pages(10, 10), 1);
        assert_eq!(total_pages(11, 10), 2);
        assert!(PageRequest::new(0, 10).check().is_err());
        assert!(PageRequest::new(1, 0).check().is_err());
        assert_eq!(PageRequest::new(3, 10).check().unwrap(), 20);
        assert!(PageRequest::new(u64::MAX, 10).check().is_err());
    }
}
