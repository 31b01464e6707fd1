//! What `ngx_conf_handler` refuses, checked against the directive table: unknown directives,
//! directives of modules that are not loaded, directives in the wrong block, wrong argument
//! counts, `;` where a block is needed (and the reverse), values the directive's slot cannot
//! parse, and a value set twice at one level. Every error is worded as nginx words it and placed
//! on the line nginx names (the directive's `;` or `{`).
//!
//! A handler of a module's own (`listen`, `worker_processes`) is checked for its context and
//! argument count only; its value is left to `nginx -t`.

use std::collections::HashSet;
use std::path::Path;

use super::directives::{flags, table, DirectiveDef, ModuleType, Slot};
use super::parser::{Config, Directive};
use super::values;
use crate::span::LoadError;

/// Where a directive stands: the language of the block and nginx's `cmd_type` bit for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    module_type: ModuleType,
    mask: u32,
}

impl Context {
    /// The top level of `nginx.conf`.
    pub const MAIN: Context = Context {
        module_type: ModuleType::Core,
        mask: flags::MAIN,
    };
    /// Inside `http { }`.
    pub const HTTP: Context = Context {
        module_type: ModuleType::Http,
        mask: flags::MODULE_MAIN,
    };
    /// Inside an http `server { }`.
    pub const HTTP_SERVER: Context = Context {
        module_type: ModuleType::Http,
        mask: flags::SRV,
    };
    /// Inside an http `location { }`.
    pub const HTTP_LOCATION: Context = Context {
        module_type: ModuleType::Http,
        mask: flags::LOC,
    };
    /// Inside `stream { }`.
    pub const STREAM: Context = Context {
        module_type: ModuleType::Stream,
        mask: flags::MODULE_MAIN,
    };

    /// Whether this is the http language (rules about HTTP apply).
    pub fn is_http(self) -> bool {
        self.module_type == ModuleType::Http
    }
}

/// Block directives whose body is data, not directives (`cf->handler` in nginx).
const DATA_BLOCKS: &[&str] = &[
    "types",
    "map",
    "geo",
    "split_clients",
    "charset_map",
    "geoip2",
    "match",
];

/// Checks a configuration; the first error is the one `nginx -t` reports.
pub fn check(config: &Config) -> Vec<LoadError> {
    let mut checker = Checker {
        loaded: HashSet::new(),
        errors: Vec::new(),
    };
    let start = starting_context(config);
    checker.block(&config.directives, start);
    if start == Context::MAIN
        && config.directives.iter().any(|d| d.name() == "http")
        && !config.directives.iter().any(|d| d.name() == "events")
        && checker.errors.is_empty()
    {
        checker.errors.push(LoadError {
            file: config.file.clone(),
            span: None,
            message: "no \"events\" section in configuration".into(),
        });
    }
    checker.errors
}

/// The block a file is read in: the top level for a main file; for a fragment linted alone
/// (`sites-enabled/default`, `conf.d/*.conf`), the first of http, server and location that
/// takes every directive written at its top.
pub fn starting_context(config: &Config) -> Context {
    let loaded = loaded_modules(&config.directives);
    let fits = |ctx: Context| {
        config
            .directives
            .iter()
            .filter(|d| d.name() != "include")
            .all(|d| allowed_in(d.name(), ctx, &loaded))
    };
    let main_only = [
        "events",
        "http",
        "stream",
        "mail",
        "worker_processes",
        "user",
    ];
    if config
        .directives
        .iter()
        .any(|d| main_only.contains(&d.name()))
        || fits(Context::MAIN)
    {
        return Context::MAIN;
    }
    [
        Context::HTTP,
        Context::HTTP_SERVER,
        Context::HTTP_LOCATION,
        Context::STREAM,
    ]
    .into_iter()
    .find(|&ctx| fits(ctx))
    .unwrap_or(Context::MAIN)
}

