//! nginx's directive table as data: for every directive of the modules Debian's nginx builds
//! (core, events, http and its standard modules, stream, mail, and Debian's `libnginx-mod-*`
//! packages), the module that defines it, the `.so` that must be loaded for it, the contexts and
//! argument counts of its `ngx_command_t` type bits, and how its value is parsed.
//!
//! The facts live in `directives.tsv`, read from the installed nginx 1.22.1 and its modules by
//! `tools/extract-directives.py`; this module only reads that file.

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("directives.tsv");

/// Which configuration language a module's directives belong to (`ngx_module_t.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModuleType {
    /// `NGX_CORE_MODULE`: the top level (`http`, `events`, `worker_processes`).
    Core,
    /// `NGX_CONF_MODULE`: `include`, allowed everywhere.
    Conf,
    /// `NGX_EVENT_MODULE`: inside `events { }`.
    Event,
    /// `NGX_HTTP_MODULE`.
    Http,
    /// `NGX_MAIL_MODULE`.
    Mail,
    /// `NGX_STREAM_MODULE`.
    Stream,
}

impl ModuleType {
    fn parse(text: &str) -> Option<ModuleType> {
        Some(match text {
            "core" => ModuleType::Core,
            "conf" => ModuleType::Conf,
            "event" => ModuleType::Event,
            "http" => ModuleType::Http,
            "mail" => ModuleType::Mail,
            "stream" => ModuleType::Stream,
            _ => return None,
        })
    }
}

/// How nginx parses a directive's value: the `ngx_conf_set_*_slot` it uses, or `Custom` for a
/// handler of the module's own (whose checks this table does not know).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// `on` or `off`.
    Flag,
    /// A decimal integer (`ngx_atoi`).
    Number,
    /// A size: digits with an optional `k` or `m` (`ngx_parse_size`).
    Size,
    /// An offset: digits with an optional `k`, `m` or `g` (`ngx_parse_offset`).
    Offset,
    /// A time in milliseconds: `1h30m`, `500ms`, `60` (`ngx_parse_time`, `ms` allowed).
    Msec,
    /// A time in seconds: `1d`, `30s`, `60` (`ngx_parse_time`, no `ms`).
    Sec,
    /// One word from a fixed list.
    Enum,
    /// One or more words from a fixed list.
    Bitmask,
    /// A number of buffers and their size: `8 4k`.
    Bufs,
    /// A string.
    Str,
    /// A string, the directive repeatable.
    StrArray,
    /// A key and a value.
    Keyval,
    /// A temp path with levels.
    Path,
    /// File access rights (`user:rw group:r`).
    Access,
    /// The module's own handler.
    Custom,
}

impl Slot {
    fn parse(text: &str) -> Slot {
        match text {
            "flag" => Slot::Flag,
            "num" => Slot::Number,
            "size" => Slot::Size,
            "off" => Slot::Offset,
            "msec" => Slot::Msec,
            "sec" => Slot::Sec,
            "enum" => Slot::Enum,
            "bitmask" => Slot::Bitmask,
            "bufs" => Slot::Bufs,
            "str" => Slot::Str,
            "str_array" => Slot::StrArray,
            "keyval" => Slot::Keyval,
            "path" => Slot::Path,
            "access" => Slot::Access,
            _ => Slot::Custom,
        }
    }

    /// Slots that refuse a second value at the same level (`"…" directive is duplicate`).
    pub fn refuses_duplicates(self) -> bool {
        matches!(
            self,
            Slot::Flag
                | Slot::Number
                | Slot::Size
                | Slot::Offset
                | Slot::Msec
                | Slot::Sec
                | Slot::Enum
                | Slot::Bufs
                | Slot::Str
                | Slot::Path
        )
    }
}

