//! Stage 2: the attributes checked against the struct, giving a validated model.
//!
//! This file holds the validated model's types; the checks are small functions over them, one
//! concern each (serde_derive's `check.rs` is the model): `check` (the entry point: the struct's
//! shape, its table, its fields, its key), `field` (one field's attributes and type) and
//! `behaviour` (the columns `#[soft_delete]`, `#[timestamps]`, `#[rls]` and `#[audit]` name).

mod behaviour;
mod check;
mod field;

use proc_macro2::Span;

pub use check::check;

/// Errors found so far; each is reported on its own span with a `help:` line.
#[derive(Default)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    pub fn add(&mut self, span: Span, msg: impl std::fmt::Display, help: impl std::fmt::Display) {
        self.0
            .push(syn::Error::new(span, format!("{msg}\n\n= help: {help}")));
    }

    /// A darling error, split into its parts, each with `help` added.
    pub fn darling(&mut self, err: darling::Error, help: &str) {
        for e in err.flatten() {
            // darling calls attribute keys "fields"; say what they are here.
            let mut msg = e
                .to_string()
                .replace("Unknown field:", "unknown attribute")
                .replace("Duplicate field", "duplicate attribute")
                .replace("Available values:", "known attributes:");
            if let Some((text, path)) = msg.rsplit_once(" at ") {
                msg = format!("{text} (in `{path}`)");
            }
            self.add(e.span(), msg, help);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many errors so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn into_compile_errors(self) -> proc_macro2::TokenStream {
        self.0.into_iter().map(|e| e.to_compile_error()).collect()
    }
}

/// The `#[kysera(...)]` attributes among `attrs`, read into `T` (its default, with the errors
/// recorded, when they do not parse).
pub fn read_kysera_attrs<T: darling::FromMeta + Default>(
    attrs: &[syn::Attribute],
    errors: &mut Errors,
    help: &str,
) -> T {
    let mut metas = Vec::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("kysera")) {
        match a.parse_args_with(
            syn::punctuated::Punctuated::<darling::ast::NestedMeta, syn::Token![,]>::parse_terminated,
        ) {
            Ok(list) => metas.extend(list),
            Err(e) => errors.darling(e.into(), help),
        }
    }
    match T::from_list(&metas) {
        Ok(a) => a,
        Err(e) => {
            errors.darling(e, help);
            T::default()
        }
    }
}

pub const AUDIT_HELP: &str = "write `#[audit]` or `#[audit(operations(create, update, delete), old_values = true, new_values = true, exclude(field, …))]`";
pub const RLS_HELP: &str =
    "write `#[rls(tenant = \"tenant_id\")]`, naming the column that holds each row's tenant";
pub const SOFT_DELETE_HELP: &str =
    "write `#[soft_delete]` (column `deleted_at`) or `#[soft_delete(column = \"name\")]`";
pub const TIMESTAMPS_HELP: &str = "write `#[timestamps]` (columns `created_at` / `updated_at`) or `#[timestamps(created_at = \"…\", updated_at = \"…\")]`";

pub const STRUCT_HELP: &str = "struct attributes are `#[kysera(table = \"name\")]`, `#[kysera(crate = \"path\")]` and, for the generated structs, `#[kysera(new(derive(…), attr(…)), patch(derive(…), attr(…)))]`";
pub const FIELD_HELP: &str = "field attributes are `primary_key`, `generated`, `assigned`, `default`, `rename = \"column\"`, `skip` and `validate(email, length(min = …, max = …), range(min = …, max = …), custom = \"path\")`";

/// One validation rule on a field.
pub enum Rule {
    Email(Span),
    Length {
        span: Span,
        min: Option<usize>,
        max: Option<usize>,
    },
    Range {
        span: Span,
        min: Option<Box<syn::Expr>>,
        max: Option<Box<syn::Expr>>,
    },
    Custom(syn::Path),
}

/// A column field of the validated model.
pub struct Field {
    pub ident: syn::Ident,
    /// The field's own visibility, kept on the insert and patch structs.
    pub vis: syn::Visibility,
    pub ty: syn::Type,
    /// `T` when the field is `Option<T>`.
    pub option_inner: Option<syn::Type>,
    pub column: String,
    pub primary_key: bool,
    pub generated: bool,
    /// `assigned`: a key the program sets (its span), as opposed to `generated`.
    pub assigned: Option<proc_macro2::Span>,
    pub has_default: bool,
    /// Set by a behaviour (`deleted_at`, `created_at`, `updated_at`): not in the insert or patch
    /// struct.
    pub managed: bool,
    /// The `#[rls]` tenant column: optional on insert (the context's tenant), never patched.
    pub tenant: bool,
    pub rules: Vec<Rule>,
}

impl Field {
    pub fn nullable(&self) -> bool {
        self.option_inner.is_some()
    }
    /// In the insert struct: everything the database does not generate.
    pub fn inserted(&self) -> bool {
        !self.generated && !self.managed
    }
    /// In the patch struct: everything but the key, generated and managed columns.
    pub fn patched(&self) -> bool {
        !self.generated && !self.primary_key && !self.managed && !self.tenant
    }
}

/// How a timestamp column stores time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    Utc,
    Naive,
}

/// A column a behaviour manages.
pub struct Managed {
    pub column: String,
    pub kind: TimeKind,
}

/// A validated model: everything code generation needs, nothing it must re-check.
pub struct Model {
    pub ident: syn::Ident,
    pub vis: syn::Visibility,
    pub krate: syn::Path,
    pub table: String,
    pub fields: Vec<Field>,
    /// Fields that are not columns.
    pub skipped: Vec<syn::Ident>,
    pub soft_delete: Option<Managed>,
    pub created_at: Option<Managed>,
    pub updated_at: Option<Managed>,
    /// `#[rls(tenant = "…")]`: the tenant column and what it holds.
    /// The tenant column and its field type (its kind is read from the type at compile time).
    pub tenant: Option<(String, syn::Type)>,
    pub audit: Option<AuditModel>,
    /// What the user adds to the insert struct.
    pub new_extra: Extras,
    /// What the user adds to the patch struct.
    pub patch_extra: Extras,
}

/// Derives and attributes the user adds to a generated struct, checked.
#[derive(Default)]
pub struct Extras {
    /// The derives, as written (less those the derive already writes).
    pub derives: Vec<syn::Path>,
    /// The attributes, each written as `#[…]` on the struct.
    pub attrs: Vec<syn::Meta>,
    /// A `Serialize` or `Deserialize` derive among them: the fields get serde attributes.
    pub serde: bool,
}

/// `#[audit(…)]`, checked.
pub struct AuditModel {
    pub create: bool,
    pub update: bool,
    pub delete: bool,
    pub old_values: bool,
    pub new_values: bool,
    /// Excluded columns.
    pub exclude: Vec<String>,
}

impl Model {
    pub fn primary_key(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.primary_key)
    }
}

/// What stage 2 produces: the model (possibly partial, for the stub) and the errors.
pub struct Checked {
    pub ident: syn::Ident,
    pub krate: syn::Path,
    pub model: Option<Model>,
    pub errors: Errors,
    /// Column fields that parsed cleanly, for the stub's typed columns.
    pub partial_fields: Vec<Field>,
}
