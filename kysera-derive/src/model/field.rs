//! One field: its `#[kysera(...)]` attributes and its type, checked.

use proc_macro2::Span;
use syn::spanned::Spanned;

use super::{Errors, Field, Rule};
use crate::input::FieldAttrs;

/// `T` if `ty` is `Option<T>` (also `std::option::Option<T>` / `core::option::Option<T>`).
pub(super) fn option_inner(ty: &syn::Type) -> Option<syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(syn::GenericArgument::Type(t)) if args.args.len() == 1 => Some(t.clone()),
        _ => None,
    }
}

/// Types that can never be a column, recognised by shape: reported by the derive on the type's
/// span. Anything else (aliases, newtypes) is left to the `ColumnType` trait bound.
fn unsupported_type(ty: &syn::Type) -> Option<String> {
    let describe = |what: &str| Some(what.to_string());
    match ty {
        syn::Type::Reference(_) => describe("a reference"),
        syn::Type::Tuple(t) if t.elems.is_empty() => describe("`()`"),
        syn::Type::Tuple(_) => describe("a tuple"),
        syn::Type::Array(_) | syn::Type::Slice(_) => describe("an array or slice"),
        syn::Type::Ptr(_) => describe("a raw pointer"),
        syn::Type::FnPtr(_) => describe("a function pointer"),
        syn::Type::TraitObject(_) | syn::Type::ImplTrait(_) => describe("a trait type"),
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            let name = last.ident.to_string();
            match name.as_str() {
                "u64" | "u128" | "usize" | "i128" | "isize" => Some(format!(
                    "`{name}` (PostgreSQL and SQLite have no integer type that holds every `{name}`)"
                )),
                "char" => describe("`char`"),
                "str" => describe("`str`"),
                // The std containers (with their type arguments: an own column type may be
                // called `Cell` or `Box`).
                "HashMap" | "BTreeMap" | "HashSet" | "BTreeSet" | "VecDeque" | "Box" | "Rc"
                | "Arc" | "Cell" | "RefCell"
                    if !matches!(last.arguments, syn::PathArguments::None) =>
                {
                    Some(format!("`{name}`"))
                }
                "Vec" => {
                    let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
                        return None;
                    };
                    match a.args.first() {
                        Some(syn::GenericArgument::Type(syn::Type::Path(inner)))
                            if inner.path.is_ident("u8") =>
                        {
                            None
                        }
                        _ => describe("a `Vec` of anything but `u8`"),
                    }
                }
                "Option" => {
                    let inner = option_inner(ty)?;
                    if option_inner(&inner).is_some() {
                        return describe("`Option<Option<_>>`");
                    }
                    unsupported_type(&inner)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The span of the attribute key at `path` (e.g. `["validate", "length"]`) inside the field's
/// `#[kysera(...)]` attributes: darling gives empty lists no span of their own.
fn key_span(attrs: &[syn::Attribute], path: &[&str]) -> Option<Span> {
    type Metas = syn::punctuated::Punctuated<syn::Meta, syn::Token![,]>;
    let mut metas: Vec<syn::Meta> = attrs
        .iter()
        .filter(|a| a.path().is_ident("kysera"))
        .filter_map(|a| a.parse_args_with(Metas::parse_terminated).ok())
        .flatten()
        .collect();
    let (last, parents) = path.split_last()?;
    for key in parents {
        let list = metas.into_iter().find_map(|m| match m {
            syn::Meta::List(l) if l.path.is_ident(key) => Some(l),
            _ => None,
        })?;
        metas = list
            .parse_args_with(Metas::parse_terminated)
            .ok()?
            .into_iter()
            .collect();
    }
    metas
        .iter()
        .find(|m| m.path().is_ident(last))
        .map(|m| m.path().span())
}

/// A number literal, or a negated one (`-5`, `-0.5`).
fn is_number(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Lit(l) => matches!(l.lit, syn::Lit::Int(_) | syn::Lit::Float(_)),
        syn::Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => is_number(&u.expr),
        syn::Expr::Group(g) => is_number(&g.expr),
        _ => false,
    }
}

const TYPE_HELP: &str = "a column is an integer (i8, i16, i32, i64, u8, u16, u32), f32, f64, bool, String, Vec<u8>, a chrono date/time, uuid::Uuid, serde_json::Value or a type of your own with `#[derive(kysera::Type)]`, or an Option of one; mark fields that are not columns `#[kysera(skip)]`";

pub(super) fn check_field(
    f: FieldAttrs,
    attrs: &[syn::Attribute],
    errors: &mut Errors,
) -> Option<Field> {
    let ident = f.ident.clone()?;
    let ty = f.ty.clone();
    let mut ok = true;
    let flag = |fl: &darling::util::Flag| fl.is_present().then(|| fl.span());
    if let Some(skip) = flag(&f.skip) {
        for (name, other) in [
            ("primary_key", flag(&f.primary_key)),
            ("generated", flag(&f.generated)),
            ("assigned", flag(&f.assigned)),
            ("default", flag(&f.default)),
            ("rename", f.rename.as_ref().map(|r| r.span())),
            ("validate", f.validate.as_ref().map(|v| v.span())),
        ] {
            if let Some(span) = other {
                errors.add(
                    span,
                    format_args!("`{name}` has no meaning on a skipped field"),
                    "remove it, or remove `skip` if the field is a column",
                );
            }
        }
        let _ = skip;
        return None;
    }
    if let Some(what) = unsupported_type(&ty) {
        errors.add(
            ty.span(),
            format_args!("{what} cannot be a column type"),
            TYPE_HELP,
        );
        ok = false;
    }
    let option_inner = option_inner(&ty);
    if let (Some(span), Some(_)) = (flag(&f.primary_key), &option_inner) {
        errors.add(
            span,
            "a primary key column cannot be an `Option`",
            "use the non-optional type; a key the database assigns is marked `generated`",
        );
        ok = false;
    }
    if let (Some(_), Some(span)) = (flag(&f.generated), flag(&f.default)) {
        errors.add(
            span,
            "`default` and `generated` cannot be combined",
            "`generated` columns are never inserted; `default` ones may be",
        );
        ok = false;
    }
    if let (Some(_), Some(span)) = (flag(&f.generated), flag(&f.assigned)) {
        errors.add(
            span,
            "`assigned` and `generated` contradict each other",
            "keep `generated` if the database assigns the key, `assigned` if your code sets it",
        );
    }
    let column = match &f.rename {
        Some(r) if r.trim().is_empty() => {
            errors.add(
                r.span(),
                "a column name cannot be empty",
                "give the column's name: `rename = \"col\"`",
            );
            ok = false;
            String::new()
        }
        Some(r) => r.as_str().to_string(),
        None => ident.to_string().trim_start_matches("r#").to_string(),
    };
    let mut rules = Vec::new();
    if let Some(v) = &f.validate {
        let any =
            v.email.is_present() || v.length.is_some() || v.range.is_some() || v.custom.is_some();
        if !any {
            errors.add(
                key_span(attrs, &["validate"]).unwrap_or_else(|| v.span()),
                "`validate` lists no rule",
                "rules are `email`, `length(min = …, max = …)`, `range(min = …, max = …)` and `custom = \"path\"`",
            );
            ok = false;
        }
        if v.email.is_present() {
            rules.push(Rule::Email(v.email.span()));
        }
        if let Some(l) = &v.length {
            match (l.min, l.max) {
                (None, None) => {
                    errors.add(
                        key_span(attrs, &["validate", "length"]).unwrap_or_else(|| l.span()),
                        "`length` needs `min`, `max` or both",
                        "for example `length(min = 1, max = 100)`",
                    );
                    ok = false;
                }
                (Some(lo), Some(hi)) if lo > hi => {
                    errors.add(
                        key_span(attrs, &["validate", "length"]).unwrap_or_else(|| l.span()),
                        format_args!("`length` min {lo} is greater than max {hi}"),
                        "no value could pass: swap the bounds",
                    );
                    ok = false;
                }
                (min, max) => rules.push(Rule::Length {
                    span: key_span(attrs, &["validate", "length"]).unwrap_or_else(|| l.span()),
                    min,
                    max,
                }),
            }
        }
        if let Some(r) = &v.range {
            if r.min.is_none() && r.max.is_none() {
                errors.add(
                    key_span(attrs, &["validate", "range"]).unwrap_or_else(|| r.span()),
                    "`range` needs `min`, `max` or both",
                    "for example `range(min = 0, max = 150)`",
                );
                ok = false;
            } else if let Some(bad) = [&r.min, &r.max]
                .into_iter()
                .flatten()
                .find(|e| !is_number(e))
            {
                errors.add(
                    bad.span(),
                    "a `range` bound is a number",
                    "write a literal of the field's type, negative ones too: `range(min = -5, max = 5)`",
                );
                ok = false;
            } else {
                rules.push(Rule::Range {
                    span: key_span(attrs, &["validate", "range"]).unwrap_or_else(|| r.span()),
                    min: r.min.clone().map(Box::new),
                    max: r.max.clone().map(Box::new),
                });
            }
        }
        if let Some(p) = &v.custom {
            rules.push(Rule::Custom(p.clone()));
        }
    }
    if ident
        .to_string()
        .trim_start_matches("r#")
        .eq_ignore_ascii_case("info")
    {
        errors.add(
            ident.span(),
            "a field named `info` would get the column constant `INFO`, which hides `Model::INFO`",
            "rename the field and keep the column name: `#[kysera(rename = \"info\")] info_text: …`",
        );
        ok = false;
    }
    ok.then_some(Field {
        managed: false,
        tenant: false,
        ident,
        vis: f.vis.clone(),
        ty,
        option_inner,
        column,
        primary_key: f.primary_key.is_present(),
        generated: f.generated.is_present(),
        assigned: flag(&f.assigned),
        has_default: f.default.is_present(),
        rules,
    })
}
