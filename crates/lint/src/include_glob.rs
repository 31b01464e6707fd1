//! The wildcards of `include` lines, matched as the servers' own glob(3) matches them: `*`, `?`
//! and `[...]` within one path component, a leading dot only by name, and no recursive `**`
//! (to glob(3) it is two `*`, one component), so a pattern such as `/**/*` cannot walk the
//! whole file system. Only regular files are kept: reading a device or a FIFO would not end.

use std::path::PathBuf;

/// The regular files `pattern` matches, in name order.
pub(crate) fn regular_files(pattern: &str) -> Result<Vec<PathBuf>, glob::PatternError> {
    let mut pattern = pattern.to_owned();
    while pattern.contains("**") {
        pattern = pattern.replace("**", "*");
    }
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut out: Vec<PathBuf> = glob::glob_with(&pattern, options)?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_double_star_is_one_component_and_only_regular_files_match() {
        let dir = std::env::temp_dir().join(format!("originlens-glob-{}", std::process::id()));
        let deep = dir.join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        for f in ["a/one.conf", "a/.hidden.conf", "a/b/deep.conf"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let found = regular_files(&format!("{}/**/*.conf", dir.display())).unwrap();
        assert_eq!(found, [dir.join("a/one.conf")]);
        // A directory is not a file to read.
        assert!(regular_files(&format!("{}/*", dir.display()))
            .unwrap()
            .is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
