//! Every rule, both ways: a configuration that makes it fire and a near-identical one that does
//! not. A rule added to the catalogue without a case here fails `every_rule_has_cases`.

use std::path::PathBuf;

use originlens_lint::rules::{catalog, Options};
use originlens_lint::{lint, LoadOptions};

/// One case: the rule, the nginx and PHP-FPM text, the options.
struct Case {
    rule: &'static str,
    fires: (&'static str, &'static str),
    quiet: (&'static str, &'static str),
    options: Options,
}

fn opts() -> Options {
    Options::default()
}

fn with_head(bytes: u64) -> Options {
    Options {
        head_bytes: Some(bytes),
        ..Options::default()
    }
}

fn with_memory(bytes: u64) -> Options {
    Options {
        host_memory: Some(bytes),
        ..Options::default()
    }
}

/// An nginx site around `location`'s body.
macro_rules! site {
    ($http:literal, $server:literal, $location:literal) => {
        concat!(
            "events {}\nhttp {\n",
            $http,
            "\n server {\n  listen 8080;\n",
            $server,
            "\n  location / {\n",
            $location,
            "\n  }\n }\n}\n"
        )
    };
}

const POOL: &str =
    "[www]\nuser = www-data\nlisten = /run/php/www.sock\npm = static\npm.max_children = 4\n";

