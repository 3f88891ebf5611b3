//! Conditions that know their model: a comparison on `User::AGE` is a [`Where<User>`], and the
//! repository of `Post` accepts only conditions on `Post` ([`FilterOn<Post>`]), so a column of
//! another model used where no join brings it in is a compile error, not a query that returns
//! nothing (SQLite) or fails at run time ("column does not exist").
//!
//! An untyped [`Filter`] (`col("age").gt(18)`, or `Filter::from(where_user)`) is accepted
//! everywhere: it is the explicit way out, for columns no model declares and for queries whose
//! joins bring in other models' columns.

use std::fmt;
use std::marker::PhantomData;

use crate::query::Filter;

/// A condition on the columns of model `M`, from its typed columns (`User::AGE.gte(18)`).
///
/// Combine with [`and`](Where::and), [`or`](Where::or) and `!`; convert into a plain
/// [`Filter`] (`Filter::from(w)`, or `.into()`) for the query builder, where joins decide what
/// a column refers to.
pub struct Where<M> {
    filter: Filter,
    _model: PhantomData<fn() -> M>,
}

impl<M> Where<M> {
    /// A condition declared to be on `M`'s columns (what typed columns build).
    pub fn new(filter: Filter) -> Self {
        Where {
            filter,
            _model: PhantomData,
        }
    }

    /// The plain condition.
    pub fn into_filter(self) -> Filter {
        self.filter
    }

    /// The plain condition, borrowed.
    pub fn as_filter(&self) -> &Filter {
        &self.filter
    }

    /// `self AND other`; `other` is a condition on `M` too (or an untyped [`Filter`]).
    pub fn and(self, other: impl FilterOn<M>) -> Where<M> {
        Where::new(self.filter.and(other.into_filter()))
    }

    /// `self OR other`; `other` is a condition on `M` too (or an untyped [`Filter`]).
    pub fn or(self, other: impl FilterOn<M>) -> Where<M> {
        Where::new(self.filter.or(other.into_filter()))
    }
}

impl<M> std::ops::Not for Where<M> {
    type Output = Where<M>;
    fn not(self) -> Where<M> {
        Where::new(!self.filter)
    }
}

impl<M> Clone for Where<M> {
    fn clone(&self) -> Self {
        Where::new(self.filter.clone())
    }
}

impl<M> PartialEq for Where<M> {
    fn eq(&self, other: &Self) -> bool {
        self.filter == other.filter
    }
}

impl<M> fmt::Debug for Where<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.filter, f)
    }
}

impl<M> From<Where<M>> for Filter {
    fn from(w: Where<M>) -> Filter {
        w.filter
    }
}

/// A condition a query on model `M` accepts: a [`Where<M>`] built from `M`'s typed columns, or
/// an untyped [`Filter`] (the explicit way out).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a condition on `{M}`",
    label = "a condition on another model's columns",
    note = "help: use `{M}`'s own columns (`{M}::…`); for a column of a joined model, build a `kysera::query::Select` with the join, or pass `kysera::query::Filter::from(…)` to opt out of this check"
)]
pub trait FilterOn<M> {
    /// The plain condition.
    fn into_filter(self) -> Filter;
}

impl<M> FilterOn<M> for Where<M> {
    fn into_filter(self) -> Filter {
        self.filter
    }
}

impl<M> FilterOn<M> for Filter {
    fn into_filter(self) -> Filter {
        self
    }
}

/// An optional condition on model `M` (`count(None)`, `count(User::ACTIVE.eq(true))`): a
/// [`FilterOn<M>`], or `None` for every row.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a condition on `{M}`",
    label = "a condition on another model's columns",
    note = "help: use `{M}`'s own columns (`{M}::…`), or `None` for every row"
)]
pub trait MaybeFilterOn<M> {
    /// The plain condition, if any.
    fn into_filter(self) -> Option<Filter>;
}

impl<M> MaybeFilterOn<M> for Where<M> {
    fn into_filter(self) -> Option<Filter> {
        Some(self.filter)
    }
}

impl<M> MaybeFilterOn<M> for Filter {
    fn into_filter(self) -> Option<Filter> {
        Some(self)
    }
}

impl<M> MaybeFilterOn<M> for Option<Filter> {
    fn into_filter(self) -> Option<Filter> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::col;

    struct User;

    #[test]
    fn combinators_keep_the_model_and_the_condition() {
        let a: Where<User> = Where::new(col("a").eq(1));
        let b: Where<User> = Where::new(col("b").eq(2));
        let both = a.clone().and(b.clone());
        assert_eq!(Filter::from(both), col("a").eq(1).and(col("b").eq(2)));
        let either = a.clone().or(col("c").is_null());
        assert_eq!(either.into_filter(), col("a").eq(1).or(col("c").is_null()));
        assert_eq!((!a).into_filter(), !col("a").eq(1));
        assert_eq!(MaybeFilterOn::<User>::into_filter(None::<Filter>), None);
        assert_eq!(MaybeFilterOn::<User>::into_filter(b), Some(col("b").eq(2)));
    }
}
