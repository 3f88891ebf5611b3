//! A model compared with its live table (beyond the TypeScript Kysera, which has no such check):
//! every column the derive declares is looked for, with its nullability, a SQL type that holds
//! the field's Rust type, the primary key, database-filled and defaulted columns, the columns
//! the behaviours manage, and the table's own required columns the model cannot fill — so a
//! service can refuse to start on a schema that drifted from its models.

use std::fmt;

use super::introspect::{Column, columns, table_exists};
use crate::behaviour::ModelRegistration;
use crate::core::error::Result;
use crate::core::sql::Dialect;
use crate::executor::Executor;
use crate::model::{ColumnInfo, Model, ModelInfo};
use crate::row::TypeFamily;

/// One difference between a model and its table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Drift {
    /// The table does not exist.
    MissingTable,
    /// A field's column does not exist.
    MissingColumn {
        /// The column.
        column: String,
    },
    /// The column accepts NULL, the field is not an `Option`: reading a NULL fails.
    NullableColumn {
        /// The column.
        column: String,
    },
    /// The field is an `Option` but the column is `NOT NULL` (harmless: not an error).
    OptionalField {
        /// The column.
        column: String,
    },
    /// The column's SQL type cannot hold the field's Rust type.
    IncompatibleType {
        /// The column.
        column: String,
        /// The field's Rust type.
        rust_type: String,
        /// The column's type.
        sql_type: String,
    },
    /// The primary key differs.
    PrimaryKey {
        /// The model's.
        declared: Vec<String>,
        /// The table's.
        actual: Vec<String>,
    },
    /// The field is `#[kysera(generated)]` (never inserted) but the database does not fill the
    /// column: no default, identity or auto-increment, so inserts fail.
    NotFilledByTheDatabase {
        /// The column.
        column: String,
    },
    /// The field is `#[kysera(default)]` (optional on insert) but the column has no default
    /// and is `NOT NULL`: an insert that leaves it out fails.
    NoDefault {
        /// The column.
        column: String,
    },
    /// The database computes the column (a generated column) but the field is not
    /// `#[kysera(generated)]`: the model's inserts and updates write it, which fails.
    ComputedColumn {
        /// The column.
        column: String,
    },
    /// A column of the table the model does not have, `NOT NULL` without a default: the
    /// model's inserts cannot fill it.
    UnmappedRequiredColumn {
        /// The column.
        column: String,
    },
    /// A column a behaviour manages is not as the behaviour needs it.
    Behaviour {
        /// `soft_delete`, `rls`.
        behaviour: &'static str,
        /// The column.
        column: String,
        /// What is wrong.
        problem: String,
    },
}

impl Drift {
    /// Whether the difference breaks reads or writes (everything but
    /// [`OptionalField`](Drift::OptionalField)).
    pub fn is_error(&self) -> bool {
        !matches!(self, Drift::OptionalField { .. })
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::MissingTable => write!(f, "the table does not exist (help: run the migrations)"),
            Drift::MissingColumn { column } => write!(
                f,
                "column `{column}` does not exist (help: add it, or name the field's column with #[kysera(rename = \"…\")])"
            ),
            Drift::NullableColumn { column } => write!(
                f,
                "column `{column}` accepts NULL but the field is not an Option (help: make the field an Option, or the column NOT NULL)"
            ),
            Drift::OptionalField { column } => write!(
                f,
                "column `{column}` is NOT NULL but the field is an Option (harmless; the Option is never None when read)"
            ),
            Drift::IncompatibleType {
                column,
                rust_type,
                sql_type,
            } => write!(
                f,
                "column `{column}` is {sql_type}, which does not hold the field's {rust_type} (help: change the field's type or the column's)"
            ),
            Drift::PrimaryKey { declared, actual } => write!(
                f,
                "the primary key is ({}) but the model declares ({})",
                actual.join(", "),
                declared.join(", ")
            ),
            Drift::NotFilledByTheDatabase { column } => write!(
                f,
                "column `{column}` is #[kysera(generated)] but the database does not fill it (help: give it a default or an identity, or drop `generated`)"
            ),
            Drift::NoDefault { column } => write!(
                f,
                "column `{column}` is #[kysera(default)] but has no default and is NOT NULL (help: give the column a default)"
            ),
            Drift::ComputedColumn { column } => write!(
                f,
                "column `{column}` is computed by the database but the field is not #[kysera(generated)] (help: mark it generated)"
            ),
            Drift::UnmappedRequiredColumn { column } => write!(
                f,
                "column `{column}` is NOT NULL without a default and the model has no field for it: its inserts fail (help: add a field, or a default)"
            ),
            Drift::Behaviour {
                behaviour,
                column,
                problem,
            } => write!(f, "#[{behaviour}] column `{column}`: {problem}"),
        }
    }
}

