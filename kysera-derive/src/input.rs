//! Stage 1: the attributes as written, read with darling.

use darling::util::{Flag, SpannedValue};
use darling::{FromField, FromMeta};

/// `#[kysera(...)]` on the struct.
#[derive(Debug, Default, FromMeta)]
pub struct StructAttrs {
    /// `table = "…"`
    pub table: Option<SpannedValue<String>>,
    /// `crate = "path"`
    #[darling(rename = "crate")]
    pub krate: Option<syn::Path>,
    /// `new(derive(…), attr(…))`: derives and attributes for the generated insert struct.
    pub new: Option<GeneratedAttrs>,
    /// `patch(derive(…), attr(…))`: derives and attributes for the generated patch struct.
    pub patch: Option<GeneratedAttrs>,
}

/// `new(…)` / `patch(…)`: what the user adds to a generated struct.
#[derive(Debug, Default, FromMeta)]
pub struct GeneratedAttrs {
    /// `derive(Deserialize, …)`
    #[darling(default)]
    pub derive: darling::util::PathList,
    /// `attr(serde(rename_all = "camelCase"), …)`: each written as `#[…]` on the struct.
    #[darling(default)]
    pub attr: AttrList,
}

/// The attributes of `attr(…)`, each a meta (`serde(…)`, `doc = "…"`), and the spans of items
/// that are not (reported by the model's checks, so that the struct's other attributes are still
/// read and checked in the same build).
#[derive(Debug, Default)]
pub struct AttrList {
    /// The attributes, in order.
    pub metas: Vec<syn::Meta>,
    /// The spans of items that are not attributes (literals).
    pub invalid: Vec<proc_macro2::Span>,
}

impl FromMeta for AttrList {
    fn from_list(items: &[darling::ast::NestedMeta]) -> darling::Result<Self> {
        let mut list = AttrList::default();
        for item in items {
            match item {
                darling::ast::NestedMeta::Meta(m) => list.metas.push(m.clone()),
                other => list.invalid.push(syn::spanned::Spanned::span(other)),
            }
        }
        Ok(list)
    }
}

/// `#[kysera(...)]` on a field.
#[derive(Debug, FromField)]
#[darling(attributes(kysera))]
pub struct FieldAttrs {
    pub ident: Option<syn::Ident>,
    pub vis: syn::Visibility,
    pub ty: syn::Type,
    pub primary_key: Flag,
    pub generated: Flag,
    pub assigned: Flag,
    pub default: Flag,
    pub skip: Flag,
    pub rename: Option<SpannedValue<String>>,
    pub validate: Option<SpannedValue<ValidateAttrs>>,
}

/// `validate(...)`
#[derive(Debug, Default, FromMeta)]
pub struct ValidateAttrs {
    pub email: Flag,
    pub length: Option<SpannedValue<LengthAttrs>>,
    pub range: Option<SpannedValue<RangeAttrs>>,
    pub custom: Option<syn::Path>,
}

/// `length(min = …, max = …)`
#[derive(Debug, Default, FromMeta)]
pub struct LengthAttrs {
    pub min: Option<usize>,
    pub max: Option<usize>,
}

/// `range(min = …, max = …)`: literals typed by the field.
#[derive(Debug, Default, FromMeta)]
pub struct RangeAttrs {
    pub min: Option<syn::Expr>,
    pub max: Option<syn::Expr>,
}

/// Reads the struct's `#[kysera(...)]` attributes (several are merged; a key given twice is an
/// error).
pub fn struct_attrs(attrs: &[syn::Attribute]) -> darling::Result<StructAttrs> {
    let metas: Vec<darling::ast::NestedMeta> = attrs
        .iter()
        .filter(|a| a.path().is_ident("kysera"))
        .map(|a| {
            a.parse_args_with(
                syn::punctuated::Punctuated::<darling::ast::NestedMeta, syn::Token![,]>::parse_terminated,
            )
            .map_err(darling::Error::from)
        })
        .collect::<darling::Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    StructAttrs::from_list(&metas)
}

/// `#[soft_delete]` or `#[soft_delete(column = "…")]`
#[derive(Debug, Default, FromMeta)]
pub struct SoftDeleteAttrs {
    pub column: Option<SpannedValue<String>>,
}

/// `#[timestamps]` or `#[timestamps(created_at = "…", updated_at = "…")]`
#[derive(Debug, Default, FromMeta)]
pub struct TimestampsAttrs {
    pub created_at: Option<SpannedValue<String>>,
    pub updated_at: Option<SpannedValue<String>>,
}

/// A behaviour attribute: where it was written and what it says.
pub struct Behaviour<T> {
    pub span: proc_macro2::Span,
    pub attrs: T,
}

/// Reads one behaviour attribute (`#[name]` or `#[name(...)]`); `Ok(None)` if absent. Written
/// twice is an error.
pub fn behaviour<T: FromMeta + Default>(
    attrs: &[syn::Attribute],
    name: &str,
) -> darling::Result<Option<Behaviour<T>>> {
    let mut found: Option<Behaviour<T>> = None;
    let mut errors = darling::Error::accumulator();
    for a in attrs.iter().filter(|a| a.path().is_ident(name)) {
        use syn::spanned::Spanned;
        let span = a.path().span();
        if found.is_some() {
            errors.push(
                darling::Error::custom(format!("`#[{name}]` is written twice")).with_span(&span),
            );
            continue;
        }
        let parsed = match &a.meta {
            syn::Meta::Path(_) => Ok(T::default()),
            syn::Meta::List(list) => darling::ast::NestedMeta::parse_meta_list(list.tokens.clone())
                .map_err(darling::Error::from)
                .and_then(|items| T::from_list(&items)),
            syn::Meta::NameValue(nv) => Err(darling::Error::custom(format!(
                "write `#[{name}]` or `#[{name}(...)]`"
            ))
            .with_span(nv)),
        };
        if let Some(attrs) = errors.handle(parsed) {
            found = Some(Behaviour { span, attrs });
        }
    }
    errors.finish_with(found)
}

/// `#[rls(tenant = "…")]`
#[derive(Debug, Default, FromMeta)]
pub struct RlsAttrs {
    pub tenant: Option<SpannedValue<String>>,
}

/// `#[audit]` or `#[audit(operations(create, update, delete), old_values = …, new_values = …,
/// exclude(field, …))]`
#[derive(Debug, Default, FromMeta)]
pub struct AuditAttrs {
    pub operations: Option<darling::util::PathList>,
    pub old_values: Option<bool>,
    pub new_values: Option<bool>,
    pub exclude: Option<darling::util::PathList>,
}
