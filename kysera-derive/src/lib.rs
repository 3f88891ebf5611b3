//! Derive macros for [Kysera](https://docs.rs/kysera): `#[derive(Repository)]`.
//!
//! The derive works in three stages, each with its own types: `input` reads the attributes
//! with darling, `model` checks them against the struct and builds a validated model
//! (accumulating every error, each on its exact span with a `help:` line), and `expand`
//! generates code from the validated model only. When any error is found, the errors are
//! emitted together with a stub implementation so that one mistake does not cause a cascade of
//! follow-on errors in the code that uses the model.

mod emit;
mod expand;
mod from_row;
mod input;
mod migrations;
mod model;
mod naming;
#[cfg(test)]
mod snapshots;
mod test_attr;
mod type_derive;

use proc_macro::TokenStream;

/// Derives a Kysera model: the `kysera::Model` implementation, an insert struct `New<Name>`,
/// a patch struct `<Name>Patch`, one typed column constant per field (`User::EMAIL`) and
/// `Name::repo(&executor)`.
///
/// Struct attributes: `#[kysera(table = "…")]` (default: the struct name in snake_case,
/// pluralised: `User` → `users`, `BlogPost` → `blog_posts`, `Category` → `categories`,
/// `Address` → `addresses`), `#[kysera(crate = "path")]`.
///
/// Field attributes: `primary_key` (on one or more fields; without it a field named `id` is the
/// key), `generated` (set by the database: auto-increment, computed; never inserted or patched),
/// `default` (has a database default: optional in the insert struct), `rename = "column"`,
/// `skip` (not a column; filled with `Default::default()` when read), and
/// `validate(email, length(min = …, max = …), range(min = …, max = …), custom = "path")`.
///
/// Behaviours: `#[soft_delete]` / `#[soft_delete(column = "…")]` (an
/// `Option<DateTime<Utc>>` or `Option<NaiveDateTime>` field, default `deleted_at`: every query
/// hides deleted rows; the repository gains `soft_delete`, `restore`, `hard_delete`, …) and
/// `#[timestamps]` / `#[timestamps(created_at = "…", updated_at = "…")]` (`DateTime<Utc>` or
/// `NaiveDateTime` fields, default `created_at` / `updated_at`, either may be absent: set from
/// the executor's clock on insert and on every update). Managed columns are not in the insert
/// or patch struct. `#[rls(tenant = "tenant_id")]`: tenant isolation, enforced on every query
/// under the `kysera::rls` auth context (the tenant field is optional in the insert struct and
/// not in the patch struct). `#[audit]` / `#[audit(operations(…), old_values = …, new_values = …,
/// exclude(…))]`: repository and DAL writes record who changed what (see `kysera::audit`).
#[proc_macro_derive(Repository, attributes(kysera, soft_delete, timestamps, rls, audit))]
pub fn derive_repository(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    emit::derive(input).into()
}

/// Derives `kysera::Type`: a column type of the application's own, stored as a built-in one.
///
/// - A struct of one field (`struct UserId(i64)`, `struct Email { value: String }`) is stored as
///   that field (which may itself be a derived `Type`).
/// - An enum of unit variants is stored as text: each variant's name as written, or in the
///   style of `#[kysera(rename_all = "snake_case")]` (`lowercase`, `UPPERCASE`, `snake_case`,
///   `SCREAMING_SNAKE_CASE`, `kebab-case`, `SCREAMING-KEBAB-CASE`, `camelCase`, `PascalCase`,
///   by serde's rules), or
///   `#[kysera(rename = "…")]` on a variant. With `#[kysera(repr = "i16" | "i32" | "i64")]` it
///   is stored as its discriminant instead (one that does not fit that type is a compile
///   error). A stored value that is none of the variants is a decode error naming the column.
///
/// Column types are also `Serialize` and `Deserialize` (derive them; `#[serde(transparent)]`
/// for a newtype, the same `rename_all` for an enum).
#[proc_macro_derive(Type, attributes(kysera))]
pub fn derive_type(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    type_derive::derive(input).into()
}

/// Derives `kysera::FromRow`: reads a struct from a whole row, each field from the column of its
/// name, on every database Kysera supports.
///
/// Field attributes: `#[kysera(rename = "column")]` and `#[kysera(skip)]` (not a column:
/// `Default::default()`). Struct attribute: `#[kysera(crate = "path")]`. Each field's type must
/// be a `kysera::Decodable` type; a field that is not is reported on its type.
#[proc_macro_derive(FromRow, attributes(kysera))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    from_row::derive(input).into()
}

/// Embeds the migrations of a folder (relative to the crate's `Cargo.toml`) at compile time, as a
/// `kysera::migrate::Migrator`: `<version>_<name>.up.sql` with its `<version>_<name>.down.sql`,
/// or `<version>_<name>.sql` for a step without a down (sqlx's naming, so a sqlx migrations
/// folder works unchanged). A missing folder, a malformed `.sql` file name, two files for one
/// version or a down without an up is a compile error on the path. Files are read with
/// `include_str!`, so editing one rebuilds; a file added to the folder is seen on the next
/// build of the crate (add `println!("cargo:rerun-if-changed=migrations")` to a build script to
/// rebuild when one is added).
#[proc_macro]
pub fn migrations(input: TokenStream) -> TokenStream {
    let lit = syn::parse_macro_input!(input as syn::LitStr);
    migrations::expand(lit).into()
}

/// A test on a fresh, isolated database (feature `testing` of `kysera`): the function is
/// `async fn name(db: kysera::Executor)` returning `()` or a `Result`, run once per database of
/// `databases = "sqlite, postgres, mysql"` (or `"all"`; default `"sqlite"`, in memory): a
/// throwaway PostgreSQL or MySQL database is created from `KYSERA_TEST_POSTGRES_URL` /
/// `KYSERA_TEST_MYSQL_URL` (skipped when unset) and dropped afterwards, kept on failure when
/// `KYSERA_TEST_KEEP_FAILED` is set; `mysql-emulated` runs again on the MySQL URL with
/// MariaDB's own `RETURNING` off (the read-back path Oracle MySQL takes). `migrations = "dir"`
/// applies a folder of migrations (embedded as by `migrations!`), `fixtures = "path"`
/// (repeatable) loads `.sql` / `.json` / `.yaml` fixtures, both relative to the crate's
/// `Cargo.toml`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), item.into()).into()
}
