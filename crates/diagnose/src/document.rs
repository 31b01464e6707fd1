//! The `originlens.diagnose/1` document: every renderer (text, JSON, HTML) reads this one typed
//! value, so the three outputs cannot disagree.

use std::collections::BTreeMap;

use originlens_wire::{Cause, GeneratedBy};
use serde::Serialize;

/// The schema id carried by every document.
pub const SCHEMA: &str = "originlens.diagnose/1";

/// One run of `diagnose` or `verify`.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnosis {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Which command produced it.
    pub mode: Mode,
    /// What was diagnosed.
    pub target: TargetInfo,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// The one conclusion.
    pub verdict: VerdictBlock,
    /// The runbook's Verification section, in its order.
    pub checklist: Vec<CheckItem>,
    /// Ranked causes, most likely first.
    pub causes: Vec<RankedCause>,
    /// Probe events, log lines, edge records and host events, by time.
    pub timeline: Vec<TimelineEntry>,
    /// What ran, how long, and what could not be checked.
    pub steps: Vec<StepRecord>,
    /// The direct exchanges.
    pub exchanges: Vec<ExchangeRecord>,
    /// The head budget of the largest head received.
    pub head_budget: Option<HeadBudget>,
    /// The keep-alive measurement.
    pub keepalive: Option<KeepaliveRecord>,
    /// The burst.
    pub burst: Option<BurstRecord>,
    /// The host snapshot.
    pub host: Option<HostSnapshot>,
    /// What the logs step read.
    pub logs: Option<LogsRecord>,
    /// What the configuration step read.
    pub config: Option<ConfigRecord>,
    /// The edge's own view (Logpush lines, an incident store, the `--via` request).
    pub edge: Option<EdgeRecord>,
    /// The runbook's step 9 when the logs hold no evidence for what the probe saw.
    pub logging_advice: Option<String>,
    /// The exit status the command returns.
    pub exit_status: u8,
}

/// `diagnose` or `verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every step.
    Diagnose,
    /// Only what the checklist needs.
    Verify,
}

/// The target as given.
#[derive(Clone, Debug, Serialize)]
pub struct TargetInfo {
    /// The site URL.
    pub url: String,
    /// `host:port` actually connected to.
    pub connect: String,
    /// Whether the connect address is on this machine (logs and config `auto` apply).
    pub local: bool,
}

/// How sure a conclusion is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A risk or a hint, not seen failing.
    Low,
    /// Seen once, or found in logs without a probe event to join.
    Medium,
    /// Seen on the wire, or a log line joined with the probe's event.
    High,
}

impl Confidence {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// The verdict block: what the visitor sees and why.
#[derive(Clone, Debug, Serialize)]
pub struct VerdictBlock {
    /// The status the visitor sees through the edge; `None` when no response was predicted.
    pub status: Option<u16>,
    /// Who produces that status.
    pub generated_by: GeneratedBy,
    /// The leading cause, `None` when nothing was found.
    pub cause: Option<Cause>,
    /// How sure.
    pub confidence: Option<Confidence>,
    /// One sentence for people.
    pub summary: String,
}

/// A checklist item id, in the runbook's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    /// Direct curl to origin returns a valid HTTP response with headers.
    DirectResponseValid,
    /// No segfaults or crashes in system logs.
    NoCrashesInLogs,
    /// Requests through the edge succeed.
    EdgeRequestsSucceed,
    /// Response headers under 16 KB total.
    #[serde(rename = "headers-under-16k")]
    HeadersUnder16k,
    /// No 52x errors at the edge.
    #[serde(rename = "no-52x-at-edge")]
    No52xAtEdge,
}

impl CheckId {
    /// Every id, in order.
    pub const ALL: [CheckId; 5] = [
        CheckId::DirectResponseValid,
        CheckId::NoCrashesInLogs,
        CheckId::EdgeRequestsSucceed,
        CheckId::HeadersUnder16k,
        CheckId::No52xAtEdge,
    ];

