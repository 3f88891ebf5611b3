//! `kysera`: the command-line tool. `kysera migrate new <name>` makes timestamped migration
//! files; `kysera migrate up|down|status|redo|reset` runs a folder of them against
//! `DATABASE_URL` (or `--database-url`), `--dry-run` printing what would run instead.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use kysera::dialect;
use kysera::migrate::{self, Migrator, Planned, State};

#[derive(Parser)]
#[command(
    name = "kysera",
    version,
    about = "Kysera for Rust: migrations and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Versioned migrations.
    Migrate {
        #[command(subcommand)]
        action: Action,
    },
    /// Writes code from the live schema.
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
    /// Prints the live schema: tables, their columns, indexes and foreign keys.
    Introspect {
        /// The database (postgres://…, mysql://…, sqlite://…).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// Only these tables (repeatable); every table of the current schema when none.
        #[arg(long = "table")]
        tables: Vec<String>,
        /// The schema (PostgreSQL) or database (MySQL) to list, instead of the current one.
        #[arg(long)]
        schema: Option<String>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum Generate {
    /// `#[derive(Repository)]` structs for tables, behaviours guessed from column names (marked
    /// `review:`).
    Models {
        /// The database (postgres://…, mysql://…, sqlite://…).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// Only these tables (repeatable); every table of the current schema but the
        /// migration history when none.
        #[arg(long = "table")]
        tables: Vec<String>,
        /// Write to this file instead of printing.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Args, Clone)]
struct Common {
    /// The database (postgres://…, mysql://…, sqlite://…).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The folder of migration files.
    #[arg(long, default_value = "migrations")]
    source: PathBuf,
    /// The history table.
    #[arg(long, default_value = "kysera_migrations")]
    table: String,
    /// Print what would run, without running it.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand)]
enum Action {
    /// Makes `<timestamp>_<name>.up.sql` and `.down.sql` (or one `.sql` with `--no-down`).
    New {
        /// The migration's name (letters, digits, `_`, `-`).
        name: String,
        /// The folder of migration files.
        #[arg(long, default_value = "migrations")]
        source: PathBuf,
        /// One file, without a down migration.
        #[arg(long)]
        no_down: bool,
    },
    /// Applies the pending migrations (all, or up to `--to`).
    Up {
        #[command(flatten)]
        common: Common,
        /// The last version to apply.
        #[arg(long)]
        to: Option<i64>,
    },
    /// Reverts applied migrations (one, `--steps N`, or down to `--to`).
    Down {
        #[command(flatten)]
        common: Common,
        /// How many to revert.
        #[arg(long, default_value_t = 1, conflicts_with = "to")]
        steps: usize,
        /// Revert every migration above this version.
        #[arg(long)]
        to: Option<i64>,
    },
    /// Lists every migration with its state.
    Status {
        #[command(flatten)]
        common: Common,
    },
    /// Reverts the newest migration and applies it again.
    Redo {
        #[command(flatten)]
        common: Common,
    },
    /// Reverts every migration, then applies them all.
    Reset {
        #[command(flatten)]
        common: Common,
    },
}

/// Colours when the output is a terminal and `NO_COLOR` is not set.
struct Paint(bool);

impl Paint {
    fn new() -> Self {
        Paint(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
    }
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn green(&self, t: &str) -> String {
        self.wrap("32", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.wrap("33", t)
    }
    fn red(&self, t: &str) -> String {
        self.wrap("31", t)
    }
}

fn print_plan(verb: &str, plan: &[Planned]) {
    if plan.is_empty() {
        println!("nothing to {verb}");
    }
    for p in plan {
        println!("-- would {verb} {} {}", p.version, p.name);
        match &p.sql {
            Some(sql) => println!("{}", sql.trim_end()),
            None => println!("-- (Rust code)"),
        }
    }
}

fn report(verb: &str, versions: &[i64], paint: &Paint) {
    if versions.is_empty() {
        println!("nothing to {verb}");
    }
    for v in versions {
        println!("{} {v}", paint.green(verb));
    }
}

async fn open(common: &Common) -> kysera::Result<(kysera::Executor, Migrator)> {
    let migrator = Migrator::from_dir(&common.source)?.table(common.table.clone());
    let db = kysera::connect(&common.database_url).await?;
    Ok((db, migrator))
}

async fn run(cli: Cli) -> kysera::Result<()> {
    let paint = Paint::new();
    let action = match cli.command {
        Command::Migrate { action } => action,
        Command::Introspect {
            database_url,
            tables,
            schema,
            json,
        } => return introspect(&database_url, tables, schema, json).await,
        Command::Generate {
            what:
                Generate::Models {
                    database_url,
                    tables,
                    out,
                },
        } => return generate_models(&database_url, tables, out).await,
    };
    match action {
        Action::New {
            name,
            source,
            no_down,
        } => {
            for path in migrate::new_files(&source, &name, !no_down)? {
                println!("{} {}", paint.green("created"), path.display());
            }
        }
        Action::Up { common, to } => {
            let (db, m) = open(&common).await?;
            if common.dry_run {
                let plan = m.plan_up(&db).await?;
                let plan: Vec<_> = plan
                    .into_iter()
                    .filter(|p| to.is_none_or(|t| p.version <= t))
                    .collect();
                print_plan("apply", &plan);
            } else {
                let done = match to {
                    Some(t) => m.up_to(&db, t).await?,
                    None => m.up(&db).await?,
                };
                report("applied", &done, &paint);
            }
        }
        Action::Down { common, steps, to } => {
            let (db, m) = open(&common).await?;
            if common.dry_run {
                let n = if to.is_some() { usize::MAX } else { steps };
                let plan = m.plan_down(&db, n).await?;
                let plan: Vec<_> = plan
                    .into_iter()
                    .filter(|p| to.is_none_or(|t| p.version > t))
                    .collect();
                print_plan("revert", &plan);
            } else {
                let done = match to {
                    Some(t) => m.down_to(&db, t).await?,
                    None => m.down(&db, steps).await?,
                };
                report("reverted", &done, &paint);
            }
        }
        Action::Status { common } => {
            let (db, m) = open(&common).await?;
            if !Migrator::transactional_ddl(db.dialect()) {
                println!(
                    "{}",
                    paint.yellow("note: MySQL commits DDL as it runs: a migration that fails halfway may leave part of its changes (it is not recorded as applied)")
                );
            }
            for s in m.status(&db).await? {
                let state = match s.state {
                    State::Applied => paint.green("applied"),
                    State::Pending => paint.yellow("pending"),
                    State::Changed => paint.red("changed"),
                    State::Missing => paint.red("missing"),
                    _ => format!("{:?}", s.state),
                };
                let when = s
                    .applied_at
                    .map(|t| {
                        format!(
                            "{} ({} ms)",
                            t.format("%Y-%m-%d %H:%M:%S UTC"),
                            s.duration_ms.unwrap_or(0)
                        )
                    })
                    .unwrap_or_default();
                println!("{:>14}  {:<32}  {:<8}  {when}", s.version, s.name, state);
            }
        }
        Action::Redo { common } => {
            let (db, m) = open(&common).await?;
            if common.dry_run {
                let plan = m.plan_down(&db, 1).await?;
                print_plan("revert", &plan);
                println!("-- then apply it again");
            } else {
                report("redone", &m.redo(&db).await?, &paint);
            }
        }
        Action::Reset { common } => {
            let (db, m) = open(&common).await?;
            if common.dry_run {
                print_plan("revert", &m.plan_down(&db, usize::MAX).await?);
                println!("-- then apply every migration");
            } else {
                report("applied", &m.reset(&db).await?, &paint);
            }
        }
    }
    Ok(())
}

/// `kysera generate models`: model source for tables, printed or written to `out`.
async fn generate_models(
    url: &str,
    mut tables: Vec<String>,
    out: Option<PathBuf>,
) -> kysera::Result<()> {
    let db = kysera::connect(url).await?;
    if tables.is_empty() {
        tables = dialect::tables(&db, None)
            .await?
            .into_iter()
            .map(|t| t.name)
            .filter(|t| t != "kysera_migrations")
            .collect();
    }
    let names: Vec<&str> = tables.iter().map(String::as_str).collect();
    let source = dialect::generate_models(&db, &names).await?;
    match out {
        Some(path) => {
            std::fs::write(&path, source).map_err(|e| {
                kysera::Error::InvalidQuery(format!("writing `{}`: {e}", path.display()))
            })?;
            println!("wrote {} model(s) to {}", names.len(), path.display());
        }
        None => print!("{source}"),
    }
    Ok(())
}

/// `kysera introspect`: each table with its columns, indexes and foreign keys.
async fn introspect(
    url: &str,
    mut tables: Vec<String>,
    schema: Option<String>,
    json: bool,
) -> kysera::Result<()> {
    let db = kysera::connect(url).await?;
    if tables.is_empty() {
        tables = dialect::tables(&db, schema.as_deref())
            .await?
            .into_iter()
            .map(|t| match &schema {
                Some(s) => format!("{s}.{}", t.name),
                None => t.name,
            })
            .collect();
    }
    let mut all = Vec::with_capacity(tables.len());
    for t in &tables {
        all.push(dialect::table_schema(&db, t).await?);
    }
    if json {
        let text = serde_json::to_string_pretty(&all)
            .map_err(|e| kysera::Error::InvalidQuery(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    for t in &all {
        println!("{}.{}", t.table.schema, t.table.name);
        for c in &t.columns {
            let mut notes = Vec::new();
            if c.primary_key {
                notes.push("primary key".to_string());
            }
            if c.generated {
                notes.push("generated".to_string());
            }
            if let Some(d) = &c.default {
                notes.push(format!("default {d}"));
            }
            let null = if c.nullable { "NULL" } else { "NOT NULL" };
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", notes.join(", "))
            };
            println!("  {} {} {null}{notes}", c.name, c.sql_type);
        }
        for i in &t.indexes {
            let kind = if i.primary {
                "primary key"
            } else if i.unique {
                "unique index"
            } else {
                "index"
            };
            println!("  {kind} {} ({})", i.name, i.columns.join(", "));
        }
        for f in &t.foreign_keys {
            println!(
                "  foreign key {}({}) -> {}({}) on delete {}, on update {}",
                f.name
                    .as_deref()
                    .map(|n| format!("{n} "))
                    .unwrap_or_default(),
                f.columns.join(", "),
                f.references_table,
                f.references_columns.join(", "),
                f.on_delete,
                f.on_update
            );
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            eprintln!("{} {message}", Paint::new().red("error:"));
            ExitCode::FAILURE
        }
    }
}