/// `ngx_command_t.type` bits (`ngx_conf_file.h`, `ngx_http_config.h`, ...).
pub mod flags {
    /// No argument.
    pub const NOARGS: u32 = 0x0000_0001;
    /// Mask of the `TAKEn` bits: bit `n` allows `n` arguments (0..=7).
    pub const ARGS_NUMBER: u32 = 0x0000_00ff;
    /// Takes a `{ }` block.
    pub const BLOCK: u32 = 0x0000_0100;
    /// `on` or `off`: exactly one argument.
    pub const FLAG: u32 = 0x0000_0200;
    /// Any number of arguments.
    pub const ANY: u32 = 0x0000_0400;
    /// One or more arguments.
    pub const ONE_MORE: u32 = 0x0000_0800;
    /// Two or more arguments.
    pub const TWO_MORE: u32 = 0x0000_1000;
    /// The top level (`NGX_MAIN_CONF`).
    pub const MAIN: u32 = 0x0100_0000;
    /// `events`, `http`, `stream` and `mail` main level (`NGX_*_MAIN_CONF`).
    pub const MODULE_MAIN: u32 = 0x0200_0000;
    /// `server` (`NGX_HTTP_SRV_CONF`, `NGX_STREAM_SRV_CONF`, `NGX_MAIL_SRV_CONF`).
    pub const SRV: u32 = 0x0400_0000;
    /// http `location` (`NGX_HTTP_LOC_CONF`); stream `upstream` (`NGX_STREAM_UPS_CONF`).
    pub const LOC: u32 = 0x0800_0000;
    /// http `upstream` (`NGX_HTTP_UPS_CONF`).
    pub const UPS: u32 = 0x1000_0000;
    /// `if` in a server (`NGX_HTTP_SIF_CONF`).
    pub const SIF: u32 = 0x2000_0000;
    /// `if` in a location (`NGX_HTTP_LIF_CONF`).
    pub const LIF: u32 = 0x4000_0000;
    /// `limit_except` (`NGX_HTTP_LMT_CONF`).
    pub const LMT: u32 = 0x8000_0000;
}

/// One row of nginx's command tables.
#[derive(Clone, Debug)]
pub struct DirectiveDef {
    /// The directive's name.
    pub name: &'static str,
    /// The module that defines it (`ngx_http_proxy_module`).
    pub module: &'static str,
    /// The dynamic module file that must be loaded (`ngx_stream_module.so`), `None` when built in.
    pub file: Option<&'static str>,
    /// The Debian package that ships `file`.
    pub package: Option<&'static str>,
    /// The language it belongs to.
    pub module_type: ModuleType,
    /// `ngx_command_t.type`.
    pub flags: u32,
    /// How the value is parsed.
    pub slot: Slot,
    /// The words an `Enum` or `Bitmask` accepts.
    pub values: Vec<&'static str>,
    /// Bounds checked after a `Number` (`ngx_conf_check_num_bounds`).
    pub bounds: Option<(i64, i64)>,
}

impl DirectiveDef {
    /// Whether `n` arguments are accepted (the check in `ngx_conf_handler`).
    pub fn takes(&self, n: usize) -> bool {
        let f = self.flags;
        if f & flags::ANY != 0 {
            true
        } else if f & flags::FLAG != 0 {
            n == 1
        } else if f & flags::ONE_MORE != 0 {
            n >= 1
        } else if f & flags::TWO_MORE != 0 {
            n >= 2
        } else {
            n <= 7 && f & (1 << n) != 0
        }
    }

    /// Whether it takes a `{ }` block.
    pub fn is_block(&self) -> bool {
        self.flags & flags::BLOCK != 0
    }
}

/// The whole table, in nginx's module order (built-in modules, then dynamic ones in the order
/// Debian's `modules-enabled` loads them).
#[derive(Debug)]
pub struct Table {
    rows: Vec<DirectiveDef>,
    by_name: HashMap<&'static str, Vec<usize>>,
}