fn cases() -> Vec<Case> {
    vec![
        Case {
            rule: "nginx-head-buffer-too-small",
            fires: (site!("", "", "proxy_pass http://127.0.0.1:3000;"), ""),
            quiet: (
                site!(
                    "",
                    "",
                    "proxy_buffer_size 16k; proxy_buffers 8 16k; proxy_pass http://127.0.0.1:3000;"
                ),
                "",
            ),
            options: with_head(14238),
        },
        Case {
            rule: "nginx-head-buffer-below-budget",
            fires: (site!("", "", "fastcgi_pass 127.0.0.1:9000;"), ""),
            quiet: (
                site!(
                    "fastcgi_buffer_size 16k; fastcgi_buffers 8 16k;",
                    "",
                    "fastcgi_pass 127.0.0.1:9000;"
                ),
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "nginx-busy-buffers-invalid",
            fires: (site!("proxy_buffer_size 32k;", "", "return 200;"), ""),
            quiet: (
                site!(
                    "proxy_buffer_size 32k; proxy_buffers 8 32k;",
                    "",
                    "return 200;"
                ),
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "nginx-read-timeout-beyond-edge",
            fires: (
                site!(
                    "",
                    "",
                    "proxy_read_timeout 300s; proxy_pass http://127.0.0.1:3000;"
                ),
                "",
            ),
            quiet: (
                site!(
                    "",
                    "",
                    "proxy_read_timeout 100s; proxy_pass http://127.0.0.1:3000;"
                ),
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "nginx-read-timeout-short",
            fires: (
                site!(
                    "proxy_read_timeout 3s;",
                    "",
                    "proxy_pass http://127.0.0.1:3000;"
                ),
                "",
            ),
            quiet: (
                site!(
                    "proxy_read_timeout 3s;",
                    "",
                    "proxy_read_timeout 30s; proxy_pass http://127.0.0.1:3000;"
                ),
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "nginx-fastcgi-timeout-before-fpm",
            fires: (
                site!("", "", "fastcgi_pass unix:/run/php/www.sock;"),
                "[www]\nlisten = /run/php/www.sock\nrequest_terminate_timeout = 90s\n",
            ),
            quiet: (
                site!(
                    "",
                    "",
                    "fastcgi_read_timeout 100s; fastcgi_pass unix:/run/php/www.sock;"
                ),
                "[www]\nlisten = /run/php/www.sock\nrequest_terminate_timeout = 90s\n",
            ),
            options: opts(),
        },
        Case {
            rule: "nginx-keepalive-timeout-short",
            fires: (site!("", "", "return 200;"), ""),
            quiet: (site!("keepalive_timeout 905s;", "", "return 200;"), ""),
            options: opts(),
        },
        Case {
            rule: "nginx-keepalive-timeout-below-edge-pool",
            fires: (site!("keepalive_timeout 600s;", "", "return 200;"), ""),
            quiet: (site!("keepalive_timeout 905s;", "", "return 200;"), ""),
            options: opts(),
        },
        Case {
            rule: "nginx-worker-connections-low",
            fires: (
                "events { worker_connections 16; }\nhttp { server { listen 8080; } }\n",
                "",
            ),
            quiet: (
                "events { worker_connections 1024; }\nhttp { server { listen 8080; } }\n",
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "nginx-client-timeout-short",
            fires: (site!("send_timeout 2s;", "", "return 200;"), ""),
            quiet: (site!("send_timeout 30s;", "", "return 200;"), ""),
            options: opts(),
        },
        Case {
            rule: "nginx-unfilled-placeholder",
            fires: (site!("", "", "proxy_pass http://${BACKEND};"), ""),
            quiet: (site!("", "", "proxy_pass http://$host;"), ""),
            options: opts(),
        },
        Case {
            rule: "nginx-keepalive-requests-low",
            fires: (site!("", "keepalive_requests 100;", "return 200;"), ""),
            quiet: (site!("", "keepalive_requests 10000;", "return 200;"), ""),
            options: opts(),
        },
        Case {
            rule: "nginx-upstream-keepalive-unused",
            fires: (
                site!(
                    "upstream app { server 127.0.0.1:3000; keepalive 8; }",
                    "",
                    "proxy_pass http://app;"
                ),
                "",
            ),
            quiet: (
                site!(
                    "upstream app { server 127.0.0.1:3000; keepalive 8; }",
                    "proxy_http_version 1.1; proxy_set_header Connection \"\";",
                    "proxy_pass http://app;"
                ),
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "nginx-return-444",
            fires: (site!("", "", "return 444;"), ""),
            quiet: (site!("", "", "return 403;"), ""),
            options: opts(),
        },
        Case {
            rule: "nginx-deny-edge",
            fires: (site!("", "", "allow 203.0.113.7; deny all;"), ""),
            quiet: (
                site!(
                    "set_real_ip_from 0.0.0.0/0; real_ip_header CF-Connecting-IP;",
                    "",
                    "allow 203.0.113.7; deny all;"
                ),
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "nginx-h2-header-limit-small",
            fires: (site!("", "listen 8443 http2;", "return 200;"), ""),
            quiet: (
                site!(
                    "large_client_header_buffers 4 32k;",
                    "listen 8443 http2;",
                    "return 200;"
                ),
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "nginx-server-tokens",
            fires: (site!("", "", "return 200;"), ""),
            quiet: (site!("server_tokens off;", "", "return 200;"), ""),
            options: opts(),
        },
        Case {
            rule: "nginx-x-powered-by",
            fires: (
                site!(
                    "proxy_hide_header X-Powered-By;",
                    "",
                    "proxy_hide_header X-Debug; proxy_pass http://127.0.0.1:3000;"
                ),
                "",
            ),
            quiet: (
                site!(
                    "proxy_hide_header X-Powered-By;",
                    "",
                    "proxy_pass http://127.0.0.1:3000;"
                ),
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "nginx-error-log-hides-evidence",
            fires: (
                site!("error_log logs/error.log crit;", "", "return 200;"),
                "",
            ),
            quiet: (
                site!("error_log logs/error.log error;", "", "return 200;"),
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "fpm-terminate-timeout-unset",
            fires: ("", POOL),
            quiet: ("", "[www]\nrequest_terminate_timeout = 60s\n"),
            options: opts(),
        },
        Case {
            rule: "fpm-terminate-timeout-beyond-edge",
            fires: ("", "[www]\nrequest_terminate_timeout = 5m\n"),
            quiet: ("", "[www]\nrequest_terminate_timeout = 100s\n"),
            options: opts(),
        },
        Case {
            rule: "fpm-terminate-before-php-limit",
            fires: (
                "",
                "[www]\nrequest_terminate_timeout = 30\nphp_admin_value[max_execution_time] = 60\n",
            ),
            quiet: (
                "",
                "[www]\nrequest_terminate_timeout = 90\nphp_admin_value[max_execution_time] = 60\n",
            ),
            options: opts(),
        },
        Case {
            rule: "fpm-php-time-limit-beyond-edge",
            fires: ("", "[www]\nphp_admin_value[max_execution_time] = 300\n"),
            quiet: (
                "",
                "[www]\nphp_admin_value[max_execution_time] = 300\nrequest_terminate_timeout = 90s\n",
            ),
            options: opts(),
        },
        Case {
            rule: "fpm-catch-workers-output-off",
            fires: ("", "[www]\ncatch_workers_output = no\n"),
            quiet: ("", "[www]\ncatch_workers_output = yes\n"),
            options: opts(),
        },
        Case {
            rule: "fpm-memory-unbounded",
            fires: ("", "[www]\nphp_admin_value[memory_limit] = -1\n"),
            quiet: ("", "[www]\nphp_admin_value[memory_limit] = 512M\n"),
            options: opts(),
        },
        Case {
            rule: "fpm-memory-exceeds-host",
            fires: (
                "",
                "[www]\npm.max_children = 40\nphp_admin_value[memory_limit] = 256M\n",
            ),
            quiet: (
                "",
                "[www]\npm.max_children = 10\nphp_admin_value[memory_limit] = 256M\n",
            ),
            options: with_memory(4 << 30),
        },
        Case {
            rule: "fpm-listen-backlog-low",
            fires: ("", "[www]\nlisten.backlog = 16\n"),
            quiet: ("", "[www]\nlisten.backlog = 511\n"),
            options: opts(),
        },
        Case {
            rule: "fpm-max-requests-unset",
            fires: ("", "[www]\npm.max_requests = 0\n"),
            quiet: ("", "[www]\npm.max_requests = 500\n"),
            options: opts(),
        },
        Case {
            rule: "fpm-slowlog-off",
            fires: ("", "[www]\nrequest_slowlog_timeout = 0\n"),
            quiet: (
                "",
                "[www]\nrequest_slowlog_timeout = 5s\nslowlog = /tmp/slow.log\n",
            ),
            options: opts(),
        },
        Case {
            rule: "fpm-slowlog-dir-missing",
            fires: (
                "",
                "[www]\nrequest_slowlog_timeout = 5s\nslowlog = /nonexistent/originlens/$pool.slow\n",
            ),
            quiet: (
                "",
                "[www]\nrequest_slowlog_timeout = 5s\nslowlog = /tmp/$pool.slow\n",
            ),
            options: opts(),
        },
        Case {
            rule: "apache-timeout-beyond-edge",
            fires: ("Timeout 300\n", ""),
            quiet: ("Timeout 60\n", ""),
            options: opts(),
        },
        Case {
            rule: "apache-proxy-timeout-beyond-edge",
            fires: (
                "Timeout 60\nProxyTimeout 600\nProxyPass / http://127.0.0.1:3000/\n",
                "",
            ),
            quiet: (
                "Timeout 60\nProxyTimeout 100\nProxyPass / http://127.0.0.1:3000/\n",
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "apache-keepalive-timeout-short",
            fires: (
                "ServerName a\n<VirtualHost *:80>\n  KeepAliveTimeout 5\n</VirtualHost>\n",
                "",
            ),
            quiet: (
                "ServerName a\nKeepAliveTimeout 905\n<VirtualHost *:80>\n</VirtualHost>\n",
                "",
            ),
            options: opts(),
        },
        Case {
            rule: "apache-server-tokens",
            fires: ("ServerTokens OS\n", ""),
            quiet: ("ServerTokens Prod\n", ""),
            options: opts(),
        },
    ]
}

/// Lints the given nginx (or Apache) and PHP-FPM texts (either may be empty) and returns the
/// rule ids; the language of the first is guessed from its contents.
fn fired(nginx: &str, fpm: &str, options: &Options) -> Vec<&'static str> {
    let dir = tempfile::tempdir().unwrap();
    let mut paths: Vec<PathBuf> = Vec::new();
    if !nginx.is_empty() {
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, nginx).unwrap();
        paths.push(path);
    }
    if !fpm.is_empty() {
        let path = dir.path().join("www.conf");
        std::fs::write(&path, fpm).unwrap();
        paths.push(path);
    }
    let report = lint(&paths, &LoadOptions::default(), options);
    assert!(report.errors.is_empty(), "load errors: {:?}", report.errors);
    report.findings.iter().map(|f| f.rule.id).collect()
}

#[test]
fn each_rule_fires_and_stays_quiet() {
    let mut failures = Vec::new();
    for case in cases() {
        let on = fired(case.fires.0, case.fires.1, &case.options);
        if !on.contains(&case.rule) {
            failures.push(format!("{} did not fire; got {on:?}", case.rule));
        }
        let off = fired(case.quiet.0, case.quiet.1, &case.options);
        if off.contains(&case.rule) {
            failures.push(format!("{} fired on the quiet case", case.rule));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_cases() {
    let cases = cases();
    for rule in catalog::ALL {
        assert!(
            cases.iter().any(|c| c.rule == rule.id),
            "rule {} has no fire/quiet case",
            rule.id
        );
    }
}

#[test]
fn findings_point_at_the_directive_in_effect() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nginx.conf");
    std::fs::write(
        &path,
        "events {}\nhttp {\n  proxy_read_timeout 300s;\n  server {\n    location / { proxy_pass http://127.0.0.1:1; }\n  }\n}\n",
    )
    .unwrap();
    let report = lint(&[path], &LoadOptions::default(), &Options::default());
    let f = report
        .findings
        .iter()
        .find(|f| f.rule.id == "nginx-read-timeout-beyond-edge")
        .expect("the inherited timeout is judged in the location");
    assert_eq!((f.span.line, f.span.col), (3, 3));
}

#[test]
fn a_parse_failure_is_an_error_not_an_empty_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, "http {\n  server {\n}\n").unwrap();
    let report = lint(&[path], &LoadOptions::default(), &Options::default());
    assert_eq!(report.errors.len(), 1);
    let span = report.errors[0].span.as_ref().unwrap();
    assert_eq!(span.line, 4);
    assert!(report.errors[0].message.contains("unexpected end of file"));
}

#[test]
fn ids_are_unique_and_documented_in_the_readme() {
    let readme = include_str!("../README.md");
    let mut seen = std::collections::HashSet::new();
    for rule in catalog::ALL {
        assert!(seen.insert(rule.id), "duplicate id {}", rule.id);
        assert!(
            readme.contains(&format!("`{}`", rule.id)),
            "README lacks {}",
            rule.id
        );
    }
}

fn lint_text(nginx: &str) -> originlens_lint::Report {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, nginx).unwrap();
    let report = lint(&[path], &LoadOptions::default(), &Options::default());
    assert!(report.errors.is_empty(), "load errors: {:?}", report.errors);
    report
}

#[test]
fn http_rules_never_fire_in_stream_or_mail() {
    let report = lint_text(
        "load_module modules/ngx_stream_module.so;\nload_module modules/ngx_mail_module.so;\n\
         events {}\nstream {\n upstream db { server 127.0.0.1:3307; }\n server {\n  \
         listen 3306;\n  proxy_pass db;\n  proxy_timeout 10m;\n  proxy_buffer_size 1k;\n }\n \
         server {\n  listen 9999;\n  return 444;\n }\n}\nmail {\n auth_http 127.0.0.1:9000/auth;\n \
         server {\n  listen 2525;\n  protocol smtp;\n  proxy_pass_error_message on;\n  \
         timeout 10m;\n }\n}\n",
    );
    let ids: Vec<&str> = report.findings.iter().map(|f| f.rule.id).collect();
    assert!(ids.is_empty(), "{ids:?}");
}

#[test]
fn keepalive_timeout_is_one_finding_per_configuration() {
    let report = lint_text(
        "events {}\nhttp {\n server { listen 8001; keepalive_timeout 65s; }\n \
         server { listen 8002; keepalive_timeout 30s; }\n server { listen 8003; }\n}\n",
    );
    let found: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule.id.starts_with("nginx-keepalive-timeout"))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule.id, "nginx-keepalive-timeout-short");
    assert_eq!(found[0].span.line, 4, "the shortest one is named");
    assert!(
        found[0].message.contains("3 servers"),
        "{}",
        found[0].message
    );
    assert_eq!(found[0].rule.severity, originlens_lint::Severity::Warning);

    let long =
        lint_text("events {}\nhttp {\n keepalive_timeout 300s;\n server { listen 8001; }\n}\n");
    let ids: Vec<_> = long
        .findings
        .iter()
        .map(|f| (f.rule.id, f.rule.severity))
        .collect();
    assert!(
        ids.contains(&(
            "nginx-keepalive-timeout-below-edge-pool",
            originlens_lint::Severity::Info
        )),
        "{ids:?}"
    );
}

#[test]
fn read_timeouts_are_flagged_from_120_s_citing_the_profile() {
    let at = |t: &str| {
        lint_text(&format!(
            "events {{}}\nhttp {{\n server {{\n  listen 8080;\n  location / {{\n   \
             fastcgi_read_timeout {t};\n   fastcgi_pass 127.0.0.1:9000;\n  }}\n }}\n}}\n"
        ))
        .findings
        .into_iter()
        .find(|f| f.rule.id == "nginx-read-timeout-beyond-edge")
    };
    let flagged = at("120s").expect("120 s is flagged");
    assert!(
        flagged
            .message
            .contains("cloudflare profile's proxy read timeout, 125 s"),
        "{}",
        flagged.message
    );
    assert!(at("2m").is_some());
    assert!(at("119s").is_none());
    // The suggested value does not trip the rule again.
    let fix = flagged.fix().to_string();
    let value = fix.split_whitespace().nth(1).unwrap().trim_end_matches(';');
    assert!(at(value).is_none(), "the fix {fix:?} is flagged again");
}

#[test]
fn header_hygiene_is_info_counting_bytes() {
    let report = lint_text("events {}\nhttp {\n server { listen 8001; }\n}\n");
    let tokens = report
        .findings
        .iter()
        .find(|f| f.rule.id == "nginx-server-tokens")
        .unwrap();
    assert_eq!(tokens.rule.severity, originlens_lint::Severity::Info);
    assert!(tokens.message.contains("7 bytes"), "{}", tokens.message);
    assert!(
        tokens.message.contains("16 KB head budget"),
        "{}",
        tokens.message
    );
    assert!(
        !tokens.rule.visitor.contains("520"),
        "{}",
        tokens.rule.visitor
    );
}

/// Debian's layout in a temporary directory: `fpm/php.ini` beside `fpm/pool.d/www.conf`.
fn fpm_layout(ini: &str, pool: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let fpm = dir.path().join("fpm");
    std::fs::create_dir_all(fpm.join("pool.d")).unwrap();
    let ini_path = fpm.join("php.ini");
    std::fs::write(&ini_path, ini).unwrap();
    let pool_path = fpm.join("pool.d/www.conf");
    std::fs::write(&pool_path, pool).unwrap();
    (dir, ini_path, pool_path)
}

fn finding<'r>(
    report: &'r originlens_lint::Report,
    id: &str,
) -> Option<&'r originlens_lint::Finding> {
    report.findings.iter().find(|f| f.rule.id == id)
}

#[test]
fn php_ini_beside_the_pool_is_read_and_findings_point_into_it() {
    let ini = "[PHP]\nengine = On\n; limits\nmax_execution_time = 30\n  memory_limit = -1\n";
    let pool = "[www]\nuser = www-data\nlisten = /run/php/www.sock\npm = static\n\
                pm.max_children = 4\nrequest_terminate_timeout = 30s\n";
    let (_dir, ini_path, pool_path) = fpm_layout(ini, pool);
    let report = lint(
        std::slice::from_ref(&pool_path),
        &LoadOptions::default(),
        &Options::default(),
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report
        .files
        .iter()
        .any(|(f, k)| { **f == *ini_path && *k == originlens_lint::ConfigKind::PhpIni }));
    let unbounded = finding(&report, "fpm-memory-unbounded").expect("memory_limit -1 in php.ini");
    assert_eq!(
        (
            &*unbounded.span.file,
            unbounded.span.line,
            unbounded.span.col
        ),
        (ini_path.as_path(), 5, 3)
    );
    // The fix is written for the file it points into.
    assert_eq!(unbounded.fix(), "memory_limit = 256M");
    let order = finding(&report, "fpm-terminate-before-php-limit")
        .expect("request_terminate_timeout 30s is not above php.ini's 30 s");
    assert_eq!(
        (&*order.span.file, order.span.line),
        (ini_path.as_path(), 4)
    );
    assert!(order.message.contains("www.conf:6"), "{}", order.message);
    assert_eq!(order.fix(), "max_execution_time = 20");

    // The pool's php_admin_value / php_value override php.ini.
    let pool =
        format!("{pool}php_admin_value[memory_limit] = 256M\nphp_value[max_execution_time] = 20\n");
    let (_dir, _, pool_path) = fpm_layout(ini, &pool);
    let report = lint(&[pool_path], &LoadOptions::default(), &Options::default());
    assert!(finding(&report, "fpm-memory-unbounded").is_none());
    assert!(finding(&report, "fpm-terminate-before-php-limit").is_none());
}

#[test]
fn php_ini_time_limit_against_the_edge_and_nginx() {
    let ini = "[PHP]\nmax_execution_time = 300\nmemory_limit = 128M\n";
    let pool =
        "[www]\nuser = www-data\nlisten = /run/php/www.sock\npm = static\npm.max_children = 4\n";
    let (dir, ini_path, pool_path) = fpm_layout(ini, pool);
    let nginx = dir.path().join("nginx.conf");
    std::fs::write(
        &nginx,
        "events {}\nhttp {\n server {\n  listen 8080;\n  location / {\n   \
         fastcgi_pass unix:/run/php/www.sock;\n   fastcgi_read_timeout 100s;\n  }\n }\n}\n",
    )
    .unwrap();
    let report = lint(
        &[nginx, pool_path],
        &LoadOptions::default(),
        &Options::default(),
    );
    let beyond = finding(&report, "fpm-php-time-limit-beyond-edge").expect("300 s > the edge");
    assert_eq!(
        (&*beyond.span.file, beyond.span.line, beyond.span.col),
        (ini_path.as_path(), 2, 1)
    );
    assert!(beyond.message.contains("125 s"), "{}", beyond.message);
    assert_eq!(beyond.fix(), "max_execution_time = 60");
    // nginx gives up at 100 s while PHP may run 300 s.
    let nginx_first =
        finding(&report, "nginx-fastcgi-timeout-before-fpm").expect("nginx 504s first");
    assert!(
        nginx_first
            .message
            .contains(&format!("max_execution_time, {}:2:1", ini_path.display())),
        "{}",
        nginx_first.message
    );
}

#[test]
fn php_ini_from_the_flag_or_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let ini_path = dir.path().join("custom.ini");
    std::fs::write(&ini_path, "memory_limit=-1\nmax_execution_time = 600\n").unwrap();
    let pool_path = dir.path().join("www.conf");
    std::fs::write(&pool_path, "[www]\nrequest_terminate_timeout = 60s\n").unwrap();
    let load = LoadOptions {
        php_ini: Some(ini_path.clone()),
        ..LoadOptions::default()
    };
    let report = lint(std::slice::from_ref(&pool_path), &load, &Options::default());
    let f = finding(&report, "fpm-memory-unbounded").expect("--php-ini is read");
    assert_eq!((&*f.span.file, f.span.line), (ini_path.as_path(), 1));
    // Without the flag nothing is beside this pool.
    let report = lint(&[pool_path], &LoadOptions::default(), &Options::default());
    assert!(finding(&report, "fpm-memory-unbounded").is_none());
    // php.ini named alone is judged on its own.
    let report = lint(
        std::slice::from_ref(&ini_path),
        &LoadOptions::default(),
        &Options::default(),
    );
    let ids: Vec<_> = report.findings.iter().map(|f| f.rule.id).collect();
    assert_eq!(
        ids,
        ["fpm-memory-unbounded", "fpm-php-time-limit-beyond-edge"]
    );
}

#[test]
fn php_ini_syntax_error_is_a_load_error_with_its_place() {
    let (_dir, ini_path, pool_path) = fpm_layout(
        "[PHP]\nmemory_limit = 256M\nmax_execution_time = 30 = 60\n",
        "[www]\nuser = www-data\n",
    );
    let report = lint(&[pool_path], &LoadOptions::default(), &Options::default());
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let err = &report.errors[0];
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3:25: syntax error, unexpected '=': PHP does not apply this file as written",
            ini_path.display()
        )
    );
}

#[test]
fn realip_must_trust_every_edge_range_the_list_refuses() {
    let with = |realip: &str| {
        lint_text(&format!(
            "events {{}}\nhttp {{\n {realip}\n server {{\n  listen 8080;\n  location / {{\n   \
             allow 203.0.113.7;\n   deny all;\n  }}\n }}\n}}\n"
        ))
        .findings
        .into_iter()
        .find(|f| f.rule.id == "nginx-deny-edge")
    };
    // One range trusted: connections from the other 14 still carry the edge's address.
    let partial = with("set_real_ip_from 173.245.48.0/20; real_ip_header CF-Connecting-IP;")
        .expect("a partial realip list leaves edge ranges refused");
    assert!(
        partial.message.contains("103.21.244.0/22"),
        "{}",
        partial.message
    );
    assert!(
        !partial.message.contains("173.245.48.0/20"),
        "{}",
        partial.message
    );
    assert!(
        partial.message.contains("does not trust"),
        "{}",
        partial.message
    );
    // The catalogue's snippet lists every range, and pasted in it clears the rule.
    let fix = catalog::by_id("nginx-deny-edge").unwrap().fix;
    for range in originlens_lint::rules::CLOUDFLARE_IPV4 {
        assert!(
            fix.contains(&format!("set_real_ip_from {range};")),
            "{range}"
        );
    }
    assert!(with(fix).is_none());
    assert_eq!(partial.fix(), fix);
}
