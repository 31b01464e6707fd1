//! `originlens probe --targets`: a targets file of lab routes probed by the real binary against
//! the real `originlens lab`, one `originlens.probe/1` document a line, shards that split the
//! file exactly, the Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`, and bad lines named by
//! `file:line:col`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::cli::originlens;
use common::lab::lab_proc;
use common::net::free_port;
use common::schema::check;
use serde_json::Value;

fn write_targets(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `originlens probe --targets FILE ARGS...` without an inherited `JOB_COMPLETION_INDEX`.
fn batch(file: &Path, args: &[&str]) -> Command {
    let mut cmd = originlens();
    cmd.arg("probe")
        .arg("--targets")
        .arg(file)
        .args(args)
        .env_remove("JOB_COMPLETION_INDEX");
    cmd
}

/// Every stdout line, each validated against `schemas/probe.json`.
fn documents(out: &Output) -> Vec<Value> {
    let text = String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout");
    text.lines()
        .map(|l| {
            let doc: Value = serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "not a JSON line ({e}): {l}\nstderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            check("probe", &doc);
            assert_eq!(doc["schema"], "originlens.probe/1");
            doc
        })
        .collect()
}

/// The targets-file lines the documents answer.
fn lines_of(docs: &[Value]) -> BTreeSet<u64> {
    docs.iter()
        .map(|d| d["batch"]["line"].as_u64().expect("batch.line"))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_mixed_targets_file_gives_one_valid_document_per_target_and_a_summary_by_cause() {
    let (_lab, lab) = lab_proc();
    let refused = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "# shop fleet: both line shapes, comments and blank lines\n\
         http://shop.test/ok {lab}\n\
         \n\
         http://{lab}/empty\n\
         {{\"url\": \"http://shop.test/head-130k\", \"connect_to\": \"{lab}\"}}\n\
         http://shop.test/origin-500 {lab}\n\
         http://shop.test/chunked-eof {lab}\n\
         http://shop.test/ok {refused}\n\
         \x20 http://shop.test/gzip-ok {lab}\n"
    );
    let file = write_targets(dir.path(), "fleet.txt", &text);
    let out = batch(&file, &["--concurrency", "3", "--read-timeout", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let docs = documents(&out);
    // line → (visitor status, cause)
    let expected: BTreeMap<u64, (u64, Option<&str>)> = [
        (2, (200, None)),
        (4, (520, Some("response.empty"))),
        (5, (520, Some("head.too-large"))),
        (6, (500, Some("origin.error"))),
        (7, (200, Some("body.truncated"))),
        (8, (521, Some("connect.refused"))),
        (9, (200, None)),
    ]
    .into_iter()
    .collect();
    assert_eq!(docs.len(), expected.len(), "one document per target");
    let got: BTreeMap<u64, (u64, Option<&str>)> = docs
        .iter()
        .map(|d| {
            (
                d["batch"]["line"].as_u64().unwrap(),
                (
                    d["verdict"]["status"].as_u64().unwrap_or(0),
                    d["verdict"]["cause"].as_str(),
                ),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // The batch member joins each document to its line as written.
    let by_line = |n: u64| docs.iter().find(|d| d["batch"]["line"] == n).unwrap();
    let ok = by_line(2);
    assert_eq!(ok["batch"]["url"], "http://shop.test/ok");
    assert_eq!(ok["batch"]["connect_to"], lab.to_string());
    assert_eq!(ok["target"]["host"], "shop.test");
    assert_eq!(ok["target"]["connect_to"], lab.to_string());
    assert_eq!(by_line(4)["batch"]["connect_to"], Value::Null);
    assert_eq!(by_line(8)["batch"]["connect_to"], refused);

    let err = stderr(&out);
    assert!(
        err.contains("7 targets in ")
            && err.contains(": 2 delivered, 5 not delivered, 0 not probed"),
        "{err}"
    );
    assert!(err.contains("by cause"), "{err}");
    for cause in [
        "response.empty",
        "head.too-large",
        "origin.error",
        "body.truncated",
        "connect.refused",
    ] {
        assert!(
            err.lines()
                .any(|l| l.trim_start().starts_with("1  ") && l.contains(cause)),
            "{cause} not counted once in the summary:\n{err}"
        );
    }

    // Only good targets: exit 0; text gives one line a target.
    let good = write_targets(
        dir.path(),
        "good.txt",
        &format!("http://shop.test/ok {lab}\nhttp://shop.test/chunked-ok {lab}\n"),
    );
    let out = batch(&good, &["--format", "text"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().all(|l| l.contains("200 (origin)")), "{text}");
    assert!(stderr(&out).contains("2 targets in "));
}

#[test]
fn targets_come_from_stdin_with_a_dash() {
    let (_lab, lab) = lab_proc();
    let mut child = originlens()
        .args(["probe", "--targets", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "http://{lab}/ok").unwrap();
    writeln!(
        stdin,
        "{{\"url\": \"http://shop.test/cl-conflict\", \"connect_to\": \"{lab}\"}}"
    )
    .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let docs = documents(&out);
    assert_eq!(lines_of(&docs), BTreeSet::from([1, 2]));
    let conflict = docs.iter().find(|d| d["batch"]["line"] == 2).unwrap();
    assert_eq!(conflict["verdict"]["cause"], "framing.invalid");
}

/// Shards split the targets (not the file's lines: comments and blanks do not count) so that
/// their union is every target and no two overlap; `--shards N` with `JOB_COMPLETION_INDEX=I`
/// is `--shard I/N`.
#[test]
fn shards_partition_the_targets_and_an_indexed_job_picks_its_own() {
    let (_lab, lab) = lab_proc();
    let dir = tempfile::tempdir().unwrap();
    let routes = ["/ok", "/empty", "/gzip-ok", "/cl-conflict", "/origin-502"];
    let mut text = String::from("# 23 targets\n");
    let mut target_lines = Vec::new();
    for k in 0..23 {
        if k % 5 == 3 {
            text.push_str("\n# a comment between targets\n");
        }
        text.push_str(&format!(
            "http://site{k}.test{} {lab}\n",
            routes[k % routes.len()]
        ));
        target_lines.push(text.lines().count() as u64);
    }
    let file = write_targets(dir.path(), "targets.txt", &text);
    let all = lines_of(&documents(
        &batch(&file, &["--concurrency", "8"]).output().unwrap(),
    ));
    assert_eq!(all, target_lines.iter().copied().collect());

    let shards = 4;
    let mut union = BTreeSet::new();
    let mut total = 0;
    for i in 0..shards {
        let spec = format!("{i}/{shards}");
        let out = batch(&file, &["--shard", &spec]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let mine = lines_of(&documents(&out));
        // Target k (0-based, in file order) belongs to shard k mod N.
        let expected: BTreeSet<u64> = target_lines
            .iter()
            .enumerate()
            .filter(|(k, _)| k % shards == i)
            .map(|(_, l)| *l)
            .collect();
        assert_eq!(mine, expected, "--shard {spec}");
        assert!(
            stderr(&out).contains(&format!("(shard {spec} of 23)")),
            "{}",
            stderr(&out)
        );

        let job = batch(&file, &["--shards", &shards.to_string()])
            .env("JOB_COMPLETION_INDEX", i.to_string())
            .output()
            .unwrap();
        assert_eq!(
            lines_of(&documents(&job)),
            mine,
            "JOB_COMPLETION_INDEX={i} --shards {shards}"
        );
        assert!(union.is_disjoint(&mine), "shard {spec} overlaps another");
        total += mine.len();
        union.extend(mine);
    }
    assert_eq!(union, all, "the shards together are every target");
    assert_eq!(total, all.len());

    let out = batch(&file, &["--shards", "4"])
        .env("JOB_COMPLETION_INDEX", "4")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("JOB_COMPLETION_INDEX=4 with --shards 4"),
        "{}",
        stderr(&out)
    );
    let out = batch(&file, &["--shards", "4"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs JOB_COMPLETION_INDEX"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_bad_targets_line_is_named_by_file_line_and_column_before_any_probe() {
    let dir = tempfile::tempdir().unwrap();
    let usage = |name: &str, text: &str, want: &str| {
        let file = write_targets(dir.path(), name, text);
        let out = batch(&file, &[]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{name}: probed despite a bad line");
        let err = stderr(&out);
        let want = format!("{}:{want}", file.display());
        assert!(err.contains(&want), "{name}: want {want:?} in\n{err}");
    };
    usage(
        "extra.txt",
        "http://a.test/ 127.0.0.1:1\n\nhttp://b.test/ 127.0.0.1:1 extra\n",
        "3:28: unexpected `extra`",
    );
    usage(
        "scheme.txt",
        "# ok so far\n  ftp://a.test/\n",
        "2:3: unsupported scheme `ftp`",
    );
    usage(
        "json.txt",
        "{\"url\": \"http://a.test/\", \"conect_to\": \"127.0.0.1:1\"}\n",
        "1:",
    );
    let err = {
        let file = write_targets(
            dir.path(),
            "json2.txt",
            "{\"url\": \"http://a.test/\", \"conect_to\": \"x\"}\n",
        );
        stderr(&batch(&file, &[]).output().unwrap())
    };
    assert!(err.contains("unknown field `conect_to`"), "{err}");
    {
        let file = dir.path().join("latin1.txt");
        std::fs::write(&file, b"http://a.test/\nhttp://b\xe9.test/\n").unwrap();
        let out = batch(&file, &[]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{}:2:9: not UTF-8", file.display())),
            "{err}"
        );
    }

    let missing = dir.path().join("missing.txt");
    let out = batch(&missing, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("{}: cannot read", missing.display())));

    let ok = write_targets(dir.path(), "ok.txt", "http://a.test/ 127.0.0.1:1\n");
    for args in [
        &["--concurrency", "0"][..],
        &["--shard", "4/4"],
        &["--shard", "1"],
        &["--shard", "0/2", "--shards", "2"],
        &["http://a.test/"],
    ] {
        let out = batch(&ok, args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = originlens()
        .args(["probe", "http://a.test/", "--shard", "0/2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--shard needs --targets");
    assert!(
        stderr(&out).contains("give --targets FILE"),
        "{}",
        stderr(&out)
    );
}
