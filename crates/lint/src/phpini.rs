//! PHP's own configuration (`php.ini` and the `*.ini` files of its scan directory), read for the
//! settings the pool rules compare: `memory_limit`, `max_execution_time`, `expose_php`.
//!
//! The syntax is that of PHP's INI scanner (`zend_ini_scanner.l`, `zend_ini_parser.y`):
//! `[section]` headers, `key = value` lines, `;` comments, values made of bare text, `"quoted"`
//! strings (which may span lines), `'raw'` strings, `${ENV}` references and constant
//! expressions with `& | ^ ~ ! ( )`. Where PHP reports "syntax error" this module refuses the
//! file on the same line, with the column of the offending character: PHP does not apply a file
//! it cannot parse, so its settings are not what the file says.
//!
//! Entries in `[PATH=...]` and `[HOST=...]` sections apply to some scripts or hosts only and are
//! not read as the pool's settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fpm::Entry;
use crate::span::{LoadError, Span};

/// The settings PHP reads at start-up: `php.ini`, then its scan directory's files in order.
#[derive(Clone, Debug)]
pub struct PhpIni {
    /// Every file read, `php.ini` first.
    pub files: Vec<Arc<Path>>,
    /// Entries in the order PHP applies them (later ones win).
    pub entries: Vec<Entry>,
}

impl PhpIni {
    /// The entry in effect for `name` (the last one), if any file sets it.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == name)
    }

    /// The main file (`php.ini`).
    pub fn file(&self) -> &Arc<Path> {
        &self.files[0]
    }
}

/// Directories PHP scans for extra `*.ini` files beside `php.ini`: Debian's `conf.d`
/// (`/etc/php/8.2/fpm/conf.d`) and Red Hat's `php.d` (`/etc/php.d`).
const SCAN_DIRS: &[&str] = &["conf.d", "php.d"];

/// Reads `php.ini` at `path` and the `*.ini` files of a scan directory beside it.
pub fn load(path: &Path) -> Result<PhpIni, LoadError> {
    let file: Arc<Path> = Arc::from(path);
    let src = std::fs::read(path).map_err(|e| LoadError::unreadable(&file, &e))?;
    let mut ini = PhpIni {
        files: vec![Arc::clone(&file)],
        entries: parse(&String::from_utf8_lossy(&src), &file)?,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    for scan in SCAN_DIRS {
        let Ok(read) = std::fs::read_dir(dir.join(scan)) else {
            continue;
        };
        let mut extra: Vec<PathBuf> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "ini") && p.is_file())
            .collect();
        extra.sort();
        for path in extra {
            let file: Arc<Path> = Arc::from(path.as_path());
            let src = std::fs::read(&path).map_err(|e| LoadError::unreadable(&file, &e))?;
            ini.entries
                .extend(parse(&String::from_utf8_lossy(&src), &file)?);
            ini.files.push(file);
        }
    }
    Ok(ini)
}

/// Parses `php.ini` text that stands for `file`.
pub fn parse_str(src: &str, name: &Path) -> Result<PhpIni, LoadError> {
    let file: Arc<Path> = Arc::from(name);
    Ok(PhpIni {
        files: vec![Arc::clone(&file)],
        entries: parse(src, &file)?,
    })
}

/// Where `php.ini` is for a PHP-FPM file: beside it (`/etc/php/8.2/fpm/php-fpm.conf`), or one
/// level up from a pool directory named `pool.d` or `php-fpm.d` (Debian's
/// `/etc/php/8.2/fpm/pool.d/www.conf`, Red Hat's `/etc/php-fpm.d/www.conf` next to
/// `/etc/php.ini`).
pub fn beside(fpm_file: &Path) -> Option<PathBuf> {
    let dir = fpm_file.parent()?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let pool_dir = dir
        .file_name()
        .is_some_and(|n| n == "pool.d" || n == "php-fpm.d");
    [Some(dir), dir.parent().filter(|_| pool_dir)]
        .into_iter()
        .flatten()
        .map(|d| d.join("php.ini"))
        .find(|p| p.is_file())
}

