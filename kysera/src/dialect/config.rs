//! Connection URLs taken apart and put together (`parseConnectionUrl`, `buildConnectionUrl` in
//! the TypeScript Kysera), for the forms [`connect`](crate::connect) accepts.

use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::core::error::{Error, Result};
use crate::core::sql::Dialect;

/// What a SQLite path must escape to survive the driver's parsing (it splits at `?` and
/// percent-decodes the rest).
const SQLITE_PATH: &AsciiSet = &CONTROLS.add(b'%').add(b'?').add(b'#');

/// A connection URL's parts: `postgres://user:password@host:5432/app?sslmode=require`,
/// `mysql://root@127.0.0.1/app`, `sqlite://data/app.db?mode=rwc` or `sqlite::memory:`.
///
/// `Debug` and `Display` show the URL with the password — and any `password` option — as
/// `***`; [`to_url`](Self::to_url) gives the whole URL, to connect with.
///
/// ```
/// use kysera::dialect::ConnectionConfig;
/// use kysera::Dialect;
/// let c = ConnectionConfig::parse("postgresql://ada:s%40cret@db.local:6432/app?sslmode=require")?;
/// assert_eq!(c.dialect, Dialect::Postgres);
/// assert_eq!((c.host.as_deref(), c.port, c.database.as_deref()), (Some("db.local"), Some(6432), Some("app")));
/// assert_eq!((c.user.as_deref(), c.password.as_deref()), (Some("ada"), Some("s@cret")));
/// assert_eq!(c.options, [("sslmode".to_string(), "require".to_string())]);
/// assert_eq!(c.to_string(), "postgres://ada:***@db.local:6432/app?sslmode=require");
/// assert_eq!(ConnectionConfig::parse(&c.to_url())?, c);
///
/// let file = ConnectionConfig::new(kysera::Dialect::Sqlite).database("data/app.db").option("mode", "rwc");
/// assert_eq!(file.to_url(), "sqlite://data/app.db?mode=rwc");
/// assert!(ConnectionConfig::parse("sqlite::memory:")?.is_memory());
/// # Ok::<(), kysera::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// The database.
    pub dialect: Dialect,
    /// The server's host name or address (`None` for SQLite).
    pub host: Option<String>,
    /// The server's port, when the URL gives one.
    pub port: Option<u16>,
    /// The database name; for SQLite the file's path, `None` in memory.
    pub database: Option<String>,
    /// The user name.
    pub user: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// The query parameters, in order (`sslmode`, `mode`, …), decoded.
    pub options: Vec<(String, String)>,
}

impl ConnectionConfig {
    /// A configuration of `dialect` with nothing set (for SQLite: in memory).
    pub fn new(dialect: Dialect) -> Self {
        ConnectionConfig {
            dialect,
            host: None,
            port: None,
            database: None,
            user: None,
            password: None,
            options: Vec::new(),
        }
    }

