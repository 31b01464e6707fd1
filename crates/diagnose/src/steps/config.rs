//! The configuration step: nginx, Apache and PHP-FPM files linted with the measured head size.

use std::path::{Path, PathBuf};
use std::time::Duration;

use originlens_wire::Profile;

use crate::adapters;
use crate::document::{ConfigFinding, ConfigRecord};
use crate::options::Inputs;

/// The step's time limit.
pub const LIMIT: Duration = Duration::from_secs(15);

/// Main files in a directory: `nginx.conf` / `apache2.conf` / `httpd.conf` when present (their
/// includes are followed), else every `*.conf`; PHP-FPM's `php-fpm.conf` and `pool.d/*.conf`.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    for main in ["nginx.conf", "apache2.conf", "httpd.conf"] {
        let p = dir.join(main);
        if p.is_file() {
            return vec![p];
        }
    }
    let mut out = Vec::new();
    for d in [dir.to_path_buf(), dir.join("pool.d")] {
        if let Ok(rd) = std::fs::read_dir(&d) {
            let mut v: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "conf"))
                .collect();
            v.sort();
            out.extend(v);
        }
    }
    out
}

/// The usual configuration on this machine.
pub fn usual_paths() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for main in [
        "/etc/nginx/nginx.conf",
        "/etc/apache2/apache2.conf",
        "/etc/httpd/conf/httpd.conf",
    ] {
        if Path::new(main).is_file() {
            out.push(PathBuf::from(main));
        }
    }
    if let Ok(rd) = std::fs::read_dir("/etc/php") {
        let mut versions: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path().join("fpm"))
            .filter(|p| p.is_dir())
            .collect();
        versions.sort();
        for v in versions {
            out.extend(files_in(&v));
        }
    }
    out
}

/// Lints the configuration; `Err` when there is nothing to read.
pub fn run(
    inputs: &Inputs,
    head_bytes: Option<u64>,
    profile: &Profile,
) -> Result<ConfigRecord, String> {
    let mut missing = Vec::new();
    let paths: Vec<PathBuf> = match inputs {
        Inputs::None => return Err("skipped".into()),
        Inputs::Auto => usual_paths(),
        Inputs::Paths(paths) => paths
            .iter()
            .flat_map(|p| {
                if p.is_dir() {
                    files_in(p)
                } else {
                    if !p.exists() {
                        missing.push(format!("{}: no such file or directory", p.display()));
                    }
                    vec![p.clone()]
                }
            })
            .collect(),
    };
    if paths.is_empty() {
        return Err("no nginx, Apache or PHP-FPM configuration found".into());
    }
    let report = adapters::lint(&paths, head_bytes, profile);
    let mut errors: Vec<String> = report
        .errors
        .iter()
        .map(|e| match &e.span {
            Some(span) => format!("{span}: {}", e.message),
            None => format!("{}: {}", e.file.display(), e.message),
        })
        .collect();
    for m in missing {
        if !errors
            .iter()
            .any(|e| e.starts_with(m.split(':').next().unwrap_or("")))
        {
            errors.push(m);
        }
    }
    Ok(ConfigRecord {
        files: report
            .files
            .iter()
            .map(|(f, _)| f.display().to_string())
            .collect(),
        findings: report
            .findings
            .iter()
            .map(|f| ConfigFinding {
                rule: f.rule.id.to_owned(),
                severity: f.rule.severity.as_str().to_owned(),
                cause: f.rule.cause,
                place: f.span.to_string(),
                message: f.message.clone(),
                fix: f.fix().to_owned(),
            })
            .collect(),
        errors,
    })
}
