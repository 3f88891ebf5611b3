//! `#[derive(Type)]`: a column type of the application's own — a struct of one field (stored as
//! that field) or an enum of unit variants (stored as its variant's name, or as its discriminant
//! with `repr = "i32"`).

use darling::FromMeta;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{Errors, read_kysera_attrs};

/// `#[kysera(...)]` on the type.
#[derive(Debug, Default, FromMeta)]
struct TypeAttrs {
    /// `crate = "path"`
    #[darling(rename = "crate")]
    krate: Option<syn::Path>,
    /// `rename_all = "snake_case"`: how enum variants are spelt when stored as text.
    rename_all: Option<SpannedValue<String>>,
    /// `repr = "i32"`: store an enum as its discriminant.
    repr: Option<SpannedValue<String>>,
}

/// `#[kysera(...)]` on a variant.
#[derive(Debug, Default, FromMeta)]
struct VariantAttrs {
    /// `rename = "stored"`
    rename: Option<String>,
}

const TYPE_HELP: &str = "type attributes are `rename_all = \"snake_case\"` (an enum stored as text), `repr = \"i16\" | \"i32\" | \"i64\"` (an enum stored as its discriminant) and `crate = \"path\"`";
const VARIANT_HELP: &str = "the variant attribute is `rename = \"stored text\"`";
const RENAME_ALL: &[&str] = &[
    "lowercase",
    "UPPERCASE",
    "snake_case",
    "SCREAMING_SNAKE_CASE",
    "kebab-case",
    "SCREAMING-KEBAB-CASE",
    "camelCase",
    "PascalCase",
];

/// The derive: the impl, or the errors (with no impl: the type's uses as a column then report
/// that it is not one, on their own spans).
pub fn derive(input: syn::DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let name = &input.ident;
    let attrs: TypeAttrs = read_kysera_attrs(&input.attrs, &mut errors, TYPE_HELP);
    let krate = attrs
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::kysera));
    if !input.generics.params.is_empty() {
        errors.add(
            input.generics.span(),
            "`Type` cannot be derived for a type with generic parameters",
            "a column type is one concrete type: `struct UserId(i64)`",
        );
    }
    let body = match &input.data {
        syn::Data::Struct(s) => newtype(s, &attrs, &mut errors),
        syn::Data::Enum(e) => enumeration(e, &name.to_string(), &attrs, &mut errors),
        syn::Data::Union(u) => {
            errors.add(
                u.union_token.span,
                "`Type` cannot be derived for a union",
                "derive it for a struct of one field or an enum of unit variants",
            );
            None
        }
    };
    let errors_out = errors.into_compile_errors();
    let Some((repr, to, from)) = body.filter(|_| errors_out.is_empty()) else {
        return errors_out;
    };
    // `#repr` rather than `Self::Repr`: a variant called `Repr` would make that ambiguous.
    quote! {
        #[automatically_derived]
        #[allow(deprecated)]
        impl #krate::Type for #name {
            type Repr = #repr;
            fn to_repr(&self) -> #repr {
                #to
            }
            fn from_repr(__kysera_repr: #repr) -> ::core::result::Result<Self, ::std::string::String> {
                #from
            }
        }
        #krate::column_type!(#name);
    }
}

type Parts = (TokenStream, TokenStream, TokenStream);