/// What [`check_schema`] found for one model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaReport {
    /// The model's Rust name.
    pub model: &'static str,
    /// Its table.
    pub table: &'static str,
    /// The differences, in the order of the model's fields.
    pub drifts: Vec<Drift>,
}

impl SchemaReport {
    /// No difference that breaks reads or writes.
    pub fn is_ok(&self) -> bool {
        !self.drifts.iter().any(Drift::is_error)
    }

    /// `Err` with the report as its text when it is not [`ok`](Self::is_ok): for start-up
    /// checks (`check_schema::<User>(&db).await?.into_result()?`).
    pub fn into_result(self) -> Result<SchemaReport> {
        if self.is_ok() {
            return Ok(self);
        }
        Err(crate::core::error::Error::SchemaDrift {
            model: self.model.into(),
            table: self.table.into(),
            differences: self
                .drifts
                .iter()
                .filter(|d| d.is_error())
                .map(ToString::to_string)
                .collect(),
        })
    }
}

impl fmt::Display for SchemaReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.drifts.is_empty() {
            return write!(f, "{} matches table `{}`", self.model, self.table);
        }
        write!(
            f,
            "{} differs from table `{}` in {} way(s):",
            self.model,
            self.table,
            self.drifts.len()
        )?;
        for d in &self.drifts {
            write!(f, "\n  - {d}")?;
        }
        Ok(())
    }
}

/// Compares model `M` with its live table. `Ok` with the report (which may list
/// differences); `Err` only when the catalog cannot be read.
///
/// ```no_run
/// # #[derive(Debug, kysera::Repository)]
/// # struct User { #[kysera(generated)] id: i64, email: String }
/// # async fn f(db: kysera::Executor) -> kysera::Result<()> {
/// let report = kysera::dialect::check_schema::<User>(&db).await?;
/// if !report.is_ok() {
///     eprintln!("{report}"); // User differs from table `users` in 1 way(s): …
/// }
/// # Ok(()) }
/// ```
pub async fn check_schema<M: Model>(db: &Executor) -> Result<SchemaReport> {
    check_info(db, M::INFO).await
}

/// [`check_schema`] of every model the program derives (`#[derive(Repository)]` registers
/// each), by table name.
pub async fn check_all_models(db: &Executor) -> Result<Vec<SchemaReport>> {
    let mut infos: Vec<&'static ModelInfo> = inventory::iter::<ModelRegistration>
        .into_iter()
        .map(|r| r.0)
        .collect();
    infos.sort_by_key(|i| (i.table, i.name));
    let mut out = Vec::with_capacity(infos.len());
    for info in infos {
        out.push(check_info(db, info).await?);
    }
    Ok(out)
}

/// [`check_schema`] of a model's description.
pub async fn check_info(db: &Executor, info: &'static ModelInfo) -> Result<SchemaReport> {
    let mut report = SchemaReport {
        model: info.name,
        table: info.table,
        drifts: Vec::new(),
    };
    if !table_exists(db, info.table).await? {
        report.drifts.push(Drift::MissingTable);
        return Ok(report);
    }
    let live = columns(db, info.table).await?;
    let d = db.dialect();
    let same = |a: &str, b: &str| {
        if d == Dialect::Postgres {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    };
    let drifts = &mut report.drifts;
    for field in info.columns {
        let Some(col) = live.iter().find(|c| same(&c.name, field.name)) else {
            drifts.push(Drift::MissingColumn {
                column: field.name.into(),
            });
            continue;
        };
        compare_column(d, info, field, col, drifts);
    }
    let actual: Vec<String> = live
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| c.name.clone())
        .collect();
    let declared: Vec<String> = info.primary_key.iter().map(|c| c.to_string()).collect();
    let matches = actual.len() == declared.len()
        && declared.iter().all(|k| actual.iter().any(|a| same(a, k)));
    if !matches {
        drifts.push(Drift::PrimaryKey { declared, actual });
    }
    for col in &live {
        let mapped = info.columns.iter().any(|f| same(&col.name, f.name));
        if !mapped && !col.nullable && col.default.is_none() && !col.generated {
            drifts.push(Drift::UnmappedRequiredColumn {
                column: col.name.clone(),
            });
        }
    }
    behaviours(info, &live, same, drifts);
    Ok(report)
}

