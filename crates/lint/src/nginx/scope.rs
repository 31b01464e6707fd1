//! Which value does a `location` really use? nginx merges configuration downwards
//! (main → http → server → location → nested location / `if`): a directive set at a level
//! applies below it unless a lower level sets it again.
//!
//! Array directives (`proxy_set_header`, `*_hide_header`, `add_header`, `allow`/`deny`) are
//! inherited only as a whole: a level that sets any one of them drops every one inherited from
//! above. [`Scopes::effective_all`] follows that rule; rules that forget it are a classic source
//! of headers that "should" be hidden but are not.

use super::parser::{Config, Directive};

/// Index of a [`Scope`] in its [`Scopes`].
pub type ScopeId = usize;

/// What kind of configuration level a block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// The top level of the main file (an included fragment linted alone acts like `http`).
    Main,
    /// `http { }`.
    Http,
    /// `server { }` inside `http` (or at the top of a fragment).
    Server,
    /// `location { }`.
    Location,
    /// `if () { }` inside a server or location.
    If,
    /// `limit_except { }`.
    LimitExcept,
    /// `upstream { }` in `http`.
    Upstream,
    /// Anything else that holds directives (`events`, `stream`, `mail` and what is inside).
    Other,
}

impl ScopeKind {
    /// Levels that take part in http inheritance.
    fn inherits(self) -> bool {
        !matches!(self, ScopeKind::Upstream | ScopeKind::Other)
    }
}

/// One configuration level.
#[derive(Clone, Debug)]
pub struct Scope<'c> {
    /// What level this is.
    pub kind: ScopeKind,
    /// The block directive (`None` for the top level).
    pub block: Option<&'c Directive>,
    /// The enclosing level.
    pub parent: Option<ScopeId>,
    /// The directives written directly at this level.
    pub directives: &'c [Directive],
}

/// Every level of a configuration, parents before children.
#[derive(Clone, Debug)]
pub struct Scopes<'c> {
    scopes: Vec<Scope<'c>>,
}

/// Blocks whose contents are data (map keys, MIME types), not directives.
const DATA_BLOCKS: &[&str] = &[
    "map",
    "geo",
    "types",
    "split_clients",
    "match",
    "charset_map",
];

impl<'c> Scopes<'c> {
    /// Builds the levels of `config`.
    pub fn build(config: &'c Config) -> Scopes<'c> {
        let mut scopes = vec![Scope {
            kind: ScopeKind::Main,
            block: None,
            parent: None,
            directives: &config.directives,
        }];
        collect(&mut scopes, 0, &config.directives, false);
        Scopes { scopes }
    }

    /// Every level, parents first.
    pub fn iter(&self) -> impl Iterator<Item = (ScopeId, &Scope<'c>)> {
        self.scopes.iter().enumerate()
    }

    /// The level `id`.
    pub fn get(&self, id: ScopeId) -> &Scope<'c> {
        &self.scopes[id]
    }

    /// `id` and the levels it inherits from, nearest first.
    pub fn chain(&self, id: ScopeId) -> impl Iterator<Item = &Scope<'c>> + '_ {
        let mut next = Some(id);
        std::iter::from_fn(move || {
            let scope = &self.scopes[next?];
            next = scope.parent.filter(|_| scope.kind.inherits());
            Some(scope)
        })
    }

    /// The directive `name` in effect at `id`: the last one at the nearest level that sets it.
    pub fn effective(&self, id: ScopeId, name: &str) -> Option<&'c Directive> {
        self.chain(id)
            .find_map(|s| s.directives.iter().rev().find(|d| d.name() == name))
    }

    /// The array directives in effect at `id`: every `names` directive of the nearest level that
    /// sets any of them, in order (nginx inherits such arrays only as a whole).
    pub fn effective_all(&self, id: ScopeId, names: &[&str]) -> Vec<&'c Directive> {
        for scope in self.chain(id) {
            let here: Vec<&Directive> = scope
                .directives
                .iter()
                .filter(|d| names.contains(&d.name()))
                .collect();
            if !here.is_empty() {
                return here;
            }
        }
        Vec::new()
    }

    /// The nearest enclosing level of `kind` (or `id` itself).
    pub fn enclosing(&self, id: ScopeId, kind: ScopeKind) -> Option<ScopeId> {
        let mut next = Some(id);
        while let Some(i) = next {
            if self.scopes[i].kind == kind {
                return Some(i);
            }
            next = self.scopes[i].parent;
        }
        None
    }
}

fn collect<'c>(
    scopes: &mut Vec<Scope<'c>>,
    parent: ScopeId,
    directives: &'c [Directive],
    outside_http: bool,
) {
    for d in directives {
        let Some(children) = &d.block else { continue };
        if d.lua.is_some() || DATA_BLOCKS.contains(&d.name()) {
            continue;
        }
        let outside = outside_http || matches!(d.name(), "stream" | "mail" | "events");
        let kind = if outside {
            ScopeKind::Other
        } else {
            match d.name() {
                "http" => ScopeKind::Http,
                "server" => ScopeKind::Server,
                "location" => ScopeKind::Location,
                "if" => ScopeKind::If,
                "limit_except" => ScopeKind::LimitExcept,
                "upstream" => ScopeKind::Upstream,
                _ => ScopeKind::Other,
            }
        };
        scopes.push(Scope {
            kind,
            block: Some(d),
            parent: Some(parent),
            directives: children,
        });
        let id = scopes.len() - 1;
        collect(scopes, id, children, outside);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::nginx::parse_str;

    const CONF: &str = "
http {
    proxy_read_timeout 30s;
    proxy_hide_header X-Powered-By;
    map $a $b { default 0; proxy_read_timeout 1; }
    server {
        proxy_read_timeout 90s;
        location / { }
        location /api {
            proxy_hide_header X-Debug;
            location /api/slow { proxy_read_timeout 300s; }
        }
    }
}";

    fn location<'c>(scopes: &Scopes<'c>, path: &str) -> ScopeId {
        scopes
            .iter()
            .find(|(_, s)| s.kind == ScopeKind::Location && s.block.unwrap().arg(0) == Some(path))
            .map(|(id, _)| id)
            .unwrap()
    }

    #[test]
    fn nearest_level_wins() {
        let config = parse_str(CONF, Path::new("t.conf"), Path::new(".")).unwrap();
        let scopes = Scopes::build(&config);
        let value = |path| {
            let d = scopes.effective(location(&scopes, path), "proxy_read_timeout");
            d.and_then(|d| d.arg(0)).unwrap().to_string()
        };
        assert_eq!(value("/"), "90s");
        assert_eq!(value("/api"), "90s");
        assert_eq!(value("/api/slow"), "300s");
    }

    #[test]
    fn arrays_are_inherited_whole() {
        let config = parse_str(CONF, Path::new("t.conf"), Path::new(".")).unwrap();
        let scopes = Scopes::build(&config);
        let hidden = |path| -> Vec<String> {
            scopes
                .effective_all(location(&scopes, path), &["proxy_hide_header"])
                .iter()
                .map(|d| d.arg(0).unwrap().to_string())
                .collect()
        };
        assert_eq!(hidden("/"), ["X-Powered-By"]);
        assert_eq!(hidden("/api/slow"), ["X-Debug"]);
    }

    #[test]
    fn map_keys_are_not_directives() {
        let config = parse_str(CONF, Path::new("t.conf"), Path::new(".")).unwrap();
        let scopes = Scopes::build(&config);
        assert!(scopes
            .iter()
            .all(|(_, s)| s.block.map(|b| b.name()) != Some("map")));
    }
}