/// Characters PHP's scanner does not allow in a key (`LABEL_CHAR` excludes them).
const KEY_RESERVED: &[char] = &['&', '|', '^', '~', '(', ')', '{', '}', '!', '"', '$'];
/// Operators of a constant expression in a value.
const OPERATORS: &[char] = &['&', '|', '^', '~', '!', '(', ')'];

/// One character position: its byte offset in the source.
struct Cursor<'s> {
    src: &'s str,
    pos: usize,
    line: u32,
    line_start: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
        Some(c)
    }

    fn span(&self, file: &Arc<Path>) -> Span {
        Span::new(file, self.line, (self.pos - self.line_start) as u32 + 1)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn at_line_end(&self) -> bool {
        matches!(self.peek(), None | Some('\n' | '\r'))
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }
}

fn syntax(span: Span, what: &str) -> LoadError {
    LoadError::at(
        span,
        format!("syntax error, {what}: PHP does not apply this file as written"),
    )
}

fn parse(src: &str, file: &Arc<Path>) -> Result<Vec<Entry>, LoadError> {
    let mut cur = Cursor {
        src,
        pos: 0,
        line: 1,
        line_start: 0,
    };
    let mut entries = Vec::new();
    // Whether the current section applies to every script (`[PHP]`, `[Date]`, ...), not to
    // some paths or hosts only.
    let mut global = true;
    loop {
        cur.skip_blanks();
        let Some(c) = cur.peek() else { break };
        match c {
            '\n' | '\r' => {
                cur.bump();
            }
            ';' | '#' => cur.skip_line(),
            '[' => {
                let start = cur.span(file);
                cur.bump();
                let name_start = cur.pos;
                while !matches!(cur.peek(), None | Some(']' | '\n' | '\r')) {
                    cur.bump();
                }
                if cur.peek() != Some(']') {
                    let what = if cur.peek().is_none() {
                        "unexpected end of file, expecting ']'"
                    } else {
                        "unexpected end of line, expecting ']'"
                    };
                    return Err(syntax(start, what));
                }
                let name = src[name_start..cur.pos].trim().to_ascii_uppercase();
                global = !(name.starts_with("PATH=") || name.starts_with("HOST="));
                cur.skip_line();
            }
            '=' => return Err(syntax(cur.span(file), "unexpected '='")),
            _ => {
                let span = cur.span(file);
                let key_start = cur.pos;
                while !matches!(cur.peek(), None | Some('=' | '[' | ';' | '\n' | '\r')) {
                    let here = cur.span(file);
                    let c = cur.bump().expect("peeked");
                    if KEY_RESERVED.contains(&c) {
                        return Err(syntax(here, &format!("unexpected '{c}'")));
                    }
                }
                let key = src[key_start..cur.pos].trim_end().to_string();
                if let Some(word) = reserved_word(&key) {
                    return Err(syntax(span, &format!("unexpected {word}")));
                }
                let mut full_key = key.clone();
                if cur.peek() == Some('[') {
                    let open = cur.span(file);
                    cur.bump();
                    let offset_start = cur.pos;
                    while !matches!(cur.peek(), None | Some(']' | '\n' | '\r')) {
                        cur.bump();
                    }
                    if cur.peek() != Some(']') {
                        return Err(syntax(open, "unexpected end of file, expecting ']'"));
                    }
                    full_key = format!("{key}[{}]", &src[offset_start..cur.pos]);
                    cur.bump();
                    cur.skip_blanks();
                }
                let value = match cur.peek() {
                    Some('=') => {
                        cur.bump();
                        value(&mut cur, file)?
                    }
                    // A bare key (PHP accepts it: the setting is empty).
                    _ => {
                        cur.skip_line();
                        String::new()
                    }
                };
                if global {
                    entries.push(Entry {
                        key: full_key,
                        value,
                        span,
                    });
                }
            }
        }
    }
    Ok(entries)
}

