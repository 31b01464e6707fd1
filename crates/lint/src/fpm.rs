//! PHP-FPM configuration (`php-fpm.conf`, `pool.d/*.conf`): INI lines grouped into `[global]`
//! and one section per pool.
//!
//! PHP-FPM hands the INI parser one line at a time (`fpm_conf_load_ini_file`), so a value never
//! spans lines, and it rejects any key it does not know ("unknown entry"). Both are done here too,
//! so a file `php-fpm -t` refuses is refused here, on the same line.

use std::path::Path;
use std::sync::Arc;

use crate::phpini::PhpIni;
use crate::span::{LoadError, Span};

/// One `key = value` line.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The key as written, e.g. `pm.max_children` or `php_admin_value[memory_limit]`.
    pub key: String,
    /// The value with quotes removed, INI booleans kept as written.
    pub value: String,
    /// Where the key starts.
    pub span: Span,
}

/// One `[name]` pool section.
#[derive(Clone, Debug)]
pub struct Pool {
    /// The pool's name.
    pub name: String,
    /// Where the section header is.
    pub span: Span,
    /// Its entries, in order.
    pub entries: Vec<Entry>,
    /// The `php.ini` its workers start with (found beside the FPM file or given with
    /// `--php-ini`), whose settings the pool's `php_value[...]` entries override.
    pub ini: Option<Arc<PhpIni>>,
}

impl Pool {
    /// The last entry for `key` (later lines override earlier ones).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }

    /// The PHP setting the pool's workers run with: `php_admin_value[name]`,
    /// `php_value[name]` or their `_flag` forms (admin ones win, as in PHP-FPM), else the
    /// pool's `php.ini`. The entry's span says which file it comes from.
    pub fn php_setting(&self, name: &str) -> Option<&Entry> {
        self.pool_php_setting(name)
            .or_else(|| self.ini.as_deref().and_then(|ini| ini.get(name)))
    }

    /// A PHP setting given in the pool itself (`php_admin_value[name]` and friends), ignoring
    /// `php.ini`.
    pub fn pool_php_setting(&self, name: &str) -> Option<&Entry> {
        ["php_admin_value", "php_admin_flag", "php_value", "php_flag"]
            .iter()
            .find_map(|kind| self.get(&format!("{kind}[{name}]")))
    }

    /// Whether `entry` was read from the pool's `php.ini` (or its scan directory).
    pub fn from_ini(&self, entry: &Entry) -> bool {
        self.ini
            .as_deref()
            .is_some_and(|ini| ini.files.contains(&entry.span.file))
    }
}

/// A parsed PHP-FPM configuration.
#[derive(Clone, Debug)]
pub struct FpmConfig {
    /// The main file.
    pub file: Arc<Path>,
    /// `[global]` entries (and those before any section).
    pub global: Vec<Entry>,
    /// The pools, includes expanded.
    pub pools: Vec<Pool>,
    /// Every file read: the main file, then each included one.
    pub files: Vec<Arc<Path>>,
}

/// Whether an INI value means "on" (`1`, `on`, `yes`, `true`).
pub fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "1" | "on" | "yes" | "true"
    )
}

/// Keys PHP-FPM 8.2 accepts in `[global]` (`fpm_conf.c`, `ini_fpm_global_options`).
const GLOBAL_KEYS: &[&str] = &[
    "pid",
    "error_log",
    "syslog.facility",
    "syslog.ident",
    "log_level",
    "log_buffering",
    "log_limit",
    "emergency_restart_threshold",
    "emergency_restart_interval",
    "process_control_timeout",
    "process.max",
    "process.priority",
    "daemonize",
    "rlimit_files",
    "rlimit_core",
    "events.mechanism",
    "systemd_interval",
];

/// Keys PHP-FPM 8.2 accepts in a pool (`fpm_conf.c`, `ini_fpm_pool_options`).
const POOL_KEYS: &[&str] = &[
    "prefix",
    "user",
    "group",
    "listen",
    "listen.backlog",
    "listen.owner",
    "listen.group",
    "listen.mode",
    "listen.allowed_clients",
    "listen.acl_users",
    "listen.acl_groups",
    "listen.setfib",
    "process.priority",
    "process.dumpable",
    "pm",
    "pm.max_children",
    "pm.start_servers",
    "pm.min_spare_servers",
    "pm.max_spare_servers",
    "pm.max_spawn_rate",
    "pm.process_idle_timeout",
    "pm.max_requests",
    "pm.status_path",
    "pm.status_listen",
    "ping.path",
    "ping.response",
    "access.log",
    "access.format",
    "slowlog",
    "request_slowlog_timeout",
    "request_slowlog_trace_depth",
    "request_terminate_timeout",
    "request_terminate_timeout_track_finished",
    "rlimit_files",
    "rlimit_core",
    "chroot",
    "chdir",
    "catch_workers_output",
    "decorate_workers_output",
    "clear_env",
    "security.limit_extensions",
    "apparmor_hat",
];

