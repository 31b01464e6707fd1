//! `originlens lint DIR`: the main files of a configuration directory, found where the
//! distributions put them.
//!
//! - nginx: `DIR/nginx.conf` (`/etc/nginx`), or `DIR/nginx/nginx.conf` (`/etc`); its includes
//!   (`sites-enabled/*`, `conf.d/*.conf`, snippets) are followed by the parser as nginx follows
//!   them, so they are not listed again.
//! - Apache httpd: `DIR/apache2.conf`, `DIR/httpd.conf`, `DIR/conf/httpd.conf` (Red Hat's
//!   `/etc/httpd`), or the same under `DIR/apache2` and `DIR/httpd`.
//! - PHP-FPM: in `DIR`, `DIR/fpm` (`/etc/php/8.2`), `DIR/*/fpm` (`/etc/php`) and
//!   `DIR/php/*/fpm` (`/etc`): `php-fpm.conf`, which includes the pools as PHP-FPM reads them;
//!   without it, each `pool.d/*.conf` (and Red Hat's `php-fpm.d/*.conf`). The `php.ini` beside
//!   them is read with the pools ([`crate::phpini::beside`]).

use std::path::{Path, PathBuf};

use crate::ConfigKind;

/// A main file found in a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The directory that was named.
    pub dir: PathBuf,
    /// The file.
    pub path: PathBuf,
    /// Its language. [`ConfigKind::PhpIni`] marks the `php.ini` the pools beside it are read
    /// with (it is not linted on its own).
    pub kind: ConfigKind,
}

fn first_file(candidates: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    candidates.into_iter().find(|p| p.is_file())
}

/// Subdirectories of `dir` in name order.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|read| {
            read.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `*.conf` files of `dir`, in name order (dot files skipped, as PHP-FPM's glob does).
fn conf_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|read| {
            read.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && p.extension().is_some_and(|e| e == "conf")
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The main files under `dir`, nginx first, then Apache, then PHP-FPM (each followed by the
/// `php.ini` its pools are read with). Empty when there is nothing to lint.
pub fn discover(dir: &Path) -> Vec<Found> {
    let mut found = Vec::new();
    let mut push = |path: PathBuf, kind| {
        found.push(Found {
            dir: dir.to_path_buf(),
            path,
            kind,
        })
    };
    if let Some(nginx) = first_file([dir.join("nginx.conf"), dir.join("nginx/nginx.conf")]) {
        push(nginx, ConfigKind::Nginx);
    }
    if let Some(apache) = first_file([
        dir.join("apache2.conf"),
        dir.join("httpd.conf"),
        dir.join("conf/httpd.conf"),
        dir.join("apache2/apache2.conf"),
        dir.join("httpd/conf/httpd.conf"),
    ]) {
        push(apache, ConfigKind::Apache);
    }
    let mut fpm_dirs = vec![dir.to_path_buf(), dir.join("fpm")];
    for version in subdirs(dir) {
        fpm_dirs.push(version.join("fpm"));
    }
    for version in subdirs(&dir.join("php")) {
        fpm_dirs.push(version.join("fpm"));
    }
    for fpm_dir in fpm_dirs.into_iter().filter(|d| d.is_dir()) {
        let mains: Vec<PathBuf> = match first_file([fpm_dir.join("php-fpm.conf")]) {
            Some(main) => vec![main],
            None => ["pool.d", "php-fpm.d"]
                .iter()
                .flat_map(|pools| conf_files(&fpm_dir.join(pools)))
                .collect(),
        };
        if mains.is_empty() {
            continue;
        }
        let ini = crate::phpini::beside(&mains[0]);
        for main in mains {
            push(main, ConfigKind::Fpm);
        }
        if let Some(ini) = ini {
            push(ini, ConfigKind::PhpIni);
        }
    }
    found
}

/// What a directory with nothing to lint is told.
pub fn nothing_found(dir: &Path) -> String {
    format!(
        "nothing to lint in this directory: no nginx.conf, apache2.conf, httpd.conf, php-fpm.conf \
         or pool.d/*.conf (looked in {0}, {0}/nginx, {0}/apache2, {0}/httpd, {0}/fpm, {0}/*/fpm \
         and {0}/php/*/fpm); name the files instead",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(root: &Path, rel: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "").unwrap();
    }

    fn names(root: &Path, found: &[Found]) -> Vec<(String, ConfigKind)> {
        found
            .iter()
            .map(|f| {
                (
                    f.path.strip_prefix(root).unwrap().display().to_string(),
                    f.kind,
                )
            })
            .collect()
    }

    #[test]
    fn debian_etc_layout() {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path();
        touch(etc, "nginx/nginx.conf");
        touch(etc, "nginx/sites-enabled/default");
        touch(etc, "php/8.2/fpm/php-fpm.conf");
        touch(etc, "php/8.2/fpm/pool.d/www.conf");
        touch(etc, "php/8.2/fpm/php.ini");
        touch(etc, "php/8.1/fpm/pool.d/a.conf");
        touch(etc, "php/8.1/fpm/pool.d/.hidden.conf");
        touch(etc, "php/8.2/cli/php.ini");
        assert_eq!(
            names(etc, &discover(etc)),
            [
                ("nginx/nginx.conf".into(), ConfigKind::Nginx),
                ("php/8.1/fpm/pool.d/a.conf".into(), ConfigKind::Fpm),
                ("php/8.2/fpm/php-fpm.conf".into(), ConfigKind::Fpm),
                ("php/8.2/fpm/php.ini".into(), ConfigKind::PhpIni),
            ]
        );
        let php = etc.join("php");
        assert_eq!(discover(&php).len(), 3);
        assert_eq!(
            names(&etc.join("nginx"), &discover(&etc.join("nginx"))),
            [("nginx.conf".into(), ConfigKind::Nginx)]
        );
        assert!(discover(&etc.join("nginx/sites-enabled")).is_empty());
    }

    #[test]
    fn red_hat_layout() {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path();
        touch(etc, "httpd/conf/httpd.conf");
        touch(etc, "php-fpm.d/www.conf");
        assert_eq!(
            names(etc, &discover(etc)),
            [
                ("httpd/conf/httpd.conf".into(), ConfigKind::Apache),
                ("php-fpm.d/www.conf".into(), ConfigKind::Fpm),
            ]
        );
    }
}
