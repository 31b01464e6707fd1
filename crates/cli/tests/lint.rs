//! `originlens lint` end to end: the real binary on real files, and the agreement of its parsers
//! with `nginx -t` and `php-fpm -t` over the corpus in `crates/lint/tests/corpus/`.
//!
//! Each corpus case's first lines state what the real program does with it:
//! - `expect: accept`: the program accepts it, so `originlens lint` must parse it (exit 0 or 1).
//! - `expect: syntax [FILE:]LINE MESSAGE`: the program rejects it for syntax at that place, so
//!   `originlens lint` must exit 2 naming the same file and line.
//!   Syntax here is everything nginx refuses while reading: the tokenizer's errors and those of
//!   its directive table (unknown directive, wrong block, argument count, value).
//! - `expect: semantic MESSAGE`: the program rejects it after reading (buffer sizes checked
//!   against each other); `originlens lint` either says the same on the same line or leaves it
//!   to the rules, which may flag it.
//! - `expect: module DIRECTIVE`: nginx rejects a directive of a module that is not loaded
//!   (embedded Lua without `load_module`); `originlens lint` must reject it on the same line and
//!   name the module.
//!
//! The statement is checked against the real program too, so a case cannot pass by describing the
//! wrong behaviour. `rules:` and `clean:` lines name rules that must and must not fire.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The whole corpus run must stay well under a minute.
const CORPUS_BUDGET: Duration = Duration::from_secs(60);
/// No single run of nginx, php-fpm or originlens should take this long.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(20);

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lint/tests/corpus")
}

/// What a finished process left behind.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with a time limit, output captured through files so a chatty child cannot block.
fn run(mut cmd: Command) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    cmd.stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PROCESS_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} ran longer than {PROCESS_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.code(),
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

fn originlens(args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_originlens"));
    cmd.arg("lint").args(args).env_remove("CLICOLOR_FORCE");
    run(cmd)
}

/// A program from the Debian packages; its absence fails the test with the way to install it.
fn program(names: &[&str]) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    for name in names {
        for dir in &dirs {
            let path = dir.join(name);
            if path.is_file() {
                return path;
            }
        }
    }
    panic!(
        "none of {names:?} is installed; the agreement test needs the real program: \
         run `bash scripts/setup-debian.sh` (installs nginx and php-fpm from Debian)"
    );
}

/// What a corpus case says about itself.
#[derive(Debug)]
enum Expect {
    Accept,
    Syntax {
        file: Option<String>,
        line: u32,
        message: String,
    },
    Semantic(String),
    Module(String),
}

#[derive(Debug)]
struct Header {
    expect: Expect,
    rules: Vec<String>,
    clean: Vec<String>,
}

fn header(path: &Path) -> Header {
    let text = fs::read_to_string(path).unwrap();
    let mut expect = None;
    let mut rules = Vec::new();
    let mut clean = Vec::new();
    for line in text.lines().take(5) {
        let Some(body) = line.strip_prefix("# ").or_else(|| line.strip_prefix("; ")) else {
            continue;
        };
        let body = body.trim_end_matches('\r');
        if let Some(rest) = body.strip_prefix("expect: ") {
            expect = Some(parse_expect(rest));
        } else if let Some(rest) = body.strip_prefix("rules: ") {
            rules.extend(rest.split_whitespace().map(String::from));
        } else if let Some(rest) = body.strip_prefix("clean: ") {
            clean.extend(rest.split_whitespace().map(String::from));
        }
    }
    Header {
        expect: expect.unwrap_or_else(|| panic!("{} has no `expect:` line", path.display())),
        rules,
        clean,
    }
}

fn parse_expect(text: &str) -> Expect {
    let (kind, rest) = text.split_once(' ').unwrap_or((text, ""));
    match kind {
        "accept" => Expect::Accept,
        "semantic" => Expect::Semantic(rest.to_string()),
        "module" => Expect::Module(rest.to_string()),
        "syntax" => {
            let (place, message) = rest.split_once(' ').unwrap_or((rest, ""));
            let (file, line) = match place.rsplit_once(':') {
                Some((file, line)) => (Some(file.to_string()), line),
                None => (None, place),
            };
            Expect::Syntax {
                file,
                line: line.parse().expect("syntax line number"),
                message: message.to_string(),
            }
        }
        other => panic!("unknown expectation `{other}`"),
    }
}

