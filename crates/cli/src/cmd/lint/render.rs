//! Rendering a lint report: compiler-style text, JSON lines, SARIF.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use originlens_lint::report::{self, JsonError, JsonFinding, JsonLine, JsonSummary};
use originlens_lint::{ConfigKind, Finding, Report, Severity};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn severity_style(severity: Severity) -> Style {
    let color = match severity {
        Severity::Error => AnsiColor::Red,
        Severity::Warning => AnsiColor::Yellow,
        Severity::Info => AnsiColor::Cyan,
    };
    Style::new().fg_color(Some(color.into())).bold()
}

/// `path:line:col: warning[rule-id]: message`, then the cause, why and fix indented below.
/// Load errors go to `err`, in the same shape.
pub fn text(report: &Report, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<()> {
    found(report, out)?;
    for e in &report.errors {
        let style = severity_style(Severity::Error);
        writeln!(
            err,
            "{BOLD}{e_place}{BOLD:#}: {style}error{style:#}: {}",
            e.message,
            e_place = place(e)
        )?;
    }
    for f in &report.findings {
        finding(f, out)?;
    }
    let summary = JsonSummary::new(report);
    // A file that was not checked must never read like a clean result: say so first.
    let unchecked = if report.errors.is_empty() {
        String::new()
    } else {
        format!(
            "{} file{} could not be read or parsed; ",
            report.errors.len(),
            plural(report.errors.len())
        )
    };
    writeln!(
        out,
        "{BOLD}originlens lint{BOLD:#}: {unchecked}{} file{} checked, {} error{}, {} warning{}, {} info{}",
        summary.files,
        plural(summary.files),
        summary.errors,
        plural(summary.errors),
        summary.warnings,
        plural(summary.warnings),
        summary.infos,
        plural(summary.infos),
    )
}

/// For each directory named: the main files found in it, then every other file read through
/// their includes (and php.ini's scan directory).
fn found(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    let mut dirs: Vec<&std::path::Path> = Vec::new();
    for f in &report.found {
        if !dirs.contains(&f.dir.as_path()) {
            dirs.push(&f.dir);
        }
    }
    for dir in dirs {
        let rel = |p: &std::path::Path| p.strip_prefix(dir).unwrap_or(p).display().to_string();
        writeln!(
            out,
            "{BOLD}originlens lint{BOLD:#}: found in {}:",
            dir.display()
        )?;
        let mains: Vec<_> = report.found.iter().filter(|f| f.dir == dir).collect();
        for f in &mains {
            let what = match f.kind {
                ConfigKind::PhpIni => "php.ini, read with the pools beside it",
                kind => kind.as_str(),
            };
            writeln!(out, "  {} ({what})", rel(&f.path))?;
        }
        let others: Vec<String> = report
            .files
            .iter()
            .filter(|(file, _)| {
                file.starts_with(dir) && !mains.iter().any(|f| f.path.as_path() == &**file)
            })
            .map(|(file, _)| rel(file))
            .collect();
        if !others.is_empty() {
            writeln!(out, "  and through them: {}", others.join(", "))?;
        }
    }
    Ok(())
}

fn place(e: &originlens_lint::LoadError) -> String {
    match &e.span {
        Some(span) => span.to_string(),
        None => e.file.display().to_string(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn finding(f: &Finding, out: &mut impl Write) -> std::io::Result<()> {
    let style = severity_style(f.rule.severity);
    writeln!(
        out,
        "{BOLD}{}{BOLD:#}: {style}{}[{}]{style:#}: {}",
        f.span, f.rule.severity, f.rule.id, f.message
    )?;
    let cause = f.rule.cause.map_or("no cause of its own", |c| c.as_str());
    writeln!(
        out,
        "  {DIM}={DIM:#} leads to: {BOLD}{cause}{BOLD:#}, visitor sees {}",
        f.rule.visitor
    )?;
    writeln!(out, "  {DIM}={DIM:#} why: {}", f.rule.why)?;
    writeln!(out, "  {DIM}={DIM:#} fix:")?;
    for line in f.fix().lines() {
        writeln!(out, "        {line}")?;
    }
    Ok(())
}

/// One JSON object per line: findings, load errors, then a summary.
pub fn json(report: &Report, out: &mut impl Write) -> anyhow::Result<()> {
    for e in &report.errors {
        serde_json::to_writer(&mut *out, &JsonLine::Error(JsonError::new(e)))?;
        writeln!(out)?;
    }
    for f in &report.findings {
        serde_json::to_writer(&mut *out, &JsonLine::Finding(JsonFinding::new(f)))?;
        writeln!(out)?;
    }
    serde_json::to_writer(&mut *out, &JsonLine::Summary(JsonSummary::new(report)))?;
    writeln!(out)?;
    Ok(())
}

/// One SARIF 2.1.0 document.
pub fn sarif(report: &Report, out: &mut impl Write) -> anyhow::Result<()> {
    let log = report::sarif(report, env!("CARGO_PKG_VERSION"));
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)?;
    Ok(())
}
