//! Batch probing: a targets file, a shard of it, a bounded number of probes at once, and each
//! result handed to the caller as soon as it is in (so memory stays flat for any file size).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use originlens_probe::judged::{probe_and_judge, Judged};
use originlens_probe::{ProbeOptions, Target, TlsOptions};
use originlens_wire::{Cause, Profile};
use serde::Deserialize;
use tokio::sync::{mpsc, Semaphore};

/// One line of a targets file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetLine {
    /// 1-based line in the file.
    pub line: usize,
    /// The site URL.
    pub url: String,
    /// Where to connect instead of the URL's host.
    pub connect_to: Option<String>,
}

/// A targets file that cannot be used; names the file, line and column (`file: message` when
/// the file itself cannot be read: line and column are 0 then).
#[derive(Debug)]
pub struct TargetsError {
    /// The file (`-` for stdin).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for TargetsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for TargetsError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonTarget {
    url: String,
    #[serde(default)]
    connect_to: Option<String>,
}

/// Reads targets: one `URL [HOST[:PORT]]` a line, or a JSON object
/// `{"url": "...", "connect_to": "..."}` a line; `#` starts a comment, blank lines are skipped.
/// Every URL is checked here, so a mistake stops the run before any probe.
pub fn parse_targets(text: &str, file: &str) -> Result<Vec<TargetLine>, TargetsError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        let err = |column: usize, message: String| TargetsError {
            file: file.to_owned(),
            line,
            column,
            message,
        };
        let target = if trimmed.starts_with('{') {
            let t: JsonTarget = serde_json::from_str(trimmed)
                .map_err(|e| err(indent + e.column().max(1), e.to_string()))?;
            TargetLine {
                line,
                url: t.url,
                connect_to: t.connect_to,
            }
        } else {
            let mut words = trimmed.split_whitespace();
            let url = words.next().unwrap_or_default().to_owned();
            let connect_to = words.next().map(str::to_owned);
            if let Some(extra) = words.next() {
                let column = raw.find(extra).unwrap_or(0) + 1;
                return Err(err(
                    column,
                    format!("unexpected `{extra}`: a line is `URL [HOST[:PORT]]`"),
                ));
            }
            TargetLine {
                line,
                url,
                connect_to,
            }
        };
        Target::parse(&target.url, target.connect_to.as_deref())
            .map_err(|e| err(indent + 1, e.to_string()))?;
        out.push(target);
    }
    Ok(out)
}

/// Reads a targets file; `-` reads standard input to its end.
pub fn read_targets(path: &Path) -> Result<Vec<TargetLine>, TargetsError> {
    let name = path.display().to_string();
    let unreadable = |e: std::io::Error| TargetsError {
        file: name.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read the targets: {e}"),
    };
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(unreadable)?;
        buf
    } else {
        std::fs::read(path).map_err(unreadable)?
    };
    parse_target_bytes(&bytes, &name)
}

/// [`parse_targets`] on raw bytes: bytes that are not UTF-8 are named by line and column.
pub fn parse_target_bytes(bytes: &[u8], file: &str) -> Result<Vec<TargetLine>, TargetsError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_targets(text, file),
        Err(e) => {
            let before = &bytes[..e.valid_up_to()];
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            Err(TargetsError {
                file: file.to_owned(),
                line: before.iter().filter(|&&b| b == b'\n').count() + 1,
                column: e.valid_up_to() - line_start + 1,
                message: "not UTF-8 text".to_owned(),
            })
        }
    }
}

/// One shard of a target list: target `k` (0-based, in file order) belongs to shard
/// `k % count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0 ≤ index < count.
    pub index: usize,
    /// How many shards there are.
    pub count: usize,
}

