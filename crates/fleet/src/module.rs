//! Modules: named probe settings a scrape picks with `module=NAME`, read from a TOML file.
//!
//! ```toml
//! [modules.default]          # used when a scrape names no module
//! profile = "cloudflare"
//! timeout = "10s"
//!
//! [modules.checkout]
//! method = "POST"
//! headers = { "X-Probe" = "prometheus" }
//! ssl_mode = "full"
//! keepalive = true           # also measure idle closing (bounded by the scrape's timeout)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use originlens_probe::SslMode;
use originlens_wire::Profile;
use serde::Deserialize;

/// The module a scrape gets when it names none.
pub const DEFAULT_MODULE: &str = "default";
/// The longest a module may let one probe run.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// One module's settings, resolved.
#[derive(Clone, Debug)]
pub struct Module {
    /// Its name.
    pub name: String,
    /// The edge whose view decides success.
    pub profile: &'static Profile,
    /// Request method.
    pub method: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// The longest one probe may take (the scrape's own timeout can make it shorter).
    pub timeout: Duration,
    /// The edge's SSL mode toward the origin.
    pub ssl_mode: SslMode,
    /// PEM file of extra roots to trust (an origin CA).
    pub ca_file: Option<PathBuf>,
    /// Also measure how the origin closes idle keep-alive connections.
    pub keepalive: bool,
}

impl Module {
    /// The built-in default: the Cloudflare profile, GET, 10 s, strict TLS.
    pub fn builtin() -> Module {
        Module {
            name: DEFAULT_MODULE.to_owned(),
            profile: Profile::by_name("cloudflare").expect("the cloudflare profile exists"),
            method: "GET".to_owned(),
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            ssl_mode: SslMode::Strict,
            ca_file: None,
            keepalive: false,
        }
    }
}

/// Every module by name.
#[derive(Clone, Debug)]
pub struct Modules {
    by_name: BTreeMap<String, Module>,
}

impl Default for Modules {
    fn default() -> Self {
        let mut by_name = BTreeMap::new();
        by_name.insert(DEFAULT_MODULE.to_owned(), Module::builtin());
        Modules { by_name }
    }
}

/// A modules file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModulesError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys; the message names line and column.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or unknown.
    #[error("{path}: module `{module}`: {message}")]
    Value {
        /// The file.
        path: PathBuf,
        /// The module.
        module: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    modules: BTreeMap<String, RawModule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModule {
    profile: Option<String>,
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    timeout: Option<toml::Value>,
    ssl_mode: Option<String>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    keepalive: bool,
}

impl Modules {
    /// Reads a modules file; a `default` module is added when the file has none.
    pub fn load(path: &Path) -> Result<Modules, ModulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModulesError::Read {
            path: path.to_owned(),
            source,
        })?;
        Modules::parse(&text, path)
    }

    /// Parses modules from TOML text; `path` names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Modules, ModulesError> {
        let file: File = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ModulesError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        let mut modules = Modules::default();
        for (name, raw) in file.modules {
            let module = resolve(&name, raw).map_err(|message| ModulesError::Value {
                path: path.to_owned(),
                module: name.clone(),
                message,
            })?;
            modules.by_name.insert(name, module);
        }
        Ok(modules)
    }

    /// The module called `name`.
    pub fn get(&self, name: &str) -> Option<&Module> {
        self.by_name.get(name)
    }

    /// Module names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

fn resolve(name: &str, raw: RawModule) -> Result<Module, String> {
    let mut m = Module::builtin();
    m.name = name.to_owned();
    if let Some(p) = raw.profile {
        m.profile = Profile::by_name(&p).ok_or_else(|| {
            format!(
                "unknown profile `{p}` (one of: {})",
                Profile::names().join(", ")
            )
        })?;
    }
    if let Some(method) = raw.method {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            return Err(format!("bad method `{method}`"));
        }
        m.method = method;
    }
    m.headers = raw.headers.into_iter().collect();
    if let Some(t) = raw.timeout {
        m.timeout = timeout(&t)?;
    }
    if let Some(mode) = raw.ssl_mode {
        m.ssl_mode = match mode.as_str() {
            "strict" => SslMode::Strict,
            "full" => SslMode::Full,
            other => return Err(format!("ssl_mode `{other}`: use strict or full")),
        };
    }
    m.ca_file = raw.ca_file;
    m.keepalive = raw.keepalive;
    Ok(m)
}

/// A timeout: seconds as a number, or a string such as `"10s"`, `"500ms"`, `"1m"`.
fn timeout(v: &toml::Value) -> Result<Duration, String> {
    let secs = match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        toml::Value::String(s) => parse_duration(s)?.as_secs_f64(),
        other => {
            return Err(format!(
                "timeout of type {}: give seconds or a string like \"10s\"",
                other.type_str()
            ))
        }
    };
    if !(secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT.as_secs_f64()) {
        return Err(format!(
            "timeout {secs} s: give more than 0 and at most {} s",
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `"250ms"`, `"1.5s"`, `"2m"`, or bare seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 10s or 500ms"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        _ => return Err(format!("`{s}`: unit must be ms, s or m")),
    };
    let secs = n * scale;
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_parse_with_defaults_and_overrides() {
        let m = Modules::parse(
            "[modules.post]\nmethod = \"POST\"\ntimeout = \"2.5s\"\nssl_mode = \"full\"\nheaders = { \"X-A\" = \"b\" }\nkeepalive = true\n",
            Path::new("m.toml"),
        )
        .unwrap();
        let post = m.get("post").unwrap();
        assert_eq!(post.method, "POST");
        assert_eq!(post.timeout, Duration::from_millis(2500));
        assert_eq!(post.ssl_mode, SslMode::Full);
        assert_eq!(post.headers, vec![("X-A".to_owned(), "b".to_owned())]);
        assert!(post.keepalive);
        assert_eq!(m.get("default").unwrap().profile.name, "cloudflare");
        assert_eq!(m.names().collect::<Vec<_>>(), ["default", "post"]);
    }

    #[test]
    fn mistakes_name_the_place() {
        let e = Modules::parse("[modules.a]\nprofil = \"nginx\"\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("m.toml:2:1: "), "{e}");
        let e = Modules::parse("[modules.a]\nprofile = \"iis\"\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("module `a`: unknown profile `iis`"), "{e}");
        let e = Modules::parse("[modules.a]\ntimeout = 0\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("timeout 0 s"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("x").is_err());
    }
}
