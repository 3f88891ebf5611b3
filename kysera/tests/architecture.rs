//! The layering rule of ARCHITECTURE.md, checked on the source: every module of `kysera/src` is
//! in the module table; a module imports only modules of lower layers (files of one folder may
//! use each other without cycles); imports name the owning module, not the crate root; no
//! source file passes 600 lines unless its opening comment says why it is one cohesive thing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longer files must say why they are one cohesive thing.
const MAX_LINES: usize = 600;

/// A module path such as `behaviour::rls::policy` (empty for the crate root).
type Module = Vec<String>;

fn join(m: &[String]) -> String {
    m.join("::")
}

/// Layer of every module named in ARCHITECTURE.md's module table (`| 3 | \`plugin\` | … |`).
fn layers(architecture: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for line in architecture.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let (Ok(layer), Some(name)) = (
            cells[1].parse::<u32>(),
            cells[2].strip_prefix('`').and_then(|s| s.strip_suffix('`')),
        ) else {
            continue;
        };
        out.insert(name.to_string(), layer);
    }
    out
}

/// Every `.rs` file under `dir`, with the module it is.
fn source_files(src: &Path) -> Vec<(Module, PathBuf)> {
    fn walk(dir: &Path, prefix: &Module, out: &mut Vec<(Module, PathBuf)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read src")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                let mut m = prefix.clone();
                m.push(name);
                walk(&path, &m, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = match name.as_str() {
                    "lib" | "mod" => prefix.clone(),
                    _ => {
                        let mut m = prefix.clone();
                        m.push(name);
                        m
                    }
                };
                out.push((module, path));
            }
        }
    }
    let mut out = Vec::new();
    walk(src, &Vec::new(), &mut out);
    out
}

/// The source with comments, string literals and char literals removed (lifetimes kept).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !(b[i - 1].is_alphanumeric() || b[i - 1] == '_'))
        {
            // A raw string r"…" / r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            'raw: while j < b.len() {
                if b[j] == '"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break 'raw;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && (next == Some('\\') || b.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\''); a lifetime has no closing quote.
            i += if next == Some('\\') { 2 } else { 1 };
            while i < b.len() && b[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Sep,
    Open,
    Close,
    Comma,
    Semi,
    Other,
}

fn tokens(src: &str) -> Vec<Tok> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
            continue;
        }
        out.push(match c {
            ':' if b.get(i + 1) == Some(&':') => {
                i += 1;
                Tok::Sep
            }
            '{' => Tok::Open,
            '}' => Tok::Close,
            ',' => Tok::Comma,
            ';' => Tok::Semi,
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            _ => Tok::Other,
        });
        i += 1;
    }
    out
}

/// Expands a use tree starting at `t[*i]` into full paths.
fn use_tree(t: &[Tok], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        match t.get(*i) {
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                *i += 1;
                match t.get(*i) {
                    Some(Tok::Sep) => *i += 1,
                    _ => {
                        // `as alias`: skip it.
                        if t.get(*i) == Some(&Tok::Ident("as".into())) {
                            *i += 2;
                        }
                        out.push(path);
                        return;
                    }
                }
            }
            Some(Tok::Open) => {
                *i += 1;
                loop {
                    match t.get(*i) {
                        Some(Tok::Close) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Comma) => *i += 1,
                        None => return,
                        _ => use_tree(t, i, path.clone(), out),
                    }
                }
            }
            Some(Tok::Other) => {
                // `*`
                *i += 1;
                out.push(path);
                return;
            }
            _ => {
                out.push(path);
                return;
            }
        }
    }
}

