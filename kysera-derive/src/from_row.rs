//! `#[derive(FromRow)]`: a struct read from a whole row, field by field, with each field's
//! type checked as a `kysera::Decodable` on the field's own span.

use darling::util::{Flag, SpannedValue};
use darling::{FromField, FromMeta};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{Errors, read_kysera_attrs};

/// `#[kysera(...)]` on the struct.
#[derive(Debug, Default, FromMeta)]
struct RowStructAttrs {
    /// `crate = "path"`
    #[darling(rename = "crate")]
    krate: Option<syn::Path>,
}

/// `#[kysera(...)]` on a field.
#[derive(Debug, FromField)]
#[darling(attributes(kysera))]
struct RowField {
    ident: Option<syn::Ident>,
    ty: syn::Type,
    /// `rename = "column"`
    rename: Option<SpannedValue<String>>,
    /// `skip`: not a column; `Default::default()`.
    skip: Flag,
}

const STRUCT_HELP: &str = "the struct attribute is `#[kysera(crate = \"path\")]`";
const FIELD_HELP: &str =
    "field attributes are `rename = \"column\"` and `skip` (not a column: `Default::default()`)";

/// The derive: the impl, or the errors with a stub impl (so uses of the struct get no
/// follow-on errors).
pub fn derive(input: syn::DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let name = &input.ident;
    let attrs: RowStructAttrs = read_kysera_attrs(&input.attrs, &mut errors, STRUCT_HELP);
    let krate = attrs.krate.unwrap_or_else(|| syn::parse_quote!(::kysera));
    let mut inits = Vec::new();
    match &input.data {
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Named(named),
            ..
        }) => {
            for field in &named.named {
                match RowField::from_field(field) {
                    Ok(f) => inits.extend(field_init(&krate, f, &mut errors)),
                    Err(e) => errors.darling(e, FIELD_HELP),
                }
            }
        }
        syn::Data::Struct(s) => errors.add(
            s.fields.span(),
            "`FromRow` can only be derived for a struct with named fields",
            "name each field after its column: `struct User { id: i64, email: String }`",
        ),
        syn::Data::Enum(e) => errors.add(
            e.enum_token.span,
            "`FromRow` cannot be derived for an enum",
            "a row is read into a struct with one named field per column",
        ),
        syn::Data::Union(u) => errors.add(
            u.union_token.span,
            "`FromRow` cannot be derived for a union",
            "a row is read into a struct with one named field per column",
        ),
    }
    if !input.generics.params.is_empty() {
        errors.add(
            input.generics.span(),
            "`FromRow` cannot be derived for a struct with generic parameters",
            "use a concrete struct for each row shape",
        );
    }
    let body = if errors.is_empty() {
        quote!(::core::result::Result::Ok(Self { #(#inits)* }))
    } else {
        quote!(::core::unreachable!("#[derive(FromRow)] reported errors"))
    };
    let impl_block = if input.generics.params.is_empty() {
        quote! {
            const _: () = {
                #[automatically_derived]
                impl #krate::FromRow for #name {
                    fn from_row(row: &#krate::Row) -> #krate::Result<Self> {
                        #body
                    }
                }
            };
        }
    } else {
        TokenStream::new()
    };
    let errors = errors.into_compile_errors();
    quote!(#errors #impl_block)
}

/// `field: row.get::<Type>("column")?,` (or the default for a skipped field).
fn field_init(krate: &syn::Path, f: RowField, errors: &mut Errors) -> Option<TokenStream> {
    let ident = f.ident?;
    if f.skip.is_present() {
        if let Some(r) = &f.rename {
            errors.add(
                r.span(),
                "a `skip` field is not a column and cannot be renamed",
                "remove `rename` or `skip`",
            );
        }
        return Some(quote!(#ident: ::core::default::Default::default(),));
    }
    let column = match &f.rename {
        Some(r) if r.trim().is_empty() => {
            errors.add(
                r.span(),
                "the column name cannot be empty",
                "write `rename = \"column\"` or leave it out",
            );
            return None;
        }
        Some(r) => r.as_str().to_string(),
        None => ident.to_string().trim_start_matches("r#").to_string(),
    };
    let ty = &f.ty;
    // The Decodable check lands on the field's type.
    let get = quote_spanned!(ty.span()=> row.get::<#ty>(#column)?);
    let _ = krate;
    Some(quote!(#ident: #get,))
}
