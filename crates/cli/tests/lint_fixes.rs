//! Fixes that work: every rule's fix snippet, pasted as written in place of the lines that make the
//! rule fire, gives a configuration the real program accepts (`nginx -t`, `php-fpm -t`,
//! `apache2 -t`) and that `originlens lint` no longer reports under that rule.
//!
//! Each case is a configuration with `@FIX@` where the offending lines (`bad`) stand. Both the
//! catalogue's snippet (`crates/lint/src/rules/catalog.rs`, what `--format sarif` and the README
//! show) and the snippet of the finding itself (what the text and JSON output show for that
//! place) are applied. The `nginx-unfilled-placeholder` fix is a command: it is run on the
//! configuration saved as the template it names. A rule of the catalogue without a case here fails
//! `every_rule_with_a_fix_has_a_case`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use originlens_lint::rules::catalog;
use serde_json::Value;

/// Which file of a case holds `@FIX@`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum At {
    Nginx,
    Fpm,
    Ini,
    Apache,
}

struct Case {
    rule: &'static str,
    at: At,
    nginx: &'static str,
    fpm: &'static str,
    ini: &'static str,
    apache: &'static str,
    /// The lines the fix replaces (empty when the fix adds lines).
    bad: &'static str,
    /// Extra `originlens lint` arguments.
    args: &'static [&'static str],
    /// Whether the catalogue's snippet is written for this file (the pool snippets are not
    /// php.ini syntax; the finding's own snippet is then the one shown).
    catalog: bool,
    /// Whether the real program refuses the configuration before the fix.
    refused_before: bool,
}

const fn case(rule: &'static str, at: At, bad: &'static str) -> Case {
    Case {
        rule,
        at,
        nginx: "",
        fpm: "",
        ini: "",
        apache: "",
        bad,
        args: &[],
        catalog: true,
        refused_before: false,
    }
}

/// A proxied location; `@FIX@` in the location.
const PROXY_SITE: &str =
    "events {}\nhttp {\n server {\n  listen 8080;\n  location / {\n   @FIX@\n   \
                          proxy_pass http://127.0.0.1:3000;\n  }\n }\n}\n";
/// A PHP location; `@FIX@` in the location.
const PHP_SITE: &str = "events {}\nhttp {\n server {\n  listen 8080;\n  location ~ \\.php$ {\n   \
                        @FIX@\n   fastcgi_pass unix:@DIR@/php.sock;\n  }\n }\n}\n";
/// A plain server; `@FIX@` in it.
const SERVER: &str =
    "events {}\nhttp {\n server {\n  listen 8080;\n  @FIX@\n  location / { return 200; }\n }\n}\n";
/// `@FIX@` at the http level.
const HTTP: &str =
    "events {}\nhttp {\n @FIX@\n server {\n  listen 8080;\n  location / { return 200; }\n }\n}\n";
/// A pool (named so that a slow log in /var/log cannot be a real pool's), `@FIX@` after its
/// process settings.
const POOL: &str = "[global]\nerror_log = @DIR@/fpm.log\n[olfix]\nuser = nobody\ngroup = nogroup\n\
                    listen = @DIR@/php.sock\npm = static\npm.max_children = 2\n@FIX@\n";
/// The same without pm.max_children (the case sets it).
const POOL_NO_CHILDREN: &str = "[global]\nerror_log = @DIR@/fpm.log\n[olfix]\nuser = nobody\n\
                                group = nogroup\nlisten = @DIR@/php.sock\npm = static\n@FIX@\n";
/// A pool PHP-FPM accepts, for cases whose fix goes into php.ini.
const PLAIN_POOL: &str = "[global]\nerror_log = @DIR@/fpm.log\n[olfix]\nuser = nobody\n\
                          group = nogroup\nlisten = @DIR@/php.sock\npm = static\n\
                          pm.max_children = 2\n";
/// Apache with what `apache2 -t` needs to read the rest, `@FIX@` at the server level.
const APACHE: &str = "ServerRoot \"@DIR@\"\n\
    LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n\
    LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\n\
    LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n\
    LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so\n\
    PidFile @DIR@/httpd.pid\nErrorLog @DIR@/httpd-error.log\nListen 127.0.0.1:8099\n\
    ServerName fix.test\nTimeout 60\nKeepAliveTimeout 905\nServerTokens Prod\n@FIX@\n\
    <VirtualHost *:8099>\n  ProxyPass / http://127.0.0.1:3000/\n</VirtualHost>\n";

