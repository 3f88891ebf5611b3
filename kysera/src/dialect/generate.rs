//! Models written from the live schema (`kysera generate models`): one
//! `#[derive(Repository)]` struct per table, with the Rust type each column reads as, its key,
//! nullability, database-filled and defaulted columns, and behaviours guessed from column names
//! (`deleted_at`, `created_at` / `updated_at`, `tenant_id`), each guess marked for review.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::introspect::{Column, columns};
use crate::core::error::Result;
use crate::core::sql::Dialect;
use crate::executor::Executor;

/// The Rust type a column of `sql_type` reads as on `d` (the names `generate_models` imports),
/// `None` when Kysera has no column type for it yet (`numeric`, arrays, …).
pub fn rust_type_for(d: Dialect, sql_type: &str) -> Option<&'static str> {
    let t = sql_type.trim().to_ascii_lowercase();
    if t.ends_with("[]") {
        return None; // arrays: no column type reads them yet
    }
    let base = t.split(['(', ' ']).next().unwrap_or(&t).to_string();
    Some(match d {
        Dialect::Postgres => match t.as_str() {
            "boolean" => "bool",
            "smallint" => "i16",
            "integer" => "i32",
            "bigint" => "i64",
            "real" => "f32",
            "double precision" => "f64",
            "text" | "name" | "citext" | "bpchar" => "String",
            "bytea" => "Vec<u8>",
            "uuid" => "Uuid",
            "date" => "NaiveDate",
            "json" | "jsonb" => "serde_json::Value",
            _ if t.starts_with("character") => "String",
            _ if t.starts_with("timestamp") && t.contains("with time zone") => "DateTime<Utc>",
            _ if t.starts_with("timestamp") => "NaiveDateTime",
            _ if t.starts_with("time") && !t.contains("with time zone") => "NaiveTime",
            _ => return None,
        },
        Dialect::MySql => {
            // An unsigned column gets the unsigned type that holds it (none holds BIGINT
            // UNSIGNED: no field type).
            if t.contains("unsigned") {
                return Some(match base.as_str() {
                    "tinyint" => "u8",
                    "smallint" => "u16",
                    "mediumint" | "int" | "integer" => "u32",
                    _ => return None,
                });
            }
            match base.as_str() {
                "tinyint" if t.starts_with("tinyint(1)") => "bool",
                "bool" | "boolean" => "bool",
                "tinyint" | "smallint" => "i16",
                "mediumint" | "int" | "integer" => "i32",
                "bigint" => "i64",
                "float" => "f32",
                "double" | "real" => "f64",
                "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum"
                | "set" => "String",
                "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                    "Vec<u8>"
                }
                "date" => "NaiveDate",
                "time" => "NaiveTime",
                // Kysera stores a UTC instant in a DATETIME as its UTC wall time.
                "datetime" | "timestamp" => "DateTime<Utc>",
                "json" => "serde_json::Value",
                _ => return None,
            }
        }
        _ => {
            // SQLite: the declared type's name, then its affinity.
            let u = t.to_ascii_uppercase();
            match u.as_str() {
                "BOOLEAN" | "BOOL" => "bool",
                "DATE" => "NaiveDate",
                "TIME" => "NaiveTime",
                "DATETIME" | "TIMESTAMP" | "TIMESTAMPTZ" => "DateTime<Utc>",
                "UUID" => "Uuid",
                "JSON" | "JSONB" => "serde_json::Value",
                _ if u.contains("INT") => "i64",
                _ if u.contains("CHAR") || u.contains("CLOB") || u.contains("TEXT") => "String",
                _ if u.is_empty() || u.contains("BLOB") => "Vec<u8>",
                _ if u.contains("REAL") || u.contains("FLOA") || u.contains("DOUB") => "f64",
                _ => return None,
            }
        }
    })
}

/// A Rust type name from a table's name: `blog_posts` → `BlogPost`, `categories` → `Category`.
fn struct_name(table: &str) -> String {
    let mut words: Vec<String> = table
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if let Some(last) = words.last_mut() {
        *last = singular(last);
    }
    let mut name: String = words
        .iter()
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "Table");
    }
    // Names the derive makes for other models (`NewX`, `XPatch`), and the types the fields
    // use, get a suffix.
    const TAKEN: &[&str] = &[
        "Option",
        "String",
        "Result",
        "Vec",
        "Box",
        "Uuid",
        "Utc",
        "DateTime",
        "NaiveDate",
        "NaiveDateTime",
        "NaiveTime",
        "Some",
        "None",
        "Ok",
        "Err",
    ];
    if TAKEN.contains(&name.as_str()) || name.starts_with("New") || name.ends_with("Patch") {
        name.push_str("Row");
    }
    name
}

