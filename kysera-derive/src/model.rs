//! Stage 2: the attributes checked against the struct, giving a validated model.

use proc_macro2::Span;
use syn::spanned::Spanned;

use darling::FromField;

use crate::input::{self, FieldAttrs};
use crate::naming;

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

    pub fn into_compile_errors(self) -> proc_macro2::TokenStream {
        self.0.into_iter().map(|e| e.to_compile_error()).collect()
    }
}

pub const AUDIT_HELP: &str = "write `#[audit]` or `#[audit(operations(create, update, delete), old_values = true, new_values = true, exclude(field, …))]`";
pub const RLS_HELP: &str =
    "write `#[rls(tenant = \"tenant_id\")]`, naming the column that holds each row's tenant";
pub const SOFT_DELETE_HELP: &str =
    "write `#[soft_delete]` (column `deleted_at`) or `#[soft_delete(column = \"name\")]`";
pub const TIMESTAMPS_HELP: &str = "write `#[timestamps]` (columns `created_at` / `updated_at`) or `#[timestamps(created_at = \"…\", updated_at = \"…\")]`";

/// `DateTime<Utc>` or `NaiveDateTime`, by the last path segments.
fn time_kind(ty: &syn::Type) -> Option<TimeKind> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    match last.ident.to_string().as_str() {
        "NaiveDateTime" => Some(TimeKind::Naive),
        "DateTime" => {
            // Only UTC: a `DateTime<Local>` or `DateTime<FixedOffset>` is not a column type.
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            match args.args.first() {
                Some(syn::GenericArgument::Type(syn::Type::Path(tz)))
                    if tz.path.segments.last().is_some_and(|s| s.ident == "Utc") =>
                {
                    Some(TimeKind::Utc)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

pub const STRUCT_HELP: &str =
    "struct attributes are `#[kysera(table = \"name\")]` and `#[kysera(crate = \"path\")]`";
pub const FIELD_HELP: &str = "field attributes are `primary_key`, `generated`, `default`, `rename = \"column\"`, `skip` and `validate(email, length(min = …, max = …), range(min = …, max = …), custom = \"path\")`";

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
        min: Option<syn::Lit>,
        max: Option<syn::Lit>,
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
    /// `#[rls(tenant = "…")]`: the tenant column and the `ValueKind` variant it holds.
    pub tenant: Option<(String, &'static str)>,
    pub audit: Option<AuditModel>,
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

/// `T` if `ty` is `Option<T>` (also `std::option::Option<T>` / `core::option::Option<T>`).
fn option_inner(ty: &syn::Type) -> Option<syn::Type> {
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
                "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i128" | "isize" => Some(
                    format!("`{name}` (PostgreSQL has no unsigned or 8/128-bit integers)"),
                ),
                "char" => describe("`char`"),
                "str" => describe("`str`"),
                "HashMap" | "BTreeMap" | "HashSet" | "BTreeSet" | "VecDeque" | "Box" | "Rc"
                | "Arc" | "Cell" | "RefCell" => Some(format!("`{name}`")),
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

const TYPE_HELP: &str = "a column is an integer (i16, i32, i64), f32, f64, bool, String, Vec<u8>, a chrono date/time, uuid::Uuid or serde_json::Value, or an Option of one; mark fields that are not columns `#[kysera(skip)]`";

fn check_field(f: FieldAttrs, attrs: &[syn::Attribute], errors: &mut Errors) -> Option<Field> {
    let ident = f.ident.clone()?;
    let ty = f.ty.clone();
    let mut ok = true;
    let flag = |fl: &darling::util::Flag| fl.is_present().then(|| fl.span());
    if let Some(skip) = flag(&f.skip) {
        for (name, other) in [
            ("primary_key", flag(&f.primary_key)),
            ("generated", flag(&f.generated)),
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
                    span: l.span(),
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
            } else {
                rules.push(Rule::Range {
                    span: r.span(),
                    min: r.min.clone(),
                    max: r.max.clone(),
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
        has_default: f.default.is_present(),
        rules,
    })
}

/// A column a behaviour asks for.
struct Wanted<'a> {
    column: &'a str,
    /// Where the attribute names it.
    span: Span,
    /// Named in the attribute (rather than the default name).
    explicit: bool,
    /// May be absent when not named.
    optional: bool,
    /// "the soft-delete", "the creation timestamp", …
    what: &'static str,
    /// Some field failed its own checks: a column not found may be that field, already reported.
    fields_failed: bool,
}

/// Finds and checks the field of a behaviour's column, and marks it managed.
fn managed(
    fields: &mut [Field],
    ident: &syn::Ident,
    w: Wanted<'_>,
    errors: &mut Errors,
) -> Option<Managed> {
    let Wanted {
        column,
        span,
        explicit,
        optional,
        what,
        fields_failed,
    } = w;
    let Some(field) = fields.iter_mut().find(|f| f.column == column) else {
        if (explicit || !optional) && !fields_failed {
            errors.add(
                span,
                format_args!("{what} column `{column}` is not a field of `{ident}`"),
                format_args!("add the field, or name its column in the attribute"),
            );
        }
        return None;
    };
    let nullable = field.nullable();
    let kind = time_kind(field.option_inner.as_ref().unwrap_or(&field.ty));
    match kind {
        Some(kind) if what == "the soft-delete" && !nullable => {
            errors.add(
                field.ty.span(),
                "the soft-delete column must be an `Option`: NULL marks a row that is not deleted",
                "use `Option<chrono::DateTime<chrono::Utc>>` or `Option<chrono::NaiveDateTime>`",
            );
            let _ = kind;
            None
        }
        Some(kind) if field.primary_key => {
            errors.add(
                field.ident.span(),
                format_args!("{what} column cannot be the primary key"),
                "give the timestamp a field of its own",
            );
            let _ = kind;
            None
        }
        Some(_) if field.managed => {
            errors.add(
                span,
                format_args!("{what} column `{column}` is already managed by another behaviour"),
                "give each behaviour a column of its own",
            );
            None
        }
        Some(_) if field.generated || !field.rules.is_empty() => {
            errors.add(
                field.ident.span(),
                format_args!(
                    "{what} column `{column}` is set by Kysera: it cannot be `generated` or have `validate` rules"
                ),
                "remove `generated` / `validate` from the field",
            );
            None
        }
        Some(kind) => {
            field.managed = true;
            Some(Managed {
                column: column.to_string(),
                kind,
            })
        }
        None => {
            errors.add(
                    field.ty.span(),
                    format_args!("{what} column `{column}` must hold a timestamp"),
                    "use `chrono::DateTime<chrono::Utc>` or `chrono::NaiveDateTime` (in an `Option` where it may be NULL)",
                );
            None
        }
    }
}

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
    let fail = |errors: Errors| Checked {
        ident: ident.clone(),
        krate: krate.clone(),
        model: None,
        errors,
        partial_fields: Vec::new(),
    };

    let named = match &input.data {
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Named(named),
            ..
        }) => named,
        syn::Data::Struct(s) => {
            let span = match &s.fields {
                syn::Fields::Unnamed(u) => u.span(),
                _ => ident.span(),
            };
            errors.add(
                span,
                "`Repository` can only be derived for a struct with named fields",
                "give each column a named field: `struct User { id: i64, email: String }`",
            );
            return fail(errors);
        }
        syn::Data::Enum(e) => {
            errors.add(
                e.enum_token.span,
                "`Repository` cannot be derived for an enum",
                "a model is a struct with one named field per column",
            );
            return fail(errors);
        }
        syn::Data::Union(u) => {
            errors.add(
                u.union_token.span,
                "`Repository` cannot be derived for a union",
                "a model is a struct with one named field per column",
            );
            return fail(errors);
        }
    };
    if !input.generics.params.is_empty() {
        errors.add(
            input.generics.span(),
            "a model cannot have generic parameters",
            "a model maps one table; use a concrete struct per table",
        );
    }

    let table = match &attrs.table {
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
    };

    let mut fields = Vec::new();
    let mut skipped = Vec::new();
    let mut field_errors = false;
    for field in &named.named {
        for a in &field.attrs {
            if let Some(name) = ["soft_delete", "timestamps", "rls", "audit"]
                .into_iter()
                .find(|n| a.path().is_ident(n))
            {
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
                let before = errors.0.len();
                match check_field(f, &field.attrs, &mut errors) {
                    Some(checked) => fields.push(checked),
                    None if is_skip && errors.0.len() == before => skipped.extend(name),
                    None => field_errors = true,
                }
            }
            Err(e) => {
                errors.darling(e, FIELD_HELP);
                field_errors = true;
            }
        }
    }

    // Two fields may not map to one column.
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

    // The primary key: the marked fields, else a field named `id`.
    if !fields.iter().any(|f| f.primary_key) && !field_errors {
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
    if fields.is_empty() && !field_errors {
        errors.add(
            ident.span(),
            format_args!("`{ident}` has no columns"),
            "a model needs at least its primary key field",
        );
    }

    let soft_delete = match input::behaviour::<input::SoftDeleteAttrs>(&input.attrs, "soft_delete")
    {
        Ok(b) => b,
        Err(e) => {
            errors.darling(e, SOFT_DELETE_HELP);
            None
        }
    };
    let timestamps = match input::behaviour::<input::TimestampsAttrs>(&input.attrs, "timestamps") {
        Ok(b) => b,
        Err(e) => {
            errors.darling(e, TIMESTAMPS_HELP);
            None
        }
    };
    let soft_delete = soft_delete.and_then(|b| {
        let (column, span, explicit) = match &b.attrs.column {
            Some(c) => (c.as_str().to_string(), c.span(), true),
            None => ("deleted_at".to_string(), b.span, false),
        };
        let wanted = Wanted {
            column: &column,
            span,
            explicit,
            optional: false,
            what: "the soft-delete",
            fields_failed: field_errors,
        };
        managed(&mut fields, &ident, wanted, &mut errors)
    });
    let (created_at, updated_at) = match timestamps {
        None => (None, None),
        Some(b) => {
            let pick = |v: &Option<darling::util::SpannedValue<String>>, default: &str| match v {
                Some(c) => (c.as_str().to_string(), c.span(), true),
                None => (default.to_string(), b.span, false),
            };
            let (cc, cs, ce) = pick(&b.attrs.created_at, "created_at");
            let (uc, us, ue) = pick(&b.attrs.updated_at, "updated_at");
            let any = fields.iter().any(|f| f.column == cc || f.column == uc);
            if !any && !ce && !ue {
                errors.add(
                    b.span,
                    format_args!("`#[timestamps]` finds neither `{cc}` nor `{uc}` in `{ident}`"),
                    "add `created_at` / `updated_at` fields, or name the columns: `#[timestamps(created_at = \"…\", updated_at = \"…\")]`",
                );
                (None, None)
            } else {
                let created = Wanted {
                    column: &cc,
                    span: cs,
                    explicit: ce,
                    optional: true,
                    what: "the creation timestamp",
                    fields_failed: field_errors,
                };
                let updated = Wanted {
                    column: &uc,
                    span: us,
                    explicit: ue,
                    optional: true,
                    what: "the update timestamp",
                    fields_failed: field_errors,
                };
                (
                    managed(&mut fields, &ident, created, &mut errors),
                    managed(&mut fields, &ident, updated, &mut errors),
                )
            }
        }
    };

    let rls = match input::behaviour::<input::RlsAttrs>(&input.attrs, "rls") {
        Ok(b) => b,
        Err(e) => {
            errors.darling(e, RLS_HELP);
            None
        }
    };
    let tenant = rls.and_then(|b| {
        let Some(t) = &b.attrs.tenant else {
            errors.add(b.span, "`#[rls]` needs the tenant column", RLS_HELP);
            return None;
        };
        match fields.iter_mut().find(|f| f.column == t.as_str()) {
            None if field_errors => None,
            None => {
                errors.add(
                    t.span(),
                    format_args!("the tenant column `{}` is not a field of `{ident}`", t.as_str()),
                    "name the column that holds each row's tenant, e.g. `#[rls(tenant = \"tenant_id\")]`",
                );
                None
            }
            Some(f) if f.nullable() => {
                errors.add(
                    f.ty.span(),
                    "the tenant column cannot be an `Option`: a row without a tenant would belong to no one",
                    "use the non-optional type (a string, integer or uuid)",
                );
                None
            }
            Some(f) if f.primary_key || f.generated || f.managed => {
                errors.add(
                    f.ident.span(),
                    "the tenant column cannot be the primary key, generated, or a timestamp",
                    "give the tenant a column of its own",
                );
                None
            }
            Some(f) => {
                f.tenant = true;
                // Optional in the insert struct: the context's tenant fills it in.
                f.has_default = true;
                let kind = match &f.ty {
                    syn::Type::Path(p) => match p.path.segments.last().map(|s| s.ident.to_string()).as_deref() {
                        Some("String") => "Text",
                        Some("i16" | "i32" | "i64") => "Integer",
                        Some("Uuid") => "Uuid",
                        _ => "Other",
                    },
                    _ => "Other",
                };
                Some((t.as_str().to_string(), kind))
            }
        }
    });

    let audit = match input::behaviour::<input::AuditAttrs>(&input.attrs, "audit") {
        Ok(b) => b,
        Err(e) => {
            errors.darling(e, AUDIT_HELP);
            None
        }
    };
    let audit = audit.map(|b| {
        let ops: Vec<String> = match &b.attrs.operations {
            None => vec!["create".into(), "update".into(), "delete".into()],
            Some(list) => list
                .iter()
                .filter_map(|p| {
                    let name = p.get_ident().map(|i| i.to_string()).unwrap_or_default();
                    if ["create", "update", "delete"].contains(&name.as_str()) {
                        Some(name)
                    } else {
                        errors.add(
                            p.span(),
                            format_args!("`{}` is not an audited operation", quote::quote!(#p)),
                            "operations are `create`, `update` (soft delete and restore included) and `delete`",
                        );
                        None
                    }
                })
                .collect(),
        };
        let mut exclude = Vec::new();
        for p in b.attrs.exclude.iter().flat_map(|l| l.iter()) {
            match p.get_ident().and_then(|i| fields.iter().find(|f| f.ident == *i)) {
                Some(f) => exclude.push(f.column.clone()),
                None if field_errors => {}
                None => errors.add(
                    p.span(),
                    format_args!("`{}` is not a column field of `{ident}`", quote::quote!(#p)),
                    "`exclude(...)` names the fields never written to the audit log",
                ),
            }
        }
        AuditModel {
            create: ops.iter().any(|o| o == "create"),
            update: ops.iter().any(|o| o == "update"),
            delete: ops.iter().any(|o| o == "delete"),
            old_values: b.attrs.old_values.unwrap_or(true),
            new_values: b.attrs.new_values.unwrap_or(true),
            exclude,
        }
    });

    if errors.is_empty() {
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
            }),
            errors,
            partial_fields: Vec::new(),
        }
    } else {
        Checked {
            ident,
            krate,
            model: None,
            errors,
            partial_fields: fields,
        }
    }
}