impl Shard {
    /// Every target.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard {s}: give I/N, e.g. 0/4"))?;
        let index = i
            .trim()
            .parse()
            .map_err(|_| format!("--shard {s}: I is not a number"))?;
        let count = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard {s}: N is not a number"))?;
        Shard::new(index, count).map_err(|e| format!("--shard {s}: {e}"))
    }

    /// A shard from its parts.
    pub fn new(index: usize, count: usize) -> Result<Shard, String> {
        if count == 0 {
            return Err("N must be at least 1".to_owned());
        }
        if index >= count {
            return Err(format!("I is counted from 0 to N-1 = {}", count - 1));
        }
        Ok(Shard { index, count })
    }

    /// The shard of a Kubernetes Indexed Job: `JOB_COMPLETION_INDEX` of `count` shards.
    pub fn from_job_index(value: Option<&str>, count: usize) -> Result<Shard, String> {
        let v = value.ok_or_else(|| {
            "--shards N needs JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job), or use --shard I/N"
                .to_owned()
        })?;
        let index = v
            .trim()
            .parse()
            .map_err(|_| format!("JOB_COMPLETION_INDEX={v} is not a number"))?;
        Shard::new(index, count)
            .map_err(|e| format!("JOB_COMPLETION_INDEX={v} with --shards {count}: {e}"))
    }

    /// Keeps this shard's targets.
    pub fn select(self, targets: Vec<TargetLine>) -> Vec<TargetLine> {
        targets
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % self.count == self.index)
            .map(|(_, t)| t)
            .collect()
    }
}

/// How to probe each target.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    /// The profile that decides each verdict.
    pub profile: &'static Profile,
    /// Request method.
    pub method: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Connect timeout per target.
    pub connect_timeout: Duration,
    /// Read timeout per target.
    pub read_timeout: Duration,
    /// TLS policy.
    pub tls: TlsOptions,
    /// Probes at once.
    pub concurrency: usize,
}

/// One target's result: the line it came from and the probe judged as `originlens probe`
/// judges it.
#[derive(Debug)]
pub struct Probed {
    /// The line it came from.
    pub target: TargetLine,
    /// The exchange and its verdicts.
    pub judged: Judged,
}

/// A target that could not be probed at all (a local problem, not the origin's).
#[derive(Debug)]
pub struct Failed {
    /// The line it came from.
    pub target: TargetLine,
    /// Why.
    pub message: String,
}

/// Counts over a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Targets probed.
    pub probed: u64,
    /// Clean verdicts.
    pub clean: u64,
    /// Verdicts with a cause, by cause id.
    pub by_cause: BTreeMap<&'static str, u64>,
    /// Targets whose visitor gets the origin's complete, non-5xx response
    /// ([`Verdict::delivered`](originlens_wire::Verdict::delivered), `curl --fail`'s rule).
    pub delivered: u64,
    /// Targets the edge would answer with its own error.
    pub edge_errors: u64,
    /// Targets that could not be probed.
    pub failed: u64,
}

impl Summary {
    /// Adds one result.
    pub fn add(&mut self, result: &Result<Probed, Failed>) {
        match result {
            Ok(p) => {
                self.probed += 1;
                match p.judged.verdict.cause {
                    None => self.clean += 1,
                    Some(c) => *self.by_cause.entry(c.as_str()).or_default() += 1,
                }
                if p.judged.verdict.delivered() {
                    self.delivered += 1;
                }
                if p.judged.verdict.is_edge_error() {
                    self.edge_errors += 1;
                }
            }
            Err(_) => self.failed += 1,
        }
    }

    /// Every target was probed and every visitor got the origin's response: the batch's exit 0.
    pub fn all_delivered(&self) -> bool {
        self.failed == 0 && self.delivered == self.probed
    }