fn singular(word: &str) -> String {
    if let Some(stem) = word.strip_suffix("ies").filter(|s| !s.is_empty()) {
        format!("{stem}y")
    } else if word.ends_with("sses")
        || word.ends_with("xes")
        || word.ends_with("ches")
        || word.ends_with("shes")
    {
        word[..word.len() - 2].to_string()
    } else if word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
        && word.len() > 1
    {
        word[..word.len() - 1].to_string()
    } else {
        word.to_string()
    }
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A field name for column number `i`, and whether it needs `rename` (not a plain snake-case
/// name, or one the derive keeps for itself).
fn field_name(column: &str, i: usize) -> (String, bool) {
    let mut name: String = column
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.chars().all(|c| c == '_') {
        name = format!("column_{}", i + 1);
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    let renamed = name != column;
    // `INFO` is the model's description, and these cannot be raw identifiers.
    if matches!(name.as_str(), "info" | "self" | "super" | "crate" | "_") {
        return (format!("{name}_"), true);
    }
    if KEYWORDS.contains(&name.as_str()) {
        return (format!("r#{name}"), renamed);
    }
    (name, renamed)
}

fn is_time(t: &str) -> bool {
    matches!(t, "DateTime<Utc>" | "NaiveDateTime")
}

/// Writes one `#[derive(Repository)]` struct per table of `tables` (each read from the live
/// database), for review: behaviours guessed from column names carry a `review:` comment, and a
/// nullable or defaulted column without a Rust type yet is left out with a comment saying why.
/// A table that cannot have a working model (no primary key; a key column, or a `NOT NULL`
/// column without a default, of a type Kysera cannot read yet) is skipped with a comment.
///
/// ```no_run
/// # async fn f(db: kysera::Executor) -> Result<(), Box<dyn std::error::Error>> {
/// let source = kysera::dialect::generate_models(&db, &["users", "posts"]).await?;
/// std::fs::write("src/models.rs", source)?;
/// # Ok(()) }
/// ```
pub async fn generate_models(db: &Executor, tables: &[&str]) -> Result<String> {
    let d = db.dialect();
    let mut uses: BTreeSet<&'static str> = BTreeSet::new();
    let mut body = String::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for table in tables {
        let cols = columns(db, table).await?;
        let mut name = struct_name(table.rsplit('.').next().unwrap_or(table));
        while !names.insert(name.clone()) {
            name.push('_');
        }
        write_model(d, table, &name, &cols, &mut uses, &mut body);
    }
    let mut out = String::from(
        "// Generated by `kysera generate models` from the live schema. Review before use:\n\
         // behaviours were guessed from column names (the `review:` comments).\n\n",
    );
    let chrono: Vec<&str> = ["DateTime", "NaiveDate", "NaiveDateTime", "NaiveTime", "Utc"]
        .into_iter()
        .filter(|n| uses.contains(n))
        .collect();
    if !chrono.is_empty() {
        let _ = writeln!(out, "use kysera::types::chrono::{{{}}};", chrono.join(", "));
    }
    if uses.contains("serde_json") {
        out.push_str("use kysera::types::serde_json;\n");
    }
    if uses.contains("Uuid") {
        out.push_str("use kysera::types::uuid::Uuid;\n");
    }
    if !chrono.is_empty() || uses.contains("serde_json") || uses.contains("Uuid") {
        out.push('\n');
    }
    out.push_str(body.trim_end());
    out.push('\n');
    Ok(out)
}

fn write_model(
    d: Dialect,
    table: &str,
    name: &str,
    cols: &[Column],
    uses: &mut BTreeSet<&'static str>,
    out: &mut String,
) {
    let w = |out: &mut String, line: String| {
        out.push_str(&line);
        out.push('\n');
    };
    let typed: Vec<(&Column, Option<&'static str>)> = cols
        .iter()
        .map(|c| (c, rust_type_for(d, &c.sql_type)))
        .collect();
    // What would not compile, or not insert: the table is skipped with the reason.
    let skip = if !cols.iter().any(|c| c.primary_key) {
        Some("it has no primary key, which a repository needs".to_string())
    } else if let Some((c, _)) = typed.iter().find(|(c, t)| t.is_none() && c.primary_key) {
        Some(format!(
            "its key column `{}` is {}, which no Rust column type reads yet",
            c.name, c.sql_type
        ))
    } else {
        typed
            .iter()
            .find(|(c, t)| t.is_none() && !c.nullable && c.default.is_none() && !c.generated)
            .map(|(c, _)| {
                format!(
                    "its NOT NULL column `{}` is {}, which no Rust column type reads yet",
                    c.name, c.sql_type
                )
            })
    };
    if let Some(why) = skip {
        w(out, format!("// No model for `{table}`: {why}.\n"));
        return;
    }
    let find = |n: &str| typed.iter().find(|(c, _)| c.name == n);
    // A behaviour column the derive accepts: a time, set by Kysera (not generated, not a key).
    let time_column =
        |n: &str| find(n).filter(|(c, t)| !c.primary_key && !c.generated && t.is_some_and(is_time));
    let deleted = time_column("deleted_at").is_some_and(|(c, _)| c.nullable);
    // Each of the two that exists must be a time for `#[timestamps]` to apply.
    let stamps_ok = ["created_at", "updated_at"]
        .iter()
        .all(|n| find(n).is_none() || time_column(n).is_some());
    let created = stamps_ok && time_column("created_at").is_some();
    let updated = stamps_ok && time_column("updated_at").is_some();
    let tenant = find("tenant_id")
        .filter(|(c, t)| {
            !c.nullable
                && !c.primary_key
                && !c.generated
                && matches!(t, Some("String" | "i16" | "i32" | "i64" | "Uuid"))
        })
        .is_some();
    let managed = |n: &str| {
        (deleted && n == "deleted_at")
            || (created && n == "created_at")
            || (updated && n == "updated_at")
    };

    w(out, format!("/// A row of `{table}`."));
    w(
        out,
        "#[derive(Debug, Clone, PartialEq, kysera::Repository)]".into(),
    );
    w(out, format!("#[kysera(table = {table:?})]"));
    if deleted {
        w(
            out,
            "#[soft_delete] // review: guessed from the column `deleted_at`".into(),
        );
    }
    match (created, updated) {
        (true, true) => w(
            out,
            "#[timestamps] // review: guessed from `created_at` / `updated_at`".into(),
        ),
        (true, false) => w(
            out,
            "#[timestamps] // review: guessed from `created_at`".into(),
        ),
        (false, true) => w(
            out,
            "#[timestamps] // review: guessed from `updated_at`".into(),
        ),
        _ => {}
    }
    if tenant {
        w(
            out,
            "#[rls(tenant = \"tenant_id\")] // review: guessed from the column `tenant_id`".into(),
        );
    }
    w(out, format!("pub struct {name} {{"));
    let mut fields: BTreeSet<String> = BTreeSet::new();
    for (i, (c, ty)) in typed.iter().enumerate() {
        let Some(ty) = ty else {
            w(
                out,
                format!(
                    "    // `{}` ({}) is left out: Kysera has no column type for it yet.",
                    c.name, c.sql_type
                ),
            );
            continue;
        };
        for part in [
            "DateTime",
            "NaiveDate",
            "NaiveDateTime",
            "NaiveTime",
            "Utc",
            "Uuid",
        ] {
            if ty.split(['<', '>']).any(|p| p == part) {
                uses.insert(part);
            }
        }
        if ty.starts_with("serde_json") {
            uses.insert("serde_json");
        }
        let (mut field, mut renamed) = field_name(&c.name, i);
        // Two columns that spell the same field name (`user-id`, `user_id`): the later one
        // gets a number.
        let stem = field.clone();
        let mut n = 2;
        while !fields.insert(field.trim_start_matches("r#").to_string()) {
            field = format!("{}_{n}", stem.trim_start_matches("r#"));
            renamed = true;
            n += 1;
        }
        let mut attrs = Vec::new();
        if c.primary_key {
            attrs.push("primary_key".to_string());
        }
        if c.generated {
            attrs.push("generated".into());
        } else if c.default.is_some() && !c.nullable && !managed(&c.name) {
            attrs.push("default".into());
        }
        if renamed {
            attrs.push(format!("rename = {:?}", c.name));
        }
        if !attrs.is_empty() {
            w(out, format!("    #[kysera({})]", attrs.join(", ")));
        }
        let ty = if c.nullable && !c.primary_key {
            format!("Option<{ty}>")
        } else {
            ty.to_string()
        };
        w(out, format!("    pub {field}: {ty},"));
    }
    w(out, "}\n".into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::TypeFamily as F;

    /// The generator's choice is always a type the schema check accepts for that column: the
    /// two tables of the same knowledge do not drift apart.
    #[test]
    fn generated_types_pass_the_schema_check() {
        let family = |name: &str| match name {
            "bool" => F::Bool,
            "i16" => F::I16,
            "i32" => F::I32,
            "i64" => F::I64,
            "u8" => F::U8,
            "u16" => F::U16,
            "u32" => F::U32,
            "f32" => F::F32,
            "f64" => F::F64,
            "String" => F::Text,
            "Vec<u8>" => F::Bytes,
            "Uuid" => F::Uuid,
            "NaiveDate" => F::Date,
            "NaiveTime" => F::Time,
            "NaiveDateTime" => F::DateTime,
            "DateTime<Utc>" => F::DateTimeUtc,
            "serde_json::Value" => F::Json,
            other => panic!("unmapped {other}"),
        };
        let cases: &[(Dialect, &[&str])] = &[
            (
                Dialect::Postgres,
                &[
                    "boolean",
                    "smallint",
                    "integer",
                    "bigint",
                    "real",
                    "double precision",
                    "text",
                    "name",
                    "citext",
                    "bpchar",
                    "character varying(20)",
                    "character(3)",
                    "bytea",
                    "uuid",
                    "date",
                    "time without time zone",
                    "timestamp without time zone",
                    "timestamp with time zone",
                    "json",
                    "jsonb",
                ],
            ),
            (
                Dialect::MySql,
                &[
                    "tinyint(1)",
                    "boolean",
                    "tinyint",
                    "tinyint unsigned",
                    "smallint(5) unsigned",
                    "mediumint unsigned",
                    "int(10) unsigned",
                    "smallint",
                    "mediumint",
                    "int(11)",
                    "bigint(20)",
                    "float",
                    "double",
                    "varchar(100)",
                    "longtext",
                    "enum('a')",
                    "blob",
                    "varbinary(16)",
                    "date",
                    "time",
                    "datetime(6)",
                    "timestamp",
                    "json",
                ],
            ),
            (
                Dialect::Sqlite,
                &[
                    "BOOLEAN",
                    "DATE",
                    "TIME",
                    "DATETIME",
                    "TIMESTAMP",
                    "UUID",
                    "JSON",
                    "BIGINT",
                    "INTEGER",
                    "VARCHAR(10)",
                    "TEXT",
                    "CLOB",
                    "BLOB",
                    "",
                    "REAL",
                    "DOUBLE",
                ],
            ),
        ];
        for (d, types) in cases {
            for t in *types {
                let name = rust_type_for(*d, t).unwrap_or_else(|| panic!("{d} {t}: no type"));
                assert!(
                    crate::dialect::check::holds(*d, family(name), t),
                    "{d}: {t} -> {name}"
                );
            }
        }
    }

    #[test]
    fn names() {
        assert_eq!(struct_name("blog_posts"), "BlogPost");
        assert_eq!(struct_name("categories"), "Category");
        assert_eq!(struct_name("addresses"), "Address");
        assert_eq!(struct_name("status"), "Status");
        assert_eq!(struct_name("Order Items"), "OrderItem");
        assert_eq!(struct_name("2fa"), "Table2fa");
        assert_eq!(field_name("type", 0), ("r#type".into(), false));
        assert_eq!(field_name("self", 0), ("self_".into(), true));
        assert_eq!(field_name("info", 0), ("info_".into(), true));
        assert_eq!(
            field_name("Email Address", 0),
            ("email_address".into(), true)
        );
        assert_eq!(field_name("9lives", 0), ("_9lives".into(), true));
        assert_eq!(field_name("ä", 3), ("column_4".into(), true));
        assert_eq!(struct_name("new_posts"), "NewPostRow");
        assert_eq!(struct_name("options"), "OptionRow");
    }
}
