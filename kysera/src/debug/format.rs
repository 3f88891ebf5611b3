//! SQL text for people: formatted ([`format_sql`], by the `sqlformat` crate), highlighted with
//! ANSI colours ([`highlight_sql`]), and normalised so that runs of one statement with other
//! values or list lengths group together ([`normalize_sql`]).

use std::io::IsTerminal;

/// Lays `sql` out on lines with indentation and upper-case keywords (the `sqlformat` crate's
/// layout, two spaces).
///
/// ```
/// let pretty = kysera::debug::format_sql("select id, email from users where id = $1 order by id");
/// assert!(pretty.starts_with("SELECT\n  id,\n  email\nFROM\n  users\nWHERE"));
/// ```
pub fn format_sql(sql: &str) -> String {
    let options = sqlformat::FormatOptions {
        indent: sqlformat::Indent::Spaces(2),
        uppercase: Some(true),
        lines_between_queries: 1,
        ..Default::default()
    };
    sqlformat::format(sql, &sqlformat::QueryParams::None, &options)
}

/// When [`highlight_sql_with`] colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colors {
    /// Always.
    Always,
    /// Never: the text comes back as it was.
    Never,
    /// When standard error is a terminal and `NO_COLOR` is not set.
    Auto,
}

/// `sql` with ANSI colours (keywords, strings, numbers, placeholders, comments) when standard
/// error is a terminal and `NO_COLOR` is not set; unchanged otherwise.
pub fn highlight_sql(sql: &str) -> String {
    highlight_sql_with(sql, Colors::Auto)
}

/// `sql` with ANSI colours as `colors` says. Removing the colour codes gives the text back.
///
/// ```
/// use kysera::debug::{highlight_sql_with, Colors};
/// let lit = highlight_sql_with("SELECT 'a' FROM t WHERE id = $1", Colors::Always);
/// assert!(lit.contains("\x1b[1;34mSELECT\x1b[0m"));
/// assert_eq!(highlight_sql_with("SELECT 1", Colors::Never), "SELECT 1");
/// ```
pub fn highlight_sql_with(sql: &str, colors: Colors) -> String {
    let on = match colors {
        Colors::Always => true,
        Colors::Never => false,
        Colors::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
    };
    if !on {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() * 2);
    for (kind, text) in tokens(sql) {
        let color = match kind {
            Token::Word if is_keyword(text) => "1;34",
            Token::String => "32",
            Token::Number => "33",
            Token::Placeholder => "36",
            Token::Comment => "2",
            _ => "",
        };
        if color.is_empty() {
            out.push_str(text);
        } else {
            out.push_str("\x1b[");
            out.push_str(color);
            out.push('m');
            out.push_str(text);
            out.push_str("\x1b[0m");
        }
    }
    out
}

