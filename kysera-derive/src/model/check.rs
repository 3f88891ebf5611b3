//! The entry point of stage 2: the struct's shape, its table, its fields and its key, then the
//! behaviours; every error is kept, and the model is built only when there is none.

use darling::FromField;
use syn::spanned::Spanned;

use super::behaviour::{self, Fields};
use super::field::check_field;
use super::{
    AUDIT_HELP, Checked, Errors, Extras, FIELD_HELP, Field, Model, RLS_HELP, SOFT_DELETE_HELP,
    STRUCT_HELP, TIMESTAMPS_HELP,
};
use crate::input::{self, FieldAttrs};
use crate::naming;

/// The behaviour attributes, which belong on the struct.
const BEHAVIOURS: [&str; 4] = ["soft_delete", "timestamps", "rls", "audit"];

/// Stage 2 entry point.
pub fn check(input: &syn::DeriveInput) -> Checked {
    let mut errors = Errors::default();
    let ident = input.ident.clone();
    let attrs = match input::struct_attrs(&input.attrs) {
        Ok(a) => a,
        Err(e) => {
            errors.darling(e, STRUCT_HELP);
            input::StructAttrs::default()
        }
    };
    let krate = attrs
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::kysera));
    let Some(named) = named_fields(input, &mut errors) else {
        return Checked {
            ident,
            krate,
            model: None,
            errors,
            partial_fields: Vec::new(),
        };
    };
    if !input.generics.params.is_empty() {
        errors.add(
            input.generics.span(),
            "a model cannot have generic parameters",
            "a model maps one table; use a concrete struct per table",
        );
    }
    let table = table(&attrs, &ident, &mut errors);
    let Columns {
        mut fields,
        skipped,
        failed,
    } = columns(named, &ident, &mut errors);
    duplicate_columns(&fields, &mut errors);
    if !failed {
        primary_key(&mut fields, &ident, &mut errors);
        if fields.is_empty() {
            errors.add(
                ident.span(),
                format_args!("`{ident}` has no columns"),
                "a model needs at least its primary key field",
            );
        }
    }

    let soft_delete = behaviour::read(&input.attrs, "soft_delete", SOFT_DELETE_HELP, &mut errors);
    let timestamps = behaviour::read(&input.attrs, "timestamps", TIMESTAMPS_HELP, &mut errors);
    let mut cx = Fields {
        ident: &ident,
        fields: &mut fields,
        failed,
    };
    let soft_delete = behaviour::soft_delete(soft_delete, &mut cx, &mut errors);
    let (created_at, updated_at) = behaviour::timestamps(timestamps, &mut cx, &mut errors);
    let rls = behaviour::read(&input.attrs, "rls", RLS_HELP, &mut errors);
    let tenant = behaviour::tenant(rls, &mut cx, &mut errors);
    let audit = behaviour::read(&input.attrs, "audit", AUDIT_HELP, &mut errors);
    let audit = behaviour::audit(audit, &cx, &mut errors);
    let new_extra = extras(
        attrs.new,
        &format!("New{ident}"),
        "new",
        &["Clone", "PartialEq", "Debug"],
        &mut errors,
    );
    let patch_extra = extras(
        attrs.patch,
        &format!("{ident}Patch"),
        "patch",
        &["Clone", "PartialEq", "Debug", "Default"],
        &mut errors,
    );

    if !errors.is_empty() {
        return Checked {
            ident,
            krate,
            model: None,
            errors,
            partial_fields: fields,
        };
    }
    Checked {
        ident: ident.clone(),
        krate: krate.clone(),
        model: Some(Model {
            ident,
            vis: input.vis.clone(),
            krate,
            table,
            fields,
            skipped,
            soft_delete,
            created_at,
            updated_at,
            tenant,
            audit,
            new_extra,
            patch_extra,
        }),
        errors,
        partial_fields: Vec::new(),
    }
}

