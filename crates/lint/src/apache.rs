//! Apache httpd configuration (`httpd.conf`, `apache2.conf`, `sites-enabled/*.conf`): one
//! directive per line (`\` continues a line), `#` comments at the start of a line, and
//! `<Section args>` ... `</Section>` blocks. `Include` / `IncludeOptional` are expanded in place,
//! relative to the main file's directory (Apache's `ServerRoot` in the usual layouts).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::span::{LoadError, Span};

/// Nesting of `Include` beyond which a cycle is assumed.
const MAX_INCLUDE_DEPTH: usize = 16;

/// One directive or section.
#[derive(Clone, Debug)]
pub struct ApacheDirective {
    /// The name as written (Apache compares names case-insensitively).
    pub name: String,
    /// The arguments, quotes removed.
    pub args: Vec<String>,
    /// Where the directive starts.
    pub span: Span,
    /// The contents of a `<Section>`; `None` for a plain directive.
    pub block: Option<Vec<ApacheDirective>>,
}

impl ApacheDirective {
    /// Whether the directive is `name` (case-insensitive, like Apache).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The inner directives of a section.
    pub fn children(&self) -> &[ApacheDirective] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// A parsed Apache configuration.
#[derive(Clone, Debug)]
pub struct ApacheConfig {
    /// The main file.
    pub file: Arc<Path>,
    /// Top-level directives, includes expanded.
    pub directives: Vec<ApacheDirective>,
}

/// Reads and parses an Apache file.
pub fn parse_file(path: &Path) -> Result<ApacheConfig, LoadError> {
    let file: Arc<Path> = Arc::from(path);
    let src = std::fs::read(path).map_err(|e| LoadError::unreadable(&file, &e))?;
    let root = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let directives = parse_source(&String::from_utf8_lossy(&src), &file, &root, 0)?;
    Ok(ApacheConfig { file, directives })
}

/// Parses text that stands for the file `name`.
pub fn parse_str(src: &str, name: &Path) -> Result<ApacheConfig, LoadError> {
    let file: Arc<Path> = Arc::from(name);
    let root = name.parent().unwrap_or(Path::new(".")).to_path_buf();
    let directives = parse_source(src, &file, &root, 0)?;
    Ok(ApacheConfig { file, directives })
}

/// A logical line: continuation lines joined, with the place it starts.
struct Line {
    text: String,
    span: Span,
}

fn logical_lines(src: &str, file: &Arc<Path>) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pending: Option<Line> = None;
    for (i, raw) in src.lines().enumerate() {
        let raw = raw.trim_end_matches('\r');
        let indent = raw.len() - raw.trim_start().len();
        let (body, continues) = match raw.strip_suffix('\\') {
            Some(body) => (body, true),
            None => (raw, false),
        };
        match pending.as_mut() {
            Some(line) => {
                line.text.push(' ');
                line.text.push_str(body.trim());
            }
            None => {
                pending = Some(Line {
                    text: body.trim().to_string(),
                    span: Span::new(file, i as u32 + 1, indent as u32 + 1),
                });
            }
        }
        if !continues {
            out.extend(pending.take());
        }
    }
    out.extend(pending);
    out
}

/// Splits arguments on whitespace, keeping double- or single-quoted runs together.
fn split_args(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
                word.push(d);
            }
        } else {
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() {
                    break;
                }
                word.push(d);
                chars.next();
            }
        }
        out.push(word);
    }
    out
}

fn parse_source(
    src: &str,
    file: &Arc<Path>,
    root: &Path,
    depth: usize,
) -> Result<Vec<ApacheDirective>, LoadError> {
    // A stack of open sections: (name, span, directives so far).
    let mut stack: Vec<(String, Span, Vec<String>, Vec<ApacheDirective>)> =
        vec![(String::new(), Span::new(file, 1, 1), Vec::new(), Vec::new())];
    for line in logical_lines(src, file) {
        // A continuation of blank lines joins to spaces alone.
        let text = line.text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if let Some(close) = text.strip_prefix("</") {
            let name = close.trim_end_matches('>').trim();
            let (open, span, args, children) = stack.pop().expect("the root is never popped");
            if stack.is_empty() {
                return Err(LoadError::at(
                    line.span,
                    format!("</{name}> without matching <{name}> section"),
                ));
            }
            if !open.eq_ignore_ascii_case(name) {
                return Err(LoadError::at(
                    line.span,
                    format!("Expected </{open}> but saw </{name}>"),
                ));
            }
            let parent = &mut stack.last_mut().expect("checked above").3;
            parent.push(ApacheDirective {
                name: open,
                args,
                span,
                block: Some(children),
            });
            continue;
        }
        if let Some(open) = text.strip_prefix('<') {
            let Some(inner) = open.strip_suffix('>') else {
                return Err(LoadError::at(
                    line.span,
                    format!("<{open} directive missing closing '>'"),
                ));
            };
            let mut words = split_args(inner);
            if words.is_empty() {
                return Err(LoadError::at(line.span, "empty section name"));
            }
            let name = words.remove(0);
            stack.push((name, line.span, words, Vec::new()));
            continue;
        }
        let mut words = split_args(text);
        if words.is_empty() {
            continue;
        }
        let name = words.remove(0);
        let is_include =
            name.eq_ignore_ascii_case("Include") || name.eq_ignore_ascii_case("IncludeOptional");
        let included = if is_include {
            include(&name, &words, &line.span, root, depth)?
        } else {
            Vec::new()
        };
        let here = &mut stack.last_mut().expect("the root is never popped").3;
        here.push(ApacheDirective {
            name,
            args: words,
            span: line.span,
            block: None,
        });
        here.extend(included);
    }
    if stack.len() > 1 {
        let (name, span, _, _) = stack.pop().expect("checked above");
        return Err(LoadError::at(span, format!("<{name}> was not closed.")));
    }
    Ok(stack.pop().map(|s| s.3).unwrap_or_default())
}

