//! The nginx tokenizer, a port of `ngx_conf_read_token` (`src/core/ngx_conf_file.c`, 1.22).
//!
//! nginx reads a configuration one directive at a time: words up to `;` (a simple directive),
//! up to `{` (a block opens) or a lone `}` (a block closes). The state flags below are nginx's own
//! (`last_space`, `need_space`, `sharp_comment`, `quoted`, `variable`, `s_quoted`, `d_quoted`), so
//! that whatever nginx accepts is accepted here and every error is reported on the line nginx
//! reports it on.

use std::path::Path;
use std::sync::Arc;

use crate::span::{LoadError, Span};

/// One word of a directive: its unescaped text and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The text with nginx's escapes (`\"`, `\'`, `\\`, `\t`, `\r`, `\n`) applied.
    pub text: String,
    /// Whether the word was written in quotes.
    pub quoted: bool,
    /// Where the word (or its opening quote) starts.
    pub span: Span,
}

/// What one call of [`Lexer::next_step`] found.
#[derive(Debug)]
pub(crate) enum Step {
    /// Words ended by `;`.
    Directive(Vec<Word>),
    /// Words ended by `{`.
    BlockStart(Vec<Word>),
    /// A `}` with no words before it.
    BlockDone(Span),
    /// The end of the file outside any directive.
    FileDone,
}