/// Every path the source names that starts with `crate`, `super` or `self` (use trees
/// expanded); `$crate` paths are for the user's crate and are left out.
fn paths(src: &str) -> Vec<Vec<String>> {
    let t = tokens(&strip(src));
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        match &t[i] {
            Tok::Ident(s) if s == "use" => {
                i += 1;
                let mut found = Vec::new();
                use_tree(&t, &mut i, Vec::new(), &mut found);
                out.extend(found.into_iter().filter(|p| {
                    p.first()
                        .is_some_and(|s| matches!(s.as_str(), "crate" | "super" | "self"))
                }));
            }
            Tok::Ident(s)
                if matches!(s.as_str(), "crate" | "super" | "self")
                    && t.get(i + 1) == Some(&Tok::Sep) =>
            {
                let mut p = vec![s.clone()];
                i += 1;
                while t.get(i) == Some(&Tok::Sep) {
                    match t.get(i + 1) {
                        Some(Tok::Ident(seg)) => {
                            p.push(seg.clone());
                            i += 2;
                        }
                        _ => break,
                    }
                }
                out.push(p);
            }
            _ => i += 1,
        }
    }
    out
}

/// The module a path used in `from` names: the longest prefix that is a module. `Err` for a
/// path through the crate root to a re-export.
fn resolve(from: &Module, path: &[String], modules: &BTreeSet<Module>) -> Result<Module, String> {
    let mut base: Module;
    let mut rest = path;
    match path[0].as_str() {
        "crate" => {
            base = Vec::new();
            rest = &path[1..];
        }
        "self" | "super" => {
            // A folder's mod.rs is the folder's module, so `super` is always the parent.
            base = from.clone();
            while let Some(seg) = rest.first() {
                match seg.as_str() {
                    "self" => rest = &rest[1..],
                    "super" => {
                        base.pop();
                        rest = &rest[1..];
                    }
                    _ => break,
                }
            }
        }
        _ => return Ok(from.clone()),
    }
    for seg in rest {
        let mut next = base.clone();
        next.push(seg.clone());
        if modules.contains(&next) {
            base = next;
        } else {
            break;
        }
    }
    if base.is_empty() && !rest.is_empty() {
        return Err(format!(
            "`{}` goes through the crate root: import it from the module that owns it",
            path.join("::")
        ));
    }
    Ok(base)
}