fn compare_column(
    d: Dialect,
    info: &ModelInfo,
    field: &ColumnInfo,
    col: &Column,
    drifts: &mut Vec<Drift>,
) {
    let column = || field.name.to_string();
    // A key column SQLite reports as nullable still never reads NULL.
    if col.nullable && !field.nullable && !col.primary_key {
        drifts.push(Drift::NullableColumn { column: column() });
    }
    if !col.nullable && field.nullable {
        drifts.push(Drift::OptionalField { column: column() });
    }
    if !holds(d, field.family, &col.sql_type) {
        drifts.push(Drift::IncompatibleType {
            column: column(),
            rust_type: field.rust_type.into(),
            sql_type: col.sql_type.clone(),
        });
    }
    if !field.generated && col.generated && !col.primary_key && col.default.is_none() {
        drifts.push(Drift::ComputedColumn { column: column() });
    }
    if field.generated && !col.generated && col.default.is_none() {
        drifts.push(Drift::NotFilledByTheDatabase { column: column() });
    }
    // The tenant column is optional on insert because the auth context fills it, not a
    // default.
    let filled_by_rls = info.tenant == Some(field.name);
    if field.has_default
        && !field.generated
        && !filled_by_rls
        && col.default.is_none()
        && !col.generated
        && !col.nullable
    {
        drifts.push(Drift::NoDefault { column: column() });
    }
}

/// The columns the behaviours manage: a soft-delete column must accept NULL (a live row), a
/// tenant column should not (a row without a tenant belongs to nobody).
fn behaviours(
    info: &ModelInfo,
    live: &[Column],
    same: impl Fn(&str, &str) -> bool,
    drifts: &mut Vec<Drift>,
) {
    let find = |name: &str| live.iter().find(|c| same(&c.name, name));
    if let Some(sd) = info.soft_delete
        && let Some(col) = find(sd.name)
        && !col.nullable
    {
        drifts.push(Drift::Behaviour {
            behaviour: "soft_delete",
            column: sd.name.into(),
            problem:
                "the column is NOT NULL, so a live row (NULL) cannot be stored (help: allow NULL)"
                    .into(),
        });
    }
    // (The tenant column's type is a field's, checked with the others.)
    if let Some(t) = info.tenant
        && let Some(col) = find(t)
        && col.nullable
    {
        drifts.push(Drift::Behaviour {
            behaviour: "rls",
            column: t.into(),
            problem: "the tenant column accepts NULL: a row without a tenant is hidden from every tenant (help: make it NOT NULL)".into(),
        });
    }
}