/// The real program's verdict: `None` when it accepted, else (message, file, line).
type Verdict = Option<(String, Option<String>, Option<u32>)>;

/// `nginx: [emerg] MESSAGE in FILE:LINE`.
fn nginx_verdict(out: &Run) -> Verdict {
    if out.code == Some(0) {
        return None;
    }
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("[emerg]"))
        .unwrap_or_else(|| panic!("nginx failed without [emerg]: {}", out.stderr));
    let after = line.split_once("[emerg] ").map_or(line, |(_, a)| a);
    let message = after.split_once(": ").map_or(after, |(_, m)| m);
    match message.rsplit_once(" in ") {
        Some((msg, place)) => {
            let (file, line) = place.rsplit_once(':').unwrap_or((place, ""));
            Some((msg.to_string(), Some(file.to_string()), line.parse().ok()))
        }
        None => Some((message.to_string(), None, None)),
    }
}

/// `originlens lint --format json`'s verdict and the rules that fired.
fn our_verdict(out: &Run) -> (Verdict, Vec<String>) {
    let mut error = None;
    let mut rules = Vec::new();
    for line in out.stdout.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        match v["type"].as_str() {
            Some("error") => {
                let d = &v["data"];
                error.get_or_insert((
                    d["message"].as_str().unwrap_or_default().to_string(),
                    d["file"].as_str().map(String::from),
                    d["line"].as_u64().map(|l| l as u32),
                ));
            }
            Some("finding") => rules.push(v["data"]["rule"].as_str().unwrap().to_string()),
            _ => {}
        }
    }
    let expected_code = if error.is_some() {
        2
    } else {
        out.code.unwrap_or(-1)
    };
    assert_eq!(out.code, Some(expected_code), "exit status: {}", out.stderr);
    (error, rules)
}

/// Checks one case; returns what disagrees.
fn judge(
    name: &str,
    head: &Header,
    real: &Verdict,
    ours: &Verdict,
    fired: &[String],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut say = |m: String| problems.push(format!("{name}: {m}"));
    let same_file = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => {
            let canon = |p: &str| fs::canonicalize(p).unwrap_or_else(|_| PathBuf::from(p));
            canon(a) == canon(b)
        }
        _ => false,
    };
    match &head.expect {
        Expect::Accept => {
            if let Some(v) = real {
                say(format!(
                    "the corpus says accept but the real program says {v:?}"
                ));
            }
            if let Some(v) = ours {
                say(format!(
                    "the real program accepts it but originlens says {v:?}"
                ));
            }
        }
        Expect::Syntax {
            file,
            line,
            message,
        } => match real {
            None => say("the corpus says syntax error but the real program accepts it".into()),
            Some((msg, real_file, real_line)) => {
                if !msg.contains(message.as_str()) {
                    say(format!("the real program says {msg:?}, not {message:?}"));
                }
                if let Some(real_line) = real_line {
                    if real_line != line {
                        say(format!(
                            "the real program says line {real_line}, the corpus {line}"
                        ));
                    }
                }
                if let (Some(file), Some(real_file)) = (file, real_file) {
                    if !real_file.ends_with(file.as_str()) {
                        say(format!(
                            "the real program names {real_file}, the corpus {file}"
                        ));
                    }
                }
                match ours {
                    None => say(format!(
                        "the real program rejects it ({msg}) but originlens parsed it"
                    )),
                    Some((our_msg, our_file, our_line)) => {
                        if *our_line != Some(*line) {
                            say(format!(
                                "line {line} expected, originlens says {our_line:?}: {our_msg}"
                            ));
                        }
                        if real_file.is_some() && !same_file(real_file, our_file) {
                            say(format!(
                                "file {real_file:?} expected, originlens says {our_file:?}"
                            ));
                        }
                        if !our_msg.contains(message.as_str()) {
                            say(format!("originlens says {our_msg:?}, nginx {message:?}"));
                        }
                    }
                }
            }
        },
        Expect::Semantic(message) => {
            match real {
                Some((msg, _, _)) if msg.contains(message.as_str()) => {}
                other => say(format!(
                    "the corpus expects {message:?}, the real program says {other:?}"
                )),
            }
            // A check nginx makes after reading the file (buffer sizes against each other) is
            // left to the rules; one it makes while reading must be found at nginx's place.
            match (real, ours) {
                (_, None) => {}
                (Some((msg, _, real_line)), Some((our_msg, _, our_line)))
                    if our_msg == msg && our_line == real_line => {}
                (_, Some(v)) => say(format!("nginx says {real:?}, originlens {v:?}")),
            }
        }
        Expect::Module(directive) => {
            let wanted = format!("unknown directive \"{directive}\"");
            match real {
                Some((msg, _, _)) if *msg == wanted => {}
                other => say(format!("expected nginx to say {wanted}, it says {other:?}")),
            }
            let real_line = real.as_ref().and_then(|r| r.2);
            match ours {
                Some((msg, _, line))
                    if msg.starts_with(&wanted)
                        && msg.contains("is not loaded")
                        && *line == real_line => {}
                other => say(format!(
                    "originlens should name the module that is not loaded on line {real_line:?}, \
                     it says {other:?}"
                )),
            }
        }
    }
    if ours.is_none() {
        for rule in &head.rules {
            if !fired.contains(rule) {
                say(format!("rule {rule} should fire; fired: {fired:?}"));
            }
        }
        for rule in &head.clean {
            if fired.contains(rule) {
                say(format!("rule {rule} should not fire"));
            }
        }
    }
    problems
}