/// The module graph's violations of the layering rule, given each module's source.
fn violations(files: &[(Module, String)], layer_of: &BTreeMap<String, u32>) -> Vec<String> {
    let modules: BTreeSet<Module> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut problems = Vec::new();
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, src) in files {
        if module.is_empty() {
            continue; // lib.rs: the map re-exports across layers by design.
        }
        for path in paths(src) {
            let target = match resolve(module, &path, &modules) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{}: {e}", join(module)));
                    continue;
                }
            };
            // A module using itself or its own files (a folder assembling its parts).
            if target.starts_with(module) || target.is_empty() {
                continue;
            }
            let (from_top, to_top) = (&module[0], &target[0]);
            if from_top != to_top {
                let (Some(a), Some(b)) = (layer_of.get(from_top), layer_of.get(to_top)) else {
                    continue; // reported as missing from the table
                };
                if b >= a {
                    problems.push(format!(
                        "{} (layer {a}) imports {} (layer {b}): a module may import only lower layers",
                        join(module),
                        join(&target)
                    ));
                }
            }
            edges.entry(module.clone()).or_default().insert(target);
        }
    }
    // Cycles (within a folder; across folders the layers already forbid them).
    let mut state: BTreeMap<Module, u8> = BTreeMap::new();
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
        problems: &mut Vec<String>,
    ) {
        match state.get(m) {
            Some(2) => return,
            Some(1) => {
                let start = stack.iter().position(|s| s == m).unwrap_or(0);
                let cycle: Vec<String> = stack[start..].iter().map(|s| join(s)).collect();
                problems.push(format!(
                    "import cycle: {} -> {}",
                    cycle.join(" -> "),
                    join(m)
                ));
                return;
            }
            _ => {}
        }
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            visit(next, edges, state, stack, problems);
        }
        stack.pop();
        state.insert(m.clone(), 2);
    }
    for m in &modules {
        visit(m, &edges, &mut state, &mut Vec::new(), &mut problems);
    }
    problems
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn modules_import_only_lower_layers_and_the_table_names_every_module() {
    let architecture = std::fs::read_to_string(manifest().join("../ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md at the repository root");
    let table = layers(&architecture);
    assert!(!table.is_empty(), "ARCHITECTURE.md has no module table");
    let files: Vec<(Module, String)> = source_files(&manifest().join("src"))
        .into_iter()
        .map(|(m, p)| (m, std::fs::read_to_string(&p).expect("read source")))
        .collect();

    let mut problems = Vec::new();
    let in_src: BTreeSet<String> = files
        .iter()
        .filter(|(m, _)| !m.is_empty())
        .map(|(m, _)| join(m))
        .collect();
    for m in &in_src {
        match table.get(m) {
            None => problems.push(format!(
                "`{m}` is missing from ARCHITECTURE.md's module table"
            )),
            Some(l) => {
                let top = m.split("::").next().unwrap();
                if table.get(top) != Some(l) {
                    problems.push(format!("`{m}` is not in the layer of `{top}`"));
                }
            }
        }
    }
    for m in table.keys() {
        if !in_src.contains(m) {
            problems.push(format!(
                "ARCHITECTURE.md names `{m}`, which is not a module of kysera/src"
            ));
        }
    }
    problems.extend(violations(&files, &table));
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn no_source_file_is_long_without_saying_why() {
    let mut long = Vec::new();
    for dir in ["src", "../kysera-derive/src"] {
        for (_, path) in source_files(&manifest().join(dir)) {
            let src = std::fs::read_to_string(&path).expect("read source");
            let lines = src.lines().count();
            let opening: String = src
                .lines()
                .take_while(|l| l.starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            if lines > MAX_LINES && !opening.contains("cohesive") {
                long.push(format!("{} has {lines} lines", path.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these files, or say in their opening comment why each is one cohesive thing:\n{}",
        long.join("\n")
    );
}

/// The checker itself: a lower layer importing a higher one, a cycle inside a folder and an
/// import through the crate root are each reported; a clean graph is not.
#[test]
fn the_checker_catches_each_kind_of_violation() {
    let m = |s: &str| -> Module {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split("::").map(str::to_string).collect()
        }
    };
    let table: BTreeMap<String, u32> = [
        ("query".into(), 1),
        ("executor".into(), 4),
        ("dal".into(), 6),
    ]
    .into();
    let clean = vec![
        (m(""), "mod query; pub use executor::Executor;".to_string()),
        (m("query"), "mod expr; use self::expr::Filter;".to_string()),
        (
            m("query::expr"),
            "use super::Value; // crate::executor::X".to_string(),
        ),
        (
            m("executor"),
            "use crate::query::{Query, expr::Filter};\nconst S: &str = \"crate::dal::x\";"
                .to_string(),
        ),
        (
            m("dal"),
            "use crate::{executor::Executor, query};".to_string(),
        ),
    ];
    assert_eq!(violations(&clean, &table), Vec::<String>::new());

    let mut upward = clean.clone();
    upward[2].1 = "fn f() { crate::executor::run(); }".into();
    let found = violations(&upward, &table);
    assert!(
        found
            .iter()
            .any(|p| p.contains("query::expr (layer 1) imports executor (layer 4)")),
        "{found:?}"
    );

    let mut root = clean.clone();
    root[4].1 = "use crate::{Executor, Result};".into();
    let found = violations(&root, &table);
    assert!(
        found
            .iter()
            .any(|p| p.contains("goes through the crate root")),
        "{found:?}"
    );

    let mut cycle = clean.clone();
    cycle.push((m("query::select"), "use super::expr::Filter;".into()));
    cycle[2].1 = "use super::select::Select;".into();
    let found = violations(&cycle, &table);
    assert!(
        found.iter().any(|p| p.starts_with("import cycle")),
        "{found:?}"
    );
}