/// Keys PHP's scanner reads as values (`BOOL_TRUE`, `BOOL_FALSE`, `NULL_NULL`): a syntax error
/// before `=`.
fn reserved_word(key: &str) -> Option<&'static str> {
    match key.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" => Some("BOOL_TRUE"),
        "false" | "off" | "no" | "none" => Some("BOOL_FALSE"),
        "null" => Some("NULL_NULL"),
        _ => None,
    }
}

/// The value after `=`, up to the end of the line or a `;` comment (a quoted string may span
/// lines). Bare words `on`/`yes`/`true` read as `1`, `off`/`no`/`false`/`none`/`null` as empty,
/// as PHP reads them; expressions are kept as written.
fn value(cur: &mut Cursor<'_>, file: &Arc<Path>) -> Result<String, LoadError> {
    let mut out = String::new();
    // The last thing read was an operator that needs an operand after it.
    let mut pending_operator = false;
    let mut depth = 0usize;
    let mut bare = String::new();
    let flush = |bare: &mut String, out: &mut String| {
        let word = std::mem::take(bare);
        let word = word.trim_end();
        if !word.is_empty() {
            out.push_str(word);
        }
    };
    cur.skip_blanks();
    loop {
        if cur.at_line_end() || cur.peek() == Some(';') {
            break;
        }
        let here = cur.span(file);
        let c = cur.peek().expect("not at end");
        match c {
            '"' => {
                flush(&mut bare, &mut out);
                cur.bump();
                loop {
                    match cur.bump() {
                        None => {
                            return Err(syntax(
                                here,
                                "unterminated quoted string (PHP: \"unexpected end of file, \
                                 expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '\\\"'\")",
                            ))
                        }
                        Some('\\') => match cur.bump() {
                            Some(next @ ('"' | '\\')) => out.push(next),
                            Some(next) => {
                                out.push('\\');
                                out.push(next);
                            }
                            None => {}
                        },
                        Some('"') => break,
                        Some(other) => out.push(other),
                    }
                }
                pending_operator = false;
            }
            '\'' => {
                flush(&mut bare, &mut out);
                cur.bump();
                let start = cur.pos;
                loop {
                    match cur.peek() {
                        None => {
                            return Err(syntax(
                                here,
                                "unterminated quoted string (PHP: \"unexpected end of file\")",
                            ))
                        }
                        Some('\'') => break,
                        Some(_) => {
                            cur.bump();
                        }
                    }
                }
                out.push_str(&cur.src[start..cur.pos]);
                cur.bump();
                pending_operator = false;
            }
            '$' if cur.src[cur.pos..].starts_with("${") => {
                flush(&mut bare, &mut out);
                let start = cur.pos;
                while !matches!(cur.peek(), None | Some('}' | '\n' | '\r')) {
                    cur.bump();
                }
                if cur.peek() != Some('}') {
                    return Err(syntax(here, "unexpected end of file, expecting '}'"));
                }
                cur.bump();
                out.push_str(&cur.src[start..cur.pos]);
                pending_operator = false;
            }
            '=' => return Err(syntax(here, "unexpected '='")),
            c if OPERATORS.contains(&c) => {
                flush(&mut bare, &mut out);
                cur.bump();
                out.push(c);
                match c {
                    '(' => {
                        depth += 1;
                        pending_operator = true;
                    }
                    ')' => {
                        if depth == 0 {
                            return Err(syntax(here, "unexpected ')'"));
                        }
                        depth -= 1;
                        pending_operator = false;
                    }
                    _ => pending_operator = true,
                }
            }
            ' ' | '\t' => {
                cur.bump();
                if !bare.is_empty() {
                    bare.push(c);
                }
            }
            _ => {
                cur.bump();
                bare.push(c);
                pending_operator = false;
            }
        }
    }
    let end = cur.span(file);
    if pending_operator || depth > 0 {
        return Err(syntax(end, "unexpected END_OF_LINE"));
    }
    flush(&mut bare, &mut out);
    cur.skip_line();
    Ok(match out.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => "1".to_string(),
        "off" | "no" | "false" | "none" | "null" => String::new(),
        _ => out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ini(src: &str) -> Result<PhpIni, LoadError> {
        parse_str(src, Path::new("php.ini"))
    }

    fn value_of(src: &str, key: &str) -> Option<String> {
        ini(src).unwrap().get(key).map(|e| e.value.clone())
    }

    #[test]
    fn settings_and_their_places() {
        let src = "[PHP]\n; comment\nengine = On\nmemory_limit = 256M ; the default is 128M\n\
                   max_execution_time=45\n  expose_php = Off\n";
        let ini = ini(src).unwrap();
        let ml = ini.get("memory_limit").unwrap();
        assert_eq!(ml.value, "256M");
        assert_eq!((ml.span.line, ml.span.col), (4, 1));
        assert_eq!(ini.get("max_execution_time").unwrap().value, "45");
        let expose = ini.get("expose_php").unwrap();
        assert_eq!((expose.value.as_str(), expose.span.col), ("", 3));
        assert_eq!(ini.get("engine").unwrap().value, "1");
    }

    #[test]
    fn quotes_env_and_expressions() {
        assert_eq!(value_of("a = \"256M\"\n", "a").unwrap(), "256M");
        assert_eq!(value_of("a = '2G'\n", "a").unwrap(), "2G");
        assert_eq!(value_of("a = \"3M\" x\n", "a").unwrap(), "3Mx");
        assert_eq!(
            value_of("a = ${PHP_MEMORY}\n", "a").unwrap(),
            "${PHP_MEMORY}"
        );
        assert_eq!(
            value_of(
                "error_reporting = E_ALL & ~E_DEPRECATED\n",
                "error_reporting"
            )
            .unwrap(),
            "E_ALL&~E_DEPRECATED"
        );
        assert_eq!(value_of("a = 5\na = 9M\n", "a").unwrap(), "9M");
        assert_eq!(value_of("bare\n", "bare").unwrap(), "");
        assert_eq!(value_of("a[x] = 1\n", "a[x]").unwrap(), "1");
    }

    #[test]
    fn path_and_host_sections_are_not_global() {
        let src = "memory_limit = 1G\n[PATH=/var/www/app]\nmemory_limit = 64M\n[PHP]\nx = 1\n";
        assert_eq!(value_of(src, "memory_limit").unwrap(), "1G");
        assert_eq!(value_of(src, "x").unwrap(), "1");
    }

    #[test]
    fn syntax_errors_where_php_reports_them() {
        let place = |src: &str| {
            let err = ini(src).unwrap_err();
            let span = err.span.unwrap();
            (span.line, span.col)
        };
        assert_eq!(place("[PHP]\nmemory_limit = 256M = 3\n"), (2, 21));
        assert_eq!(place("[PHP\nmemory_limit = 256M\n"), (1, 1));
        assert_eq!(place("x(1) = 2\n"), (1, 2));
        assert_eq!(place("= 3\n"), (1, 1));
        assert_eq!(place("yes = 1\n"), (1, 1));
        assert_eq!(place("a = ${FOO\n"), (1, 5));
        assert_eq!(place("a.b = !\n"), (1, 8));
        assert_eq!(place("a[ = 1\n"), (1, 2));
        assert_eq!(place("[PHP]\nmemory_limit = \"256M\nx = 1\n"), (2, 16));
        let err = ini("a = b = c\n").unwrap_err();
        assert!(err
            .to_string()
            .starts_with("php.ini:1:7: syntax error, unexpected '='"));
    }
}
