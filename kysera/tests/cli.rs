//! The `kysera` command run as a process (feature `cli`), against a SQLite file and PostgreSQL:
//! `migrate new`, `status`, `up --dry-run`, `up`, `introspect`, `down`, a failing migration's
//! exit code.
#![cfg(feature = "cli")]

#[allow(unused_macros)]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kysera(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kysera"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("NO_COLOR", "1")
        .output()
        .expect("the kysera binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(common::table(tag));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// new → status → up --dry-run → up → status → down, then a failing migration.
fn walk(url: &str, dir: &Path) {
    let source = dir.join("migrations");
    let src = source.to_str().unwrap();
    let table = common::table("cli_widgets");
    let history = common::table("cli_hist");
    let with = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--source".into(),
            src.into(),
            "--table".into(),
            history.clone(),
        ]);
        v
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        kysera(url, &refs)
    };

    let made = kysera(url, &["migrate", "new", "create_widgets", "--source", src]);
    assert!(made.status.success(), "{}", text(&made));
    // A second one in the same second gets the next version, not a clash.
    let other = kysera(
        url,
        &["migrate", "new", "later", "--source", src, "--no-down"],
    );
    assert!(other.status.success(), "{}", text(&other));
    let later: Vec<PathBuf> = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with("_later.sql"))
        .collect();
    assert_eq!(later.len(), 1);
    std::fs::remove_file(&later[0]).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{}", text(&made));
    let (down, up) = (&files[0], &files[1]);
    assert!(up.to_str().unwrap().ends_with("_create_widgets.up.sql"));
    std::fs::write(
        up,
        format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY);\n"),
    )
    .unwrap();
    std::fs::write(down, format!("DROP TABLE {table};\n")).unwrap();

    let status = run(with(&["migrate", "status"]));
    assert!(
        status.status.success() && text(&status).contains("pending"),
        "{}",
        text(&status)
    );
    let dry = run(with(&["migrate", "up", "--dry-run"]));
    assert!(
        text(&dry).contains(&format!("CREATE TABLE {table}")),
        "{}",
        text(&dry)
    );
    assert!(
        text(&run(with(&["migrate", "status"]))).contains("pending"),
        "the dry run ran nothing"
    );
    let applied = run(with(&["migrate", "up"]));
    assert!(
        applied.status.success() && text(&applied).contains("applied"),
        "{}",
        text(&applied)
    );
    let status = run(with(&["migrate", "status"]));
    assert!(
        text(&status).contains("applied") && !text(&status).contains("pending"),
        "{}",
        text(&status)
    );
    // The live schema, as text and as JSON.
    let shown = kysera(url, &["introspect", "--table", &table]);
    assert!(
        shown.status.success()
            && text(&shown).contains(&format!(".{table}"))
            && text(&shown).contains("id ")
            && text(&shown).contains("primary key"),
        "{}",
        text(&shown)
    );
    let json = kysera(url, &["introspect", "--json", "--table", &table]);
    let parsed: serde_json::Value =
        serde_json::from_slice(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&json)));
    assert!(
        parsed
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["table"]["name"] == table.as_str() && t["columns"][0]["name"] == "id"),
        "{parsed}"
    );
    let models = kysera(url, &["generate", "models", "--table", &table]);
    assert!(
        models.status.success()
            && text(&models).contains("#[derive(Debug, Clone, PartialEq, kysera::Repository)]")
            && text(&models).contains("#[kysera(primary_key)]")
            && text(&models).contains("pub id: i64,"),
        "{}",
        text(&models)
    );
    let missing = kysera(url, &["introspect", "--table", "no_such_table_here"]);
    assert!(
        !missing.status.success() && text(&missing).contains("no_such_table_here"),
        "{}",
        text(&missing)
    );
    let reverted = run(with(&["migrate", "down"]));
    assert!(
        reverted.status.success() && text(&reverted).contains("reverted"),
        "{}",
        text(&reverted)
    );

    // A migration that fails: a non-zero exit and an error naming it.
    std::fs::write(source.join("99990101000000_broken.sql"), "CREATE TABLE (\n").unwrap();
    let failed = run(with(&["migrate", "up"]));
    assert!(!failed.status.success(), "{}", text(&failed));
    assert!(
        text(&failed).contains("error:") && text(&failed).contains("broken"),
        "{}",
        text(&failed)
    );
    let status = run(with(&["migrate", "status"]));
    assert!(
        text(&status).contains("pending"),
        "the broken one is still pending: {}",
        text(&status)
    );
}

#[test]
fn the_command_line_on_sqlite() {
    let dir = fresh_dir("cli_sqlite");
    let url = format!("sqlite://{}?mode=rwc", dir.join("app.db").display());
    walk(&url, &dir);
    // Without a database URL: a clear error, a non-zero exit.
    let none = Command::new(env!("CARGO_BIN_EXE_kysera"))
        .args(["migrate", "status"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        !none.status.success() && text(&none).contains("--database-url"),
        "{}",
        text(&none)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_command_line_on_postgres() {
    let Ok(url) = std::env::var(common::POSTGRES_ENV) else {
        eprintln!("skipped: {} is not set", common::POSTGRES_ENV);
        return;
    };
    let dir = fresh_dir("cli_pg");
    walk(&url, &dir);
    let _ = std::fs::remove_dir_all(dir);
}
