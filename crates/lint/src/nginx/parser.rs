//! Directives into a tree, the way `ngx_conf_parse` walks them, with `include` expanded in
//! place.
//!
//! `include` is resolved against the configuration prefix (the directory of the main file, like
//! nginx's `conf_prefix`). A pattern with `*`, `?` or `[` is a glob whose matches are read in
//! sorted order and may match nothing; a plain path must exist. The included file's directives
//! join the block that holds the `include`, each keeping its own file and line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lexer::{Lexer, Step, Word};
use crate::span::{LoadError, Span};

/// nginx has no limit of its own; this only stops an include cycle.
const MAX_INCLUDE_DEPTH: usize = 32;

/// One directive: its name, arguments and block, with the place of each word.
#[derive(Clone, Debug)]
pub struct Directive {
    /// The name word (`proxy_pass`, `location`, or a `map` key).
    pub name: Word,
    /// The argument words.
    pub args: Vec<Word>,
    /// The directives inside `{ }`, with includes expanded; `None` for a simple directive.
    pub block: Option<Vec<Directive>>,
    /// The raw text of an embedded Lua block (`*_by_lua_block { }`), which is not nginx syntax.
    pub lua: Option<String>,
    /// Where nginx reports this directive's own errors: the line of its `;` or `{` (the column
    /// is the directive's when that is the line it starts on).
    pub end: Span,
}

impl Directive {
    /// The directive's name.
    pub fn name(&self) -> &str {
        &self.name.text
    }

    /// Where the directive starts.
    pub fn span(&self) -> &Span {
        &self.name.span
    }

    /// The text of argument `i`.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(|w| w.text.as_str())
    }

    /// The inner directives (empty for a simple directive).
    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// A parsed nginx configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The main file.
    pub file: Arc<Path>,
    /// The top-level directives, includes expanded.
    pub directives: Vec<Directive>,
    /// Every file that was read, the main file first.
    pub files: Vec<Arc<Path>>,
}

/// Reads and parses `path`, resolving relative includes against `prefix` (by default the
/// directory of `path`, then its parent, which fits a `sites-enabled/` file linted alone).
pub fn parse_file(path: &Path, prefix: Option<&Path>) -> Result<Config, LoadError> {
    let file: Arc<Path> = Arc::from(path);
    let src = std::fs::read(path).map_err(|e| LoadError::unreadable(&file, &e))?;
    let mut prefixes = Vec::new();
    match prefix {
        Some(p) => prefixes.push(p.to_path_buf()),
        None => {
            let dir = path.parent().unwrap_or(Path::new("."));
            prefixes.push(dir.to_path_buf());
            if let Some(up) = dir.parent() {
                prefixes.push(up.to_path_buf());
            }
        }
    }
    let mut parser = Parser {
        prefixes,
        files: vec![Arc::clone(&file)],
    };
    let directives = parser.parse_source(&src, &file, 0)?;
    Ok(Config {
        file,
        directives,
        files: parser.files,
    })
}

/// Parses text that stands for the file `name`; includes resolve against `prefix`.
pub fn parse_str(src: &str, name: &Path, prefix: &Path) -> Result<Config, LoadError> {
    let file: Arc<Path> = Arc::from(name);
    let mut parser = Parser {
        prefixes: vec![prefix.to_path_buf()],
        files: vec![Arc::clone(&file)],
    };
    let directives = parser.parse_source(src.as_bytes(), &file, 0)?;
    Ok(Config {
        file,
        directives,
        files: parser.files,
    })
}

struct Parser {
    prefixes: Vec<PathBuf>,
    files: Vec<Arc<Path>>,
}

impl Parser {
    fn parse_source(
        &mut self,
        src: &[u8],
        file: &Arc<Path>,
        depth: usize,
    ) -> Result<Vec<Directive>, LoadError> {
        let mut lexer = Lexer::new(src, Arc::clone(file));
        self.parse_block(&mut lexer, None, depth)
    }