fn cases() -> Vec<Case> {
    vec![
        Case {
            nginx: PROXY_SITE,
            args: &["--head-bytes", "20000"],
            ..case(
                "nginx-head-buffer-too-small",
                At::Nginx,
                "proxy_buffer_size 4k;",
            )
        },
        Case {
            nginx: PROXY_SITE,
            ..case(
                "nginx-head-buffer-below-budget",
                At::Nginx,
                "proxy_buffer_size 4k;",
            )
        },
        Case {
            nginx: PROXY_SITE,
            refused_before: true,
            ..case(
                "nginx-busy-buffers-invalid",
                At::Nginx,
                "proxy_buffer_size 32k;",
            )
        },
        Case {
            nginx: PROXY_SITE,
            ..case(
                "nginx-read-timeout-beyond-edge",
                At::Nginx,
                "proxy_read_timeout 300s;",
            )
        },
        Case {
            nginx: PROXY_SITE,
            ..case("nginx-read-timeout-short", At::Nginx, "proxy_read_timeout 5s;")
        },
        Case {
            nginx: PHP_SITE,
            fpm: "[global]\nerror_log = @DIR@/fpm.log\n[olfix]\nuser = nobody\ngroup = nogroup\n\
                  listen = @DIR@/php.sock\npm = static\npm.max_children = 2\n\
                  request_terminate_timeout = 60s\n",
            ..case(
                "nginx-fastcgi-timeout-before-fpm",
                At::Nginx,
                "fastcgi_read_timeout 30s;",
            )
        },
        Case {
            nginx: PHP_SITE,
            fpm: PLAIN_POOL,
            ini: "[PHP]\nmax_execution_time = 75\n",
            ..case(
                "nginx-fastcgi-timeout-before-fpm",
                At::Nginx,
                "fastcgi_read_timeout 60s;",
            )
        },
        Case {
            nginx: SERVER,
            ..case(
                "nginx-keepalive-timeout-short",
                At::Nginx,
                "keepalive_timeout 65;",
            )
        },
        Case {
            nginx: SERVER,
            ..case(
                "nginx-keepalive-timeout-below-edge-pool",
                At::Nginx,
                "keepalive_timeout 600s;",
            )
        },
        Case {
            nginx: SERVER,
            ..case(
                "nginx-keepalive-requests-low",
                At::Nginx,
                "keepalive_requests 100;",
            )
        },
        Case {
            nginx: "events {}\nhttp {\n upstream app {\n  server 127.0.0.1:3000;\n  keepalive 16;\n }\n \
                    server {\n  listen 8080;\n  location / {\n   @FIX@\n   proxy_pass http://app;\n  }\n }\n}\n",
            ..case("nginx-upstream-keepalive-unused", At::Nginx, "")
        },
        Case {
            nginx: "events {}\nhttp {\n upstream php {\n  server unix:@DIR@/php.sock;\n  keepalive 8;\n }\n \
                    server {\n  listen 8080;\n  location / {\n   @FIX@\n   fastcgi_pass php;\n  }\n }\n}\n",
            // The catalogue's snippet is the proxy one; the finding names fastcgi_keep_conn.
            catalog: false,
            ..case("nginx-upstream-keepalive-unused", At::Nginx, "")
        },
        Case {
            nginx: SERVER,
            ..case("nginx-return-444", At::Nginx, "return 444;")
        },
        Case {
            nginx: "events {}\nhttp {\n server {\n  listen 8080;\n  location /admin/ {\n   \
                    allow 203.0.113.0/24;\n   deny all;\n   @FIX@\n   return 200;\n  }\n }\n}\n",
            ..case("nginx-deny-edge", At::Nginx, "")
        },
        Case {
            nginx: "events {}\nhttp {\n server {\n  listen 8080;\n  location /admin/ {\n   \
                    allow 203.0.113.0/24;\n   deny all;\n   @FIX@\n   return 200;\n  }\n }\n}\n",
            ..case(
                "nginx-deny-edge",
                At::Nginx,
                "set_real_ip_from 173.245.48.0/20;\nreal_ip_header CF-Connecting-IP;",
            )
        },
        Case {
            nginx: "events {}\nhttp {\n server {\n  listen 8080 http2;\n  @FIX@\n  \
                    location / { return 200; }\n }\n}\n",
            ..case(
                "nginx-h2-header-limit-small",
                At::Nginx,
                "large_client_header_buffers 4 8k;",
            )
        },
        Case {
            nginx: HTTP,
            ..case("nginx-server-tokens", At::Nginx, "server_tokens on;")
        },
        Case {
            nginx: PHP_SITE,
            ..case("nginx-x-powered-by", At::Nginx, "")
        },
        Case {
            nginx: "@FIX@\nevents {}\nhttp {\n server {\n  listen 8080;\n  location / { return 200; }\n }\n}\n",
            ..case(
                "nginx-error-log-hides-evidence",
                At::Nginx,
                "error_log /dev/null;",
            )
        },
        Case {
            nginx: "@FIX@\nevents {}\nhttp {\n server {\n  listen 8080;\n  location / { return 200; }\n }\n}\n",
            ..case(
                "nginx-error-log-hides-evidence",
                At::Nginx,
                "error_log @DIR@/error.log crit;",
            )
        },
        Case {
            nginx: "@FIX@\nhttp {\n server {\n  listen 8080;\n  location / { return 200; }\n }\n}\n",
            ..case(
                "nginx-worker-connections-low",
                At::Nginx,
                "events {\n    worker_connections 16;\n}",
            )
        },
        Case {
            nginx: SERVER,
            ..case("nginx-client-timeout-short", At::Nginx, "send_timeout 2s;")
        },
        Case {
            nginx: SERVER,
            ..case(
                "nginx-client-timeout-short",
                At::Nginx,
                "client_body_timeout 2s;",
            )
        },
        Case {
            nginx: HTTP,
            refused_before: true,
            ..case(
                "nginx-unfilled-placeholder",
                At::Nginx,
                "resolver ${RESOLVER};",
            )
        },
        Case {
            fpm: POOL,
            ..case("fpm-terminate-timeout-unset", At::Fpm, "")
        },
        Case {
            fpm: POOL,
            ..case(
                "fpm-terminate-timeout-beyond-edge",
                At::Fpm,
                "request_terminate_timeout = 300s",
            )
        },
        Case {
            fpm: POOL,
            ..case(
                "fpm-terminate-before-php-limit",
                At::Fpm,
                "php_admin_value[max_execution_time] = 60\nrequest_terminate_timeout = 30s",
            )
        },
        Case {
            fpm: "[global]\nerror_log = @DIR@/fpm.log\n[olfix]\nuser = nobody\ngroup = nogroup\n\
                  listen = @DIR@/php.sock\npm = static\npm.max_children = 2\n\
                  request_terminate_timeout = 30s\n",
            ini: "[PHP]\nengine = On\n@FIX@\nmemory_limit = 128M\n",
            catalog: false,
            ..case(
                "fpm-terminate-before-php-limit",
                At::Ini,
                "max_execution_time = 30",
            )
        },
        Case {
            fpm: POOL,
            ..case(
                "fpm-php-time-limit-beyond-edge",
                At::Fpm,
                "php_admin_value[max_execution_time] = 300",
            )
        },
        Case {
            fpm: PLAIN_POOL,
            ini: "[PHP]\n@FIX@\n",
            catalog: false,
            ..case(
                "fpm-php-time-limit-beyond-edge",
                At::Ini,
                "max_execution_time = 300",
            )
        },
        Case {
            fpm: POOL,
            ..case("fpm-catch-workers-output-off", At::Fpm, "")
        },
        Case {
            fpm: POOL,
            ..case(
                "fpm-memory-unbounded",
                At::Fpm,
                "php_admin_value[memory_limit] = -1",
            )
        },
        Case {
            fpm: PLAIN_POOL,
            ini: "[PHP]\nmax_execution_time = 30\n@FIX@\n",
            catalog: false,
            ..case("fpm-memory-unbounded", At::Ini, "memory_limit = -1")
        },
        Case {
            fpm: POOL_NO_CHILDREN,
            args: &["--host-memory", "2G"],
            ..case(
                "fpm-memory-exceeds-host",
                At::Fpm,
                "pm.max_children = 50",
            )
        },
        Case {
            fpm: POOL,
            ..case("fpm-listen-backlog-low", At::Fpm, "listen.backlog = 16")
        },
        Case {
            fpm: POOL,
            ..case("fpm-max-requests-unset", At::Fpm, "")
        },
        Case {
            fpm: POOL,
            ..case("fpm-slowlog-off", At::Fpm, "")
        },
        Case {
            fpm: "[global]\nerror_log = @DIR@/fpm.log\n[olfix]\nuser = nobody\ngroup = nogroup\n\
                  listen = @DIR@/php.sock\npm = static\npm.max_children = 2\n\
                  request_slowlog_timeout = 5s\n@FIX@\n",
            refused_before: true,
            ..case(
                "fpm-slowlog-dir-missing",
                At::Fpm,
                "slowlog = /nonexistent/originlens/$pool.slow.log",
            )
        },
        Case {
            apache: APACHE,
            ..case("apache-timeout-beyond-edge", At::Apache, "Timeout 300")
        },
        Case {
            apache: APACHE,
            ..case(
                "apache-proxy-timeout-beyond-edge",
                At::Apache,
                "ProxyTimeout 600",
            )
        },
        Case {
            apache: APACHE,
            ..case(
                "apache-keepalive-timeout-short",
                At::Apache,
                "KeepAliveTimeout 5",
            )
        },
        Case {
            apache: APACHE,
            ..case("apache-server-tokens", At::Apache, "ServerTokens OS")
        },
    ]
}