#[test]
fn nginx_corpus_agrees_with_nginx_t() {
    let nginx = program(&["nginx"]);
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    fs::create_dir_all(work.path().join("logs")).unwrap();
    let prefix = format!("{}/", work.path().display());
    let globals = format!(
        "pid {0}/nginx.pid; error_log {0}/error.log;",
        work.path().display()
    );

    let mut cases: Vec<PathBuf> = fs::read_dir(corpus().join("nginx"))
        .unwrap()
        .map(|e| e.unwrap().path().join("nginx.conf"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 30,
        "the corpus has {} nginx cases",
        cases.len()
    );

    let mut problems = Vec::new();
    let mut agreed = 0;
    for conf in &cases {
        let conf = fs::canonicalize(conf).unwrap();
        let name = conf
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let head = header(&conf);
        let mut cmd = Command::new(&nginx);
        cmd.args(["-t", "-p", &prefix, "-c"])
            .arg(&conf)
            .args(["-g", &globals]);
        let real = nginx_verdict(&run(cmd));
        let ours_run = originlens(&["--format", "json", conf.to_str().unwrap()]);
        let (ours, fired) = our_verdict(&ours_run);
        let found = judge(&name, &head, &real, &ours, &fired);
        if found.is_empty() {
            agreed += 1;
        }
        problems.extend(found);
    }
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
    assert_eq!(agreed, cases.len());
    assert!(
        started.elapsed() < CORPUS_BUDGET,
        "corpus took {:?}",
        started.elapsed()
    );
}

/// `[FILE:LINE] message` (PHP-FPM's own checks) or `PHP:  syntax error ... on line N` (the INI
/// parser, whose line counts from the start of the single line PHP-FPM handed it: no place).
fn fpm_verdict(out: &Run) -> Verdict {
    let all = format!("{}{}", out.stdout, out.stderr);
    if out.code == Some(0) && all.contains("test is successful") {
        return None;
    }
    let line = all
        .lines()
        .find(|l| l.contains("ERROR:") || l.contains("PHP:"))
        .unwrap_or("php-fpm failed")
        .to_string();
    if let Some(start) = line.find("] ERROR: [") {
        let place = &line[start + "] ERROR: [".len()..];
        if let Some((place, msg)) = place.split_once("] ") {
            if let Some((file, n)) = place.rsplit_once(':') {
                if let Ok(n) = n.parse() {
                    return Some((msg.to_string(), Some(file.to_string()), Some(n)));
                }
            }
        }
    }
    Some((line, None, None))
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn fpm_corpus_agrees_with_php_fpm_t() {
    let php_fpm = program(&["php-fpm8.2", "php-fpm8.3", "php-fpm8.4", "php-fpm"]);
    let started = Instant::now();
    let source = corpus().join("fpm");
    let mut cases: Vec<PathBuf> = fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "the corpus has {} PHP-FPM cases",
        cases.len()
    );

    let mut problems = Vec::new();
    for case in &cases {
        // A fresh prefix per case: relative includes and the default log paths resolve there.
        let work = tempfile::tempdir().unwrap();
        copy_tree(&source, work.path());
        fs::create_dir_all(work.path().join("log")).unwrap();
        fs::create_dir_all(work.path().join("run")).unwrap();
        let conf = work.path().join(case.file_name().unwrap());
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let head = header(&conf);
        let mut cmd = Command::new(&php_fpm);
        cmd.arg("-t")
            .arg("-p")
            .arg(format!("{}/", work.path().display()))
            .arg("-y")
            .arg(&conf);
        let real = fpm_verdict(&run(cmd));
        let (ours, fired) = our_verdict(&originlens(&["--format", "json", conf.to_str().unwrap()]));
        // PHP-FPM's INI syntax errors carry no usable line; the corpus line is checked against
        // originlens alone then, and against PHP-FPM whenever it names one.
        let head = match head.expect {
            Expect::Syntax { line, .. } => Header {
                expect: Expect::Syntax {
                    file: None,
                    line,
                    message: String::new(),
                },
                ..head
            },
            _ => head,
        };
        problems.extend(judge(&name, &head, &real, &ours, &fired));
    }
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
    assert!(
        started.elapsed() < CORPUS_BUDGET,
        "corpus took {:?}",
        started.elapsed()
    );
}

fn nginx_case(name: &str) -> String {
    corpus()
        .join("nginx")
        .join(name)
        .join("nginx.conf")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn text_is_compiler_style_with_why_and_fix() {
    let conf = nginx_case("15-return-444");
    let out = originlens(&[&conf]);
    assert_eq!(out.code, Some(0), "warnings only: {}", out.stdout);
    let expected = format!("{conf}:8:9: warning[nginx-return-444]: return 444 closes");
    assert!(out.stdout.contains(&expected), "{}", out.stdout);
    assert!(out
        .stdout
        .contains("leads to: response.empty, visitor sees 520"));
    assert!(out.stdout.contains("= fix:\n        return 403;"));
    assert!(!out.stdout.contains('\x1b'), "no colour when piped");
}

#[test]
fn colour_on_request() {
    let out = originlens(&["--color", "always", &nginx_case("15-return-444")]);
    assert!(out.stdout.contains("\x1b["));
}

#[test]
fn error_level_rule_exits_1() {
    let out = originlens(&[&nginx_case("14-busy-buffers-invalid")]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("error[nginx-busy-buffers-invalid]"));
}

#[test]
fn head_bytes_decide_the_buffer_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    fs::write(
        &conf,
        "events {}\nhttp {\n  server {\n    location / {\n      proxy_buffer_size 16k;\n      \
         proxy_buffers 8 16k;\n      proxy_pass http://127.0.0.1:3000;\n    }\n  }\n}\n",
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let fits = originlens(&[conf, "--head-bytes", "14238"]);
    assert_eq!(fits.code, Some(0), "{}", fits.stdout);
    assert!(!fits.stdout.contains("nginx-head-buffer"));
    let too_big = originlens(&[conf, "--head-bytes", "20000"]);
    assert_eq!(too_big.code, Some(1), "{}", too_big.stdout);
    assert!(too_big.stdout.contains(&format!(
        "{conf}:5:7: error[nginx-head-buffer-too-small]: proxy_buffer_size is 16k (set) but the \
         measured response head is 20000 bytes"
    )));
    assert!(too_big.stdout.contains("proxy_buffer_size 32k;"));
}

#[test]
fn parse_failure_exits_2_with_the_place_never_clean() {
    let conf = nginx_case("31-extra-brace");
    let out = originlens(&[&conf]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains(&format!("{conf}:8:1: error: unexpected \"}}\"")),
        "{}",
        out.stderr
    );
    assert!(out
        .stdout
        .starts_with("originlens lint: 1 file could not be read or parsed"));
}

#[test]
fn unreadable_file_exits_2() {
    let out = originlens(&["/nonexistent/nginx.conf"]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("/nonexistent/nginx.conf: error: cannot read file"),
        "{}",
        out.stderr
    );
}

#[test]
fn json_lines_with_summary() {
    let fpm = corpus().join("fpm/04-risky.conf");
    let out = originlens(&[
        "--format",
        "json",
        &nginx_case("21-timeouts"),
        fpm.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0));
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["data"]["files"], 2);
    let beyond = lines
        .iter()
        .find(|l| l["data"]["rule"] == "nginx-read-timeout-beyond-edge")
        .expect("a finding for proxy_read_timeout 10m");
    assert_eq!(beyond["type"], "finding");
    assert_eq!(beyond["data"]["cause"], "response.timeout");
    assert_eq!(beyond["data"]["severity"], "warning");
    assert_eq!(beyond["data"]["line"], 8);
    assert!(beyond["data"]["fix"]
        .as_str()
        .unwrap()
        .contains("proxy_read_timeout"));
    assert!(lines
        .iter()
        .any(|l| l["data"]["rule"] == "fpm-memory-unbounded" && l["data"]["cause"] == "oom.kill"));
}

#[test]
fn sarif_2_1_0() {
    let out = originlens(&["--format", "sarif", &nginx_case("16-deny-edge")]);
    assert_eq!(out.code, Some(0));
    let log: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "originlens");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.len() >= 20);
    let result = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "nginx-deny-edge")
        .expect("the allow-list is reported");
    let index = result["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[index]["id"], "nginx-deny-edge");
    assert_eq!(rules[index]["properties"]["cause"], "origin.error");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        region["startLine"], 10,
        "the `deny all` that catches the edge"
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);

    let broken = originlens(&["--format", "sarif", &nginx_case("32-missing-brace")]);
    assert_eq!(broken.code, Some(2));
    let log: Value = serde_json::from_str(&broken.stdout).unwrap();
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let note = &invocation["toolExecutionNotifications"][0];
    assert_eq!(
        note["locations"][0]["physicalLocation"]["region"]["startLine"],
        8
    );
}

