//! What the derive emits besides the model's code: the errors with a stub that keeps user code
//! free of follow-on errors (and still type-checks the validation rules), and the warning on
//! an integer key that says neither `generated` nor `assigned`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use crate::expand::{generate, repo_fn, rule_checks, typed_columns};
use crate::model::{self, Field};

/// The whole derive: check, then generate the code or the errors plus a stub.
pub(crate) fn derive(input: syn::DeriveInput) -> TokenStream {
    let checked = model::check(&input);
    match checked.model {
        Some(m) => generate(&m),
        None => {
            let stub = if input.generics.params.is_empty() {
                let (name, krate) = (&checked.ident, &checked.krate);
                let mut s = stub(name, krate, &input.vis, &checked.partial_fields);
                // Keep the behaviour methods callable, so their uses get no follow-on errors.
                let declared = |n: &str| input.attrs.iter().any(|a| a.path().is_ident(n));
                if declared("soft_delete") {
                    s.extend(quote!(impl #krate::__private::v0_1::SoftDeleteSeal for #name {} impl #krate::SoftDeleteModel for #name {}));
                }
                if declared("audit") {
                    s.extend(quote!(impl #krate::__private::v0_1::AuditSeal for #name {} impl #krate::AuditedModel for #name {}));
                }
                if declared("timestamps") {
                    s.extend(quote!(
                        impl #krate::__private::v0_1::CreatedAtSeal for #name {}
                        impl #krate::HasCreatedAt for #name {}
                        impl #krate::__private::v0_1::UpdatedAtSeal for #name {}
                        impl #krate::HasUpdatedAt for #name {}
                    ));
                }
                s
            } else {
                TokenStream::new()
            };
            let errors = checked.errors.into_compile_errors();
            quote!(#errors #stub)
        }
    }
}

/// A warning (the only kind a derive can emit on stable Rust is a deprecation) on a single
/// integer primary key that says neither `generated` nor `assigned`: most such keys are
/// auto-increment, and without `generated` the insert struct demands a value for them.
pub(crate) fn key_warning(name: &syn::Ident, fields: &[Field]) -> TokenStream {
    let mut keys = fields.iter().filter(|f| f.primary_key);
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return TokenStream::new();
    };
    let integer = matches!(&key.ty, syn::Type::Path(p)
        if p.qself.is_none() && ["i16", "i32", "i64"].iter().any(|t| p.path.is_ident(t)));
    if !integer || key.generated || key.assigned.is_some() {
        return TokenStream::new();
    }
    let note = format!(
        "`{key}` is an integer primary key that is neither `generated` nor `assigned`, so `New{name}` requires a value for it. help: add `#[kysera(generated)]` to `{key}` if the database assigns it (auto-increment, serial, identity), or `#[kysera(assigned)]` if your code sets it",
        key = key.ident,
    );
    let span = key.ident.span();
    quote_spanned! {span=>
        const _: () = {
            #[deprecated(note = #note)]
            #[allow(non_upper_case_globals)]
            const primary_key_without_generated_or_assigned: () = ();
            primary_key_without_generated_or_assigned
        };
    }
}

/// Emitted with the errors: enough for user code to type-check without a cascade.
fn stub(
    name: &syn::Ident,
    krate: &syn::Path,
    vis: &syn::Visibility,
    fields: &[Field],
) -> TokenStream {
    let name_str = name.to_string();
    let columns = typed_columns(name, krate, vis, fields);
    let repo = repo_fn(name, krate, vis);
    // The rules' type checks still run, so a rule on the wrong type of field is reported with
    // the derive's other errors rather than after they are fixed.
    let rules = fields.iter().filter(|f| !f.rules.is_empty()).map(|f| {
        let ty = f.option_inner.as_ref().unwrap_or(&f.ty);
        let checks = rule_checks(krate, f);
        quote! {
            #[allow(dead_code, clippy::ptr_arg)]
            fn __kysera_rules(__kysera_v: &#ty) {
                let mut __kysera_errors = #krate::validation::ValidationErrors::default();
                #checks
            }
        }
    });
    quote! {
        #(const _: () = { #rules };)*
        const _: () = {
            #[automatically_derived]
            impl #krate::Model for #name {
                type Id = ();
                type New = ();
                type Patch = ();
                const INFO: &'static #krate::ModelInfo = &#krate::__private::v0_1::model_info(#name_str, "", &[], &[], ::core::option::Option::None, ::core::option::Option::None, ::core::option::Option::None, ::core::option::Option::None, ::core::option::Option::None);
                fn from_row(_: &#krate::Row) -> #krate::Result<Self> {
                    ::core::unreachable!("#[derive(Repository)] reported errors")
                }
                fn id(&self) -> Self::Id {}
                fn id_values(_: &Self::Id) -> ::std::vec::Vec<#krate::Value> { ::std::vec::Vec::new() }
                fn column_value(&self, _: &str) -> ::core::option::Option<#krate::Value> { ::core::option::Option::None }
                fn insert_values(_: &Self::New) -> ::std::vec::Vec<(&'static str, #krate::Value)> { ::std::vec::Vec::new() }
                fn patch_values(_: &Self::Patch) -> ::std::vec::Vec<(&'static str, #krate::Value)> { ::std::vec::Vec::new() }
                fn validate_new(_: &Self::New) -> ::core::result::Result<(), #krate::validation::ValidationErrors> { ::core::result::Result::Ok(()) }
                fn validate_patch(_: &Self::Patch) -> ::core::result::Result<(), #krate::validation::ValidationErrors> { ::core::result::Result::Ok(()) }
            }
            #[automatically_derived]
            #[allow(dead_code)]
            impl #name {
                #columns
                #repo
            }
        };
    }
}
