//! Soft delete (`#[soft_delete]`): reads hide deleted rows (of the main table in WHERE, of joined
//! tables in their ON clause), updates never touch a deleted row, and an upsert that hits a
//! deleted row revives it. The repository methods that set and clear the column are in
//! [`dal`](crate::dal).

use super::registry::{Registry, TableBehaviour};
use crate::query::{ColumnRef, ConflictAction, DeletedRows, Expr, Filter, Insert, Select, Update};

/// The condition that keeps the rows `rows` asks for, on `column` of `table` (unqualified when
/// `None`); `None` when every row is kept.
fn deleted_filter(table: Option<&str>, column: &str, rows: DeletedRows) -> Option<Filter> {
    let col = Expr::Column(ColumnRef {
        table: table.map(str::to_string),
        column: column.to_string(),
    });
    match rows {
        DeletedRows::Exclude => Some(col.is_null()),
        DeletedRows::Only => Some(col.is_not_null()),
        DeletedRows::Include => None,
    }
}

/// A SELECT sees the main table's rows its [`DeletedRows`] asks for; joined tables hide their
/// deleted rows unless every row is asked for (`only_deleted` concerns the main table).
pub(crate) fn select(reg: &Registry, s: &mut Select) {
    if let Some(sd) = reg.declared(&s.table.name).and_then(|b| b.soft_delete) {
        let reference = s.table.reference().to_string();
        if let Some(f) = deleted_filter(Some(&reference), sd.name, s.deleted) {
            s.add_filter(f);
        }
    }
    if s.deleted == DeletedRows::Include {
        return;
    }
    for j in &mut s.joins {
        if let Some(sd) = reg.declared(&j.table.name).and_then(|b| b.soft_delete) {
            let hide = Expr::Column(ColumnRef::qualified(j.table.reference(), sd.name)).is_null();
            j.on = std::mem::replace(&mut j.on, Filter::And(vec![])).and(hide);
        }
    }
}

/// An UPDATE changes only the rows its [`DeletedRows`] asks for (by default, live rows).
pub(crate) fn update(b: &TableBehaviour, u: &mut Update) {
    if let Some(sd) = b.soft_delete
        && let Some(f) = deleted_filter(None, sd.name, u.deleted)
    {
        u.add_filter(f);
    }
}

/// An upsert that updates revives the row it hits: the inserted row has no deletion time.
pub(crate) fn insert(b: &TableBehaviour, i: &mut Insert) {
    if let Some(sd) = b.soft_delete
        && let Some(oc) = &mut i.on_conflict
        && let ConflictAction::Update(cols) = &mut oc.action
        && !cols.iter().any(|c| c == sd.name)
    {
        cols.push(sd.name.to_string());
    }
}