    /// The causes seen, most frequent first.
    pub fn ranked(&self) -> Vec<(Cause, u64)> {
        let mut v: Vec<(Cause, u64)> = self
            .by_cause
            .iter()
            .filter_map(|(id, n)| id.parse::<Cause>().ok().map(|c| (c, *n)))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// Probes every target, at most `concurrency` at once, sending each result on as soon as it
/// is in. Returns when every target is done or the receiver is dropped.
///
/// A probe keeps its slot until its result is handed over, so a slow reader slows the batch
/// down instead of piling up finished exchanges: at most `concurrency` results plus the
/// channel's capacity are held at any time.
pub async fn run(
    targets: Vec<TargetLine>,
    opts: BatchOptions,
    results: mpsc::Sender<Result<Probed, Failed>>,
) {
    let slots = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let opts = Arc::new(opts);
    let mut tasks = tokio::task::JoinSet::new();
    for target in targets {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        if results.is_closed() {
            break;
        }
        let opts = opts.clone();
        let results = results.clone();
        tasks.spawn(async move {
            let result = probe_one(target, &opts).await;
            let _ = results.send(result).await;
            drop(slot);
        });
        // Reap finished tasks as we go so the set stays at most `concurrency` long.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

async fn probe_one(target: TargetLine, opts: &BatchOptions) -> Result<Probed, Failed> {
    let fail = |target: TargetLine, message: String| Failed { target, message };
    let parsed = match Target::parse(&target.url, target.connect_to.as_deref()) {
        Ok(t) => t,
        Err(e) => return Err(fail(target, e.to_string())),
    };
    let probe = ProbeOptions {
        target: parsed,
        method: opts.method.clone(),
        headers: opts.headers.clone(),
        body: Vec::new(),
        connect_timeout: opts.connect_timeout,
        read_timeout: opts.read_timeout,
    };
    match probe_and_judge(probe, &opts.tls, opts.profile).await {
        Ok(judged) => Ok(Probed { target, judged }),
        Err(e) => Err(fail(target, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_in_both_shapes_with_comments() {
        let t = parse_targets(
            "# fleet\nhttp://a.test/ 127.0.0.1:8080\n\n  {\"url\": \"https://b.test/x\", \"connect_to\": \"[::1]:443\"}\nhttp://c.test/\n",
            "t.txt",
        )
        .unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].connect_to.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(t[1].line, 4);
        assert_eq!(t[1].url, "https://b.test/x");
        assert_eq!(t[2].connect_to, None);
    }

    #[test]
    fn mistakes_name_file_line_and_column() {
        let e = parse_targets("http://a.test/\nftp://b.test/\n", "t.txt").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.to_string().starts_with("t.txt:2:1: "), "{e}");
        let e = parse_targets("http://a.test/ 1.2.3.4 extra\n", "t.txt").unwrap_err();
        assert_eq!(e.column, 24);
        let e = parse_targets("{\"url\": 1}\n", "t.txt").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_target_bytes(b"http://a.test/\nhttp://b\xe9.test/\n", "t.txt").unwrap_err();
        assert_eq!(e.to_string(), "t.txt:2:9: not UTF-8 text");
        let e = read_targets(Path::new("/nonexistent/targets.txt")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/targets.txt: cannot read the targets: "),
            "{e}"
        );
    }

    #[test]
    fn the_summary_counts_delivered_apart_from_clean() {
        let mut s = Summary::default();
        assert!(s.all_delivered());
        s.probed = 2;
        s.delivered = 2;
        s.clean = 1;
        assert!(
            s.all_delivered(),
            "a delivered response with a cause still counts"
        );
        s.failed = 1;
        assert!(!s.all_delivered());
    }

    #[test]
    fn shards_split_the_list_without_overlap() {
        let targets: Vec<TargetLine> = (0..10)
            .map(|i| TargetLine {
                line: i + 1,
                url: format!("http://t{i}.test/"),
                connect_to: None,
            })
            .collect();
        let mut seen = Vec::new();
        for i in 0..3 {
            let shard = Shard::parse(&format!("{i}/3")).unwrap();
            seen.extend(shard.select(targets.clone()).into_iter().map(|t| t.line));
        }
        seen.sort();
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("1").is_err());
        assert_eq!(
            Shard::from_job_index(Some("2"), 4).unwrap(),
            Shard { index: 2, count: 4 }
        );
        assert!(Shard::from_job_index(None, 4).is_err());
        assert!(Shard::from_job_index(Some("4"), 4).is_err());
    }
}