/// `load_module` lines at the top level, by file name.
fn loaded_modules(top: &[Directive]) -> HashSet<String> {
    top.iter()
        .filter(|d| d.name() == "load_module")
        .filter_map(|d| d.arg(0))
        .filter_map(|path| Path::new(path).file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

fn is_loaded(def: &DirectiveDef, loaded: &HashSet<String>) -> bool {
    def.file.is_none_or(|file| loaded.contains(file))
}

fn allowed_in(name: &str, ctx: Context, loaded: &HashSet<String>) -> bool {
    table().named(name).any(|def| {
        is_loaded(def, loaded)
            && (def.module_type == ModuleType::Conf || def.module_type == ctx.module_type)
            && def.flags & ctx.mask != 0
    })
}

struct Checker {
    loaded: HashSet<String>,
    errors: Vec<LoadError>,
}

impl Checker {
    fn block(&mut self, directives: &[Directive], ctx: Context) {
        // Values set at this level, for `is duplicate` (one conf structure per block).
        let mut set: HashSet<(&'static str, &'static str)> = HashSet::new();
        let mut document_root: Option<&'static str> = None;
        for d in directives {
            if ctx == Context::MAIN && d.name() == "load_module" {
                if let Some(name) = d.arg(0).and_then(|p| Path::new(p).file_name()) {
                    self.loaded.insert(name.to_string_lossy().into_owned());
                }
            }
            let Some(def) = self.handler(d, ctx) else {
                continue;
            };
            if let Some(message) = duplicate(def, &mut set, &mut document_root) {
                self.error(d, message);
                continue;
            }
            if let Some(inner) = inner_context(def, ctx) {
                if d.lua.is_none() {
                    self.block(d.children(), inner);
                }
            }
        }
    }

    /// `ngx_conf_handler`: the definition that takes the directive here, or an error.
    fn handler(&mut self, d: &Directive, ctx: Context) -> Option<&'static DirectiveDef> {
        let name = d.name();
        let mut found = false;
        let mut not_loaded: Option<&DirectiveDef> = None;
        for def in table().named(name) {
            if !is_loaded(def, &self.loaded) {
                not_loaded.get_or_insert(def);
                continue;
            }
            found = true;
            if def.module_type != ModuleType::Conf && def.module_type != ctx.module_type {
                continue;
            }
            if def.flags & ctx.mask == 0 {
                continue;
            }
            if !def.is_block() && d.block.is_some() {
                self.error(
                    d,
                    format!("directive \"{name}\" is not terminated by \";\""),
                );
                return None;
            }
            if def.is_block() && d.block.is_none() {
                self.error(d, format!("directive \"{name}\" has no opening \"{{\""));
                return None;
            }
            if !def.takes(d.args.len()) {
                self.error(
                    d,
                    format!("invalid number of arguments in \"{name}\" directive"),
                );
                return None;
            }
            if let Some(message) = value_error(def, d) {
                self.error(d, message);
                return None;
            }
            return Some(def);
        }
        if found {
            self.error(d, format!("\"{name}\" directive is not allowed here"));
        } else if let Some(def) = not_loaded {
            let file = def.file.unwrap_or_default();
            let package = def
                .package
                .map(|p| format!(" Debian: apt install {p}"))
                .unwrap_or_default();
            self.error(
                d,
                format!(
                    "unknown directive \"{name}\" (module {} is not loaded: \
                     load_module modules/{file};{package})",
                    def.module
                ),
            );
        } else if is_placeholder(name) {
            self.error(
                d,
                format!("unknown directive \"{name}\" (an unfilled template placeholder)"),
            );
        } else {
            self.error(d, format!("unknown directive \"{name}\""));
        }
        None
    }

    fn error(&mut self, d: &Directive, message: String) {
        self.errors.push(LoadError::at(d.end.clone(), message));
    }
}

/// Handlers of a module's own that refuse a second value at one level, as the slots do.
const CUSTOM_SINGLE: &[(&str, &str)] = &[
    ("ngx_http_core_module", "keepalive_timeout"),
    ("ngx_core_module", "worker_processes"),
];

/// `"…" directive is duplicate` for a value set twice at one level; `root` and `alias` share
/// one value.
fn duplicate(
    def: &'static DirectiveDef,
    set: &mut HashSet<(&'static str, &'static str)>,
    document_root: &mut Option<&'static str>,
) -> Option<String> {
    let name = def.name;
    if def.module == "ngx_http_core_module" && matches!(name, "root" | "alias") {
        return match document_root.replace(name) {
            None => None,
            Some(earlier) if earlier == name => Some(format!("\"{name}\" directive is duplicate")),
            Some(earlier) => Some(format!(
                "\"{name}\" directive is duplicate, \"{earlier}\" directive was specified earlier"
            )),
        };
    }
    let single = def.slot.refuses_duplicates() || CUSTOM_SINGLE.contains(&(def.module, name));
    (single && !set.insert((def.module, name)))
        .then(|| format!("\"{name}\" directive is duplicate"))
}

/// `${NAME}` left by a template that was not filled in.
pub fn is_placeholder(text: &str) -> bool {
    text.contains("${")
}

/// The context inside a block directive, `None` for a data block or one this table does not
/// model.
fn inner_context(def: &DirectiveDef, ctx: Context) -> Option<Context> {
    use ModuleType::{Core, Http, Mail, Stream};
    let (module_type, mask) = match (def.module_type, def.name) {
        (_, name) if DATA_BLOCKS.contains(&name) => return None,
        (Core, "events") => (ModuleType::Event, flags::MODULE_MAIN),
        (Core, "http") => (Http, flags::MODULE_MAIN),
        (Core, "stream") => (Stream, flags::MODULE_MAIN),
        (Core, "mail") => (Mail, flags::MODULE_MAIN),
        (Http, "server") if def.is_block() => (Http, flags::SRV),
        (Http, "location") => (Http, flags::LOC),
        (Http, "if") if ctx.mask == flags::SRV => (Http, flags::SIF),
        (Http, "if") => (Http, flags::LIF),
        (Http, "limit_except") => (Http, flags::LMT),
        (Http, "upstream") => (Http, flags::UPS),
        (Stream, "server") if def.is_block() => (Stream, flags::SRV),
        // Stream's `upstream` level shares the bit http uses for `location`.
        (Stream, "upstream") => (Stream, flags::LOC),
        (Mail, "server") if def.is_block() => (Mail, flags::SRV),
        _ => return None,
    };
    Some(Context { module_type, mask })
}

/// The error nginx's slot function gives for the directive's value, if any.
fn value_error(def: &DirectiveDef, d: &Directive) -> Option<String> {
    let name = d.name();
    let arg = |i: usize| d.arg(i).unwrap_or_default();
    let invalid = || Some(format!("\"{name}\" directive invalid value"));
    match def.slot {
        Slot::Flag => values::flag(arg(0)).is_none().then(|| {
            format!(
                "invalid value \"{}\" in \"{name}\" directive, it must be \"on\" or \"off\"",
                arg(0)
            )
        }),
        Slot::Number => match values::number(arg(0)) {
            None => Some(format!("\"{name}\" directive invalid number")),
            Some(n) => match def.bounds {
                Some((low, high)) if n < low || (high >= 0 && n > high) => Some(if high < 0 {
                    format!("value must be equal to or greater than {low}")
                } else {
                    format!("value must be between {low} and {high}")
                }),
                _ => None,
            },
        },
        Slot::Size => values::size(arg(0)).is_none().then(invalid).flatten(),
        Slot::Offset => values::offset(arg(0)).is_none().then(invalid).flatten(),
        Slot::Msec => values::time(arg(0), false)
            .is_none()
            .then(invalid)
            .flatten(),
        Slot::Sec => values::time(arg(0), true).is_none().then(invalid).flatten(),
        Slot::Bufs => {
            let count = values::number(arg(0)).filter(|&n| n > 0);
            let size = values::size(arg(1)).filter(|&n| n > 0);
            (count.is_none() || size.is_none()).then(invalid).flatten()
        }
        Slot::Enum => {
            let word = arg(0);
            (!def.values.iter().any(|v| v.eq_ignore_ascii_case(word)))
                .then(|| format!("invalid value \"{word}\""))
        }
        Slot::Bitmask => d
            .args
            .iter()
            .find(|w| !def.values.iter().any(|v| v.eq_ignore_ascii_case(&w.text)))
            .map(|w| format!("invalid value \"{}\"", w.text)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::parse_str;

    fn errors(src: &str) -> Vec<String> {
        let config = parse_str(src, Path::new("t.conf"), Path::new("/nonexistent")).unwrap();
        check(&config)
            .into_iter()
            .map(|e| match e.span {
                Some(s) => format!("{}:{}: {}", s.line, s.col, e.message),
                None => e.message,
            })
            .collect()
    }

    #[test]
    fn a_valid_configuration_has_no_errors() {
        let src = "events { worker_connections 1024; }\nhttp {\n server {\n  listen 80;\n  \
                   location / { proxy_pass http://127.0.0.1:8080; proxy_read_timeout 300s; }\n \
                   }\n}\n";
        assert_eq!(errors(src), Vec::<String>::new());
    }

    #[test]
    fn unknown_wrong_context_and_counts() {
        assert_eq!(
            errors("events {}\nhttp {\n iserver {\n }\n}\n"),
            ["3:2: unknown directive \"iserver\""]
        );
        assert_eq!(
            errors("events {}\nhttp {\n proxy_pass http://a;\n}\n"),
            ["3:2: \"proxy_pass\" directive is not allowed here"]
        );
        assert_eq!(
            errors("events {}\nhttp {\n server {\n  root /srv/www\n  index index.html;\n }\n}\n"),
            ["5:19: invalid number of arguments in \"root\" directive"]
        );
        assert_eq!(
            errors("events {}\nhttp {\n server {\n  ${RESOLVER};\n }\n}\n"),
            ["4:3: unknown directive \"${RESOLVER}\" (an unfilled template placeholder)"]
        );
    }

    #[test]
    fn values() {
        assert_eq!(
            errors("events {}\nhttp { proxy_buffer_size 4kk; }\n"),
            ["2:8: \"proxy_buffer_size\" directive invalid value"]
        );
        assert_eq!(
            errors("events {}\nhttp { proxy_read_timeout abc; }\n"),
            ["2:8: \"proxy_read_timeout\" directive invalid value"]
        );
        assert_eq!(
            errors("events {}\nhttp { gzip_comp_level 10; }\n"),
            ["2:8: value must be between 1 and 9"]
        );
        assert_eq!(
            errors("events {}\nhttp { proxy_buffering on; proxy_buffering off; }\n"),
            ["2:28: \"proxy_buffering\" directive is duplicate"]
        );
    }

    #[test]
    fn modules_that_are_not_loaded() {
        let errs = errors("events {}\nstream {\n}\n");
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("2:1: unknown directive \"stream\" (module ngx_stream_module"),
            "{errs:?}"
        );
        assert_eq!(
            errors(
                "load_module modules/ngx_stream_module.so;\nevents {}\nstream {\n server {\n  \
                 listen 5353 udp;\n  proxy_pass 127.0.0.1:53;\n }\n}\n"
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn fragments_start_in_the_block_they_are_written_for() {
        assert_eq!(errors("server {\n listen 80;\n}\n"), Vec::<String>::new());
        assert_eq!(
            errors("location / {\n proxy_pass http://a;\n}\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            errors("http {\n}\n"),
            ["no \"events\" section in configuration"]
        );
    }
}
