//! The columns the behaviour attributes name: `#[soft_delete]` and `#[timestamps]` (columns set
//! by Kysera), `#[rls(tenant)]` (the tenant column) and `#[audit]` (operations and exclusions),
//! each checked against the struct's fields.

use proc_macro2::Span;
use syn::spanned::Spanned;

use super::{AuditModel, Errors, Field, Managed, RLS_HELP, TimeKind};
use crate::input::{self, AuditAttrs, RlsAttrs, SoftDeleteAttrs, TimestampsAttrs};

/// A timestamp column a behaviour sets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    SoftDelete,
    CreatedAt,
    UpdatedAt,
}

impl Role {
    fn what(self) -> &'static str {
        match self {
            Role::SoftDelete => "the soft-delete",
            Role::CreatedAt => "the creation timestamp",
            Role::UpdatedAt => "the update timestamp",
        }
    }
    /// The column when the attribute does not name one.
    fn default_column(self) -> &'static str {
        match self {
            Role::SoftDelete => "deleted_at",
            Role::CreatedAt => "created_at",
            Role::UpdatedAt => "updated_at",
        }
    }
    /// May be absent when the attribute does not name it (a model may have only one timestamp).
    fn optional(self) -> bool {
        self != Role::SoftDelete
    }
    /// Must be an `Option` (NULL marks a row that is not deleted).
    fn nullable(self) -> bool {
        self == Role::SoftDelete
    }
}

/// The column a behaviour asks for.
struct Wanted {
    role: Role,
    column: String,
    /// Where the attribute names it.
    span: Span,
    /// Named in the attribute (rather than the default name).
    explicit: bool,
}

impl Wanted {
    /// `named` from the attribute, else the role's default column at the attribute's span.
    fn new(role: Role, named: &Option<darling::util::SpannedValue<String>>, at: Span) -> Wanted {
        match named {
            Some(c) => Wanted {
                role,
                column: c.as_str().to_string(),
                span: c.span(),
                explicit: true,
            },
            None => Wanted {
                role,
                column: role.default_column().to_string(),
                span: at,
                explicit: false,
            },
        }
    }
}

