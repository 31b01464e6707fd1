//! Wire types for `--format json` (JSON lines in a `{"type", "data"}` envelope) and
//! `--format sarif` (SARIF 2.1.0, read by code-scanning UIs). Serialize-only and borrowed.

use serde::Serialize;

use crate::rules::{self, Finding, Rule};
use crate::span::LoadError;
use crate::Report;

/// One JSON line.
#[derive(Serialize)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum JsonLine<'a> {
    /// A rule fired.
    Finding(JsonFinding<'a>),
    /// A file could not be read or parsed.
    Error(JsonError<'a>),
    /// The last line: counts.
    Summary(JsonSummary),
}

/// A finding as JSON.
#[derive(Serialize)]
pub struct JsonFinding<'a> {
    /// Rule id.
    pub rule: &'static str,
    /// `info`, `warning` or `error`.
    pub severity: &'static str,
    /// Cause id, or null for rules that hide evidence.
    pub cause: Option<&'static str>,
    /// What the visitor sees.
    pub visitor: &'static str,
    /// File path.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based byte column.
    pub col: u32,
    /// What is wrong here.
    pub message: &'a str,
    /// Why it leads to the status.
    pub why: &'static str,
    /// The fix snippet.
    pub fix: &'a str,
}

/// A load error as JSON.
#[derive(Serialize)]
pub struct JsonError<'a> {
    /// File path.
    pub file: String,
    /// 1-based line, when the failure has a place.
    pub line: Option<u32>,
    /// 1-based column, when the failure has a place.
    pub col: Option<u32>,
    /// What went wrong.
    pub message: &'a str,
}

/// Counts.
#[derive(Serialize)]
pub struct JsonSummary {
    /// Files read (includes expanded).
    pub files: usize,
    /// Findings of severity error.
    pub errors: usize,
    /// Findings of severity warning.
    pub warnings: usize,
    /// Findings of severity info.
    pub infos: usize,
    /// Files that could not be read or parsed.
    pub load_errors: usize,
}

impl<'a> JsonFinding<'a> {
    /// Borrows a finding.
    pub fn new(f: &'a Finding) -> Self {
        JsonFinding {
            rule: f.rule.id,
            severity: f.rule.severity.as_str(),
            cause: f.rule.cause.map(|c| c.as_str()),
            visitor: f.rule.visitor,
            file: f.span.file.display().to_string(),
            line: f.span.line,
            col: f.span.col,
            message: &f.message,
            why: f.rule.why,
            fix: f.fix(),
        }
    }
}

impl<'a> JsonError<'a> {
    /// Borrows a load error.
    pub fn new(e: &'a LoadError) -> Self {
        JsonError {
            file: e.file.display().to_string(),
            line: e.span.as_ref().map(|s| s.line),
            col: e.span.as_ref().map(|s| s.col),
            message: &e.message,
        }
    }
}

impl JsonSummary {
    /// Counts a report.
    pub fn new(report: &Report) -> Self {
        let count = |sev| {
            report
                .findings
                .iter()
                .filter(|f| f.rule.severity == sev)
                .count()
        };
        JsonSummary {
            files: report.files.len(),
            errors: count(rules::Severity::Error),
            warnings: count(rules::Severity::Warning),
            infos: count(rules::Severity::Info),
            load_errors: report.errors.len(),
        }
    }
}

/// The SARIF 2.1.0 schema this output follows.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// A SARIF log with one run.
#[derive(Serialize)]
pub struct SarifLog {
    /// Schema URI.
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    /// Always `2.1.0`.
    pub version: &'static str,
    /// One run.
    pub runs: Vec<SarifRun>,
}

/// One run of the tool.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifRun {
    /// The tool and its rules.
    pub tool: SarifTool,
    /// The findings.
    pub results: Vec<SarifResult>,
    /// Whether every file could be read, and the failures as notifications.
    pub invocations: Vec<SarifInvocation>,
}

/// `tool`.
#[derive(Serialize)]
pub struct SarifTool {
    /// `driver`.
    pub driver: SarifDriver,
}

/// `tool.driver`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifDriver {
    /// `originlens`.
    pub name: &'static str,
    /// The tool's version.
    pub version: String,
    /// Every rule.
    pub rules: Vec<SarifRule>,
}

/// A `reportingDescriptor`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifRule {
    /// Rule id.
    pub id: &'static str,
    /// One line.
    pub short_description: SarifText,
    /// Why.
    pub full_description: SarifText,
    /// The fix.
    pub help: SarifText,
    /// The default level.
    pub default_configuration: SarifLevel,
    /// Cause id and visitor status.
    pub properties: SarifRuleProperties,
}

