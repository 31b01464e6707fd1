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
pub mod discover;
pub mod fpm;
mod include_glob;
pub mod nginx;
pub mod phpini;
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
    /// PHP's own `php.ini` (and the `*.ini` files of its scan directory).
    PhpIni,
}

impl ConfigKind {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKind::Nginx => "nginx",
            ConfigKind::Fpm => "fpm",
            ConfigKind::Apache => "apache",
            ConfigKind::PhpIni => "php.ini",
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
    /// The main files found in the directories named (`originlens lint /etc/nginx`).
    pub found: Vec<discover::Found>,
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
    /// The `php.ini` of every PHP-FPM pool (default: the one beside each FPM file, see
    /// [`phpini::beside`]).
    pub php_ini: Option<PathBuf>,
}

/// Whether a path names a PHP ini file (`php.ini`, `conf.d/*.ini`): read as [`ConfigKind::PhpIni`].
pub fn is_php_ini(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ini"))
}

/// Reads, parses and checks `paths`. Rules that relate files (nginx's `fastcgi_read_timeout`
/// and a pool's `request_terminate_timeout`, a pool and its `php.ini`) see every file given.
pub fn lint(paths: &[PathBuf], load: &LoadOptions, options: &Options) -> Report {
    let mut report = Report::default();
    let mut nginx_configs = Vec::new();
    let mut fpm_configs = Vec::new();
    let mut apache_configs = Vec::new();
    let mut inis = IniCache::default();
    // A php.ini named on the command line applies to every pool.
    let mut explicit_ini = None;
    if let Some(path) = &load.php_ini {
        explicit_ini = inis.load(path, &mut report);
    }
    let mut named_inis = Vec::new();
    // Directories stand for the main files found in them, linted as if named one by one.
    let mut files: Vec<(PathBuf, Option<ConfigKind>)> = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push((path.clone(), load.kind));
            continue;
        }
        let found = discover::discover(path);
        if found.is_empty() {
            report.errors.push(LoadError {
                file: Arc::from(path.as_path()),
                span: None,
                message: discover::nothing_found(path),
            });
        }
        for f in &found {
            // The php.ini is read with the pools beside it, not for every pool.
            if f.kind != ConfigKind::PhpIni {
                files.push((f.path.clone(), Some(load.kind.unwrap_or(f.kind))));
            }
        }
        report.found.extend(found);
    }
    for (path, kind) in &files {
        let file: Arc<Path> = Arc::from(path.as_path());
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(err) => {
                report.errors.push(LoadError::unreadable(&file, &err));
                continue;
            }
        };
        let kind = kind.unwrap_or_else(|| {
            if is_php_ini(path) {
                ConfigKind::PhpIni
            } else {
                detect(&text)
            }
        });
        match kind {
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
                    for f in &config.files {
                        report.files.push((Arc::clone(f), ConfigKind::Fpm));
                    }
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
            ConfigKind::PhpIni => {
                if let Some(ini) = inis.load(path, &mut report) {
                    explicit_ini.get_or_insert_with(|| Arc::clone(&ini));
                    named_inis.push(ini);
                }
            }
        }
    }
    let mut used_inis: Vec<Arc<phpini::PhpIni>> = Vec::new();
    for config in &mut fpm_configs {
        let ini = match &explicit_ini {
            Some(ini) => Some(Arc::clone(ini)),
            None => phpini::beside(&config.file).and_then(|p| inis.load(&p, &mut report)),
        };
        if let Some(ini) = &ini {
            if !used_inis.iter().any(|u| Arc::ptr_eq(u, ini)) {
                used_inis.push(Arc::clone(ini));
            }
        }
        for pool in &mut config.pools {
            pool.ini = ini.clone();
        }
    }
    // A php.ini linted without any pool is judged on its own.
    let lone_inis: Vec<Arc<phpini::PhpIni>> = named_inis
        .into_iter()
        .filter(|ini| !used_inis.iter().any(|u| Arc::ptr_eq(u, ini)))
        .collect();
    report.findings = rules::check(
        &nginx_configs,
        &fpm_configs,
        &apache_configs,
        &lone_inis,
        options,
    );
    report
}

/// Each php.ini read once, however many pools use it.
#[derive(Default)]
struct IniCache {
    loaded: Vec<(PathBuf, Option<Arc<phpini::PhpIni>>)>,
}

impl IniCache {
    fn load(&mut self, path: &Path, report: &mut Report) -> Option<Arc<phpini::PhpIni>> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some((_, ini)) = self.loaded.iter().find(|(p, _)| *p == key) {
            return ini.clone();
        }
        let ini = match phpini::load(path) {
            Ok(ini) => {
                for f in &ini.files {
                    report.files.push((Arc::clone(f), ConfigKind::PhpIni));
                }
                Some(Arc::new(ini))
            }
            Err(err) => {
                report.errors.push(err);
                None
            }
        };
        self.loaded.push((key, ini.clone()));
        ini
    }
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
