//! `migrations!("dir")`: the migration files of a folder, embedded at compile time.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

/// One version's files.
#[derive(Default)]
struct Files {
    name: String,
    up: Option<PathBuf>,
    down: Option<PathBuf>,
}

fn error(lit: &LitStr, message: String) -> TokenStream {
    syn::Error::new(lit.span(), message).to_compile_error()
}

/// Reads `<version>_<name>.up.sql`, `<version>_<name>.down.sql` and `<version>_<name>.sql` (an
/// up-only step) from the folder `lit` names, relative to the crate's manifest.
pub fn expand(lit: LitStr) -> TokenStream {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let dir = root.join(lit.value());
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            return error(
                &lit,
                format!(
                    "cannot read the migrations folder `{}` ({})\nhelp: the path is relative to the crate's Cargo.toml; create the folder, or fix the path",
                    lit.value(),
                    e.kind()
                ),
            );
        }
    };
    let mut versions: BTreeMap<i64, Files> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for path in names {
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".sql") else {
            continue; // not a migration (a README, .gitkeep)
        };
        let (stem, kind) = if let Some(s) = stem.strip_suffix(".up") {
            (s, "up")
        } else if let Some(s) = stem.strip_suffix(".down") {
            (s, "down")
        } else {
            (stem, "simple")
        };
        let parsed = stem
            .split_once('_')
            .and_then(|(v, n)| Some((v.parse::<i64>().ok()?, n)))
            .filter(|(v, n)| *v > 0 && !n.is_empty());
        let Some((version, name)) = parsed else {
            errors.push(format!(
                "`{file}` is not a migration file name\nhelp: name it `<version>_<name>.up.sql` and `<version>_<name>.down.sql` (or `<version>_<name>.sql` for a step without a down), the version a positive number such as 20261128093000"
            ));
            continue;
        };
        let entry = versions.entry(version).or_default();
        if !entry.name.is_empty() && entry.name != name {
            errors.push(format!(
                "version {version} is used by `{}` and `{name}`\nhelp: give each migration its own version",
                entry.name
            ));
            continue;
        }
        entry.name = name.to_string();
        let slot = match kind {
            "down" => &mut entry.down,
            _ => &mut entry.up,
        };
        if slot.is_some() {
            errors.push(format!(
                "version {version} `{name}` has two {} files\nhelp: keep either `{name}.sql` or `{name}.up.sql`",
                if kind == "down" { "down" } else { "up" }
            ));
            continue;
        }
        *slot = Some(path.clone());
    }
    for (version, files) in &versions {
        if files.up.is_none() {
            errors.push(format!(
                "version {version} `{}` has a down file but no up file\nhelp: add `{version}_{}.up.sql`",
                files.name, files.name
            ));
        }
    }
    if !errors.is_empty() {
        let all = errors.into_iter().map(|m| error(&lit, m));
        return quote! {{ #(#all)* ::kysera::migrate::Migrator::__embedded(&[]) }};
    }
    let items = versions.iter().filter_map(|(version, files)| {
        let up = files.up.as_ref()?.to_string_lossy().into_owned();
        let name = &files.name;
        let down = match &files.down {
            Some(d) => {
                let d = d.to_string_lossy().into_owned();
                quote! { ::core::option::Option::Some(::core::include_str!(#d)) }
            }
            None => quote! { ::core::option::Option::None },
        };
        Some(quote! { (#version, #name, ::core::include_str!(#up), #down) })
    });
    quote! { ::kysera::migrate::Migrator::__embedded(&[#(#items),*]) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn malformed_names_duplicates_and_orphan_downs_are_errors() {
        let lit: syn::LitStr = syn::parse_quote!("fixtures/bad_migrations");
        let out = super::expand(lit).to_string();
        for wanted in [
            "`notes.sql` is not a migration file name",
            "version 2 is used by `b` and `c`",
            "version 3 `d` has a down file but no up file",
            "version 4 `e` has two up files",
        ] {
            assert!(out.contains(wanted), "{wanted}\n{out}");
        }
        let good: syn::LitStr = syn::parse_quote!("../kysera/tests/migrations");
        let out = super::expand(good).to_string();
        assert!(out.contains("1i64") && out.contains("include_str"), "{out}");
    }
}