/// `struct UserId(i64)` / `struct Email { value: String }`: stored as its one field.
fn newtype(s: &syn::DataStruct, attrs: &TypeAttrs, errors: &mut Errors) -> Option<Parts> {
    if let Some(r) = &attrs.rename_all {
        errors.add(
            r.span(),
            "`rename_all` is for enums",
            "a struct is stored as its one field",
        );
    }
    if let Some(r) = &attrs.repr {
        errors.add(
            r.span(),
            "`repr` is for enums",
            "a struct is stored as its one field, whose type says how",
        );
    }
    let mut fields = s.fields.iter();
    let (Some(field), None) = (fields.next(), fields.next()) else {
        errors.add(
            if s.fields.is_empty() {
                s.struct_token.span
            } else {
                s.fields.span()
            },
            format!(
                "`Type` can be derived for a struct of exactly one field; this one has {}",
                s.fields.len()
            ),
            "a column holds one value: `struct UserId(i64)`; a struct of several values is a model of its own, or JSON (`sqlx::types::Json<T>`)",
        );
        return None;
    };
    if is_option(&field.ty) {
        errors.add(
            field.ty.span(),
            "the field of a column type cannot be an `Option`",
            "store the value itself (`struct UserId(i64)`) and make the model's field `Option<UserId>` for a nullable column",
        );
        return None;
    }
    let ty = &field.ty;
    let (get, build) = match &field.ident {
        Some(id) => (
            quote!(self.#id.clone()),
            quote!(Self { #id: __kysera_repr }),
        ),
        None => (quote!(self.0.clone()), quote!(Self(__kysera_repr))),
    };
    Some((quote!(#ty), get, quote!(::core::result::Result::Ok(#build))))
}

/// An enum of unit variants: stored as text (its variants' names, renamed) or as its
/// discriminant (`repr`).
fn enumeration(
    e: &syn::DataEnum,
    type_name: &str,
    attrs: &TypeAttrs,
    errors: &mut Errors,
) -> Option<Parts> {
    if e.variants.is_empty() {
        errors.add(
            e.enum_token.span,
            "`Type` cannot be derived for an enum without variants",
            "a column enum lists the values the column can hold",
        );
        return None;
    }
    let repr = attrs.repr.as_ref().and_then(|r| {
        match r.as_str() {
            "i16" | "i32" | "i64" => Some(syn::Ident::new(r.as_str(), r.span())),
            other => {
                errors.add(
                    r.span(),
                    format!("`{other}` is not a discriminant type Kysera stores"),
                    "use `repr = \"i16\"`, `\"i32\"` or `\"i64\"` (integers every database has), or leave `repr` out to store the variant's name as text",
                );
                None
            }
        }
    });
    if let (Some(_), Some(r)) = (&attrs.repr, &attrs.rename_all) {
        errors.add(
            r.span(),
            "`rename_all` names variants stored as text; with `repr` they are stored as numbers",
            "keep one: `repr = \"i32\"` or `rename_all = \"…\"`",
        );
    }
    let rename_all = attrs.rename_all.as_ref().and_then(|r| {
        if RENAME_ALL.contains(&r.as_str()) {
            Some(r.as_str().to_string())
        } else {
            errors.add(
                r.span(),
                format!("unknown `rename_all` style `{}`", r.as_str()),
                format!("use one of {}", RENAME_ALL.join(", ")),
            );
            None
        }
    });
    let mut to = Vec::new();
    let mut from = Vec::new();
    let mut fits = Vec::new();
    let name_ident = syn::Ident::new(type_name, proc_macro2::Span::call_site());
    let mut names: Vec<(String, proc_macro2::Span)> = Vec::new();
    for v in &e.variants {
        if !matches!(v.fields, syn::Fields::Unit) {
            errors.add(
                v.fields.span(),
                format!("variant `{}` holds data; a column enum has unit variants only", v.ident),
                "store the data in columns of its own, or the whole value as JSON (`sqlx::types::Json<T>`)",
            );
            continue;
        }
        let va: VariantAttrs = read_kysera_attrs(&v.attrs, errors, VARIANT_HELP);
        let ident = &v.ident;
        if let Some(int) = &repr {
            if va.rename.is_some() {
                errors.add(
                    ident.span(),
                    format!("variant `{ident}` is renamed, but with `repr` it is stored as its discriminant"),
                    "drop `rename`, or `repr` to store the variants as text",
                );
            }
            let message = format!(
                "the discriminant of `{type_name}::{ident}` does not fit in `{int}`; help: use a wider `repr` (`\"i32\"`, `\"i64\"`)"
            );
            // A discriminant that `as` would truncate is refused at compile time, not stored
            // wrong.
            // On the variant's span, so the error points at the discriminant that does not fit.
            fits.push(quote_spanned!(v.span()=>
                const _: () = ::core::assert!(
                    (#name_ident::#ident as i128) == ((#name_ident::#ident as #int) as i128),
                    #message
                );
            ));
            to.push(quote!(Self::#ident => Self::#ident as #int));
            from.push(quote!(
                __kysera_x if __kysera_x == Self::#ident as #int => ::core::result::Result::Ok(Self::#ident)
            ));
            continue;
        }
        let stored = va.rename.unwrap_or_else(|| {
            rename(
                &syn::ext::IdentExt::unraw(ident).to_string(),
                rename_all.as_deref(),
            )
        });
        if let Some((_, _)) = names.iter().find(|(n, _)| *n == stored) {
            errors.add(
                ident.span(),
                format!("two variants are stored as `{stored}`"),
                "give one of them `#[kysera(rename = \"…\")]`",
            );
        }
        names.push((stored.clone(), ident.span()));
        to.push(quote!(Self::#ident => ::std::string::String::from(#stored)));
        from.push(quote!(#stored => ::core::result::Result::Ok(Self::#ident)));
    }
    let expected: Vec<String> = names.iter().map(|(n, _)| format!("`{n}`")).collect();
    let expected = expected.join(", ");
    match repr {
        Some(int) => Some((
            quote!(#int),
            quote!(#(#fits)* match self { #(#to,)* }),
            quote! {
                match __kysera_repr {
                    #(#from,)*
                    __kysera_other => ::core::result::Result::Err(::std::format!(
                        "{} is not a value of {}", __kysera_other, #type_name
                    )),
                }
            },
        )),
        None => Some((
            quote!(::std::string::String),
            quote!(match self { #(#to,)* }),
            quote! {
                match __kysera_repr.as_str() {
                    #(#from,)*
                    __kysera_other => ::core::result::Result::Err(::std::format!(
                        "`{}` is not one of {}", __kysera_other, #expected
                    )),
                }
            },
        )),
    }
}

/// A variant's name in a `rename_all` style, by serde's rules for variants (so the stored
/// form and serde's agree when both name the same style): `snake_case` puts `_` before every
/// upper-case letter but the first (`HTTPError` → `h_t_t_p_error`, as serde does).
fn rename(variant: &str, style: Option<&str>) -> String {
    let snake = || {
        let mut out = String::new();
        for (i, ch) in variant.char_indices() {
            if i > 0 && ch.is_uppercase() {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        }
        out
    };
    match style {
        None | Some("PascalCase") => variant.to_string(),
        Some("lowercase") => variant.to_ascii_lowercase(),
        Some("UPPERCASE") => variant.to_ascii_uppercase(),
        Some("camelCase") => {
            let mut chars = variant.chars();
            chars
                .next()
                .map(|f| f.to_ascii_lowercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
        Some("snake_case") => snake(),
        Some("SCREAMING_SNAKE_CASE") => snake().to_ascii_uppercase(),
        Some("kebab-case") => snake().replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => snake().to_ascii_uppercase().replace('_', "-"),
        Some(_) => variant.to_string(),
    }
}

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

#[cfg(test)]
mod tests {
    use super::rename;

    #[test]
    fn rename_styles() {
        assert_eq!(rename("OnHold", Some("snake_case")), "on_hold");
        assert_eq!(rename("OnHold", Some("SCREAMING_SNAKE_CASE")), "ON_HOLD");
        assert_eq!(rename("OnHold", Some("kebab-case")), "on-hold");
        assert_eq!(rename("OnHold", Some("camelCase")), "onHold");
        assert_eq!(rename("OnHold", Some("lowercase")), "onhold");
        assert_eq!(rename("OnHold", None), "OnHold");
        // serde's rules, acronyms and digits included.
        assert_eq!(rename("HTTPError", Some("snake_case")), "h_t_t_p_error");
        assert_eq!(rename("User2FA", Some("snake_case")), "user2_f_a");
        assert_eq!(rename("V2", Some("kebab-case")), "v2");
        assert_eq!(rename("OnHold", Some("SCREAMING-KEBAB-CASE")), "ON-HOLD");
    }
}