    /// Sets the host.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }
    /// Sets the port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    /// Sets the database name (SQLite: the file's path).
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }
    /// Sets the user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
    /// Sets the password.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }
    /// Adds a query parameter.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push((key.into(), value.into()));
        self
    }

    /// An in-memory SQLite database.
    pub fn is_memory(&self) -> bool {
        self.dialect == Dialect::Sqlite
            && (self.database.is_none()
                || self
                    .options
                    .iter()
                    .any(|(k, v)| k == "mode" && v == "memory"))
    }

    /// The port the server listens on when the URL names none (5432, 3306; `None` for SQLite).
    pub fn default_port(&self) -> Option<u16> {
        match self.dialect {
            Dialect::Postgres => Some(5432),
            Dialect::MySql => Some(3306),
            _ => None,
        }
    }

    /// Takes `url` apart. The scheme names the database (`postgres`, `postgresql`, `mysql`,
    /// `mariadb`, `sqlite`); user, password and database are percent-decoded.
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidUrl {
            url: crate::core::error::redact_url(url),
            reason,
        };
        let dialect = Dialect::from_url(url)?;
        if dialect == Dialect::Sqlite {
            // The scheme in any case, as `Dialect::from_url` takes it.
            let after_scheme = &url["sqlite:".len()..];
            let rest = after_scheme.strip_prefix("//").unwrap_or(after_scheme);
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let mut c = ConnectionConfig::new(dialect);
            if !path.is_empty() && path != ":memory:" {
                let path = percent_decode_str(path)
                    .decode_utf8()
                    .map_err(|e| invalid(format!("the path is not UTF-8: {e}")))?;
                c.database = Some(path.into_owned());
            }
            c.options = url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            return Ok(c);
        }
        let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        let decode = |s: &str| -> Result<Option<String>> {
            if s.is_empty() {
                return Ok(None);
            }
            percent_decode_str(s)
                .decode_utf8()
                .map(|d| Some(d.into_owned()))
                .map_err(|e| invalid(format!("not UTF-8 once decoded: {e}")))
        };
        Ok(ConnectionConfig {
            dialect,
            host: parsed
                .host_str()
                .filter(|h| !h.is_empty())
                .map(str::to_string),
            port: parsed.port(),
            database: decode(parsed.path().trim_start_matches('/'))?,
            user: decode(parsed.username())?,
            password: parsed.password().map(decode).transpose()?.flatten(),
            options: parsed
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        })
    }

    /// The URL, password included: what [`connect`](crate::connect) takes.
    pub fn to_url(&self) -> String {
        self.render(false)
    }

    fn render(&self, redact: bool) -> String {
        let query = if self.options.is_empty() {
            String::new()
        } else {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &self.options {
                q.append_pair(k, if redact && secret(k) { "***" } else { v });
            }
            format!("?{}", q.finish())
        };
        if self.dialect == Dialect::Sqlite {
            return match &self.database {
                None if self.options.is_empty() => "sqlite::memory:".into(),
                None => format!("sqlite://:memory:{query}"),
                Some(path) => format!("sqlite://{}{query}", utf8_percent_encode(path, SQLITE_PATH)),
            };
        }
        let scheme = if self.dialect == Dialect::Postgres {
            "postgres"
        } else {
            "mysql"
        };
        let enc = |s: &str| utf8_percent_encode(s, USERINFO).to_string();
        let mut out = format!("{scheme}://");
        if let Some(user) = &self.user {
            out.push_str(&enc(user));
        }
        if let Some(password) = &self.password {
            out.push(':');
            out.push_str(&if redact {
                "***".to_string()
            } else {
                enc(password)
            });
        }
        if self.user.is_some() || self.password.is_some() {
            out.push('@');
        }
        match self.host.as_deref() {
            // An IPv6 address goes in brackets.
            Some(h) if h.contains(':') && !h.starts_with('[') => out.push_str(&format!("[{h}]")),
            Some(h) => out.push_str(h),
            // No host: the driver's default (PGHOST, a local socket) — which needs no user or
            // port before it to stay a valid URL.
            None if self.user.is_none() && self.password.is_none() && self.port.is_none() => {}
            None => out.push_str("localhost"),
        }
        if let Some(port) = self.port {
            out.push_str(&format!(":{port}"));
        }
        if let Some(db) = &self.database {
            out.push('/');
            out.push_str(&utf8_percent_encode(db, PATH_SEGMENT).to_string());
        }
        out.push_str(&query);
        out
    }
}

/// An option that holds a secret (`password=…` is accepted in the query by the drivers).
fn secret(key: &str) -> bool {
    key.to_ascii_lowercase().contains("password")
}

/// What a user name or password must escape in a URL.
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// What a database name must escape as one path segment.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

impl fmt::Display for ConnectionConfig {
    /// The URL with the password as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(true))
    }
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("dialect", &self.dialect)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field(
                "options",
                &self
                    .options
                    .iter()
                    .map(|(k, v)| (k.as_str(), if secret(k) { "***" } else { v.as_str() }))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl std::str::FromStr for ConnectionConfig {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ConnectionConfig::parse(s)
    }
}