/// `new(…)` / `patch(…)` checked: a derive of a trait the generated struct already implements
/// is reported on its path.
fn extras(
    attrs: Option<input::GeneratedAttrs>,
    name: &str,
    key: &str,
    written: &[&str],
    errors: &mut Errors,
) -> Extras {
    let Some(attrs) = attrs else {
        return Extras::default();
    };
    let mut derives = Vec::new();
    let mut serde = false;
    for path in attrs.derive.iter() {
        let last = path.segments.last().map(|s| s.ident.to_string());
        let last = last.as_deref().unwrap_or_default();
        if written.contains(&last) {
            let span = path.segments.last().map_or(path.span(), |s| s.ident.span());
            errors.add(
                span,
                format_args!("`{name}` already implements `{last}`"),
                format_args!(
                    "remove `{last}` from `{key}(derive(…))`: `#[derive(Repository)]` writes {} for `{name}`",
                    written
                        .iter()
                        .map(|w| format!("`{w}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        }
        // serde's derives: by their own name or under `serde::` (`rkyv::Serialize` is not).
        let first = path.segments.first().map(|s| s.ident.to_string());
        let from_serde = path.segments.len() == 1 || first.as_deref() == Some("serde");
        serde |= from_serde && (last == "Serialize" || last == "Deserialize");
        derives.push(path.clone());
    }
    for meta in &attrs.attr.metas {
        if meta.path().is_ident("derive") {
            errors.add(
                meta.path().span(),
                format_args!("put derives in `{key}(derive(…))`, not in `{key}(attr(…))`"),
                format_args!(
                    "`{key}(derive(…))` is checked against what the derive writes for `{name}` and gives serde's derives their field attributes"
                ),
            );
        }
    }
    for span in attrs.attr.invalid {
        errors.add(
            span,
            format_args!("`{key}(attr(…))` takes attributes"),
            format_args!(
                "write each attribute as it would go inside `#[…]` on `{name}`: `attr(serde(rename_all = \"camelCase\"))`"
            ),
        );
    }
    Extras {
        derives,
        attrs: attrs.attr.metas,
        serde,
    }
}

/// The named fields of a struct; anything else is reported on its keyword or fields.
fn named_fields<'a>(
    input: &'a syn::DeriveInput,
    errors: &mut Errors,
) -> Option<&'a syn::FieldsNamed> {
    const NOT_A_STRUCT: &str = "a model is a struct with one named field per column";
    match &input.data {
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Named(named),
            ..
        }) => return Some(named),
        syn::Data::Struct(s) => {
            let span = match &s.fields {
                syn::Fields::Unnamed(u) => u.span(),
                _ => input.ident.span(),
            };
            errors.add(
                span,
                "`Repository` can only be derived for a struct with named fields",
                "give each column a named field: `struct User { id: i64, email: String }`",
            );
        }
        syn::Data::Enum(e) => errors.add(
            e.enum_token.span,
            "`Repository` cannot be derived for an enum",
            NOT_A_STRUCT,
        ),
        syn::Data::Union(u) => errors.add(
            u.union_token.span,
            "`Repository` cannot be derived for a union",
            NOT_A_STRUCT,
        ),
    }
    None
}

/// `#[kysera(table = "…")]`, or the default name from the struct's.
fn table(attrs: &input::StructAttrs, ident: &syn::Ident, errors: &mut Errors) -> String {
    match &attrs.table {
        Some(t) if t.trim().is_empty() => {
            errors.add(
                t.span(),
                "the table name cannot be empty",
                "write `#[kysera(table = \"users\")]` or leave it out for the default",
            );
            String::new()
        }
        Some(t) => t.as_str().to_string(),
        None => naming::table_name(&ident.to_string()),
    }
}

/// The checked column fields, the skipped fields, and whether any field failed its checks.
struct Columns {
    fields: Vec<Field>,
    skipped: Vec<syn::Ident>,
    failed: bool,
}

fn columns(named: &syn::FieldsNamed, ident: &syn::Ident, errors: &mut Errors) -> Columns {
    let mut out = Columns {
        fields: Vec::new(),
        skipped: Vec::new(),
        failed: false,
    };
    for field in &named.named {
        for a in &field.attrs {
            if let Some(name) = BEHAVIOURS.into_iter().find(|n| a.path().is_ident(n)) {
                errors.add(
                    a.path().span(),
                    format_args!("`#[{name}]` belongs on the struct, not on a field"),
                    format_args!("move it above `struct {ident}`; it names its column(s) itself"),
                );
            }
        }
        match FieldAttrs::from_field(field) {
            Ok(f) => {
                let is_skip = f.skip.is_present();
                let name = f.ident.clone();
                let before = errors.len();
                match check_field(f, &field.attrs, errors) {
                    Some(checked) => out.fields.push(checked),
                    None if is_skip && errors.len() == before => out.skipped.extend(name),
                    None => out.failed = true,
                }
            }
            Err(e) => {
                errors.darling(e, FIELD_HELP);
                // An unknown key must not hide the field's other mistakes: check it again
                // without the unknown keys (already reported), keeping what it declares.
                let recovered = without_unknown_keys(field)
                    .and_then(|f| FieldAttrs::from_field(&f).ok().map(|a| (a, f.attrs)));
                match recovered {
                    Some((f, attrs)) => match check_field(f, &attrs, errors) {
                        Some(checked) => out.fields.push(checked),
                        None => out.failed = true,
                    },
                    None => out.failed = true,
                }
            }
        }
    }
    out
}

/// `field` without the keys of its `#[kysera(...)]` attributes (and of their `validate(...)`)
/// that are not field attributes; `None` when there were none to remove (or the attribute
/// cannot be read at all).
fn without_unknown_keys(field: &syn::Field) -> Option<syn::Field> {
    type Metas = syn::punctuated::Punctuated<syn::Meta, syn::Token![,]>;
    const KEYS: [&str; 7] = [
        "primary_key",
        "generated",
        "assigned",
        "default",
        "skip",
        "rename",
        "validate",
    ];
    const RULES: [&str; 4] = ["email", "length", "range", "custom"];
    let known = |m: &syn::Meta, names: &[&str]| names.iter().any(|n| m.path().is_ident(n));
    let mut removed = false;
    let mut out = field.clone();
    for attr in out.attrs.iter_mut().filter(|a| a.path().is_ident("kysera")) {
        let metas = attr.parse_args_with(Metas::parse_terminated).ok()?;
        let mut kept = Metas::new();
        for meta in metas {
            if !known(&meta, &KEYS) {
                removed = true;
                continue;
            }
            match meta {
                syn::Meta::List(list) if list.path.is_ident("validate") => {
                    let rules = list.parse_args_with(Metas::parse_terminated).ok()?;
                    let before = rules.len();
                    let rules: Metas = rules.into_iter().filter(|r| known(r, &RULES)).collect();
                    removed |= rules.len() != before;
                    let path = &list.path;
                    kept.push(syn::parse_quote!(#path(#rules)));
                }
                other => kept.push(other),
            }
        }
        *attr = syn::parse_quote!(#[kysera(#kept)]);
    }
    removed.then_some(out)
}

/// Two fields may not map to one column.
fn duplicate_columns(fields: &[Field], errors: &mut Errors) {
    for (i, f) in fields.iter().enumerate() {
        if let Some(first) = fields[..i].iter().find(|g| g.column == f.column) {
            errors.add(
                f.ident.span(),
                format_args!(
                    "column `{}` is already mapped by field `{}`",
                    f.column, first.ident
                ),
                "give one of the fields another column with `rename = \"…\"`",
            );
        }
    }
}

/// The primary key: the marked fields, else a field named `id`. `assigned` belongs on a key.
fn primary_key(fields: &mut [Field], ident: &syn::Ident, errors: &mut Errors) {
    implicit_key(fields, ident, errors);
    for f in fields.iter().filter(|f| !f.primary_key) {
        if let Some(span) = f.assigned {
            errors.add(
                span,
                format_args!(
                    "`assigned` marks a primary key, and `{}` is not one",
                    f.ident
                ),
                "remove it: every column that is not `generated` is set by your code",
            );
        }
    }
}

fn implicit_key(fields: &mut [Field], ident: &syn::Ident, errors: &mut Errors) {
    if fields.iter().any(|f| f.primary_key) {
        return;
    }
    match fields.iter_mut().find(|f| f.ident == "id") {
        Some(id) if id.nullable() => errors.add(
            id.ty.span(),
            "the `id` field is the primary key and cannot be an `Option`",
            "use the non-optional type, or mark another field `#[kysera(primary_key)]`",
        ),
        Some(id) => id.primary_key = true,
        None => errors.add(
            ident.span(),
            format_args!("`{ident}` has no primary key"),
            "mark the key field(s) `#[kysera(primary_key)]`, or name the key field `id`",
        ),
    }
}