/// A program from the Debian packages; its absence fails the test with the way to install it.
fn program(names: &[&str]) -> PathBuf {
    for name in names {
        for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/sbin"] {
            let path = Path::new(dir).join(name);
            if path.is_file() {
                return path;
            }
        }
    }
    panic!(
        "none of {names:?} is installed; the fix test needs the real program: run \
         `bash scripts/setup-debian.sh` (nginx, php-fpm, apache2-bin from Debian)"
    );
}

struct Out {
    ok: bool,
    text: String,
}

fn run(cmd: &mut Command) -> Out {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Out {
        ok: out.status.success(),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The files of one case, written to `dir`.
struct Files {
    nginx: Option<PathBuf>,
    fpm: Option<PathBuf>,
    ini: Option<PathBuf>,
    apache: Option<PathBuf>,
}

fn write(dir: &Path, case: &Case, fix: &str) -> Files {
    let fill = |text: &str, here: At| {
        let text = if case.at == here {
            text.replace("@FIX@", fix)
        } else {
            text.to_string()
        };
        text.replace("@DIR@", &dir.display().to_string())
    };
    let put = |name: &str, text: &str, here: At| {
        (!text.is_empty()).then(|| {
            let path = dir.join(name);
            fs::write(&path, fill(text, here)).unwrap();
            path
        })
    };
    Files {
        nginx: put("nginx.conf", case.nginx, At::Nginx),
        fpm: put("www.conf", case.fpm, At::Fpm),
        // Beside the pool, where lint looks for it.
        ini: put("php.ini", case.ini, At::Ini),
        apache: put("httpd.conf", case.apache, At::Apache),
    }
}

/// What the real programs say: `Err(output)` when one refuses the configuration.
fn real_verdict(dir: &Path, files: &Files) -> Result<(), String> {
    if let Some(conf) = &files.nginx {
        let nginx = program(&["nginx"]);
        let globals = format!(
            "pid {0}/nginx.pid; error_log {0}/nginx-error.log;",
            dir.display()
        );
        let out = run(Command::new(nginx)
            .arg("-t")
            .arg("-p")
            .arg(format!("{}/", dir.display()))
            .arg("-c")
            .arg(conf)
            .args(["-g", &globals]));
        if !out.ok {
            return Err(out.text);
        }
    }
    if let Some(pool) = &files.fpm {
        let php_fpm = program(&["php-fpm8.2", "php-fpm8.3", "php-fpm8.4", "php-fpm"]);
        let mut cmd = Command::new(php_fpm);
        cmd.arg("-t")
            .arg("-p")
            .arg(format!("{}/", dir.display()))
            .arg("-y")
            .arg(pool);
        match &files.ini {
            Some(ini) => cmd.arg("-c").arg(ini),
            None => cmd.arg("-n"),
        };
        let out = run(&mut cmd);
        // PHP reports a php.ini it cannot parse and goes on without it: that is a failure too.
        if !out.ok || !out.text.contains("test is successful") || out.text.contains("PHP:  ") {
            return Err(out.text);
        }
    }
    if let Some(conf) = &files.apache {
        let apache = program(&["apache2", "httpd"]);
        let out = run(Command::new(apache).arg("-t").arg("-f").arg(conf));
        if !out.ok || !out.text.contains("Syntax OK") {
            return Err(out.text);
        }
    }
    Ok(())
}

/// `originlens lint --format json`: the findings of `rule` (their fixes), or the load errors.
fn lint(files: &Files, case: &Case) -> Result<Vec<String>, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_originlens"));
    cmd.arg("lint").args(["--format", "json"]).args(case.args);
    for path in [&files.nginx, &files.fpm, &files.apache]
        .into_iter()
        .flatten()
    {
        cmd.arg(path);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut fixes = Vec::new();
    for line in stdout.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str() {
            Some("error") => return Err(line.to_string()),
            Some("finding") if v["data"]["rule"] == case.rule => {
                fixes.push(v["data"]["fix"].as_str().unwrap().to_string())
            }
            _ => {}
        }
    }
    Ok(fixes)
}

/// A snippet that is a command (`# envsubst ... < nginx.conf.template > nginx.conf`): run on the
/// unfixed configuration saved as the template, with the variable set.
fn run_template_command(dir: &Path, case: &Case, fix: &str) -> Option<Result<(), String>> {
    let command = fix
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .find(|l| l.starts_with("envsubst "))?;
    let template = case
        .nginx
        .replace("@FIX@", case.bad)
        .replace("@DIR@", &dir.display().to_string());
    fs::write(dir.join("nginx.conf.template"), template).unwrap();
    let out = run(Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("RESOLVER", "127.0.0.1"));
    Some(if out.ok { Ok(()) } else { Err(out.text) })
}

#[test]
fn every_fix_applied_as_written_is_accepted_and_clears_its_rule() {
    // php-fpm -t opens the slow log the catalogue's fix names (/var/log/$pool.slow.log).
    let slowlog = Path::new("/var/log/olfix.slow.log");
    let slowlog_existed = slowlog.exists();
    let mut problems = Vec::new();
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        let before = write(dir.path(), &case, case.bad);
        let finding_fixes = match lint(&before, &case) {
            Ok(fixes) if !fixes.is_empty() => fixes,
            Ok(_) => {
                problems.push(format!("{}: the sample does not make it fire", case.rule));
                continue;
            }
            Err(e) => {
                problems.push(format!("{}: the sample does not load: {e}", case.rule));
                continue;
            }
        };
        let real_before = real_verdict(dir.path(), &before);
        if case.refused_before != real_before.is_err() {
            problems.push(format!(
                "{}: before the fix the real program {}: {real_before:?}",
                case.rule,
                if case.refused_before {
                    "accepts it, expected a refusal"
                } else {
                    "refuses it"
                }
            ));
        }
        let rule = catalog::by_id(case.rule).unwrap();
        let mut fixes: Vec<(&str, String)> = Vec::new();
        if case.catalog {
            fixes.push(("catalogue", rule.fix.to_string()));
        }
        for fix in finding_fixes {
            if !fixes.iter().any(|(_, f)| *f == fix) {
                fixes.push(("finding", fix));
            }
        }
        for (which, fix) in fixes {
            let dir = tempfile::tempdir().unwrap();
            let after = write(dir.path(), &case, &fix);
            let what = format!(
                "{} ({which} fix {fix:?}, replacing {:?})",
                case.rule, case.bad
            );
            if let Some(Err(e)) = run_template_command(dir.path(), &case, &fix) {
                problems.push(format!("{what}: the command fails: {e}"));
                continue;
            }
            if let Err(e) = real_verdict(dir.path(), &after) {
                problems.push(format!("{what}: the real program refuses it:\n{e}"));
            }
            match lint(&after, &case) {
                Ok(left) if left.is_empty() => {}
                Ok(_) => problems.push(format!("{what}: lint still reports the rule")),
                Err(e) => problems.push(format!("{what}: lint cannot load it: {e}")),
            }
        }
    }
    if !slowlog_existed {
        let _ = fs::remove_file(slowlog);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_rule_with_a_fix_has_a_case() {
    let cases = cases();
    let missing: Vec<&str> = catalog::ALL
        .iter()
        .filter(|rule| !rule.fix.trim().is_empty())
        .filter(|rule| !cases.iter().any(|c| c.rule == rule.id))
        .map(|rule| rule.id)
        .collect();
    assert!(missing.is_empty(), "rules without a fix case: {missing:?}");
    assert!(catalog::ALL.iter().all(|rule| !rule.fix.trim().is_empty()));
}
