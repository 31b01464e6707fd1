//! Places in configuration files: `file:line:col`, 1-based, columns in bytes.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Where something starts in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The file, as it was named on the command line or resolved by `include`.
    pub file: Arc<Path>,
    /// 1-based line number, counted the way nginx counts them (one per LF).
    pub line: u32,
    /// 1-based byte column.
    pub col: u32,
}

impl Span {
    /// A span at `line:col` of `file`.
    pub fn new(file: &Arc<Path>, line: u32, col: u32) -> Span {
        Span {
            file: Arc::clone(file),
            line,
            col,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A file that could not be read or parsed: the place and what went wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file that failed.
    pub file: Arc<Path>,
    /// The exact place, when the failure has one (a syntax error); `None` when the file could
    /// not be read at all.
    pub span: Option<Span>,
    /// What went wrong, in the words nginx or PHP-FPM use where they have words for it.
    pub message: String,
}

impl LoadError {
    /// A failure at a known place.
    pub fn at(span: Span, message: impl Into<String>) -> LoadError {
        LoadError {
            file: Arc::clone(&span.file),
            span: Some(span),
            message: message.into(),
        }
    }

    /// A failure to read `file` at all.
    pub fn unreadable(file: &Arc<Path>, err: &std::io::Error) -> LoadError {
        LoadError {
            file: Arc::clone(file),
            span: None,
            message: format!("cannot read file: {err}"),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(span) => write!(f, "{span}: {}", self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for LoadError {}