    /// Stable id.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::DirectResponseValid => "direct-response-valid",
            CheckId::NoCrashesInLogs => "no-crashes-in-logs",
            CheckId::EdgeRequestsSucceed => "edge-requests-succeed",
            CheckId::HeadersUnder16k => "headers-under-16k",
            CheckId::No52xAtEdge => "no-52x-at-edge",
        }
    }

    /// The runbook's words.
    pub fn title(self) -> &'static str {
        match self {
            CheckId::DirectResponseValid => {
                "Direct request to the origin returns a valid HTTP response with headers"
            }
            CheckId::NoCrashesInLogs => "No segfaults, OOM kills or crash loops in the logs",
            CheckId::EdgeRequestsSucceed => "Requests through the edge succeed",
            CheckId::HeadersUnder16k => "Response headers under 16 KB (and the edge's 128 KB)",
            CheckId::No52xAtEdge => "No 52x errors at the edge",
        }
    }
}

/// pass, fail or not-checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// Checked and fine.
    Pass,
    /// Checked and failing.
    Fail,
    /// Could not be checked; the evidence says why.
    NotChecked,
}

impl CheckStatus {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Fail => "fail",
            CheckStatus::NotChecked => "not-checked",
        }
    }
}

/// One checklist line.
#[derive(Clone, Debug, Serialize)]
pub struct CheckItem {
    /// The id.
    pub id: CheckId,
    /// The outcome.
    pub status: CheckStatus,
    /// The evidence, or why it was not checked.
    pub evidence: String,
}

/// A cause with its proof and fix.
#[derive(Clone, Debug, Serialize)]
pub struct RankedCause {
    /// The cause id.
    pub cause: Cause,
    /// How sure.
    pub confidence: Confidence,
    /// What it means.
    pub meaning: String,
    /// The proof.
    pub evidence: Vec<Evidence>,
    /// What to change.
    pub fix: String,
}

/// Where a piece of evidence comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceKind {
    /// Bytes of a direct exchange.
    Bytes,
    /// A log line.
    Log,
    /// A configuration line.
    Config,
    /// A measurement (sizes, timings, counts).
    Measure,
    /// An edge record.
    Edge,
}

/// One piece of evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    /// Its kind.
    pub kind: EvidenceKind,
    /// `file:line`, `file:line:col`, `GET / @ byte 0`, ...
    pub place: Option<String>,
    /// What it says.
    pub text: String,
    /// Escaped bytes around the defect, the defect itself in `at`.
    pub excerpt: Option<Excerpt>,
}

/// Escaped bytes with the defect marked.
#[derive(Clone, Debug, Serialize)]
pub struct Excerpt {
    /// Before the defect.
    pub before: String,
    /// The defect (empty when it is a missing byte, e.g. at EOF).
    pub at: String,
    /// After it.
    pub after: String,
}

/// Sources of timeline entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A direct exchange.
    Probe,
    /// A log line.
    Log,
    /// An edge record.
    Edge,
    /// The host snapshot.
    Host,
}

impl Source {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Probe => "probe",
            Source::Log => "log",
            Source::Edge => "edge",
            Source::Host => "host",
        }
    }
}

/// One line of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEntry {
    /// RFC 3339 with milliseconds.
    pub time: String,
    /// Where it comes from.
    pub source: Source,
    /// What happened.
    pub text: String,
    /// `file:line` for log lines.
    pub place: Option<String>,
    /// The cause it names, if any.
    pub cause: Option<Cause>,
    /// Indexes of the entries joined with this one (a probe event and the log lines of the
    /// same moment).
    pub joined: Vec<usize>,
}

/// What happened to a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Ran to the end.
    Ok,
    /// Ran, but part of it could not be done (named in `not_checked`).
    Partial,
    /// Hit its time limit.
    TimedOut,
    /// Could not run.
    Failed,
    /// Not asked for (`none`, or not part of `verify`).
    Skipped,
}

impl StepStatus {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Ok => "ok",
            StepStatus::Partial => "partial",
            StepStatus::TimedOut => "timed-out",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

/// One step of the run.
#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    /// Its name (`exchanges`, `keepalive`, `burst`, `logs`, `config`, `host`, `edge-logs`,
    /// `store`, `via`).
    pub name: &'static str,
    /// Its time limit, seconds.
    pub limit_s: f64,
    /// How long it took, seconds.
    pub took_s: f64,
    /// What happened.
    pub status: StepStatus,
    /// One line for people.
    pub detail: String,
    /// What could not be checked, and why.
    pub not_checked: Vec<String>,
}

