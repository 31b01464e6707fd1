//! Checks nginx, PHP-FPM and Apache configuration for the settings behind edge 5xx
//! (`originlens lint`).
//!
//! Files are parsed into typed trees with `file:line:col` places ([`nginx`], [`fpm`]); the
//! nginx parser follows nginx's own tokenizer and `include` rules, and [`nginx::Scopes`] resolves
//! which value each `location` really uses after inheritance. [`rules`] then judges those values
//! against the edge's limits ([`rules::Options`]) and reports [`rules::Finding`]s, each naming a
//! cause id from `originlens-wire`. [`report`] holds the JSON and SARIF wire types.
//!
//! A file that cannot be read or parsed is a [`LoadError`] with its exact place, never an empty
//! list of findings.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod apache;
pub mod fpm;
pub mod nginx;
pub mod report;
pub mod rules;
pub mod span;
pub mod units;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use rules::{Finding, Options, Rule, Severity};
pub use span::{LoadError, Span};

/// Which configuration language a file is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigKind {
    /// nginx (`nginx.conf`, `sites-enabled/*`, `conf.d/*`).
    Nginx,
    /// PHP-FPM (`php-fpm.conf`, `pool.d/*.conf`).
    Fpm,
    /// Apache httpd (`httpd.conf`, `apache2.conf`).
    Apache,
}

impl ConfigKind {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKind::Nginx => "nginx",
            ConfigKind::Fpm => "fpm",
            ConfigKind::Apache => "apache",
        }
    }
}

/// Guesses the language from the first line that is not blank or a comment: PHP-FPM files
/// start with a `[section]` or a `key = value` line; Apache files with a `<Section>` or a
/// directive of Apache's that is not ended by `;`; everything else is read as nginx.
pub fn detect(text: &str) -> ConfigKind {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'));
    let Some(line) = first else {
        return ConfigKind::Nginx;
    };
    let ini_key = |l: &str| {
        l.split_once('=').is_some_and(|(key, _)| {
            let key = key.trim();
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._[]-$".contains(c))
        })
    };
    let first_word = line.split_whitespace().next().unwrap_or("");
    if (line.starts_with('[') && line.contains(']')) || (ini_key(line) && !line.ends_with(';')) {
        ConfigKind::Fpm
    } else if (line.starts_with('<') && line.ends_with('>'))
        || (APACHE_FIRST_WORDS.contains(&first_word)
            && !line.ends_with(';')
            && !line.ends_with('{'))
    {
        ConfigKind::Apache
    } else {
        ConfigKind::Nginx
    }
}

/// Directives that open typical Apache files (Apache capitalises them; nginx's are lower case).
const APACHE_FIRST_WORDS: &[&str] = &[
    "ServerRoot",
    "ServerName",
    "ServerAdmin",
    "ServerTokens",
    "Listen",
    "LoadModule",
    "Include",
    "IncludeOptional",
    "Timeout",
    "KeepAlive",
    "KeepAliveTimeout",
    "ProxyTimeout",
    "DefaultRuntimeDir",
    "PidFile",
    "Mutex",
    "User",
    "Group",
    "Define",
    "DocumentRoot",
    "ErrorLog",
    "LogLevel",
];

/// The outcome of linting a set of files.
#[derive(Debug, Default)]
pub struct Report {
    /// Every file that was read, with its language (included files too).
    pub files: Vec<(Arc<Path>, ConfigKind)>,
    /// Findings, sorted by place.
    pub findings: Vec<Finding>,
    /// Files that could not be read or parsed.
    pub errors: Vec<LoadError>,
}

impl Report {
    /// Whether any finding has error severity.
    pub fn has_error_findings(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.rule.severity == Severity::Error)
    }
}

/// How to read the files.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Directory that relative nginx `include`s resolve against (default: the directory of each
    /// main file, then its parent).
    pub nginx_prefix: Option<PathBuf>,
    /// Read every file as this language instead of guessing.
    pub kind: Option<ConfigKind>,
}

/// Reads, parses and checks `paths`. Rules that relate files (nginx's `fastcgi_read_timeout`
/// and a pool's `request_terminate_timeout`) see every file given.
pub fn lint(paths: &[PathBuf], load: &LoadOptions, options: &Options) -> Report {
    let mut report = Report::default();
    let mut nginx_configs = Vec::new();
    let mut fpm_configs = Vec::new();
    let mut apache_configs = Vec::new();
    for path in paths {
        let file: Arc<Path> = Arc::from(path.as_path());
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(err) => {
                report.errors.push(LoadError::unreadable(&file, &err));
                continue;
            }
        };
        match load.kind.unwrap_or_else(|| detect(&text)) {
            ConfigKind::Nginx => match nginx::parse_file(path, load.nginx_prefix.as_deref()) {
                Ok(config) => {
                    for f in &config.files {
                        report.files.push((Arc::clone(f), ConfigKind::Nginx));
                    }
                    // What nginx -t refuses; the rules still read the file.
                    report.errors.extend(nginx::check::check(&config));
                    nginx_configs.push(config);
                }
                Err(err) => report.errors.push(err),
            },
            ConfigKind::Fpm => match fpm::parse_file(path) {
                Ok(config) => {
                    report
                        .files
                        .push((Arc::clone(&config.file), ConfigKind::Fpm));
                    fpm_configs.push(config);
                }
                Err(err) => report.errors.push(err),
            },
            ConfigKind::Apache => match apache::parse_file(path) {
                Ok(config) => {
                    report
                        .files
                        .push((Arc::clone(&config.file), ConfigKind::Apache));
                    apache_configs.push(config);
                }
                Err(err) => report.errors.push(err),
            },
        }
    }
    report.findings = rules::check(&nginx_configs, &fpm_configs, &apache_configs, options);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_language() {
        assert_eq!(detect("; pool\n[www]\nuser = www-data\n"), ConfigKind::Fpm);
        assert_eq!(detect("pm = static\n"), ConfigKind::Fpm);
        assert_eq!(
            detect("# main\nuser www-data;\nevents {}\n"),
            ConfigKind::Nginx
        );
        assert_eq!(detect("server {\n listen 80;\n}\n"), ConfigKind::Nginx);
        assert_eq!(detect(""), ConfigKind::Nginx);
        assert_eq!(
            detect("# httpd\nServerRoot \"/etc/apache2\"\n"),
            ConfigKind::Apache
        );
        assert_eq!(
            detect("<VirtualHost *:80>\n</VirtualHost>\n"),
            ConfigKind::Apache
        );
        assert_eq!(
            detect("include /etc/nginx/conf.d/*.conf;\n"),
            ConfigKind::Nginx
        );
    }
}
