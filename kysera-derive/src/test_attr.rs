//! `#[kysera::test]`: a test run on fresh databases, with migrations and fixtures applied.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, LitStr};

fn error(span: proc_macro2::Span, message: &str) -> TokenStream {
    syn::Error::new(span, message).to_compile_error()
}

/// Expands the attribute (`args`) on the test function (`item`).
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut databases: Vec<String> = vec!["sqlite".into()];
    let mut migrations: Option<LitStr> = None;
    let mut fixtures: Vec<LitStr> = Vec::new();
    let mut errors = TokenStream::new();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("migrations") {
            migrations = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("fixtures") {
            fixtures.push(meta.value()?.parse()?);
        } else if meta.path.is_ident("databases") {
            let lit: LitStr = meta.value()?.parse()?;
            let mut list = Vec::new();
            for d in lit.value().split(',').map(str::trim) {
                match d {
                    "all" => list.extend(["sqlite", "postgres", "mysql"].map(String::from)),
                    "sqlite" | "postgres" | "mysql" | "mysql-emulated" => list.push(d.to_string()),
                    _ => {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!(
                                "unknown database `{d}`\nhelp: use sqlite, postgres, mysql, mysql-emulated or all, separated by commas"
                            ),
                        ));
                    }
                }
            }
            let mut seen = Vec::new();
            list.retain(|d| {
                let new = !seen.contains(d);
                seen.push(d.clone());
                new
            });
            databases = list;
        } else {
            return Err(meta.error(
                "unknown option\nhelp: the options are databases = \"…\", migrations = \"…\" and fixtures = \"…\"",
            ));
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.extend(e.to_compile_error());
    }
    let func: ItemFn = match syn::parse2(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error(),
    };
    if func.sig.asyncness.is_none() {
        errors.extend(error(
            func.sig.fn_token.span(),
            "a #[kysera::test] function must be async\nhelp: write `async fn`",
        ));
    }
    if func.sig.inputs.len() != 1 {
        let span = if func.sig.inputs.is_empty() {
            func.sig.paren_token.span.join()
        } else {
            func.sig.inputs.span()
        };
        errors.extend(error(
            span,
            "a #[kysera::test] function takes the database: one argument\nhelp: write `async fn name(db: kysera::Executor)`",
        ));
    }
    let name = &func.sig.ident;
    if !errors.is_empty() {
        return quote! { #errors #[test] fn #name() {} };
    }
    let name_text = name.to_string();
    // Outer attributes (#[ignore], #[should_panic], docs) go on the generated test; inner ones
    // (#![allow(…)]) stay in the body they were written in.
    let attrs: Vec<_> = func
        .attrs
        .iter()
        .filter(|a| matches!(a.style, syn::AttrStyle::Outer))
        .collect();
    let mut inner = func.clone();
    inner
        .attrs
        .retain(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
    inner.sig.ident = syn::Ident::new("__kysera_test", name.span());
    let migrator = match &migrations {
        Some(path) => quote! { ::core::option::Option::Some(::kysera::migrations!(#path)) },
        None => quote! { ::core::option::Option::None },
    };
    let fixtures = fixtures.iter().map(|f| {
        quote_spanned! {f.span()=> ::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #f) }
    });
    quote! {
        #(#attrs)*
        #[test]
        fn #name() {
            #inner
            ::kysera::testing::__run_test(
                ::kysera::testing::__TestOptions {
                    name: #name_text,
                    databases: &[#(#databases),*],
                    migrations: #migrator,
                    fixtures: &[#(#fixtures),*],
                },
                &|db| ::std::boxed::Box::pin(async move {
                    ::kysera::testing::TestOutcome::into_outcome(__kysera_test(db).await)
                }),
            );
        }
    }
}
