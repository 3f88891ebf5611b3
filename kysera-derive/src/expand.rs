//! Stage 3: code generation from the validated model only.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{self, Field, Model, Rule};

/// The patch setter for a field: its name, or `set_<name>` where the name would hide a method
/// of a trait the patch implements (`UserPatch::default()` must stay `Default::default`).
fn setter_name(ident: &syn::Ident) -> syn::Ident {
    let name = ident.to_string();
    let name = name.trim_start_matches("r#");
    if ["default", "clone", "clone_from", "eq", "ne", "fmt"].contains(&name) {
        format_ident!("set_{}", name, span = ident.span())
    } else {
        ident.clone()
    }
}

fn const_name(f: &Field) -> syn::Ident {
    let name = f.ident.to_string();
    format_ident!(
        "{}",
        name.trim_start_matches("r#").to_uppercase(),
        span = f.ident.span()
    )
}

/// `pub const EMAIL: Column<User, String> = Column::new("email");` for each field.
pub(crate) fn typed_columns(
    name: &syn::Ident,
    krate: &syn::Path,
    vis: &syn::Visibility,
    fields: &[Field],
) -> TokenStream {
    fields
        .iter()
        .map(|f| {
            let (cname, col, ty) = (const_name(f), &f.column, &f.ty);
            let doc = format!("The `{col}` column, for typed filters and ordering.");
            quote_spanned! {ty.span()=>
                #[doc = #doc]
                #vis const #cname: #krate::Column<#name, #ty> = #krate::Column::new(#col);
            }
        })
        .collect()
}

pub(crate) fn repo_fn(name: &syn::Ident, krate: &syn::Path, vis: &syn::Visibility) -> TokenStream {
    let doc = format!("The repository of [`{name}`] over `ctx` (an executor or a transaction).");
    quote! {
        #[doc = #doc]
        #vis fn repo(ctx: &#krate::Executor) -> #krate::Repository<#name> {
            #krate::Repository::new(ctx)
        }
    }
}