/// The statement with its values taken out, so that runs with other values group together:
/// literals and placeholders become `?`, a list of them `?…` (an IN list or a VALUES row of
/// any length), repeated rows `(?…), …`, comments dropped, white space collapsed.
///
/// ```
/// use kysera::debug::normalize_sql;
/// let one = normalize_sql("SELECT * FROM t WHERE id IN ($1, $2, $3) AND name = 'x'");
/// assert_eq!(one, "SELECT * FROM t WHERE id IN (?…) AND name = ?");
/// assert_eq!(normalize_sql("select * from t where id in (?) and name = ?"), one);
/// ```
pub fn normalize_sql(sql: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (kind, text) in tokens(sql) {
        match kind {
            Token::Space | Token::Comment => {}
            Token::String | Token::Number | Token::Placeholder => parts.push("?".into()),
            Token::Word if is_keyword(text) => parts.push(text.to_ascii_uppercase()),
            _ => parts.push(text.to_string()),
        }
    }
    // `? , ? , ?` → `?…`
    let mut lists: Vec<String> = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        if parts[i] == "?" {
            let mut j = i + 1;
            while j + 1 < parts.len() && parts[j] == "," && parts[j + 1] == "?" {
                j += 2;
            }
            // One value stays `?`; a list, or one value alone in brackets (an IN list or a
            // row that has other lengths elsewhere), is `?…`.
            let enclosed =
                lists.last().is_some_and(|p| p == "(") && parts.get(j).is_some_and(|p| p == ")");
            lists.push(if j > i + 1 || enclosed { "?…" } else { "?" }.into());
            i = j;
        } else {
            lists.push(std::mem::take(&mut parts[i]));
            i += 1;
        }
    }
    // `( ?… ) , ( ?… )` → `( ?… ) , …`
    let mut rows: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lists.len() {
        let row =
            i + 2 < lists.len() && lists[i] == "(" && lists[i + 1] == "?…" && lists[i + 2] == ")";
        rows.push(std::mem::take(&mut lists[i]));
        if row {
            rows.push("?…".into());
            rows.push(")".into());
            let mut j = i + 3;
            let mut more = false;
            while j + 3 < lists.len()
                && lists[j] == ","
                && lists[j + 1] == "("
                && lists[j + 2] == "?…"
                && lists[j + 3] == ")"
            {
                j += 4;
                more = true;
            }
            if more {
                rows.push(",".into());
                rows.push("…".into());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    let mut out = String::with_capacity(sql.len());
    for (n, p) in rows.iter().enumerate() {
        let glue = n > 0
            && !matches!(p.as_str(), "," | ")" | ";" | ".")
            && !rows[n - 1].ends_with(['(', '.']);
        if glue {
            out.push(' ');
        }
        out.push_str(p);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Space,
    Comment,
    String,
    /// A quoted identifier (`"x"`, `` `x` ``): kept as it is.
    Quoted,
    Number,
    Placeholder,
    Word,
    Punct,
}

/// Splits SQL into tokens, each a slice of `sql` (together they are all of it).
fn tokens(sql: &str) -> Vec<(Token, &str)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let kind = if c.is_ascii_whitespace() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            Token::Space
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            Token::Comment
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = sql[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            Token::Comment
        } else if c == b'\'' || c == b'"' || c == b'`' {
            // A doubled quote inside is the quote itself.
            i += 1;
            loop {
                match b.get(i) {
                    None => break,
                    Some(&q) if q == c && b.get(i + 1) == Some(&c) => i += 2,
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if c == b'\'' => i += 2,
                    Some(_) => i += 1,
                }
            }
            i = i.min(b.len());
            if c == b'\'' {
                Token::String
            } else {
                Token::Quoted
            }
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            Token::Number
        } else if let Some(end) = dollar_quoted(sql, i) {
            // PostgreSQL's `$tag$…$tag$` string (how long IN lists are inlined).
            i = end;
            Token::String
        } else if c == b'?' || (c == b'$' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            Token::Placeholder
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            Token::Word
        } else {
            // One character (whole, if it is not ASCII).
            i += sql[i..].chars().next().map_or(1, char::len_utf8);
            Token::Punct
        };
        // Never split a character: move to the next boundary.
        while i < b.len() && !sql.is_char_boundary(i) {
            i += 1;
        }
        out.push((kind, &sql[start..i]));
    }
    out
}

/// The end of a dollar-quoted string starting at `i` (`$$…$$`, `$tag$…$tag$`), if one does.
fn dollar_quoted(sql: &str, i: usize) -> Option<usize> {
    let rest = sql.get(i..)?;
    let rest = rest.strip_prefix('$')?;
    let tag_len = rest.find('$')?;
    let tag = &rest[..tag_len];
    if tag.starts_with(|c: char| c.is_ascii_digit())
        || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    let delimiter = &sql[i..i + tag_len + 2];
    let body = i + delimiter.len();
    let close = sql[body..].find(delimiter)?;
    Some(body + close + delimiter.len())
}

/// The words highlighted and upper-cased as keywords.
fn is_keyword(word: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "ALL",
        "AND",
        "AS",
        "ASC",
        "BEGIN",
        "BETWEEN",
        "BY",
        "CASE",
        "CAST",
        "COMMIT",
        "CONFLICT",
        "CREATE",
        "CROSS",
        "DEFAULT",
        "DELETE",
        "DESC",
        "DISTINCT",
        "DO",
        "DROP",
        "ELSE",
        "END",
        "EXCEPT",
        "EXISTS",
        "EXPLAIN",
        "FALSE",
        "FOR",
        "FROM",
        "FULL",
        "GROUP",
        "HAVING",
        "IGNORE",
        "ILIKE",
        "IN",
        "INNER",
        "INSERT",
        "INTERSECT",
        "INTO",
        "IS",
        "JOIN",
        "KEY",
        "LEFT",
        "LIKE",
        "LIMIT",
        "LOCK",
        "NOT",
        "NOTHING",
        "NULL",
        "OFFSET",
        "ON",
        "OR",
        "ORDER",
        "OUTER",
        "OVER",
        "PARTITION",
        "RECURSIVE",
        "RETURNING",
        "RIGHT",
        "ROLLBACK",
        "SAVEPOINT",
        "SELECT",
        "SET",
        "SHARE",
        "TABLE",
        "THEN",
        "TRUE",
        "UNION",
        "UPDATE",
        "USING",
        "VALUES",
        "WHEN",
        "WHERE",
        "WITH",
    ];
    word.len() <= 12 && KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cover_the_text() {
        for sql in [
            "SELECT 'it''s', \"a\"\"b\", `c`, 1.5e3, $12, ? -- note\n/* x */ FROM t",
            "unterminated 'string",
            "é → ü '√' /* unterminated",
            "",
        ] {
            let joined: String = tokens(sql).iter().map(|(_, t)| *t).collect();
            assert_eq!(joined, sql);
        }
    }

    #[test]
    fn normalising_groups_runs_of_one_statement() {
        let a = normalize_sql("SELECT * FROM t WHERE id IN ($1, $2, $3) AND name = 'x'");
        let b = normalize_sql("select * from t where id in (?) and name = 'other'");
        assert_eq!(a, b);
        assert_eq!(a, "SELECT * FROM t WHERE id IN (?…) AND name = ?");
        assert_eq!(
            normalize_sql("INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)"),
            normalize_sql("INSERT INTO t (a, b) VALUES ($1, $2)").replace("(?…)", "(?…), …")
        );
        // Other tables or columns stay apart.
        assert_ne!(
            normalize_sql("SELECT a FROM t"),
            normalize_sql("SELECT b FROM t")
        );
        assert_eq!(
            normalize_sql("SELECT \"a b\" FROM t -- c"),
            "SELECT \"a b\" FROM t"
        );
        // PostgreSQL's inlined lists of one length group with other lengths.
        assert_eq!(
            normalize_sql("SELECT a FROM t WHERE id IN ($k0$x$k0$, $k0$y$k0$)"),
            normalize_sql("SELECT a FROM t WHERE id IN ($k1$only$k1$)")
        );
        assert_eq!(normalize_sql("SELECT $1, $$a$$"), "SELECT ?…");
    }

    #[test]
    fn highlighting_only_adds_colour_codes() {
        let sql = "SELECT 'a', 2 FROM t WHERE x = $1 -- c";
        let lit = highlight_sql_with(sql, Colors::Always);
        let mut plain = String::new();
        let mut rest = lit.as_str();
        while let Some(p) = rest.find("\x1b[") {
            plain.push_str(&rest[..p]);
            rest = &rest[p + rest[p..].find('m').unwrap() + 1..];
        }
        plain.push_str(rest);
        assert_eq!(plain, sql);
        assert!(lit.contains("\x1b[32m'a'\x1b[0m") && lit.contains("\x1b[36m$1\x1b[0m"));
    }
}