/// Phase timings of an exchange, milliseconds from its start.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PhaseTimes {
    /// TCP connected.
    pub connect_ms: Option<f64>,
    /// TLS done.
    pub tls_ms: Option<f64>,
    /// Request written.
    pub sent_ms: Option<f64>,
    /// First response byte.
    pub first_byte_ms: Option<f64>,
    /// Head complete.
    pub head_ms: Option<f64>,
    /// Response ended.
    pub total_ms: Option<f64>,
}

/// One direct exchange.
#[derive(Clone, Debug, Serialize)]
pub struct ExchangeRecord {
    /// `GET /`, `HEAD /`, `user POST /x`.
    pub label: String,
    /// Request method.
    pub method: String,
    /// `HTTP/1.1` or `h2`.
    pub protocol: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// The origin's status code, when a head arrived.
    pub origin_status: Option<u16>,
    /// The visitor's status through the edge.
    pub visitor_status: Option<u16>,
    /// Who generates it.
    pub generated_by: GeneratedBy,
    /// The cause, `None` when clean.
    pub cause: Option<Cause>,
    /// The deciding finding's message.
    pub finding: Option<String>,
    /// Phase timings.
    pub timings: PhaseTimes,
    /// Size of the final head, bytes.
    pub head_bytes: Option<usize>,
    /// Response bytes received.
    pub response_bytes: u64,
    /// TLS as the edge sees it, for https.
    pub tls: Option<TlsRecord>,
    /// The deciding defect, escaped.
    pub excerpt: Option<Excerpt>,
    /// The start of the response, escaped (up to 2 KiB).
    pub raw_start: String,
}

/// TLS under both SSL modes, with and without SNI.
#[derive(Clone, Debug, Serialize)]
pub struct TlsRecord {
    /// Negotiated version, when the handshake succeeded.
    pub version: Option<String>,
    /// ALPN protocol.
    pub alpn: Option<String>,
    /// Full mode (handshake only) works.
    pub full_ok: bool,
    /// Full (strict) mode (certificate verified) works.
    pub strict_ok: bool,
    /// Why strict fails.
    pub strict_refusal: Option<String>,
    /// The handshake without SNI: `ok`, `failed: …`, or `not tried`.
    pub without_sni: String,
}

/// A header field's share of the head.
#[derive(Clone, Debug, Serialize)]
pub struct FieldSize {
    /// Field name (lower case, joined for repeated fields).
    pub name: String,
    /// Bytes of its lines, CRLF included.
    pub bytes: usize,
    /// How many lines.
    pub count: usize,
}

/// A limit the head is measured against.
#[derive(Clone, Debug, Serialize)]
pub struct BudgetLimit {
    /// Whose limit.
    pub name: String,
    /// Bytes.
    pub bytes: usize,
    /// Whether the head is over it.
    pub over: bool,
}

/// The head budget.
#[derive(Clone, Debug, Serialize)]
pub struct HeadBudget {
    /// Which exchange's head.
    pub exchange: String,
    /// Head size, bytes.
    pub head_bytes: usize,
    /// Set-Cookie lines.
    pub set_cookie_count: usize,
    /// Bytes of the Set-Cookie lines.
    pub set_cookie_bytes: usize,
    /// Largest fields, largest first.
    pub largest_fields: Vec<FieldSize>,
    /// The limits, smallest first.
    pub limits: Vec<BudgetLimit>,
}

/// The keep-alive measurement.
#[derive(Clone, Debug, Serialize)]
pub struct KeepaliveRecord {
    /// Longest idle time measured, seconds.
    pub measured_up_to_s: f64,
    /// Idle time after which the origin closed, seconds.
    pub closed_after_s: Option<f64>,
    /// Longest idle time seen alive, seconds.
    pub alive_up_to_s: Option<f64>,
    /// `Keep-Alive: timeout=` advertised.
    pub advertised_timeout_s: Option<u64>,
    /// Responses on one connection.
    pub requests_served: u32,
    /// How that connection ended.
    pub requests_ended: String,
    /// The edge's reuse window, seconds.
    pub edge_idle_s: Option<u64>,
    /// A race with the edge's reuse.
    pub race: bool,
    /// For people: "closes idle connections after 1 s" or "≥ 60 s, not measured to 900 s".
    pub summary: String,
}