    /// `ngx_conf_parse`: a file ends at its end; a block ends at its `}`.
    fn parse_block(
        &mut self,
        lexer: &mut Lexer<'_>,
        opened: Option<&Span>,
        depth: usize,
    ) -> Result<Vec<Directive>, LoadError> {
        let mut out = Vec::new();
        loop {
            match lexer.next_step()? {
                Step::FileDone => {
                    if opened.is_some() {
                        return Err(LoadError::at(
                            lexer.here(),
                            "unexpected end of file, expecting \"}\"",
                        ));
                    }
                    return Ok(out);
                }
                Step::BlockDone(span) => {
                    if opened.is_none() {
                        return Err(LoadError::at(span, "unexpected \"}\""));
                    }
                    return Ok(out);
                }
                Step::Directive(mut words) => {
                    let name = words.remove(0);
                    let end = directive_end_span(lexer, &name);
                    if name.text == "include" {
                        let mut included = self.include(&name, &words, end.clone(), depth)?;
                        out.push(Directive {
                            name,
                            args: words,
                            block: None,
                            lua: None,
                            end,
                        });
                        out.append(&mut included);
                    } else {
                        out.push(Directive {
                            name,
                            args: words,
                            block: None,
                            lua: None,
                            end,
                        });
                    }
                }
                Step::BlockStart(mut words) => {
                    let name = words.remove(0);
                    let end = directive_end_span(lexer, &name);
                    if name.text.ends_with("_by_lua_block") {
                        let raw = lexer.skip_lua_block(&name.span)?;
                        out.push(Directive {
                            name,
                            args: words,
                            block: Some(Vec::new()),
                            lua: Some(raw),
                            end,
                        });
                        continue;
                    }
                    let span = name.span.clone();
                    let children = self.parse_block(lexer, Some(&span), depth)?;
                    out.push(Directive {
                        name,
                        args: words,
                        block: Some(children),
                        lua: None,
                        end,
                    });
                }
            }
        }
    }

    /// `ngx_conf_include`.
    fn include(
        &mut self,
        name: &Word,
        args: &[Word],
        at: Span,
        depth: usize,
    ) -> Result<Vec<Directive>, LoadError> {
        let [pattern] = args else {
            return Err(LoadError::at(
                at,
                "invalid number of arguments in \"include\" directive",
            ));
        };
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(LoadError::at(
                name.span.clone(),
                format!("include nesting deeper than {MAX_INCLUDE_DEPTH} (a cycle?)"),
            ));
        }
        let is_glob = pattern.text.contains(['*', '?', '[']);
        let paths = if is_glob {
            self.glob(&pattern.text)
        } else {
            let path = self.resolve(&pattern.text, |p| p.exists());
            if !path.exists() {
                return Err(LoadError::at(
                    at,
                    format!(
                        "open() \"{}\" failed (2: No such file or directory)",
                        path.display()
                    ),
                ));
            }
            vec![path]
        };
        let mut out = Vec::new();
        for path in paths {
            let file: Arc<Path> = Arc::from(path.as_path());
            let src = std::fs::read(&path).map_err(|e| {
                LoadError::at(
                    at.clone(),
                    format!("open() \"{}\" failed ({e})", path.display()),
                )
            })?;
            self.files.push(Arc::clone(&file));
            out.extend(self.parse_source(&src, &file, depth + 1)?);
        }
        Ok(out)
    }

    /// An absolute path as it is; a relative one against the first prefix where `found` holds,
    /// else against the first prefix.
    fn resolve(&self, text: &str, found: impl Fn(&Path) -> bool) -> PathBuf {
        let path = Path::new(text);
        if path.is_absolute() {
            return path.to_path_buf();
        }
        self.prefixes
            .iter()
            .map(|p| p.join(path))
            .find(|p| found(p))
            .unwrap_or_else(|| self.prefixes[0].join(path))
    }

    /// nginx's `glob()`: sorted, dot files only when the pattern names them, no match is fine.
    fn glob(&self, pattern: &str) -> Vec<PathBuf> {
        let matches = |full: &Path| -> Vec<PathBuf> {
            full.to_str()
                .and_then(|text| crate::include_glob::regular_files(text).ok())
                .unwrap_or_default()
        };
        let path = Path::new(pattern);
        if path.is_absolute() {
            return matches(path);
        }
        self.prefixes
            .iter()
            .map(|p| matches(&p.join(path)))
            .find(|m| !m.is_empty())
            .unwrap_or_default()
    }
}

/// nginx reports a directive's own errors on the line where the directive ended (its `;`);
/// the column is the directive's when that is the same line.
fn directive_end_span(lexer: &Lexer<'_>, name: &Word) -> Span {
    let end = lexer.here();
    if end.line == name.span.line {
        name.span.clone()
    } else {
        Span::new(lexer.file(), end.line, end.col.saturating_sub(1).max(1))
    }
}
