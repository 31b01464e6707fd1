//! `diagnose --html`: the report of a lab run is one self-contained page that renders in a real
//! browser (Debian's headless Chromium) with the verdict and every checklist id on it.

mod diagnose_support;

use std::path::Path;
use std::process::Command;

use diagnose_support::{checklist_ids, require, run_json};
use originlens_lab::LabHandle;

/// Chromium as the machine's probe runs it: no sandbox (root in CI), no network of its own.
fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    let bin = require("chromium", "chromium");
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

/// The page's text as the browser laid it out: the DOM after parsing, tags stripped.
fn rendered_text(dom: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[test]
fn the_html_report_renders_in_chromium_with_the_verdict_and_the_checklist() {
    let lab = LabHandle::start("127.0.0.1:0".parse().unwrap()).expect("start the lab");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let connect = lab.addr().to_string();
    let (_, doc) = run_json(&[
        "diagnose",
        "http://lab.test/value-nul",
        "--connect-to",
        &connect,
        "--logs",
        "none",
        "--config",
        "none",
        "--keepalive-max",
        "0",
        "--burst",
        "20x5",
        "--html",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).expect("the report was written");

    // Self-contained: nothing is fetched from elsewhere.
    for outside in [
        "src=\"http",
        "href=\"http",
        "<script src",
        "@import",
        "url(http",
        "<link",
    ] {
        assert!(
            !html.contains(outside),
            "the page refers to an outside asset ({outside})"
        );
    }

    let profile = dir.path().join("chromium");
    let url = format!("file://{}", page.display());
    let dumped = chromium(&["--dump-dom", &url], &profile);
    assert!(
        dumped.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    let text = rendered_text(&String::from_utf8_lossy(&dumped.stdout));
    assert_eq!(doc["verdict"]["status"], 520);
    for needle in [
        "520",
        "NOT VERIFIED",
        "field.invalid",
        "NUL byte in a field value",
    ] {
        assert!(text.contains(needle), "the rendered page lacks `{needle}`");
    }
    let ids = checklist_ids(&doc);
    assert_eq!(ids.len(), 5, "{doc:#}");
    for id in &ids {
        assert!(text.contains(id.as_str()), "the rendered page lacks `{id}`");
    }

    // A screenshot, kept beside the test's build output for a person to look at.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("diagnose-report.png");
    let _ = std::fs::remove_file(&shot);
    let taken = chromium(
        &[
            "--window-size=1200,2400",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
        &profile,
    );
    assert!(
        taken.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&taken.stderr)
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is a PNG"
    );
    assert!(
        png.len() > 20_000,
        "the screenshot is not blank ({} B)",
        png.len()
    );
}
