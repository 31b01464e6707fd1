//! nginx configuration: the tokenizer, the parser with `include` resolution, the check of every
//! directive against nginx's own directive table, and the resolver that tells which value a
//! `location` really uses after inheritance.

pub mod check;
pub mod directives;
mod lexer;
mod parser;
mod scope;
pub mod values;

pub use lexer::Word;
pub use parser::{parse_file, parse_str, Config, Directive};
pub use scope::{Scope, ScopeId, ScopeKind, Scopes};