impl Table {
    /// Every definition of `name`, in module order (`server` is both http's and upstream's).
    pub fn named<'t>(&'t self, name: &str) -> impl Iterator<Item = &'t DirectiveDef> + 't {
        self.by_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|&i| &self.rows[i])
    }

    /// Every row.
    pub fn rows(&self) -> &[DirectiveDef] {
        &self.rows
    }
}

/// The table, parsed once.
pub fn table() -> &'static Table {
    static TABLE_CELL: OnceLock<Table> = OnceLock::new();
    TABLE_CELL.get_or_init(|| parse(TABLE))
}

fn parse(text: &'static str) -> Table {
    let mut rows = Vec::new();
    let mut by_name: HashMap<&'static str, Vec<usize>> = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&'static str> = line.split('\t').collect();
        let [name, module, file, package, module_type, flags, slot, values] = cols[..] else {
            continue;
        };
        let Some(module_type) = ModuleType::parse(module_type) else {
            continue;
        };
        let Ok(flags) = u32::from_str_radix(flags.trim_start_matches("0x"), 16) else {
            continue;
        };
        let optional = |s: &'static str| (s != "-").then_some(s);
        let slot = Slot::parse(slot);
        let mut bounds = None;
        let mut words = Vec::new();
        if let Some(range) = values.strip_prefix("bounds:") {
            let mut parts = range.split(':').map(str::parse::<i64>);
            if let (Some(Ok(low)), Some(Ok(high))) = (parts.next(), parts.next()) {
                bounds = Some((low, high));
            }
        } else if matches!(slot, Slot::Enum | Slot::Bitmask) {
            words = values.split(',').collect();
        }
        by_name.entry(name).or_default().push(rows.len());
        rows.push(DirectiveDef {
            name,
            module,
            file: optional(file),
            package: optional(package),
            module_type,
            flags,
            slot,
            values: words,
            bounds,
        });
    }
    Table { rows, by_name }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str, module: &str) -> &'static DirectiveDef {
        table()
            .named(name)
            .find(|d| d.module == module)
            .unwrap_or_else(|| panic!("{name} of {module} is in the table"))
    }

    #[test]
    fn the_table_covers_the_modules_debian_builds() {
        let t = table();
        assert!(t.rows().len() > 1000, "{} rows", t.rows().len());
        for (name, module) in [
            ("worker_processes", "ngx_core_module"),
            ("worker_connections", "ngx_event_core_module"),
            ("proxy_pass", "ngx_http_proxy_module"),
            ("fastcgi_read_timeout", "ngx_http_fastcgi_module"),
            ("ssl_protocols", "ngx_http_ssl_module"),
            ("http2_max_field_size", "ngx_http_v2_module"),
            ("set_real_ip_from", "ngx_http_realip_module"),
            ("proxy_pass", "ngx_stream_proxy_module"),
            ("smtp_auth", "ngx_mail_smtp_module"),
            ("more_set_headers", "ngx_http_headers_more_filter_module"),
            ("content_by_lua_block", "ngx_http_lua_module"),
            ("geoip_country", "ngx_http_geoip_module"),
        ] {
            def(name, module);
        }
        assert_eq!(
            def("stream", "ngx_stream_module").file,
            Some("ngx_stream_module.so")
        );
        assert_eq!(
            def("stream", "ngx_stream_module").package,
            Some("libnginx-mod-stream")
        );
        assert_eq!(def("proxy_pass", "ngx_http_proxy_module").file, None);
    }

    // One test per kind of type bits: contexts, argument counts, block, flag, any, 1more, 2more.
    #[test]
    fn contexts() {
        let pass = def("proxy_pass", "ngx_http_proxy_module");
        assert_eq!(pass.module_type, ModuleType::Http);
        assert!(pass.flags & flags::LOC != 0 && pass.flags & flags::LIF != 0);
        assert!(pass.flags & flags::LMT != 0);
        assert!(pass.flags & (flags::MODULE_MAIN | flags::SRV) == 0);
        let listen = def("listen", "ngx_http_core_module");
        assert_eq!(listen.flags & 0xff00_0000, flags::SRV);
        let events = def("events", "ngx_events_module");
        assert_eq!(events.module_type, ModuleType::Core);
        assert!(events.flags & flags::MAIN != 0);
        let include = def("include", "ngx_conf_module");
        assert_eq!(include.module_type, ModuleType::Conf);
        assert_eq!(include.flags & 0xff00_0000, 0xff00_0000);
        let ups = def("server", "ngx_http_upstream_module");
        assert_eq!(ups.flags & 0xff00_0000, flags::UPS);
    }

    #[test]
    fn take_n_arguments() {
        let root = def("root", "ngx_http_core_module");
        assert!(root.takes(1) && !root.takes(0) && !root.takes(2));
        let keepalive = def("keepalive_timeout", "ngx_http_core_module");
        assert!(keepalive.takes(1) && keepalive.takes(2) && !keepalive.takes(3));
        let add_header = def("add_header", "ngx_http_headers_filter_module");
        assert!(add_header.takes(2) && add_header.takes(3) && !add_header.takes(1));
    }

    #[test]
    fn no_arguments_and_blocks() {
        let ip_hash = def("ip_hash", "ngx_http_upstream_ip_hash_module");
        assert!(ip_hash.flags & flags::NOARGS != 0);
        assert!(ip_hash.takes(0) && !ip_hash.takes(1));
        let http = def("http", "ngx_http_module");
        assert!(http.is_block() && http.takes(0) && !http.takes(1));
        let location = def("location", "ngx_http_core_module");
        assert!(location.is_block() && location.takes(1) && location.takes(2));
        assert!(!location.takes(3));
    }

    #[test]
    fn flags_take_one_argument() {
        let buffering = def("proxy_buffering", "ngx_http_proxy_module");
        assert!(buffering.flags & flags::FLAG != 0);
        assert_eq!(buffering.slot, Slot::Flag);
        assert!(buffering.takes(1) && !buffering.takes(0) && !buffering.takes(2));
    }

    #[test]
    fn one_or_more_two_or_more_and_any() {
        let index = def("index", "ngx_http_index_module");
        assert!(index.flags & flags::ONE_MORE != 0);
        assert!(index.takes(1) && index.takes(9) && !index.takes(0));
        let try_files = def("try_files", "ngx_http_try_files_module");
        assert!(try_files.flags & flags::TWO_MORE != 0);
        assert!(try_files.takes(2) && !try_files.takes(1));
        let limit_except = def("limit_except", "ngx_http_core_module");
        assert!(limit_except.takes(1) && limit_except.takes(5));
        let return_ = def("return", "ngx_http_rewrite_module");
        assert!(return_.takes(1) && return_.takes(2) && !return_.takes(3));
    }

    #[test]
    fn value_slots() {
        assert_eq!(
            def("proxy_buffer_size", "ngx_http_proxy_module").slot,
            Slot::Size
        );
        assert_eq!(
            def("proxy_read_timeout", "ngx_http_proxy_module").slot,
            Slot::Msec
        );
        assert_eq!(
            def("client_max_body_size", "ngx_http_core_module").slot,
            Slot::Offset
        );
        assert_eq!(
            def("keepalive_requests", "ngx_http_core_module").slot,
            Slot::Number
        );
        assert_eq!(
            def("proxy_buffers", "ngx_http_proxy_module").slot,
            Slot::Bufs
        );
        let tokens = def("server_tokens", "ngx_http_core_module");
        assert_eq!(tokens.slot, Slot::Enum);
        assert_eq!(tokens.values, ["off", "on", "build"]);
        let protocols = def("ssl_protocols", "ngx_http_ssl_module");
        assert_eq!(protocols.slot, Slot::Bitmask);
        assert!(protocols.values.contains(&"TLSv1.3"));
        assert_eq!(
            def("gzip_comp_level", "ngx_http_gzip_filter_module").bounds,
            Some((1, 9))
        );
    }
}
