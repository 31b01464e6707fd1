//! `originlens lint` against `nginx -t` over the agreement corpus
//! (`crates/lint/tests/agreement/nginx.cases`): 134 configurations, valid and broken (unknown
//! directives, modules not loaded, wrong blocks, argument counts, values, duplicates), each run
//! through Debian's nginx 1.22 from a temporary prefix and through the binary. Both must accept
//! or both reject, on the same file and line, with nginx's own words.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The whole corpus must stay well under a minute.
const BUDGET: Duration = Duration::from_secs(90);
/// Dynamic modules some cases load, with the package that ships each.
const MODULES: &[(&str, &str)] = &[
    ("ngx_stream_module.so", "libnginx-mod-stream"),
    ("ngx_mail_module.so", "libnginx-mod-mail"),
    (
        "ngx_http_headers_more_filter_module.so",
        "libnginx-mod-http-headers-more-filter",
    ),
];

struct Case {
    name: String,
    expect: String,
    files: Vec<(String, String)>,
}

fn cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lint/tests/agreement/nginx.cases");
    let text = fs::read_to_string(&path).unwrap();
    let mut out: Vec<Case> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("=== ") {
            out.push(Case {
                name: name.trim().to_string(),
                expect: String::new(),
                files: Vec::new(),
            });
            continue;
        }
        let Some(case) = out.last_mut() else {
            continue;
        };
        if let Some(expect) = line.strip_prefix("# expect: ") {
            if case.files.is_empty() {
                case.expect = expect.trim().to_string();
                continue;
            }
        }
        if let Some(file) = line.strip_prefix("--- ") {
            case.files.push((file.trim().to_string(), String::new()));
        } else if let Some((_, body)) = case.files.last_mut() {
            body.push_str(line);
        }
    }
    out
}

/// A finished process.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Run {
    cmd.stdin(Stdio::null());
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    // Outputs are a few lines: wait_with_output cannot block on a full pipe here, and a hung
    // child is caught by the corpus budget below.
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "{cmd:?} hung");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn nginx() -> PathBuf {
    let path = PathBuf::from("/usr/sbin/nginx");
    assert!(
        path.is_file(),
        "nginx is not installed: run `bash scripts/setup-debian.sh`"
    );
    for (file, package) in MODULES {
        assert!(
            Path::new("/usr/lib/nginx/modules").join(file).is_file(),
            "{file} is missing: `apt-get install {package}` (scripts/setup-debian.sh installs it)"
        );
    }
    path
}

/// `accept`, or `reject FILE:LINE MESSAGE` (`-` for a message without a place), relative to `dir`.
fn nginx_verdict(out: &Run, dir: &Path) -> String {
    if out.code == Some(0) {
        return "accept".into();
    }
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("[emerg]"))
        .unwrap_or_else(|| panic!("nginx failed without [emerg]: {}", out.stderr));
    let after = line.split_once("[emerg] ").map_or(line, |(_, a)| a);
    let message = after.split_once(": ").map_or(after, |(_, m)| m);
    match message.rsplit_once(" in ") {
        Some((msg, place)) if place.contains(':') => {
            let (file, line) = place.rsplit_once(':').unwrap();
            let file = Path::new(file).strip_prefix(dir).unwrap_or(Path::new(file));
            format!("reject {}:{line} {msg}", file.display())
        }
        _ => format!("reject - {message}"),
    }
}

/// The first load error of `originlens lint --format json`, in the same shape; ours may add a
/// parenthesis after nginx's words (the module to load), which is cut before comparing.
fn our_verdict(out: &Run, dir: &Path) -> String {
    let mut first = None;
    for line in out.stdout.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["type"] == "error" && first.is_none() {
            first = Some(v["data"].clone());
        }
    }
    let Some(d) = first else {
        assert!(
            matches!(out.code, Some(0 | 1)),
            "no error but exit {:?}",
            out.code
        );
        return "accept".into();
    };
    assert_eq!(out.code, Some(2), "a load error exits 2: {}", out.stdout);
    let message = d["message"].as_str().unwrap();
    let message = message.split(" (").next().unwrap();
    match d["line"].as_u64() {
        Some(line) => {
            let file = d["file"].as_str().unwrap();
            let file = Path::new(file).strip_prefix(dir).unwrap_or(Path::new(file));
            format!("reject {}:{line} {message}", file.display())
        }
        None => format!("reject - {message}"),
    }
}

#[test]
fn lint_agrees_with_nginx_t_on_every_case() {
    let nginx = nginx();
    let cases = cases();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let accepted = cases.iter().filter(|c| c.expect == "accept").count();
    assert!(
        accepted >= 30 && cases.len() - accepted >= 60,
        "{accepted} valid cases"
    );
    let started = Instant::now();
    let mut problems = Vec::new();
    for case in &cases {
        let work = tempfile::tempdir().unwrap();
        let dir = fs::canonicalize(work.path()).unwrap();
        fs::create_dir_all(dir.join("logs")).unwrap();
        for (name, body) in &case.files {
            let path = dir.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, body).unwrap();
        }
        let conf = dir.join("nginx.conf");
        let globals = format!("pid {0}/nginx.pid; error_log {0}/error.log;", dir.display());
        let mut cmd = Command::new(&nginx);
        cmd.args(["-t", "-p", &format!("{}/", dir.display()), "-c"])
            .arg(&conf)
            .args(["-g", &globals]);
        let real = nginx_verdict(&run(cmd), &dir);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_originlens"));
        cmd.args(["lint", "--format", "json"]).arg(&conf);
        let ours = our_verdict(&run(cmd), &dir);
        if real != case.expect {
            problems.push(format!(
                "{}: the corpus says {:?}, nginx says {real:?}",
                case.name, case.expect
            ));
        }
        if ours != real {
            problems.push(format!(
                "{}: nginx says {real:?}, originlens {ours:?}",
                case.name
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases disagree:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
    assert!(started.elapsed() < BUDGET, "took {:?}", started.elapsed());
}

#[test]
fn a_module_that_is_not_loaded_is_named_with_its_package() {
    let work = tempfile::tempdir().unwrap();
    let conf = work.path().join("nginx.conf");
    fs::write(&conf, "events {}\nstream {\n}\n").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_originlens"));
    cmd.arg("lint").arg(&conf);
    let out = run(cmd);
    assert_eq!(out.code, Some(2));
    let expected = format!(
        "{}:2:1: error: unknown directive \"stream\" (module ngx_stream_module is not loaded: \
         load_module modules/ngx_stream_module.so; Debian: apt install libnginx-mod-stream)",
        conf.display()
    );
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
}