/// Array keys (`name[...]`) a pool accepts.
const POOL_ARRAYS: &[&str] = &[
    "env",
    "php_value",
    "php_flag",
    "php_admin_value",
    "php_admin_flag",
];

/// Nesting of `include` beyond which a cycle is assumed.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Reads and parses a PHP-FPM file; `include` globs resolve against the file's directory.
pub fn parse_file(path: &Path) -> Result<FpmConfig, LoadError> {
    let file: Arc<Path> = Arc::from(path);
    let src = std::fs::read(path).map_err(|e| LoadError::unreadable(&file, &e))?;
    let mut config = FpmConfig {
        file: Arc::clone(&file),
        global: Vec::new(),
        pools: Vec::new(),
        files: vec![Arc::clone(&file)],
    };
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    parse_into(&mut config, &String::from_utf8_lossy(&src), &file, &dir, 0)?;
    Ok(config)
}

/// Parses text that stands for the file `name`.
pub fn parse_str(src: &str, name: &Path) -> Result<FpmConfig, LoadError> {
    let file: Arc<Path> = Arc::from(name);
    let mut config = FpmConfig {
        file: Arc::clone(&file),
        global: Vec::new(),
        pools: Vec::new(),
        files: vec![Arc::clone(&file)],
    };
    let dir = name.parent().unwrap_or(Path::new(".")).to_path_buf();
    parse_into(&mut config, src, &file, &dir, 0)?;
    Ok(config)
}

/// Which section the lines being read belong to.
enum Section {
    Global,
    Pool(usize),
}

fn parse_into(
    config: &mut FpmConfig,
    src: &str,
    file: &Arc<Path>,
    dir: &Path,
    depth: usize,
) -> Result<(), LoadError> {
    let mut section = Section::Global;
    for (index, raw_line) in src.lines().enumerate() {
        let line_no = index as u32 + 1;
        let indent = raw_line.len() - raw_line.trim_start().len();
        let line = raw_line.trim();
        let span = Span::new(file, line_no, indent as u32 + 1);
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                return Err(LoadError::at(span, "syntax error: expecting \"]\""));
            };
            let name = rest[..end].trim().to_string();
            let after = rest[end + 1..].trim();
            if !(after.is_empty() || after.starts_with(';')) {
                return Err(LoadError::at(
                    span,
                    format!("syntax error: unexpected \"{after}\" after section name"),
                ));
            }
            section = if name == "global" {
                Section::Global
            } else {
                config.pools.push(Pool {
                    name,
                    span,
                    entries: Vec::new(),
                    ini: None,
                });
                Section::Pool(config.pools.len() - 1)
            };
            continue;
        }
        let Some(eq) = line.find('=') else {
            return Err(LoadError::at(
                span,
                format!(
                    "\"{}\" has no value: PHP-FPM expects \"key = value\" (and \";\" for comments)",
                    line
                ),
            ));
        };
        let key = line[..eq].trim().to_string();
        let value =
            parse_value(&line[eq + 1..]).map_err(|message| LoadError::at(span.clone(), message))?;
        let entry = Entry { key, value, span };
        if entry.key == "include" {
            include(config, &entry, dir, depth)?;
            continue;
        }
        match section {
            Section::Global => {
                if !GLOBAL_KEYS.contains(&entry.key.as_str()) {
                    return Err(unknown_entry(&entry));
                }
                config.global.push(entry);
            }
            Section::Pool(i) => {
                if !is_pool_key(&entry.key) {
                    return Err(unknown_entry(&entry));
                }
                let pool_name = config.pools[i].name.clone();
                let mut entry = entry;
                entry.value = entry.value.replace("$pool", &pool_name);
                config.pools[i].entries.push(entry);
            }
        }
    }
    Ok(())
}

fn is_pool_key(key: &str) -> bool {
    if POOL_KEYS.contains(&key) {
        return true;
    }
    match key.split_once('[') {
        Some((array, rest)) => POOL_ARRAYS.contains(&array) && rest.ends_with(']'),
        None => false,
    }
}

