#!/usr/bin/env python3
"""Compile time of 20 models in Kysera, SeaORM and Diesel, dependencies prebuilt.

Writes three crates of the same 20 models (nine columns each: a generated key, text, a
boolean, numbers, an optional column and two timestamps) under target/compile-time/, builds
each once so that every dependency is compiled, then times `cargo build` of each crate after
touching its source, REPEAT times, interleaved, and prints the medians as a table:

    cd examples/peers && python3 compile_time.py          # REPEAT=5 by default

Each crate has what a user writes for a model in that library, and a function per model that
creates a row, reads it by key and updates one column (so the generic code each library
instantiates per model is compiled too): Kysera's derive (which also
writes the typed columns, the New/Patch structs, the repository and the DAL functions);
SeaORM's entity (Model, Column, ActiveModel, Relation, ActiveModelBehavior); Diesel's table!
with Queryable + Selectable, Insertable and AsChangeset structs. The dependencies and their
features are those of the peer benchmark (all three databases in each library).
"""

import os
import pathlib
import statistics
import subprocess
import sys
import time

MODELS = 20
REPEAT = int(os.environ.get("REPEAT", "5"))
HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE / "target" / "compile-time"


def dependencies(*names):
    """The peer benchmark's lines for these dependencies (its versions and features)."""
    text = (HERE / "Cargo.toml").read_text()
    lines = text[text.index("[dependencies]"):].splitlines()
    kysera = HERE.parent.parent / "kysera"
    keep = [l.replace('path = "../../kysera"', f'path = "{kysera}"') for l in lines
            if l.split(" ")[0] in names]
    return "[dependencies]\n" + "\n".join(keep)


def kysera():
    out = ["use kysera::Repository;", "use kysera::types::chrono::{DateTime, Utc};", ""]
    for n in range(MODELS):
        out += [
            "#[derive(Debug, Clone, Repository)]",
            f'#[kysera(table = "t{n}")]',
            f"pub struct Model{n} {{",
            "    #[kysera(primary_key, generated)]",
            "    pub id: i64,",
            "    pub name: String,",
            "    pub email: String,",
            "    pub active: bool,",
            "    pub score: i32,",
            "    pub amount: f64,",
            "    pub note: Option<String>,",
            "    pub created_at: DateTime<Utc>,",
            "    pub updated_at: DateTime<Utc>,",
            "}",
            f"pub async fn use_model{n}(db: &kysera::Executor) -> kysera::Result<()> {{",
            f"    let repo = Model{n}::repo(db);",
            f"    let new = NewModel{n} {{",
            '        name: "a".into(), email: "a@b.c".into(), active: true, score: 1, amount: 1.0,',
            "        note: None, created_at: Utc::now(), updated_at: Utc::now(),",
            "    };",
            "    let created = repo.create(new).await?;",
            "    repo.find_by_id(created.id).await?;",
            f'    repo.update(created.id, Model{n}Patch::default().name("b")).await?;',
            "    Ok(())",
            "}",
            "",
        ]
    return "\n".join(out)


def seaorm():
    out = [
        "use chrono::Utc;",
        "use sea_orm::ActiveValue::{NotSet, Set, Unchanged};",
        "use sea_orm::{ActiveModelTrait, DatabaseConnection, DbErr, EntityTrait};",
        "",
    ]
    for n in range(MODELS):
        out += [
            f"pub mod model{n} {{",
            "    use sea_orm::entity::prelude::*;",
            "    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]",
            f'    #[sea_orm(table_name = "t{n}")]',
            "    pub struct Model {",
            "        #[sea_orm(primary_key)]",
            "        pub id: i64,",
            "        pub name: String,",
            "        pub email: String,",
            "        pub active: bool,",
            "        pub score: i32,",
            "        pub amount: f64,",
            "        pub note: Option<String>,",
            "        pub created_at: ChronoDateTimeUtc,",
            "        pub updated_at: ChronoDateTimeUtc,",
            "    }",
            "    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]",
            "    pub enum Relation {}",
            "    impl ActiveModelBehavior for ActiveModel {}",
            "}",
            f"pub async fn use_model{n}(db: &DatabaseConnection) -> Result<(), DbErr> {{",
            f"    let created = model{n}::ActiveModel {{",
            '        id: NotSet, name: Set("a".into()), email: Set("a@b.c".into()),',
            "        active: Set(true), score: Set(1), amount: Set(1.0), note: Set(None),",
            "        created_at: Set(Utc::now()), updated_at: Set(Utc::now()),",
            "    }",
            "    .insert(db)",
            "    .await?;",
            f"    model{n}::Entity::find_by_id(created.id).one(db).await?;",
            f"    model{n}::ActiveModel {{",
            '        id: Unchanged(created.id), name: Set("b".into()), ..Default::default()',
            "    }",
            "    .update(db)",
            "    .await?;",
            "    Ok(())",
            "}",
            "",
        ]
    return "\n".join(out)


