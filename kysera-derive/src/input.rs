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
    pub min: Option<syn::Lit>,
    pub max: Option<syn::Lit>,
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