fn unknown_entry(entry: &Entry) -> LoadError {
    LoadError::at(entry.span.clone(), format!("unknown entry '{}'", entry.key))
}

/// The right-hand side of `=`: a quoted string, or bare text up to a `;` comment.
fn parse_value(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if let Some(rest) = raw.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        if next != '"' && next != '\\' {
                            out.push('\\');
                        }
                        out.push(next);
                    }
                }
                '"' => return Ok(out),
                _ => out.push(c),
            }
        }
        return Err("syntax error: unterminated quoted string".into());
    }
    if let Some(rest) = raw.strip_prefix('\'') {
        return match rest.find('\'') {
            Some(end) => Ok(rest[..end].to_string()),
            None => Err("syntax error: unterminated quoted string".into()),
        };
    }
    let bare = raw.split(';').next().unwrap_or("").trim();
    Ok(bare.to_string())
}

fn include(
    config: &mut FpmConfig,
    entry: &Entry,
    dir: &Path,
    depth: usize,
) -> Result<(), LoadError> {
    if depth >= MAX_INCLUDE_DEPTH {
        return Err(LoadError::at(
            entry.span.clone(),
            "include nesting too deep (a cycle?)",
        ));
    }
    let pattern = if Path::new(&entry.value).is_absolute() {
        entry.value.clone()
    } else {
        dir.join(&entry.value).to_string_lossy().into_owned()
    };
    let paths = crate::include_glob::regular_files(&pattern)
        .map_err(|e| LoadError::at(entry.span.clone(), format!("invalid include: {e}")))?;
    for path in paths {
        let file: Arc<Path> = Arc::from(path.as_path());
        let src = std::fs::read(&path).map_err(|e| {
            LoadError::at(
                entry.span.clone(),
                format!("Unable to include {}: {e}", path.display()),
            )
        })?;
        let sub_dir = path.parent().unwrap_or(dir).to_path_buf();
        config.files.push(Arc::clone(&file));
        parse_into(
            config,
            &String::from_utf8_lossy(&src),
            &file,
            &sub_dir,
            depth + 1,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<FpmConfig, LoadError> {
        parse_str(src, Path::new("www.conf"))
    }

    #[test]
    fn pools_entries_and_php_settings() {
        let config = parse(
            "; comment\n[global]\npid = /run/fpm.pid\n[www]\nuser = www-data ; trailing\n\
             php_admin_value[memory_limit] = 256M\nslowlog = \"/var/log/$pool.slow\"\n",
        )
        .unwrap();
        assert_eq!(config.global.len(), 1);
        let pool = &config.pools[0];
        assert_eq!(pool.name, "www");
        assert_eq!(pool.get("user").unwrap().value, "www-data");
        assert_eq!(pool.php_setting("memory_limit").unwrap().value, "256M");
        assert_eq!(pool.get("slowlog").unwrap().value, "/var/log/www.slow");
        assert_eq!(pool.get("user").unwrap().span.line, 5);
    }

    /// Found by fuzzing: `include = /**/?` walked the whole file system (`**` was taken as
    /// recursive); PHP-FPM's glob(3) reads it as `/*/?`, one level.
    #[test]
    fn a_double_star_include_stays_one_directory_deep() {
        let dir = std::env::temp_dir().join(format!("originlens-fpm-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/x"), "[x]\nuser = a\n").unwrap();
        std::fs::write(dir.join("a/b/y"), "[y]\nuser = b\n").unwrap();
        let config = parse(&format!("include = {}/**/?\n", dir.display())).unwrap();
        let pools: Vec<&str> = config.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(pools, ["x"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_what_php_fpm_rejects_on_its_line() {
        let line = |src: &str| parse(src).unwrap_err().span.unwrap().line;
        assert_eq!(line("[www]\n# not a comment in FPM\n"), 2);
        assert_eq!(line("[www]\nuser = a\nbogus_key = 1\n"), 3);
        assert_eq!(line("[www]\nx = \"open\n"), 2);
        assert_eq!(line("[www]\n\n[broken\n"), 3);
        assert_eq!(line("[global]\npm = static\n"), 2);
    }

    #[test]
    fn booleans() {
        assert!(is_true("yes") && is_true("On") && is_true("1"));
        assert!(!is_true("no") && !is_true("") && !is_true("off"));
    }
}