#[test]
fn apache_httpd_with_the_same_intent() {
    let conf = corpus().join("apache/apache2.conf");
    let out = originlens(&["--format", "json", conf.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let found: Vec<(String, u64)> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "finding")
        .map(|v| {
            (
                v["data"]["rule"].as_str().unwrap().to_string(),
                v["data"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    for (rule, line) in [
        ("apache-timeout-beyond-edge", 4),
        ("apache-keepalive-timeout-short", 7),
        ("apache-proxy-timeout-beyond-edge", 9),
        ("apache-server-tokens", 1),
    ] {
        assert!(
            found.contains(&(rule.to_string(), line)),
            "{rule} at line {line}; found {found:?}"
        );
    }
}

/// Generated inputs inside `types { }` (which takes any words as entries) meet every state of
/// nginx's tokenizer: quotes, escapes, `${var}`, comments, `)` after a quote, stray `}` and `;`.
/// Where nginx stops at an error that is not about syntax first (an unknown directive after a
/// stray `}` closed the block, or `types` refusing a block), the case says nothing about the
/// tokenizer and is skipped; every other case must agree on accept/reject, message and line.
#[test]
fn nginx_tokenizer_agrees_on_generated_inputs() {
    const PIECES: &[(&str, u32)] = &[
        ("a", 8),
        (" ", 8),
        ("  ", 3),
        (";", 5),
        ("}", 1),
        ("\"", 2),
        ("'", 2),
        ("#", 1),
        ("\n", 5),
        ("\\", 1),
        ("$", 1),
        ("(", 1),
        (")", 1),
        ("${b}", 1),
        ("x", 5),
        ("\"q\"", 2),
        ("'s'", 2),
        ("\t", 1),
        ("\r\n", 1),
    ];
    const CASES: usize = 200;
    let nginx = program(&["nginx"]);
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    fs::create_dir_all(work.path().join("logs")).unwrap();
    let prefix = format!("{}/", work.path().display());
    let globals = format!(
        "pid {0}/nginx.pid; error_log {0}/error.log;",
        work.path().display()
    );
    let conf = work.path().join("generated.conf");
    let total: u32 = PIECES.iter().map(|p| p.1).sum();
    // A fixed linear congruential generator: the same cases on every run.
    let mut state: u64 = 0x5eed_1e55;
    let mut next = |bound: u32| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % u64::from(bound)) as u32
    };
    let mut compared = 0;
    let mut problems = Vec::new();
    for _ in 0..CASES {
        let mut body = String::new();
        for _ in 0..=next(25) {
            let mut pick = next(total);
            for (piece, weight) in PIECES {
                if pick < *weight {
                    body.push_str(piece);
                    break;
                }
                pick -= weight;
            }
        }
        fs::write(
            &conf,
            format!("events {{}}\nhttp {{\n types {{\n{body}\n }}\n}}\n"),
        )
        .unwrap();
        let mut cmd = Command::new(&nginx);
        cmd.args(["-t", "-p", &prefix, "-c"])
            .arg(&conf)
            .args(["-g", &globals]);
        let real = nginx_verdict(&run(cmd));
        if let Some((msg, _, _)) = &real {
            if !msg.starts_with("unexpected") || msg == "unexpected \"{\"" {
                continue;
            }
        }
        let (ours, _) = our_verdict(&originlens(&[
            "--kind",
            "nginx",
            "--format",
            "json",
            conf.to_str().unwrap(),
        ]));
        compared += 1;
        let real_place = real.as_ref().map(|(m, _, l)| (m.clone(), *l));
        let our_place = ours.as_ref().map(|(m, _, l)| (m.clone(), *l));
        if real_place != our_place {
            problems.push(format!(
                "{body:?}: nginx {real_place:?}, originlens {our_place:?}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
    assert!(
        compared > CASES / 2,
        "only {compared} cases were comparable"
    );
    assert!(
        started.elapsed() < CORPUS_BUDGET,
        "took {:?}",
        started.elapsed()
    );
}

/// A Debian `/etc` in a temporary directory: the corpus's Debian nginx layout as `etc/nginx`,
/// and `etc/php/8.2/fpm` with `php-fpm.conf`, `pool.d/www.conf` and `php.ini`.
fn debian_etc() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc");
    copy_tree(&corpus().join("nginx/02-debian-layout"), &etc.join("nginx"));
    let fpm = etc.join("php/8.2/fpm");
    fs::create_dir_all(fpm.join("pool.d")).unwrap();
    fs::create_dir_all(fpm.join("conf.d")).unwrap();
    fs::write(
        fpm.join("php-fpm.conf"),
        "[global]\npid = /run/php/php8.2-fpm.pid\nerror_log = /var/log/php8.2-fpm.log\n\
         include = pool.d/*.conf\n",
    )
    .unwrap();
    fs::write(
        fpm.join("pool.d/www.conf"),
        "[www]\nuser = www-data\ngroup = www-data\nlisten = /run/php/php8.2-fpm.sock\n\
         pm = dynamic\npm.max_children = 5\npm.start_servers = 2\npm.min_spare_servers = 1\n\
         pm.max_spare_servers = 3\n",
    )
    .unwrap();
    fs::write(
        fpm.join("php.ini"),
        "[PHP]\nengine = On\nexpose_php = Off\nmax_execution_time = 300\nmemory_limit = 128M\n",
    )
    .unwrap();
    fs::write(
        fpm.join("conf.d/10-opcache.ini"),
        "zend_extension=opcache.so\n",
    )
    .unwrap();
    root
}

/// `(rule, file, line)` of every finding in `--format json` output.
fn finding_places(out: &Run) -> Vec<(String, String, u64)> {
    let mut places: Vec<_> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "finding")
        .map(|v| {
            let d = &v["data"];
            (
                d["rule"].as_str().unwrap().to_string(),
                d["file"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    places.sort();
    places
}

#[test]
fn lint_dir_finds_nginx_and_the_fpm_pools_as_if_named_one_by_one() {
    let root = debian_etc();
    let etc = root.path().join("etc");
    let s = |p: PathBuf| p.to_string_lossy().into_owned();
    let nginx_conf = s(etc.join("nginx/nginx.conf"));
    let fpm_conf = s(etc.join("php/8.2/fpm/php-fpm.conf"));
    let php_ini = s(etc.join("php/8.2/fpm/php.ini"));

    // /etc/nginx alone: nginx.conf and everything it includes.
    let dir = originlens(&["--format", "json", &s(etc.join("nginx"))]);
    let one = originlens(&["--format", "json", &nginx_conf]);
    assert_eq!(dir.code, one.code, "{}{}", dir.stdout, dir.stderr);
    assert!(!finding_places(&dir).is_empty());
    assert_eq!(finding_places(&dir), finding_places(&one));

    // /etc: nginx.conf, the pools through php-fpm.conf, and their php.ini; the rules that relate
    // them (fastcgi_read_timeout against PHP's 300 s) fire as when the files are named.
    let all = originlens(&["--format", "json", &s(etc.clone())]);
    let named = originlens(&["--format", "json", &nginx_conf, &fpm_conf]);
    assert_eq!(all.code, named.code, "{}{}", all.stdout, all.stderr);
    let places = finding_places(&all);
    assert_eq!(places, finding_places(&named));
    assert!(
        places
            .iter()
            .any(|(rule, file, _)| rule == "fpm-php-time-limit-beyond-edge" && *file == php_ini),
        "{places:?}"
    );
    assert!(
        places
            .iter()
            .any(|(rule, _, _)| rule == "nginx-fastcgi-timeout-before-fpm"),
        "{places:?}"
    );
    // php.ini says expose_php = Off, so PHP's X-Powered-By is not flagged for the PHP site.
    assert!(!places
        .iter()
        .any(|(rule, file, line)| rule == "nginx-x-powered-by"
            && file.ends_with("sites-enabled/default")
            && *line > 0));
    // /etc/php: the pools only, the same PHP-FPM findings.
    let php = originlens(&["--format", "json", &s(etc.join("php"))]);
    let fpm_only = originlens(&["--format", "json", &fpm_conf]);
    assert_eq!(finding_places(&php), finding_places(&fpm_only));
    assert!(!finding_places(&php).is_empty());

    // The text output says what was found and read.
    let text = originlens(&[&s(etc.clone())]);
    let head: Vec<&str> = text.stdout.lines().take(5).collect();
    assert_eq!(
        head,
        [
            format!("originlens lint: found in {}:", etc.display()).as_str(),
            "  nginx/nginx.conf (nginx)",
            "  php/8.2/fpm/php-fpm.conf (fpm)",
            "  php/8.2/fpm/php.ini (php.ini, read with the pools beside it)",
            head[4],
        ],
        "{}",
        text.stdout
    );
    assert!(head[4].starts_with("  and through them: "), "{}", head[4]);
    for file in [
        "nginx/sites-enabled/default",
        "nginx/snippets/fastcgi-php.conf",
        "nginx/mime.types",
        "php/8.2/fpm/pool.d/www.conf",
        "php/8.2/fpm/conf.d/10-opcache.ini",
    ] {
        assert!(head[4].contains(file), "{file} not listed: {}", head[4]);
    }
    assert!(text.stdout.contains("files checked"), "{}", text.stdout);
}

#[test]
fn lint_dir_with_nothing_lintable_exits_2() {
    let root = debian_etc();
    let sites = root.path().join("etc/nginx/sites-enabled");
    let out = originlens(&[sites.to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{}: error: nothing to lint in this directory: no nginx.conf",
            sites.display()
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("1 file could not be read or parsed"),
        "{}",
        out.stdout
    );
    let empty = tempfile::tempdir().unwrap();
    let out = originlens(&["--format", "json", empty.path().to_str().unwrap()]);
    assert_eq!(out.code, Some(2));
    assert!(out.stdout.contains("nothing to lint"), "{}", out.stdout);
}

#[test]
fn php_ini_flag_and_its_errors_through_the_binary() {
    let root = debian_etc();
    let fpm = root.path().join("etc/php/8.2/fpm");
    let pool = fpm.join("pool.d/www.conf");
    let custom = root.path().join("custom.ini");
    fs::write(&custom, "; ours\nmemory_limit = -1\n").unwrap();
    let out = originlens(&[
        "--format",
        "json",
        "--php-ini",
        custom.to_str().unwrap(),
        pool.to_str().unwrap(),
    ]);
    let places = finding_places(&out);
    assert!(
        places.contains(&(
            "fpm-memory-unbounded".into(),
            custom.display().to_string(),
            2
        )),
        "{places:?}"
    );
    // Without the flag, the php.ini beside pool.d/ is used (300 s, no memory -1).
    let places = finding_places(&originlens(&["--format", "json", pool.to_str().unwrap()]));
    assert!(!places.iter().any(|p| p.0 == "fpm-memory-unbounded"));
    assert!(places
        .iter()
        .any(|p| p.0 == "fpm-php-time-limit-beyond-edge"));

    // A php.ini PHP cannot parse is an error with its place, exit 2.
    fs::write(
        fpm.join("php.ini"),
        "[PHP]\nmemory_limit = 256M\nmax_execution_time = \"30\n",
    )
    .unwrap();
    let out = originlens(&[pool.to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{}:3:22: error: syntax error, unterminated quoted string",
            fpm.join("php.ini").display()
        )),
        "{}",
        out.stderr
    );
}

/// php.ini syntax, both ways, against PHP-FPM's own reading of it (`php-fpm -t -c FILE`):
/// what PHP reports as a syntax error is refused on the same line (PHP names the line after the
/// token for an error at the end of a line or file), and what PHP reads is read.
#[test]
fn php_ini_syntax_agrees_with_php_fpm() {
    let php_fpm = program(&["php-fpm8.2", "php-fpm8.3", "php-fpm8.4", "php-fpm"]);
    // (text, None for accepted or Some(line:col) for the first error).
    const CASES: &[(&str, Option<(u32, u32)>)] = &[
        (
            "[PHP]\nmemory_limit = 256M\nmax_execution_time = 45\n",
            None,
        ),
        ("memory_limit = 64M ; comment\n", None),
        ("memory_limit = '64M'\nmax_execution_time = \"30\"\n", None),
        ("memory_limit = ${PHP_MEMORY_LIMIT}\n", None),
        (
            "error_reporting = E_ALL & ~E_DEPRECATED & ~E_STRICT\n",
            None,
        ),
        (
            "[PATH=/var/www/app]\nmemory_limit = 64M\n[HOST=example.com]\nx = 1\n",
            None,
        ),
        ("bare_key\nmemory_limit=2M\n", None),
        ("  indented = 1\n\t\ttabbed = 2\n", None),
        ("# a hash line\nmemory_limit = 2M\n", None),
        ("disable_functions = exec,passthru,shell_exec\n", None),
        ("session.save_path = \"/var/lib/php/sessions\"\n", None),
        ("extension[] = a\nextension[] = b\n", None),
        ("x = (1 | 2)\n", None),
        ("[PHP]\r\nmemory_limit = 1G\r\n", None),
        ("[PHP]\nmemory_limit = 256M = 3\n", Some((2, 21))),
        ("[PHP\nmemory_limit = 256M\n", Some((1, 1))),
        ("x(1) = 2\n", Some((1, 2))),
        ("= 3\n", Some((1, 1))),
        ("yes = 1\n", Some((1, 1))),
        ("Off = 1\n", Some((1, 1))),
        ("a = ${FOO\n", Some((1, 5))),
        ("a.b = !\n", Some((1, 8))),
        ("a = 1 |\n", Some((1, 8))),
        ("a = (1\n", Some((1, 7))),
        ("a = 1)\n", Some((1, 6))),
        ("a[ = 1\n", Some((1, 2))),
        (
            "[PHP]\nmemory_limit = \"256M\nmax_execution_time = 45\n",
            Some((2, 16)),
        ),
        ("a = 'open\n", Some((1, 5))),
        ("k{ey} = 1\n", Some((1, 2))),
        ("a = b\nc = d = e\n", Some((2, 7))),
    ];
    let work = tempfile::tempdir().unwrap();
    let pool = work.path().join("pool.conf");
    fs::write(
        &pool,
        format!(
            "[www]\nuser = nobody\nlisten = {}/php.sock\npm = static\npm.max_children = 1\n",
            work.path().display()
        ),
    )
    .unwrap();
    let mut problems = Vec::new();
    for (i, (text, expected)) in CASES.iter().enumerate() {
        let ini = work.path().join(format!("case{i}.ini"));
        fs::write(&ini, text).unwrap();
        let mut cmd = Command::new(&php_fpm);
        cmd.arg("-t").arg("-c").arg(&ini).arg("-y").arg(&pool);
        let real = run(cmd);
        let all = format!("{}{}", real.stdout, real.stderr);
        let php_line = all.lines().find(|l| l.contains("syntax error")).map(|l| {
            let n: u32 = l.rsplit("on line ").next().unwrap().trim().parse().unwrap();
            (n, l.contains("END_OF_LINE") || l.contains("end of file"))
        });
        let ours = originlens(&["--format", "json", ini.to_str().unwrap()]);
        let (verdict, _) = our_verdict(&ours);
        let our_place = verdict.as_ref().map(|(_, _, line)| line.unwrap());
        let our_col = ours
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v["type"] == "error")
            .and_then(|v| v["data"]["col"].as_u64())
            .map(|c| c as u32);
        let ours_full = our_place.zip(our_col);
        if ours_full != *expected {
            problems.push(format!(
                "{text:?}: expected {expected:?}, originlens {ours_full:?}"
            ));
        }
        match (php_line, expected) {
            (None, None) => {}
            (Some((line, at_end)), Some((want, _))) => {
                let agrees = line == *want || (at_end && line > *want);
                if !agrees {
                    problems.push(format!("{text:?}: PHP says line {line}, we say {want}"));
                }
            }
            (php, ours) => {
                problems.push(format!("{text:?}: PHP {php:?}, expected {ours:?}: {all}"))
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