/// The burst.
#[derive(Clone, Debug, Serialize)]
pub struct BurstRecord {
    /// Requests sent.
    pub requests: u32,
    /// At most this many at once.
    pub concurrency: u32,
    /// Requests the edge would have failed.
    pub failed: u32,
    /// Of which on a connection that had served a response before.
    pub on_reused: u32,
    /// Failures by cause id.
    pub by_cause: BTreeMap<String, u32>,
    /// Visitor statuses.
    pub statuses: BTreeMap<String, u32>,
    /// Which engine drove it.
    pub engine: String,
}

/// A process by memory.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessMem {
    /// PID.
    pub pid: u32,
    /// Command name.
    pub name: String,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// Share of the machine's memory, percent.
    pub mem_percent: f64,
}

/// The host snapshot.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HostSnapshot {
    /// MemTotal, KiB.
    pub mem_total_kib: Option<u64>,
    /// MemAvailable, KiB.
    pub mem_available_kib: Option<u64>,
    /// SwapTotal, KiB.
    pub swap_total_kib: Option<u64>,
    /// SwapFree, KiB.
    pub swap_free_kib: Option<u64>,
    /// OOM kills since boot (`/proc/vmstat oom_kill`).
    pub oom_kills_since_boot: Option<u64>,
    /// Boot time (RFC 3339).
    pub boot_time: Option<String>,
    /// Top processes by memory.
    pub top: Vec<ProcessMem>,
    /// OOM kills, segfaults and restarts found in the logs since `--since`.
    pub events: Vec<String>,
}

/// One input of the logs step.
#[derive(Clone, Debug, Serialize)]
pub struct LogInput {
    /// Name (path, `journalctl`, `dmesg`).
    pub name: String,
    /// Lines read.
    pub lines: u64,
    /// Lines that matched a signature.
    pub matches: u64,
    /// The read failed.
    pub failed: bool,
}

/// The logs step.
#[derive(Clone, Debug, Serialize)]
pub struct LogsRecord {
    /// The inputs read.
    pub inputs: Vec<LogInput>,
    /// Notes about the inputs (unreadable, binary, ...).
    pub notes: Vec<String>,
    /// Matched lines kept.
    pub events: usize,
    /// Incidents correlated from them.
    pub incidents: usize,
}

/// A configuration finding.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigFinding {
    /// Rule id.
    pub rule: String,
    /// `error`, `warning`, `info`.
    pub severity: String,
    /// Cause id.
    pub cause: Option<Cause>,
    /// `file:line:col`.
    pub place: String,
    /// What it says.
    pub message: String,
    /// What to change.
    pub fix: String,
}

/// The configuration step.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigRecord {
    /// Files read.
    pub files: Vec<String>,
    /// Findings.
    pub findings: Vec<ConfigFinding>,
    /// Files that could not be read or parsed, with their place.
    pub errors: Vec<String>,
}

/// A 52x the edge recorded.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeHit {
    /// When (RFC 3339).
    pub time: Option<String>,
    /// Visitor status.
    pub status: u16,
    /// Origin status, when known.
    pub origin_status: Option<u16>,
    /// `host/uri`.
    pub request: String,
    /// Ray id or incident id.
    pub id: String,
    /// Cause, when the store knows it.
    pub cause: Option<Cause>,
}

/// The edge's view.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EdgeRecord {
    /// Records read (Logpush lines plus store incidents) since `--since`.
    pub requests: u64,
    /// 52x counts by status.
    pub errors_52x: BTreeMap<String, u64>,
    /// 52x counts by minute (`YYYY-MM-DDTHH:MM`).
    pub by_minute: BTreeMap<String, u64>,
    /// The first 52x records.
    pub hits: Vec<EdgeHit>,
    /// Problems with the inputs (`file:line: ...`).
    pub notes: Vec<String>,
    /// The `--via` request, when given.
    pub via: Option<ExchangeRecord>,
}
