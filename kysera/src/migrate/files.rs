//! Migration files read at run time (what the `kysera` command runs), named as
//! [`migrations!`](crate::migrations) reads them at compile time, and new files made for
//! `kysera migrate new`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Migration, Migrator};
use crate::core::error::{Error, Result};

fn invalid(reason: String) -> Error {
    Error::Migration {
        version: 0,
        name: String::new(),
        reason,
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| invalid(format!("cannot read `{}`: {e}", path.display())))
}

/// `<version>_<name>` of a file name (without `.up.sql` / `.down.sql` / `.sql`), and which kind.
fn parse(file: &str) -> Option<Option<(i64, &str, &'static str)>> {
    let stem = file.strip_suffix(".sql")?;
    let (stem, kind) = if let Some(s) = stem.strip_suffix(".up") {
        (s, "up")
    } else if let Some(s) = stem.strip_suffix(".down") {
        (s, "down")
    } else {
        (stem, "up")
    };
    Some(
        stem.split_once('_')
            .and_then(|(v, n)| Some((v.parse::<i64>().ok()?, n)))
            .filter(|(v, n)| *v > 0 && !n.is_empty())
            .map(|(v, n)| (v, n, kind)),
    )
}

impl Migrator {
    /// The migrations of a folder, read now: `<version>_<name>.up.sql` with its
    /// `<version>_<name>.down.sql`, or `<version>_<name>.sql` for a step without a down. Files
    /// not ending in `.sql` are ignored; a malformed `.sql` name, two files for one version or a
    /// down without an up is an error naming the file.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Migrator> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            invalid(format!(
                "cannot read the migrations folder `{}`: {e}",
                dir.display()
            ))
        })?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        // version -> (name, up, down)
        let mut found: BTreeMap<i64, (String, Option<PathBuf>, Option<PathBuf>)> = BTreeMap::new();
        for path in paths {
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            let Some(parsed) = parse(file) else {
                continue;
            };
            let (version, name, kind) = parsed.ok_or_else(|| {
                invalid(format!(
                    "`{file}` is not a migration file name: name it `<version>_<name>.up.sql` and `<version>_<name>.down.sql`, or `<version>_<name>.sql`"
                ))
            })?;
            let entry = found
                .entry(version)
                .or_insert_with(|| (name.to_string(), None, None));
            if entry.0 != name {
                return Err(invalid(format!(
                    "version {version} is used by `{}` and `{name}`",
                    entry.0
                )));
            }
            let slot = if kind == "down" {
                &mut entry.2
            } else {
                &mut entry.1
            };
            if slot.is_some() {
                return Err(invalid(format!(
                    "version {version} `{name}` has two {kind} files"
                )));
            }
            *slot = Some(path);
        }
        let mut migrations = Vec::with_capacity(found.len());
        for (version, (name, up, down)) in found {
            let up = up.ok_or_else(|| {
                invalid(format!(
                    "version {version} `{name}` has a down file but no up file"
                ))
            })?;
            let mut m = Migration::sql(version, name, read(&up)?);
            if let Some(down) = down {
                m = m.with_down(read(&down)?);
            }
            migrations.push(m);
        }
        Migrator::new(migrations)
    }
}

/// Creates `<version>_<name>.up.sql` and `<version>_<name>.down.sql` (only `<version>_<name>.sql`
/// when `reversible` is false) in `dir`, the version the UTC time `YYYYMMDDHHMMSS`; returns the
/// paths made. The folder is created if missing; an existing file is never overwritten.
pub fn new_files(dir: impl AsRef<Path>, name: &str, reversible: bool) -> Result<Vec<PathBuf>> {
    let dir = dir.as_ref();
    let ok_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok_name {
        return Err(invalid(format!(
            "`{name}` is not a migration name: use letters, digits, `_` and `-`"
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| invalid(format!("cannot create `{}`: {e}", dir.display())))?;
    // The UTC time, a second later while a migration of the folder already has that version
    // (two made in one second).
    let taken = |v: &str| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|f| f.split_once('_').is_some_and(|(p, _)| p == v))
            })
        })
    };
    let mut at = chrono::Utc::now();
    let mut version = at.format("%Y%m%d%H%M%S").to_string();
    while taken(&version) {
        at += chrono::TimeDelta::seconds(1);
        version = at.format("%Y%m%d%H%M%S").to_string();
    }
    let files: Vec<(String, &str)> = if reversible {
        vec![
            (
                format!("{version}_{name}.up.sql"),
                "-- Write the change here.\n",
            ),
            (
                format!("{version}_{name}.down.sql"),
                "-- Write how to undo it here.\n",
            ),
        ]
    } else {
        vec![(
            format!("{version}_{name}.sql"),
            "-- Write the change here.\n",
        )]
    };
    let mut made = Vec::new();
    for (file, body) in files {
        let path = dir.join(file);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, body.as_bytes()))
            .map_err(|e| invalid(format!("cannot create `{}`: {e}", path.display())))?;
        made.push(path);
    }
    Ok(made)
}