/// The checks of one field's rules on `v: &T` (T the non-optional type).
pub(crate) fn rule_checks(krate: &syn::Path, f: &Field) -> TokenStream {
    let field = f.ident.to_string();
    let field = field.trim_start_matches("r#");
    f.rules
        .iter()
        .map(|r| match r {
            Rule::Email(span) => quote_spanned! {*span=>
                #krate::__private::v0_1::check_email(&mut __kysera_errors, #field, __kysera_v);
            },
            Rule::Length { span, min, max } => {
                let opt = |n: &Option<usize>| match n {
                    Some(n) => quote!(::core::option::Option::Some(#n)),
                    None => quote!(::core::option::Option::None),
                };
                let (min, max) = (opt(min), opt(max));
                quote_spanned! {*span=>
                    #krate::__private::v0_1::check_length(&mut __kysera_errors, #field, __kysera_v, #min, #max);
                }
            }
            Rule::Range { span, min, max } => {
                let opt = |l: &Option<Box<syn::Expr>>| match l {
                    Some(l) => quote_spanned!(l.span()=> ::core::option::Option::Some(#l)),
                    None => quote!(::core::option::Option::None),
                };
                let (min, max) = (opt(min), opt(max));
                quote_spanned! {*span=>
                    #krate::__private::v0_1::check_range(&mut __kysera_errors, #field, __kysera_v, #min, #max);
                }
            }
            Rule::Custom(path) => quote_spanned! {path.span()=>
                #krate::__private::v0_1::check_custom(&mut __kysera_errors, #field, __kysera_v, #path);
            },
        })
        .collect()
}

/// `<#ty as ColumnType>::#method(#args)`, spanned at the field's type.
fn col_call(krate: &syn::Path, ty: &syn::Type, method: &str, args: TokenStream) -> TokenStream {
    let method = format_ident!("{}", method);
    quote_spanned!(ty.span()=> <#ty as #krate::ColumnType>::#method(#args))
}

/// Clone, Debug and PartialEq for a generated struct, through `ColumnType` (see there).
/// `fields`: (ident, field type, whether the struct wraps it in `Option`).
fn struct_impls(
    krate: &syn::Path,
    name: &syn::Ident,
    fields: &[(&syn::Ident, &syn::Type, bool)],
) -> TokenStream {
    let name_str = name.to_string();
    let clones = fields.iter().map(|(i, ty, opt)| {
        let call = col_call(
            krate,
            ty,
            if *opt { "__clone_opt" } else { "__clone" },
            quote!(&self.#i),
        );
        quote!(#i: #call)
    });
    let eqs = fields.iter().map(|(i, ty, opt)| {
        let call = col_call(
            krate,
            ty,
            if *opt { "__eq_opt" } else { "__eq" },
            quote!(&self.#i, &other.#i),
        );
        quote!(&& #call)
    });
    let debugs = fields.iter().map(|(i, ty, opt)| {
        let call = col_call(
            krate,
            ty,
            if *opt { "__debug_opt" } else { "__debug" },
            quote!(&self.#i),
        );
        let s = i.to_string();
        let s = s.trim_start_matches("r#");
        quote!(.field(#s, #call))
    });
    quote! {
        #[automatically_derived]
        impl ::core::clone::Clone for #name {
            fn clone(&self) -> Self {
                Self { #(#clones,)* }
            }
        }
        #[automatically_derived]
        impl ::core::cmp::PartialEq for #name {
            fn eq(&self, other: &Self) -> bool {
                true #(#eqs)*
            }
        }
        #[automatically_derived]
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#name_str) #(#debugs)* .finish()
            }
        }
    }
}

pub(crate) fn generate(m: &Model) -> TokenStream {
    let Model {
        ident: name,
        vis,
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
    } = m;
    let ts_column = |m: &Option<model::Managed>| match m {
        Some(model::Managed { column, kind }) => {
            let kind = match kind {
                model::TimeKind::Utc => quote!(#krate::TimestampKind::Utc),
                model::TimeKind::Naive => quote!(#krate::TimestampKind::Naive),
            };
            quote!(::core::option::Option::Some(#krate::__private::v0_1::timestamp_column(#column, #kind)))
        }
        None => quote!(::core::option::Option::None),
    };
    let (sd_info, ca_info, ua_info) = (
        ts_column(soft_delete),
        ts_column(created_at),
        ts_column(updated_at),
    );
    let mut behaviour_impls = TokenStream::new();
    if soft_delete.is_some() {
        behaviour_impls
            .extend(quote!(#[automatically_derived] impl #krate::__private::v0_1::SoftDeleteSeal for #name {} #[automatically_derived] impl #krate::SoftDeleteModel for #name {}));
    }
    if created_at.is_some() {
        behaviour_impls
            .extend(quote!(#[automatically_derived] impl #krate::__private::v0_1::CreatedAtSeal for #name {} #[automatically_derived] impl #krate::HasCreatedAt for #name {}));
    }
    if updated_at.is_some() {
        behaviour_impls
            .extend(quote!(#[automatically_derived] impl #krate::__private::v0_1::UpdatedAtSeal for #name {} #[automatically_derived] impl #krate::HasUpdatedAt for #name {}));
    }
    let tenant_info = match tenant {
        // The kind from the type itself, so an own type (a newtype over a string or an
        // integer) is checked as what it is stored as.
        Some((t, ty)) => quote!(::core::option::Option::Some((
            #t,
            #krate::ValueKind::of_family(<#ty as #krate::ColumnType>::__FAMILY)
        ))),
        None => quote!(::core::option::Option::None),
    };
    let audit_info = match audit {
        Some(a) => {
            let (c, u, d, o, n) = (a.create, a.update, a.delete, a.old_values, a.new_values);
            let ex = &a.exclude;
            behaviour_impls
                .extend(quote!(#[automatically_derived] impl #krate::__private::v0_1::AuditSeal for #name {} #[automatically_derived] impl #krate::AuditedModel for #name {}));
            quote!(::core::option::Option::Some(#krate::__private::v0_1::audit_spec(#c, #u, #d, #o, #n, &[#(#ex),*])))
        }
        None => quote!(::core::option::Option::None),
    };
    // Every model is registered: the executor enforces the behaviours of those that declare
    // some on every query naming their table, and `dialect::check_all_models` checks them all.
    behaviour_impls.extend(quote! {
        #krate::__private::v0_1::inventory::submit! {
            #krate::__private::v0_1::ModelRegistration(<#name as #krate::Model>::INFO)
        }
    });
    let name_str = name.to_string();
    let new_name = format_ident!("New{}", name);
    let patch_name = format_ident!("{}Patch", name);
    let value = quote!(#krate::Value);
    let to_value = |ty: &syn::Type, arg: TokenStream| col_call(krate, ty, "__to_value", arg);

    // The insert struct.
    let new_fields = fields.iter().filter(|f| f.inserted()).map(|f| {
        let (ident, ty, col) = (&f.ident, &f.ty, &f.column);
        let (ty, doc) = if f.has_default && !f.nullable() {
            (
                quote!(::core::option::Option<#ty>),
                format!("The `{col}` column (`None`: the database default)."),
            )
        } else if f.has_default {
            (
                quote!(#ty),
                format!("The `{col}` column (`None`: the database default)."),
            )
        } else {
            (quote!(#ty), format!("The `{col}` column."))
        };
        let fvis = &f.vis;
        quote!(#[doc = #doc] #fvis #ident: #ty)
    });
    let insert_pushes = fields.iter().filter(|f| f.inserted()).map(|f| {
        let (ident, col) = (&f.ident, &f.column);
        if f.has_default && f.nullable() {
            let inner = f.option_inner.as_ref().unwrap_or(&f.ty);
            let v = to_value(inner, quote!(__kysera_v));
            quote!(if let ::core::option::Option::Some(__kysera_v) = &__kysera_new.#ident { __kysera_values.push((#col, #v)); })
        } else if f.has_default {
            let v = to_value(&f.ty, quote!(__kysera_v));
            quote!(if let ::core::option::Option::Some(__kysera_v) = &__kysera_new.#ident { __kysera_values.push((#col, #v)); })
        } else {
            let v = to_value(&f.ty, quote!(&__kysera_new.#ident));
            quote!(__kysera_values.push((#col, #v));)
        }
    });
    let validate_new = fields
        .iter()
        .filter(|f| f.inserted() && !f.rules.is_empty())
        .map(|f| {
            let (ident, checks) = (&f.ident, rule_checks(krate, f));
            if f.has_default || f.nullable() {
                quote!(if let ::core::option::Option::Some(__kysera_v) = &__kysera_new.#ident { #checks })
            } else {
                quote!({ let __kysera_v = &__kysera_new.#ident; #checks })
            }
        });

    // The patch struct.
    // With serde derived on the patch: an absent field is `None` (unchanged), `null` on a
    // nullable column is `Some(None)` (set NULL) and `null` on a NOT NULL column an error; a
    // serialised patch leaves out the unchanged fields, so the difference survives a round trip.
    let krate_str = quote!(#krate).to_string().replace(' ', "");
    let patch_fields = fields.iter().filter(|f| f.patched()).map(|f| {
        let (ident, ty, col) = (&f.ident, &f.ty, &f.column);
        let doc = format!("The new value of the `{col}` column (`None`: unchanged).");
        let fvis = &f.vis;
        let serde = if patch_extra.serde {
            let with = format!(
                "{krate_str}::__private::v0_1::{}",
                if f.nullable() { "patch_nullable" } else { "patch_required" }
            );
            quote!(#[serde(default, deserialize_with = #with, skip_serializing_if = "::core::option::Option::is_none")])
        } else {
            TokenStream::new()
        };
        quote!(#[doc = #doc] #serde #fvis #ident: ::core::option::Option<#ty>)
    });
    let patch_setters = fields.iter().filter(|f| f.patched()).map(|f| {
        let (ident, ty, col) = (&f.ident, &f.ty, &f.column);
        let doc = format!("Sets the `{col}` column.");
        let fvis = &f.vis;
        let setter = setter_name(ident);
        quote! {
            #[doc = #doc]
            #fvis fn #setter(mut self, value: impl ::core::convert::Into<#ty>) -> Self {
                self.#ident = ::core::option::Option::Some(::core::convert::Into::into(value));
                self
            }
        }
    });
    let patch_pushes = fields.iter().filter(|f| f.patched()).map(|f| {
        let (ident, col) = (&f.ident, &f.column);
        let v = to_value(&f.ty, quote!(__kysera_v));
        quote!(if let ::core::option::Option::Some(__kysera_v) = &__kysera_patch.#ident { __kysera_values.push((#col, #v)); })
    });
    let validate_patch = fields.iter().filter(|f| f.patched() && !f.rules.is_empty()).map(|f| {
        let (ident, checks) = (&f.ident, rule_checks(krate, f));
        if f.nullable() {
            quote!(if let ::core::option::Option::Some(::core::option::Option::Some(__kysera_v)) = &__kysera_patch.#ident { #checks })
        } else {
            quote!(if let ::core::option::Option::Some(__kysera_v) = &__kysera_patch.#ident { #checks })
        }
    });

    // Reading rows and values.
    let decode_fields = fields.iter().map(|f| {
        let (ident, col) = (&f.ident, &f.column);
        let call = col_call(krate, &f.ty, "__decode", quote!(row, #col));
        quote!(#ident: #call?,)
    });
    let skipped_fields = skipped
        .iter()
        .map(|s| quote!(#s: ::core::default::Default::default(),));
    let value_arms = fields.iter().map(|f| {
        let (ident, col) = (&f.ident, &f.column);
        let v = to_value(&f.ty, quote!(&self.#ident));
        quote!(#col => ::core::option::Option::Some(#v),)
    });

    // The primary key.
    let pk: Vec<&Field> = m.primary_key().collect();
    let pk_cols = pk.iter().map(|f| &f.column);
    let (id_ty, id_expr, id_values) = if let [single] = pk.as_slice() {
        let (ident, ty) = (&single.ident, &single.ty);
        let clone = col_call(krate, ty, "__clone", quote!(&self.#ident));
        let v = to_value(ty, quote!(id));
        (quote!(#ty), clone, quote!(::std::vec![#v]))
    } else {
        let tys = pk.iter().map(|f| &f.ty);
        let clones = pk.iter().map(|f| {
            let ident = &f.ident;
            col_call(krate, &f.ty, "__clone", quote!(&self.#ident))
        });
        let vals = pk.iter().enumerate().map(|(i, f)| {
            let idx = syn::Index::from(i);
            to_value(&f.ty, quote!(&id.#idx))
        });
        (
            quote!((#(#tys,)*)),
            quote!((#(#clones,)*)),
            quote!(::std::vec![#(#vals,)*]),
        )
    };

    // Static description.
    let column_infos = fields.iter().map(|f| {
        let (col, field) = (&f.column, f.ident.to_string());
        let field = field.trim_start_matches("r#");
        let (pk, generated, default, nullable) =
            (f.primary_key, f.generated, f.has_default, f.nullable());
        let ty = &f.ty;
        let rust_type = quote!(#ty).to_string().replace(' ', "");
        // Through `ColumnType`, like every other use of the field's type: one error for a
        // type that is not a column type.
        let family = quote_spanned!(ty.span()=> <#ty as #krate::ColumnType>::__FAMILY);
        quote!(#krate::__private::v0_1::column_info(#col, #field, #pk, #generated, #default, #nullable, #rust_type, #family))
    });
    let n_inserted = fields.iter().filter(|f| f.inserted()).count();
    let n_patched = fields.iter().filter(|f| f.patched()).count();

    // JSON of every column, and values back from it (audit records and restores).
    let json_inserts = fields.iter().map(|f| {
        let (ident, col) = (&f.ident, &f.column);
        let j = col_call(krate, &f.ty, "__to_json", quote!(&self.#ident));
        quote!(__kysera_map.insert(::std::string::String::from(#col), #j);)
    });
    let json_reads = fields.iter().map(|f| {
        let col = &f.column;
        let v = col_call(krate, &f.ty, "__value_from_json", quote!(#col, __kysera_v));
        quote!(if let ::core::option::Option::Some(__kysera_v) = __kysera_map.get(#col) { __kysera_values.push((#col, #v?)); })
    });

    let audit_json = if audit.is_some() {
        quote! {
            fn __audit_json(&self) -> #krate::__private::v0_1::JsonMap {
                let mut __kysera_map = #krate::__private::v0_1::JsonMap::new();
                #(#json_inserts)*
                __kysera_map
            }

            fn __audit_values(__kysera_map: &#krate::__private::v0_1::JsonMap) -> #krate::Result<::std::vec::Vec<(&'static str, #value)>> {
                let mut __kysera_values = ::std::vec::Vec::new();
                #(#json_reads)*
                ::core::result::Result::Ok(__kysera_values)
            }
        }
    } else {
        TokenStream::new()
    };

    // Clone, PartialEq and Debug for the generated structs.
    let new_impl_fields: Vec<_> = fields
        .iter()
        .filter(|f| f.inserted())
        .map(|f| (&f.ident, &f.ty, f.has_default && !f.nullable()))
        .collect();
    let new_impls = struct_impls(krate, &new_name, &new_impl_fields);
    let patch_impl_fields: Vec<_> = fields
        .iter()
        .filter(|f| f.patched())
        .map(|f| (&f.ident, &f.ty, true))
        .collect();
    let patch_impls = struct_impls(krate, &patch_name, &patch_impl_fields);

    let columns = typed_columns(name, krate, vis, fields);
    let repo = repo_fn(name, krate, vis);
    let new_doc = format!(
        "The insert input of [`{name}`]: every column the database does not generate. Generated by `#[derive(Repository)]`."
    );
    let patch_doc = format!(
        "The update input of [`{name}`]: `None` fields are left unchanged. Generated by `#[derive(Repository)]`."
    );
    let key_warning = crate::emit::key_warning(name, fields);
    let user_attrs = |e: &model::Extras| {
        let (derives, attrs) = (&e.derives, &e.attrs);
        let derive = if derives.is_empty() {
            TokenStream::new()
        } else {
            quote!(#[derive(#(#derives),*)])
        };
        quote!(#derive #(#[#attrs])*)
    };
    let (new_user_attrs, patch_user_attrs) = (user_attrs(new_extra), user_attrs(patch_extra));

    quote! {
        #key_warning
        #[doc = #new_doc]
        #new_user_attrs
        #vis struct #new_name {
            #(#new_fields,)*
        }

        #[doc = #patch_doc]
        #[derive(::core::default::Default)]
        #patch_user_attrs
        #vis struct #patch_name {
            #(#patch_fields,)*
        }

        const _: () = {
            #new_impls
            #patch_impls

            #[automatically_derived]
            impl #krate::Model for #name {
                type Id = #id_ty;
                type New = #new_name;
                type Patch = #patch_name;

                const INFO: &'static #krate::ModelInfo = &#krate::__private::v0_1::model_info(
                    #name_str,
                    #table,
                    &[#(#column_infos),*],
                    &[#(#pk_cols),*],
                    #sd_info,
                    #ca_info,
                    #ua_info,
                    #tenant_info,
                    #audit_info,
                );

                fn from_row(row: &#krate::Row) -> #krate::Result<Self> {
                    ::core::result::Result::Ok(Self {
                        #(#decode_fields)*
                        #(#skipped_fields)*
                    })
                }

                fn id(&self) -> Self::Id {
                    #id_expr
                }

                fn id_values(id: &Self::Id) -> ::std::vec::Vec<#value> {
                    #id_values
                }

                fn column_value(&self, column: &str) -> ::core::option::Option<#value> {
                    match column {
                        #(#value_arms)*
                        _ => ::core::option::Option::None,
                    }
                }

                #audit_json

                fn insert_values(__kysera_new: &Self::New) -> ::std::vec::Vec<(&'static str, #value)> {
                    let mut __kysera_values = ::std::vec::Vec::with_capacity(#n_inserted);
                    #(#insert_pushes)*
                    __kysera_values
                }

                fn patch_values(__kysera_patch: &Self::Patch) -> ::std::vec::Vec<(&'static str, #value)> {
                    let mut __kysera_values = ::std::vec::Vec::with_capacity(#n_patched);
                    #(#patch_pushes)*
                    __kysera_values
                }

                #[allow(unused_mut)]
                fn validate_new(__kysera_new: &Self::New) -> ::core::result::Result<(), #krate::validation::ValidationErrors> {
                    let mut __kysera_errors = #krate::validation::ValidationErrors::default();
                    #(#validate_new)*
                    __kysera_errors.into_result()
                }

                #[allow(unused_mut)]
                fn validate_patch(__kysera_patch: &Self::Patch) -> ::core::result::Result<(), #krate::validation::ValidationErrors> {
                    let mut __kysera_errors = #krate::validation::ValidationErrors::default();
                    #(#validate_patch)*
                    __kysera_errors.into_result()
                }
            }

            #[automatically_derived]
            #[allow(dead_code)]
            impl #name {
                #columns
                #repo
            }

            #behaviour_impls

            #[automatically_derived]
            #[allow(dead_code)]
            impl #patch_name {
                #(#patch_setters)*
            }
        };
    }
}