/// `{"text": ...}`.
#[derive(Serialize)]
pub struct SarifText {
    /// The text.
    pub text: String,
}

/// `{"level": ...}`.
#[derive(Serialize)]
pub struct SarifLevel {
    /// `error`, `warning` or `note`.
    pub level: &'static str,
}

/// Rule properties.
#[derive(Serialize)]
pub struct SarifRuleProperties {
    /// Cause id.
    pub cause: Option<&'static str>,
    /// What the visitor sees.
    pub visitor: &'static str,
}

/// A `result`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifResult {
    /// Rule id.
    pub rule_id: &'static str,
    /// Index into `tool.driver.rules`.
    pub rule_index: usize,
    /// Level.
    pub level: &'static str,
    /// Message.
    pub message: SarifText,
    /// Where.
    pub locations: Vec<SarifLocation>,
}

/// A `location`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifLocation {
    /// `physicalLocation`.
    pub physical_location: SarifPhysical,
}

/// A `physicalLocation`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifPhysical {
    /// The file.
    pub artifact_location: SarifArtifact,
    /// The place.
    pub region: SarifRegion,
}

/// An `artifactLocation`.
#[derive(Serialize)]
pub struct SarifArtifact {
    /// The file as a relative or absolute URI reference.
    pub uri: String,
}

/// A `region`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifRegion {
    /// 1-based line.
    pub start_line: u32,
    /// 1-based column.
    pub start_column: u32,
}

/// An `invocation`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifInvocation {
    /// False when a file could not be read or parsed.
    pub execution_successful: bool,
    /// The load errors.
    pub tool_execution_notifications: Vec<SarifNotification>,
}

/// A `notification`.
#[derive(Serialize)]
pub struct SarifNotification {
    /// Always `error`.
    pub level: &'static str,
    /// What went wrong.
    pub message: SarifText,
    /// Where.
    pub locations: Vec<SarifLocation>,
}

fn level(rule: &Rule) -> &'static str {
    match rule.severity {
        rules::Severity::Error => "error",
        rules::Severity::Warning => "warning",
        rules::Severity::Info => "note",
    }
}

fn location(file: &std::path::Path, line: u32, col: u32) -> SarifLocation {
    SarifLocation {
        physical_location: SarifPhysical {
            artifact_location: SarifArtifact {
                uri: file.to_string_lossy().replace('\\', "/"),
            },
            region: SarifRegion {
                start_line: line.max(1),
                start_column: col.max(1),
            },
        },
    }
}

/// Builds the SARIF log for a report.
pub fn sarif(report: &Report, version: &str) -> SarifLog {
    let rules_list: Vec<SarifRule> = rules::ALL
        .iter()
        .map(|r| SarifRule {
            id: r.id,
            short_description: SarifText {
                text: r.summary.to_string(),
            },
            full_description: SarifText {
                text: r.why.to_string(),
            },
            help: SarifText {
                text: format!("Fix:\n{}", r.fix),
            },
            default_configuration: SarifLevel { level: level(r) },
            properties: SarifRuleProperties {
                cause: r.cause.map(|c| c.as_str()),
                visitor: r.visitor,
            },
        })
        .collect();
    let results = report
        .findings
        .iter()
        .map(|f| SarifResult {
            rule_id: f.rule.id,
            rule_index: rules::ALL
                .iter()
                .position(|r| r.id == f.rule.id)
                .unwrap_or(0),
            level: level(f.rule),
            message: SarifText {
                text: format!(
                    "{} (visitor sees {}). Fix:\n{}",
                    f.message,
                    f.rule.visitor,
                    f.fix()
                ),
            },
            locations: vec![location(&f.span.file, f.span.line, f.span.col)],
        })
        .collect();
    let notifications = report
        .errors
        .iter()
        .map(|e| SarifNotification {
            level: "error",
            message: SarifText {
                text: e.message.clone(),
            },
            locations: vec![match &e.span {
                Some(s) => location(&s.file, s.line, s.col),
                None => location(&e.file, 1, 1),
            }],
        })
        .collect();
    SarifLog {
        schema: SARIF_SCHEMA,
        version: "2.1.0",
        runs: vec![SarifRun {
            tool: SarifTool {
                driver: SarifDriver {
                    name: "originlens",
                    version: version.to_string(),
                    rules: rules_list,
                },
            },
            results,
            invocations: vec![SarifInvocation {
                execution_successful: report.errors.is_empty(),
                tool_execution_notifications: notifications,
            }],
        }],
    }
}
