//! `originlens lint`: check nginx, PHP-FPM and Apache configuration for the settings behind
//! edge 5xx.
//!
//! Exit status: 0 when no error-level rule fires, 1 when one does, 2 when a file cannot be read
//! or parsed (reported with its `file:line:col`, never as "no issues").

mod render;

use std::io::Write;
use std::path::PathBuf;

use originlens_lint::{rules, ConfigKind, LoadOptions, Options};

use crate::exit::Exit;

/// Arguments of `originlens lint`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 no error-level finding, 1 an error-level finding (a setting \
that causes 5xx at the edge), 2 usage error or a file that cannot be read or parsed (named with \
file:line:col)."
)]
pub struct Args {
    /// Configuration files: nginx (includes are followed), PHP-FPM pools, php.ini and Apache
    /// httpd, in any order; the language is guessed from each file's name and first line. A
    /// directory (`/etc/nginx`, `/etc/php`, `/etc`) stands for the nginx.conf, apache2.conf or
    /// httpd.conf and the PHP-FPM pools found in it.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Response head size in bytes measured by `originlens probe`; the upstream head buffers are
    /// judged against it (default: against the 16 KB budget).
    #[arg(long, value_name = "BYTES")]
    pub head_bytes: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The edge's proxy read timeout in seconds (Cloudflare: 125; Enterprise up to 6000).
    #[arg(long, value_name = "SECONDS", default_value_t = rules::edge_read_timeout())]
    pub edge_read_timeout: u64,
    /// How long the edge keeps idle origin connections for reuse, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = rules::edge_idle_timeout())]
    pub edge_idle_timeout: u64,
    /// The origin host's memory (e.g. `4G`, `512M`), to judge memory_limit x pm.max_children.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory)]
    pub host_memory: Option<u64>,
    /// Directory that relative nginx `include`s resolve against (default: the main file's).
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<PathBuf>,
    /// Read every file as this language instead of guessing from its contents.
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// The php.ini the PHP-FPM pools run with, for memory_limit and max_execution_time (pool
    /// php_admin_value[...] / php_value[...] override it; default: the php.ini beside each FPM
    /// file, as Debian's /etc/php/<ver>/fpm/php.ini is beside pool.d/).
    #[arg(long, value_name = "FILE")]
    pub php_ini: Option<PathBuf>,
    /// When to colour text output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// `--format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Compiler-style lines with why and fix.
    Text,
    /// JSON lines: `{"type": "finding" | "error" | "summary", "data": {...}}`.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

/// `--kind`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// nginx configuration.
    Nginx,
    /// PHP-FPM configuration.
    Fpm,
    /// Apache httpd configuration.
    Apache,
    /// PHP's php.ini.
    PhpIni,
}

/// `--color`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// Colour when stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

fn parse_memory(text: &str) -> Result<u64, String> {
    match originlens_lint::units::php_size(text) {
        Some(originlens_lint::units::PhpSize::Bytes(b)) if b > 0 => Ok(b),
        _ => Err(format!(
            "`{text}` is not a size like 4G, 512M or 1073741824"
        )),
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    let load = LoadOptions {
        nginx_prefix: args.prefix.clone(),
        kind: args.kind.map(|k| match k {
            Kind::Nginx => ConfigKind::Nginx,
            Kind::Fpm => ConfigKind::Fpm,
            Kind::Apache => ConfigKind::Apache,
            Kind::PhpIni => ConfigKind::PhpIni,
        }),
        php_ini: args.php_ini.clone(),
    };
    let options = Options {
        head_bytes: args.head_bytes,
        edge_read_timeout: args.edge_read_timeout,
        edge_idle_timeout: args.edge_idle_timeout,
        host_memory: args.host_memory,
    };
    let report = originlens_lint::lint(&args.paths, &load, &options);

    let choice = match args.color {
        Color::Auto => anstream::ColorChoice::Auto,
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
    };
    let mut stdout = anstream::AutoStream::new(std::io::stdout().lock(), choice);
    match args.format {
        Format::Text => {
            let mut stderr = anstream::AutoStream::new(std::io::stderr().lock(), choice);
            render::text(&report, &mut stdout, &mut stderr)?;
        }
        Format::Json => render::json(&report, &mut stdout)?,
        Format::Sarif => render::sarif(&report, &mut stdout)?,
    }
    stdout.flush()?;

    Ok(if !report.errors.is_empty() {
        Exit::Error
    } else if report.has_error_findings() {
        Exit::Problem
    } else {
        Exit::Clean
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("4G"), Ok(4 << 30));
        assert_eq!(parse_memory("512m"), Ok(512 << 20));
        assert!(parse_memory("-1").is_err());
        assert!(parse_memory("lots").is_err());
    }
}
