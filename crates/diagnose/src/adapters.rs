//! Every call into the other library crates, in one place: when their signatures move (the
//! shared socket layer, the cause table beside `Cause`), only these functions change.

use std::path::{Path, PathBuf};
use std::time::Duration;

use originlens_lint::{LoadOptions, Options as LintOptions};
use originlens_logs::input::{self, InputSpec};
use originlens_logs::{Analysis, Note, Report, ReportOptions, Scanner, Sink, TimeContext};
use originlens_probe::keepalive::{self, KeepaliveOptions, KeepaliveReport};
use originlens_probe::{Exchange, ProbeError, ProbeOptions, TlsOptions};
use originlens_wire::{Cause, Phase, Profile, Verdict};

/// One direct exchange, judged under `profile`.
pub async fn exchange(
    opts: &ProbeOptions,
    tls: &TlsOptions,
    profile: &Profile,
) -> Result<(Exchange, Verdict), ProbeError> {
    let ex = originlens_probe::probe_with(opts, tls).await?;
    let verdict = judge(&ex, profile);
    Ok((ex, verdict))
}

/// The profile's verdict on an exchange.
pub fn judge(ex: &Exchange, profile: &Profile) -> Verdict {
    originlens_probe::judge_exchange(ex, profile)
}

/// The keep-alive measurement.
pub async fn keepalive(opts: &KeepaliveOptions) -> Result<KeepaliveReport, ProbeError> {
    keepalive::measure(opts, &|_| {}).await
}

/// What the project says a cause means and how to fix it: the probe's advice for causes seen
/// on the wire, the logs' fix for process causes.
pub fn knowledge(cause: Cause) -> (String, String) {
    let advice = originlens_probe::advice::for_cause(cause);
    if cause.phase() == Phase::Process || advice.fix.is_empty() {
        (
            process_meaning(cause).to_owned(),
            originlens_logs::fix::fix(cause).to_owned(),
        )
    } else {
        (advice.meaning.to_owned(), advice.fix.to_owned())
    }
}

fn process_meaning(cause: Cause) -> &'static str {
    match cause {
        Cause::CrashSignal => "a worker process died on a signal (segfault, abort) mid-request",
        Cause::OomKill => "the kernel's OOM killer or a memory limit killed a process",
        Cause::TimeoutKill => "a supervisor killed a request that ran past its time limit",
        Cause::TimeoutUpstream => "the web server stopped waiting for its backend",
        Cause::UpstreamUnreachable => {
            "the web server could not reach its backend (not running or wrong address)"
        }
        Cause::Saturated => "a worker pool or listen backlog was full",
        Cause::AppFatal => "the application died with a fatal error",
        Cause::ClientAbort => "the client (usually the edge) hung up first",
        Cause::ProcessRestart => "the service restarted or is in a restart loop",
        _ => originlens_probe::advice::for_cause(cause).meaning,
    }
}

/// Reads log files (and captured command output) into one analysis.
pub struct LogScan {
    scanner: Scanner,
    report: Report,
    /// Inputs that could not be read at all.
    pub unreadable: Vec<String>,
}

impl LogScan {
    /// A scan keeping events at or after `since`.
    pub fn new(time: TimeContext, since: originlens_logs::Timestamp) -> LogScan {
        LogScan {
            scanner: Scanner::new(time).with_threads(1),
            report: Report::new(ReportOptions {
                since: Some(since),
                until: None,
                window: jiff::SignedDuration::from_secs(2),
                max_events: 20_000,
                units: Vec::new(),
            }),
            unreadable: Vec::new(),
        }
    }

    /// Scans files and directories (their files); every one that cannot be read is noted.
    pub fn paths(&mut self, paths: &[PathBuf]) {
        let operands: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let (inputs, notes) = input::expand(&operands);
        for note in notes {
            self.unreadable.push(note.input.clone());
            self.report.note(note);
        }
        for spec in inputs {
            let InputSpec::Path(path) = &spec else {
                continue;
            };
            let name = spec.name();
            let index = self.report.input(&name);
            match input::open(path) {
                Err(e) => {
                    self.unreadable.push(name.clone());
                    self.report
                        .note(Note::read_error(&name, format!("cannot read: {e}")));
                }
                Ok(opened) => {
                    let stats = self
                        .scanner
                        .scan(index, &name, opened.reader, &mut self.report);
                    if stats.failed {
                        self.unreadable.push(name);
                    }
                }
            }
        }
    }

    /// Scans bytes captured from a command (`journalctl`, `dmesg`).
    pub fn bytes(&mut self, name: &str, bytes: &[u8]) {
        let index = self.report.input(name);
        self.scanner
            .scan_bytes(index, name, bytes, &mut self.report);
    }

    /// Notes an input that could not be read.
    pub fn unreadable(&mut self, name: &str, why: String) {
        self.unreadable.push(name.to_owned());
        self.report.note(Note::read_error(name, why));
    }

    /// The analysis.
    pub fn finish(self) -> (Analysis, Vec<String>) {
        (self.report.finish(), self.unreadable)
    }
}

/// The time context for this machine's logs.
pub fn time_context(tz: Option<&str>) -> Result<TimeContext, String> {
    let mut ctx = TimeContext::from_flags(tz, None)?;
    ctx.boot = originlens_logs::bound::boot_time().ok();
    Ok(ctx)
}

/// Lints configuration files, judging the upstream buffers against the measured head.
pub fn lint(
    paths: &[PathBuf],
    head_bytes: Option<u64>,
    profile: &Profile,
) -> originlens_lint::Report {
    let options = LintOptions {
        head_bytes,
        edge_read_timeout: profile.limits.read_timeout.as_secs(),
        edge_idle_timeout: profile
            .limits
            .idle_pool
            .map_or(originlens_lint::rules::edge_idle_timeout(), |d| d.as_secs()),
        host_memory: None,
    };
    originlens_lint::lint(paths, &LoadOptions::default(), &options)
}

/// Incidents an originlens edge stored since `since_ms` (Unix ms).
pub fn store_incidents(
    path: &Path,
    since_ms: i64,
) -> Result<Vec<originlens_edge::incident::Incident>, String> {
    if !path.exists() {
        return Err(format!("{}: no such file", path.display()));
    }
    let conn = originlens_edge::store::open(path).map_err(|e| e.to_string())?;
    originlens_edge::store::list(
        &conn,
        &originlens_edge::store::Query {
            since_ms: Some(since_ms),
            cause: None,
            limit: None,
        },
    )
    .map_err(|e| format!("{}: {e}", path.display()))
}

/// The Keep-Alive options for the diagnose run.
pub fn keepalive_options(
    probe: ProbeOptions,
    max: Duration,
    profile: &Profile,
) -> KeepaliveOptions {
    let idle_times = [1u64, 2, 5, 10, 15, 30, 60, 120, 300, 600, 905]
        .iter()
        .map(|&s| Duration::from_secs(s))
        .filter(|d| *d <= max)
        .collect();
    KeepaliveOptions {
        probe,
        idle_times,
        max_requests: 100,
        edge_idle: profile.limits.idle_pool,
    }
}
