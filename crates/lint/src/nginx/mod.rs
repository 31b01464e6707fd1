//! nginx configuration: the tokenizer, the parser with `include` resolution, and the resolver
//! that tells which value a `location` really uses after inheritance.

mod lexer;
mod parser;
mod scope;

pub use lexer::Word;
pub use parser::{parse_file, parse_str, Config, Directive};
pub use scope::{Scope, ScopeId, ScopeKind, Scopes};