/// Whether a column of `sql_type` (as the catalog spells it) holds values of `family` as the
/// driver reads them.
pub fn holds(d: Dialect, family: TypeFamily, sql_type: &str) -> bool {
    let t = sql_type.to_ascii_lowercase();
    let t = t.trim();
    use TypeFamily as F;
    match d {
        Dialect::Postgres => {
            // PostgreSQL's driver reads each Rust type from its own SQL types only.
            // No column type is an array.
            if t.ends_with("[]") {
                return false;
            }
            let base = t.split('(').next().unwrap_or(t).trim();
            match family {
                F::Bool => base == "boolean",
                // Read from any integer column, range-checked on each read.
                F::I8 | F::U8 | F::U16 | F::U32 => {
                    matches!(base, "smallint" | "integer" | "bigint")
                }
                F::I16 => base == "smallint",
                F::I32 => base == "integer",
                F::I64 => base == "bigint",
                F::F32 => base == "real",
                F::F64 => base == "double precision",
                F::Text => matches!(
                    base,
                    "text" | "character varying" | "character" | "name" | "citext" | "bpchar"
                ),
                F::Bytes => base == "bytea",
                F::Uuid => base == "uuid",
                F::Date => base == "date",
                F::Time => {
                    t.starts_with("time")
                        && !t.starts_with("timestamp")
                        && !t.contains("with time zone")
                }
                F::DateTime => t.starts_with("timestamp") && !t.contains("with time zone"),
                F::DateTimeUtc => t.starts_with("timestamp") && t.contains("with time zone"),
                F::Json => matches!(base, "json" | "jsonb"),
                F::Decimal => base == "numeric",
            }
        }
        Dialect::MySql => {
            let base = t.split(['(', ' ']).next().unwrap_or(t);
            let unsigned = t.contains("unsigned");
            // The driver reads signed integers only from signed columns, whatever the width.
            let int = |widest: &[&str]| widest.contains(&base) && !unsigned;
            match family {
                F::Bool => matches!(base, "tinyint" | "bool" | "boolean" | "bit"),
                // Read from signed and unsigned integer columns alike, range-checked on each read.
                F::I8 | F::U8 | F::U16 | F::U32 => matches!(
                    base,
                    "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
                ),
                F::I16 => int(&["tinyint", "smallint"]),
                F::I32 => int(&["tinyint", "smallint", "mediumint", "int", "integer"]),
                F::I64 => int(&[
                    "tinyint",
                    "smallint",
                    "mediumint",
                    "int",
                    "integer",
                    "bigint",
                ]),
                F::F32 => matches!(base, "float"),
                F::F64 => matches!(base, "double" | "float" | "real"),
                F::Text => matches!(
                    base,
                    "char"
                        | "varchar"
                        | "tinytext"
                        | "text"
                        | "mediumtext"
                        | "longtext"
                        | "enum"
                        | "set"
                ),
                F::Bytes => matches!(
                    base,
                    "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
                ),
                // Read as its 16 bytes.
                F::Uuid => matches!(base, "binary" | "varbinary") && t.contains("(16)"),
                F::Date => base == "date",
                F::Time => base == "time",
                F::DateTime | F::DateTimeUtc => matches!(base, "datetime" | "timestamp"),
                F::Json => matches!(base, "json" | "longtext" | "mediumtext" | "text"),
                F::Decimal => matches!(base, "decimal" | "numeric"),
            }
        }
        _ => {
            // SQLite stores any value in any column; what matters is the declared type's
            // affinity (the rules of section 3.1 of its documentation on data types).
            let u = t.to_ascii_uppercase();
            let affinity = if u.contains("INT") {
                "integer"
            } else if u.contains("CHAR") || u.contains("CLOB") || u.contains("TEXT") {
                "text"
            } else if u.is_empty() || u.contains("BLOB") {
                "blob"
            } else if u.contains("REAL") || u.contains("FLOA") || u.contains("DOUB") {
                "real"
            } else {
                "numeric"
            };
            // A column without a declared type keeps each value as it is written.
            if u.is_empty() {
                return true;
            }
            match family {
                F::Bool | F::I8 | F::U8 | F::U16 | F::U32 | F::I16 | F::I32 | F::I64 => {
                    matches!(affinity, "integer" | "numeric")
                }
                // A whole number written to an INTEGER or NUMERIC column is stored as an
                // integer, which the driver will not read as a float.
                F::F32 | F::F64 => affinity == "real",
                F::Text => matches!(affinity, "text" | "blob"),
                F::Json => matches!(affinity, "text" | "blob") || u.starts_with("JSON"),
                // Text keeps every digit; NUMERIC keeps 15 significant ones.
                F::Decimal => matches!(affinity, "text" | "numeric"),
                F::Bytes => affinity == "blob",
                F::Uuid => matches!(affinity, "text" | "blob") || u == "UUID",
                F::Date | F::Time | F::DateTime | F::DateTimeUtc => affinity != "blob",
            }
        }
    }
}