/// `DateTime<Utc>` or `NaiveDateTime`, by the last path segments.
fn time_kind(ty: &syn::Type) -> Option<TimeKind> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    match last.ident.to_string().as_str() {
        "NaiveDateTime" => Some(TimeKind::Naive),
        "DateTime" => {
            // Only UTC: a `DateTime<Local>` or `DateTime<FixedOffset>` is not a column type.
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            match args.args.first() {
                Some(syn::GenericArgument::Type(syn::Type::Path(tz)))
                    if tz.path.segments.last().is_some_and(|s| s.ident == "Utc") =>
                {
                    Some(TimeKind::Utc)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// What the behaviour checks look at: the struct's fields and whether some failed their own
/// checks (then a column not found may be that field, already reported).
pub(super) struct Fields<'a> {
    pub ident: &'a syn::Ident,
    pub fields: &'a mut [Field],
    pub failed: bool,
}

/// Finds and checks the field of a behaviour's column, and marks it managed.
fn managed(cx: &mut Fields<'_>, w: Wanted, errors: &mut Errors) -> Option<Managed> {
    let (what, column, ident) = (w.role.what(), &w.column, cx.ident);
    let Some(field) = cx.fields.iter_mut().find(|f| f.column == *column) else {
        if (w.explicit || !w.role.optional()) && !cx.failed {
            errors.add(
                w.span,
                format_args!("{what} column `{column}` is not a field of `{ident}`"),
                format_args!("add the field, or name its column in the attribute"),
            );
        }
        return None;
    };
    let Some(kind) = time_kind(field.option_inner.as_ref().unwrap_or(&field.ty)) else {
        errors.add(
            field.ty.span(),
            format_args!("{what} column `{column}` must hold a timestamp"),
            "use `chrono::DateTime<chrono::Utc>` or `chrono::NaiveDateTime` (in an `Option` where it may be NULL)",
        );
        return None;
    };
    if w.role.nullable() && !field.nullable() {
        errors.add(
            field.ty.span(),
            "the soft-delete column must be an `Option`: NULL marks a row that is not deleted",
            "use `Option<chrono::DateTime<chrono::Utc>>` or `Option<chrono::NaiveDateTime>`",
        );
    } else if field.primary_key {
        errors.add(
            field.ident.span(),
            format_args!("{what} column cannot be the primary key"),
            "give the timestamp a field of its own",
        );
    } else if field.managed {
        errors.add(
            w.span,
            format_args!("{what} column `{column}` is already managed by another behaviour"),
            "give each behaviour a column of its own",
        );
    } else if field.generated || !field.rules.is_empty() {
        errors.add(
            field.ident.span(),
            format_args!(
                "{what} column `{column}` is set by Kysera: it cannot be `generated` or have `validate` rules"
            ),
            "remove `generated` / `validate` from the field",
        );
    } else {
        field.managed = true;
        return Some(Managed {
            column: column.clone(),
            kind,
        });
    }
    None
}

/// `#[soft_delete]`: its column.
pub(super) fn soft_delete(
    attr: Option<input::Behaviour<SoftDeleteAttrs>>,
    cx: &mut Fields<'_>,
    errors: &mut Errors,
) -> Option<Managed> {
    let b = attr?;
    managed(
        cx,
        Wanted::new(Role::SoftDelete, &b.attrs.column, b.span),
        errors,
    )
}

/// `#[timestamps]`: its creation and update columns (either may be absent, not both).
pub(super) fn timestamps(
    attr: Option<input::Behaviour<TimestampsAttrs>>,
    cx: &mut Fields<'_>,
    errors: &mut Errors,
) -> (Option<Managed>, Option<Managed>) {
    let Some(b) = attr else {
        return (None, None);
    };
    let created = Wanted::new(Role::CreatedAt, &b.attrs.created_at, b.span);
    let updated = Wanted::new(Role::UpdatedAt, &b.attrs.updated_at, b.span);
    let any = cx
        .fields
        .iter()
        .any(|f| f.column == created.column || f.column == updated.column);
    if !any && !created.explicit && !updated.explicit {
        errors.add(
            b.span,
            format_args!(
                "`#[timestamps]` finds neither `{}` nor `{}` in `{}`",
                created.column, updated.column, cx.ident
            ),
            "add `created_at` / `updated_at` fields, or name the columns: `#[timestamps(created_at = \"…\", updated_at = \"…\")]`",
        );
        return (None, None);
    }
    (managed(cx, created, errors), managed(cx, updated, errors))
}

/// `#[rls(tenant = "…")]`: the tenant column, which must be a plain column of its own.
pub(super) fn tenant(
    attr: Option<input::Behaviour<RlsAttrs>>,
    cx: &mut Fields<'_>,
    errors: &mut Errors,
) -> Option<(String, syn::Type)> {
    let b = attr?;
    let Some(t) = &b.attrs.tenant else {
        errors.add(b.span, "`#[rls]` needs the tenant column", RLS_HELP);
        return None;
    };
    let ident = cx.ident;
    match cx.fields.iter_mut().find(|f| f.column == t.as_str()) {
        None if cx.failed => None,
        None => {
            errors.add(
                t.span(),
                format_args!("the tenant column `{}` is not a field of `{ident}`", t.as_str()),
                "name the column that holds each row's tenant, e.g. `#[rls(tenant = \"tenant_id\")]`",
            );
            None
        }
        Some(f) if f.nullable() => {
            errors.add(
                f.ty.span(),
                "the tenant column cannot be an `Option`: a row without a tenant would belong to no one",
                "use the non-optional type (a string, integer or uuid)",
            );
            None
        }
        Some(f) if f.primary_key || f.generated || f.managed => {
            errors.add(
                f.ident.span(),
                "the tenant column cannot be the primary key, generated, or a timestamp",
                "give the tenant a column of its own",
            );
            None
        }
        Some(f) => {
            f.tenant = true;
            // Optional in the insert struct: the context's tenant fills it in.
            f.has_default = true;
            Some((t.as_str().to_string(), f.ty.clone()))
        }
    }
}

/// An operation `#[audit(operations(...))]` may name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AuditOp {
    Create,
    Update,
    Delete,
}

impl AuditOp {
    const ALL: [AuditOp; 3] = [AuditOp::Create, AuditOp::Update, AuditOp::Delete];

    fn parse(path: &syn::Path) -> Option<AuditOp> {
        let ident = path.get_ident()?;
        AuditOp::ALL.into_iter().find(|op| {
            ident
                == match op {
                    AuditOp::Create => "create",
                    AuditOp::Update => "update",
                    AuditOp::Delete => "delete",
                }
        })
    }
}

/// `#[audit(...)]`: the audited operations and the excluded columns.
pub(super) fn audit(
    attr: Option<input::Behaviour<AuditAttrs>>,
    cx: &Fields<'_>,
    errors: &mut Errors,
) -> Option<AuditModel> {
    let b = attr?;
    let ops: Vec<AuditOp> = match &b.attrs.operations {
        None => AuditOp::ALL.to_vec(),
        Some(list) => list
            .iter()
            .filter_map(|p| {
                let op = AuditOp::parse(p);
                if op.is_none() {
                    errors.add(
                        p.span(),
                        format_args!("`{}` is not an audited operation", quote::quote!(#p)),
                        "operations are `create`, `update` (soft delete and restore included) and `delete`",
                    );
                }
                op
            })
            .collect(),
    };
    let mut exclude = Vec::new();
    for p in b.attrs.exclude.iter().flat_map(|l| l.iter()) {
        match p
            .get_ident()
            .and_then(|i| cx.fields.iter().find(|f| f.ident == *i))
        {
            Some(f) => exclude.push(f.column.clone()),
            None if cx.failed => {}
            None => errors.add(
                p.span(),
                format_args!(
                    "`{}` is not a column field of `{}`",
                    quote::quote!(#p),
                    cx.ident
                ),
                "`exclude(...)` names the fields never written to the audit log",
            ),
        }
    }
    Some(AuditModel {
        create: ops.contains(&AuditOp::Create),
        update: ops.contains(&AuditOp::Update),
        delete: ops.contains(&AuditOp::Delete),
        old_values: b.attrs.old_values.unwrap_or(true),
        new_values: b.attrs.new_values.unwrap_or(true),
        exclude,
    })
}

/// Reads one behaviour attribute, reporting a malformed one with `help`.
pub(super) fn read<T: darling::FromMeta + Default>(
    attrs: &[syn::Attribute],
    name: &str,
    help: &str,
    errors: &mut Errors,
) -> Option<input::Behaviour<T>> {
    match input::behaviour::<T>(attrs, name) {
        Ok(b) => b,
        Err(e) => {
            errors.darling(e, help);
            None
        }
    }
}