def diesel():
    out = ["use chrono::{DateTime, Utc};", "use diesel::prelude::*;", ""]
    for n in range(MODELS):
        out += [
            "diesel::table! {",
            f"    t{n} (id) {{",
            "        id -> BigInt, name -> Text, email -> Text, active -> Bool, score -> Integer,",
            "        amount -> Double, note -> Nullable<Text>, created_at -> Timestamptz,",
            "        updated_at -> Timestamptz,",
            "    }",
            "}",
            "#[derive(Debug, Clone, Queryable, Selectable)]",
            f"#[diesel(table_name = t{n}, check_for_backend(diesel::pg::Pg))]",
            f"pub struct Model{n} {{",
            "    pub id: i64,",
            "    pub name: String,",
            "    pub email: String,",
            "    pub active: bool,",
            "    pub score: i32,",
            "    pub amount: f64,",
            "    pub note: Option<String>,",
            "    pub created_at: DateTime<Utc>,",
            "    pub updated_at: DateTime<Utc>,",
            "}",
            "#[derive(Insertable)]",
            f"#[diesel(table_name = t{n})]",
            f"pub struct NewModel{n} {{",
            "    pub name: String,",
            "    pub email: String,",
            "    pub active: bool,",
            "    pub score: i32,",
            "    pub amount: f64,",
            "    pub note: Option<String>,",
            "    pub created_at: DateTime<Utc>,",
            "    pub updated_at: DateTime<Utc>,",
            "}",
            "#[derive(AsChangeset, Default)]",
            f"#[diesel(table_name = t{n})]",
            f"pub struct Model{n}Patch {{",
            "    pub name: Option<String>,",
            "    pub email: Option<String>,",
            "    pub active: Option<bool>,",
            "    pub score: Option<i32>,",
            "    pub amount: Option<f64>,",
            "    pub note: Option<Option<String>>,",
            "    pub created_at: Option<DateTime<Utc>>,",
            "    pub updated_at: Option<DateTime<Utc>>,",
            "}",
            f"pub fn use_model{n}(c: &mut diesel::PgConnection) -> QueryResult<()> {{",
            f"    let new = NewModel{n} {{",
            '        name: "a".into(), email: "a@b.c".into(), active: true, score: 1, amount: 1.0,',
            "        note: None, created_at: Utc::now(), updated_at: Utc::now(),",
            "    };",
            f"    let created: Model{n} = diesel::insert_into(t{n}::table)",
            "        .values(&new)",
            f"        .returning(Model{n}::as_returning())",
            "        .get_result(c)?;",
            f"    t{n}::table.find(created.id).select(Model{n}::as_select()).first::<Model{n}>(c)?;",
            f"    let patch = Model{n}Patch {{ name: Some(\"b\".into()), ..Default::default() }};",
            f"    diesel::update(t{n}::table.find(created.id)).set(&patch).execute(c)?;",
            "    Ok(())",
            "}",
            "",
        ]
    return "\n".join(out)


CRATES = {
    "kysera": (kysera, ["kysera"]),
    "seaorm": (seaorm, ["sea-orm", "chrono"]),
    "diesel": (diesel, ["diesel", "chrono"]),
}


def write():
    ROOT.mkdir(parents=True, exist_ok=True)
    members = ", ".join(f'"models-{name}"' for name in CRATES)
    (ROOT / "Cargo.toml").write_text(f"[workspace]\nresolver = \"3\"\nmembers = [{members}]\n")
    lock = HERE / "Cargo.lock"
    if lock.exists():
        (ROOT / "Cargo.lock").write_text(lock.read_text())
    for name, (source, names) in CRATES.items():
        crate = ROOT / f"models-{name}"
        (crate / "src").mkdir(parents=True, exist_ok=True)
        (crate / "Cargo.toml").write_text(
            f'[package]\nname = "models-{name}"\nversion = "0.1.0"\nedition = "2024"\n'
            f"publish = false\n\n{dependencies(*names)}\n"
        )
        (crate / "src" / "lib.rs").write_text(source() + "\n")


def build(name):
    subprocess.run(
        ["cargo", "build", "-q", "-p", f"models-{name}"], cwd=ROOT, check=True
    )


def main():
    write()
    for name in CRATES:  # every dependency, once
        build(name)
    times = {name: [] for name in CRATES}
    for _ in range(REPEAT):
        for name in CRATES:
            (ROOT / f"models-{name}" / "src" / "lib.rs").touch()
            start = time.monotonic()
            build(name)
            times[name].append(time.monotonic() - start)
    print(f"| library | {MODELS} models, `cargo build` (debug), median of {REPEAT} | runs |")
    print("|---|---|---|")
    for name, t in times.items():
        runs = ", ".join(f"{x:.2f}" for x in t)
        print(f"| {name} | {statistics.median(t):.2f} s | {runs} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