fn include(
    name: &str,
    args: &[String],
    span: &Span,
    root: &Path,
    depth: usize,
) -> Result<Vec<ApacheDirective>, LoadError> {
    let [pattern] = args else {
        return Err(LoadError::at(
            span.clone(),
            format!("{name} takes one argument"),
        ));
    };
    if depth >= MAX_INCLUDE_DEPTH {
        return Err(LoadError::at(
            span.clone(),
            "Include nesting too deep (a cycle?)",
        ));
    }
    let full: PathBuf = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        root.join(pattern)
    };
    let optional = name.eq_ignore_ascii_case("IncludeOptional");
    let mut paths: Vec<PathBuf> = if pattern.contains(['*', '?', '[']) {
        crate::include_glob::regular_files(&full.to_string_lossy()).unwrap_or_default()
    } else if full.is_dir() {
        std::fs::read_dir(&full)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    } else {
        vec![full.clone()]
    };
    paths.sort();
    if paths.is_empty() && !optional && pattern.contains(['*', '?', '[']) {
        return Err(LoadError::at(
            span.clone(),
            format!("No matches for the wildcard '{pattern}', use IncludeOptional if required"),
        ));
    }
    let mut out = Vec::new();
    for path in paths {
        let file: Arc<Path> = Arc::from(path.as_path());
        match std::fs::read(&path) {
            Ok(src) => out.extend(parse_source(
                &String::from_utf8_lossy(&src),
                &file,
                root,
                depth + 1,
            )?),
            Err(_) if optional => {}
            Err(e) => {
                return Err(LoadError::at(
                    span.clone(),
                    format!("Could not open configuration file {}: {e}", path.display()),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<ApacheConfig, LoadError> {
        parse_str(src, Path::new("httpd.conf"))
    }

    #[test]
    fn sections_continuations_and_quotes() {
        let config = parse(
            "# c\nTimeout 300\n<VirtualHost *:80>\n  ServerName a.example\n  Header set X \"a b\"\n  \
             ProxyPass / \\\n    http://127.0.0.1:3000/\n</VirtualHost>\n",
        )
        .unwrap();
        assert_eq!(config.directives.len(), 2);
        let vhost = &config.directives[1];
        assert!(vhost.is("virtualhost"));
        assert_eq!(vhost.children()[1].args, ["set", "X", "a b"]);
        assert_eq!(vhost.children()[2].args, ["/", "http://127.0.0.1:3000/"]);
        assert_eq!(vhost.children()[2].span.line, 6);
    }

    #[test]
    fn unbalanced_sections_are_errors_on_their_line() {
        let err = parse("<VirtualHost *:80>\n</Directory>\n").unwrap_err();
        assert_eq!(err.span.unwrap().line, 2);
        let err = parse("Timeout 5\n<VirtualHost *:80>\nServerName a\n").unwrap_err();
        assert_eq!(err.span.unwrap().line, 2);
        assert!(err.message.contains("was not closed"));
        let err = parse("</VirtualHost>\n").unwrap_err();
        assert_eq!(err.span.unwrap().line, 1);
    }

    #[test]
    fn blank_continuations_and_lone_quotes_are_no_directive() {
        // Found by the lint_fpm_apache fuzz target: these once panicked.
        for src in ["\\\n\n", " \\\n \\\n\t\n", "Timeout 5\n\\\n\u{a0}\n"] {
            let config = parse(src).unwrap();
            assert!(config.directives.len() <= 1, "{src:?}");
        }
        assert_eq!(parse("\"\n").unwrap().directives.len(), 1);
    }
}
