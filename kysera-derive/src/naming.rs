//! The default table name: the struct name in snake_case, its last word pluralised.

/// `BlogPost` → `blog_post`, `HTTPRequest` → `http_request`, `User2FA` → `user2_fa`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// English plural of the last word: `-s/-x/-z/-ch/-sh` → `-es`, consonant + `y` → `-ies`,
/// otherwise `-s`. No irregular plurals (`Person` → `persons`): name the table when that reads
/// wrong.
pub fn pluralize(word: &str) -> String {
    let vowel = |c: char| "aeiou".contains(c);
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| word.ends_with(e))
    {
        format!("{word}es")
    } else if let Some(stem) = word.strip_suffix('y')
        && stem.chars().last().is_some_and(|c| !vowel(c))
    {
        format!("{stem}ies")
    } else {
        format!("{word}s")
    }
}

/// The default table name for a struct.
pub fn table_name(struct_name: &str) -> String {
    pluralize(&snake_case(struct_name.trim_start_matches("r#")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for (s, t) in [
            ("User", "users"),
            ("BlogPost", "blog_posts"),
            ("Category", "categories"),
            ("Address", "addresses"),
            ("Box", "boxes"),
            ("Match", "matches"),
            ("Day", "days"),
            ("HTTPRequest", "http_requests"),
            ("AuditLog", "audit_logs"),
            ("User2", "user2s"),
            ("Person", "persons"),
        ] {
            assert_eq!(table_name(s), t, "{s}");
        }
    }
}