/// Reads one file's bytes.
pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
    file: Arc<Path>,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a [u8], file: Arc<Path>) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            line: 1,
            line_start: 0,
            file,
        }
    }

    pub(crate) fn file(&self) -> &Arc<Path> {
        &self.file
    }

    /// The place of the byte at `pos`, on the current line.
    fn span_at(&self, pos: usize) -> Span {
        let col = pos.saturating_sub(self.line_start) as u32 + 1;
        Span::new(&self.file, self.line, col)
    }

    /// The place the lexer has reached.
    pub(crate) fn here(&self) -> Span {
        self.span_at(self.pos)
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> LoadError {
        LoadError::at(self.span_at(pos), message)
    }

    /// Reads up to the next `;`, `{` or `}`, exactly as `ngx_conf_read_token` does.
    pub(crate) fn next_step(&mut self) -> Result<Step, LoadError> {
        let mut words: Vec<Word> = Vec::new();
        let mut last_space = true;
        let mut sharp_comment = false;
        let mut quoted = false;
        let mut need_space = false;
        let mut variable = false;
        let mut s_quoted = false;
        let mut d_quoted = false;
        let mut start = 0;
        let mut start_span = self.span_at(self.pos);

        loop {
            if self.pos >= self.src.len() {
                if !words.is_empty() || !last_space {
                    return Err(
                        self.error_at(self.pos, "unexpected end of file, expecting \";\" or \"}\"")
                    );
                }
                return Ok(Step::FileDone);
            }
            let at = self.pos;
            let ch = self.src[at];
            self.pos += 1;

            if ch == b'\n' {
                self.line += 1;
                self.line_start = self.pos;
                sharp_comment = false;
            }
            if sharp_comment {
                continue;
            }
            if quoted {
                quoted = false;
                continue;
            }
            if need_space {
                match ch {
                    b' ' | b'\t' | b'\r' | b'\n' => {
                        last_space = true;
                        need_space = false;
                        continue;
                    }
                    b';' => return Ok(Step::Directive(words)),
                    b'{' => return Ok(Step::BlockStart(words)),
                    // `if ($a = "b")`: a closing parenthesis may follow a quoted word.
                    b')' => {
                        last_space = true;
                        need_space = false;
                    }
                    _ => return Err(self.error_at(at, unexpected(ch))),
                }
            }

            if last_space {
                start = at;
                start_span = self.span_at(at);
                match ch {
                    b' ' | b'\t' | b'\r' | b'\n' => continue,
                    b';' | b'{' => {
                        if words.is_empty() {
                            return Err(self.error_at(at, unexpected(ch)));
                        }
                        return Ok(if ch == b'{' {
                            Step::BlockStart(words)
                        } else {
                            Step::Directive(words)
                        });
                    }
                    b'}' => {
                        if !words.is_empty() {
                            return Err(self.error_at(at, unexpected(ch)));
                        }
                        return Ok(Step::BlockDone(start_span));
                    }
                    b'#' => {
                        sharp_comment = true;
                        continue;
                    }
                    b'\\' => {
                        quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'"' => {
                        start += 1;
                        d_quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'\'' => {
                        start += 1;
                        s_quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'$' => {
                        variable = true;
                        last_space = false;
                        continue;
                    }
                    _ => last_space = false,
                }
            } else {
                // `${name}`: the brace belongs to the variable, not to a block.
                if ch == b'{' && variable {
                    continue;
                }
                variable = false;
                if ch == b'\\' {
                    quoted = true;
                    continue;
                }
                if ch == b'$' {
                    variable = true;
                    continue;
                }
                let was_quoted = d_quoted || s_quoted;
                let mut found = false;
                if d_quoted {
                    if ch == b'"' {
                        d_quoted = false;
                        need_space = true;
                        found = true;
                    }
                } else if s_quoted {
                    if ch == b'\'' {
                        s_quoted = false;
                        need_space = true;
                        found = true;
                    }
                } else if matches!(ch, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'{') {
                    last_space = true;
                    found = true;
                }
                if found {
                    words.push(Word {
                        text: unescape(&self.src[start..at]),
                        quoted: was_quoted,
                        span: start_span.clone(),
                    });
                    match ch {
                        b';' => return Ok(Step::Directive(words)),
                        b'{' => return Ok(Step::BlockStart(words)),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Skips the body of an embedded Lua block (`content_by_lua_block { ... }`) after its `{`,
    /// the way the Lua module's own reader does: braces inside Lua strings, long brackets and
    /// comments do not count. Returns the raw Lua text.
    pub(crate) fn skip_lua_block(&mut self, opened_at: &Span) -> Result<String, LoadError> {
        let body_start = self.pos;
        let mut depth = 1usize;
        while self.pos < self.src.len() {
            let ch = self.src[self.pos];
            match ch {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                b'{' => {
                    depth += 1;
                    self.pos += 1;
                }
                b'}' => {
                    depth -= 1;
                    self.pos += 1;
                    if depth == 0 {
                        let raw = &self.src[body_start..self.pos - 1];
                        return Ok(String::from_utf8_lossy(raw).into_owned());
                    }
                }
                b'"' | b'\'' => self.skip_lua_string(ch),
                b'[' if self.long_bracket_level(self.pos).is_some() => self.skip_long_bracket(),
                b'-' if self.src[self.pos..].starts_with(b"--") => {
                    self.pos += 2;
                    if self.src.get(self.pos) == Some(&b'[')
                        && self.long_bracket_level(self.pos).is_some()
                    {
                        self.skip_long_bracket();
                    } else {
                        while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                            self.pos += 1;
                        }
                    }
                }
                _ => self.pos += 1,
            }
        }
        Err(LoadError::at(
            opened_at.clone(),
            "unexpected end of file in Lua block, expecting \"}\"",
        ))
    }

    fn skip_lua_string(&mut self, quote: u8) {
        self.pos += 1;
        while self.pos < self.src.len() {
            match self.src[self.pos] {
                b'\\' => self.pos += 2,
                b'\n' => return, // an unfinished string ends at the line (Lua rejects it later)
                c if c == quote => {
                    self.pos += 1;
                    return;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// `[[`, `[=[`, `[==[` ...: the number of `=` signs.
    fn long_bracket_level(&self, at: usize) -> Option<usize> {
        let rest = &self.src[at..];
        let eqs = rest.iter().skip(1).take_while(|&&c| c == b'=').count();
        (rest.first() == Some(&b'[') && rest.get(1 + eqs) == Some(&b'[')).then_some(eqs)
    }

    fn skip_long_bracket(&mut self) {
        let level = self.long_bracket_level(self.pos).unwrap_or(0);
        let mut close = vec![b']'];
        close.extend(std::iter::repeat_n(b'=', level));
        close.push(b']');
        self.pos += level + 2;
        while self.pos < self.src.len() {
            if self.src[self.pos..].starts_with(&close) {
                self.pos += close.len();
                return;
            }
            if self.src[self.pos] == b'\n' {
                self.line += 1;
                self.line_start = self.pos + 1;
            }
            self.pos += 1;
        }
    }
}

fn unexpected(ch: u8) -> String {
    format!("unexpected \"{}\"", ch as char)
}

/// nginx's escapes, applied to quoted and bare words alike; any other backslash stays.
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' && i + 1 < raw.len() {
            match raw[i + 1] {
                b'"' | b'\'' | b'\\' => {
                    out.push(raw[i + 1]);
                    i += 2;
                    continue;
                }
                b't' => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                b'r' => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                b'n' => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(src: &str) -> Result<Vec<String>, LoadError> {
        let mut lexer = Lexer::new(src.as_bytes(), Arc::from(Path::new("t.conf")));
        let mut out = Vec::new();
        loop {
            match lexer.next_step()? {
                Step::Directive(w) => out.push(format!("D{:?}", texts(&w))),
                Step::BlockStart(w) => out.push(format!("B{:?}", texts(&w))),
                Step::BlockDone(_) => out.push("}".into()),
                Step::FileDone => return Ok(out),
            }
        }
    }

    fn texts(words: &[Word]) -> Vec<&str> {
        words.iter().map(|w| w.text.as_str()).collect()
    }

    fn error_line(src: &str) -> (u32, String) {
        let err = steps(src).unwrap_err();
        (err.span.unwrap().line, err.message)
    }

    #[test]
    fn words_blocks_and_comments() {
        let got = steps("http { # c\n  a b;c d ; }\n").unwrap();
        assert_eq!(
            got,
            [r#"B["http"]"#, r#"D["a", "b"]"#, r#"D["c", "d"]"#, "}"]
        );
    }

    #[test]
    fn hash_inside_a_word_is_not_a_comment() {
        assert_eq!(steps("a b#c;").unwrap(), [r#"D["a", "b#c"]"#]);
    }

    #[test]
    fn quotes_and_escapes() {
        let got = steps(r#"a "x y" 'q\'s' "t\tu" b\;c "\d";"#).unwrap();
        // `\;` keeps `;` in the word and, like any escape nginx does not know, its backslash.
        assert_eq!(got, [r#"D["a", "x y", "q's", "t\tu", "b\\;c", "\\d"]"#]);
    }

    #[test]
    fn variables_with_braces_stay_in_the_word() {
        assert_eq!(
            steps("set $a ${b}c;").unwrap(),
            [r#"D["set", "$a", "${b}c"]"#]
        );
    }

    #[test]
    fn parenthesis_after_quote() {
        let got = steps("if ($a = \"b\") { }").unwrap();
        assert_eq!(got, [r#"B["if", "($a", "=", "b", ")"]"#, "}"]);
    }

    #[test]
    fn errors_on_nginx_lines() {
        assert_eq!(error_line("a;\n;\n"), (2, "unexpected \";\"".into()));
        assert_eq!(error_line("a \"b\"c;"), (1, "unexpected \"c\"".into()));
        assert_eq!(error_line("a b }"), (1, "unexpected \"}\"".into()));
        let (line, msg) = error_line("a b\n\n");
        assert_eq!(line, 3);
        assert!(msg.starts_with("unexpected end of file"));
    }

    #[test]
    fn spans_have_columns() {
        let mut lexer = Lexer::new(b"\n  listen  80;", Arc::from(Path::new("t.conf")));
        let Step::Directive(words) = lexer.next_step().unwrap() else {
            panic!("expected a directive")
        };
        assert_eq!((words[0].span.line, words[0].span.col), (2, 3));
        assert_eq!((words[1].span.line, words[1].span.col), (2, 11));
    }

    #[test]
    fn lua_blocks_skip_braces_in_strings_and_comments() {
        let src = "x {\n ngx.say(\"}\") -- }\n local t = { [[}]] }\n}\ny;";
        let mut lexer = Lexer::new(src.as_bytes(), Arc::from(Path::new("t.conf")));
        let Step::BlockStart(words) = lexer.next_step().unwrap() else {
            panic!("expected a block")
        };
        let raw = lexer.skip_lua_block(&words[0].span).unwrap();
        assert!(raw.contains("local t"));
        let Step::Directive(words) = lexer.next_step().unwrap() else {
            panic!("expected a directive")
        };
        assert_eq!(words[0].text, "y");
        assert_eq!(words[0].span.line, 5);
    }
}
