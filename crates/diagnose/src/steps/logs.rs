//! The logs step: the usual log files of web servers and application servers, the journal and
//! the kernel log, over `--since`. A file that cannot be read is named, never skipped silently.

use std::path::{Path, PathBuf};
use std::time::Duration;

use originlens_logs::{Analysis, Timestamp};

use crate::adapters::{self, LogScan};
use crate::document::{LogInput, LogsRecord};
use crate::options::Inputs;

/// Where logs usually are: files and directories whose `*.log` files are read.
const USUAL_FILES: &[&str] = &[
    "/var/log/nginx/error.log",
    "/var/log/apache2/error.log",
    "/var/log/httpd/error_log",
    "/var/log/kern.log",
    "/var/log/syslog",
    "/var/log/messages",
];
const USUAL_DIRS: &[&str] = &[
    "/var/log/php-fpm",
    "/var/log/nodejs",
    "/var/log/gunicorn",
    "/var/log/uwsgi",
    "/var/log/puma",
];

/// Commands whose output is read, each bounded in time.
const COMMAND_LIMIT: Duration = Duration::from_secs(10);

/// The step's time limit.
pub const LIMIT: Duration = Duration::from_secs(30);

/// The usual log files on this machine that exist.
pub fn usual_paths() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = USUAL_FILES
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect();
    // PHP-FPM logs are named after the version (`/var/log/php8.2-fpm.log`).
    if let Ok(dir) = std::fs::read_dir("/var/log") {
        let mut fpm: Vec<PathBuf> = dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("php") && n.ends_with("-fpm.log"))
            })
            .collect();
        fpm.sort();
        out.extend(fpm);
    }
    for d in USUAL_DIRS {
        out.extend(log_files_in(Path::new(d)));
    }
    out
}

fn log_files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    v.sort();
    v
}

async fn command(program: &str, args: &[&str]) -> Result<Vec<u8>, String> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(COMMAND_LIMIT, cmd.output()).await {
        Err(_) => Err(format!(
            "{program} took longer than {} s",
            COMMAND_LIMIT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("cannot run {program}: {e}")),
        Ok(Ok(out)) if !out.status.success() && out.stdout.is_empty() => {
            Err(format!("{program} exited with {}", out.status))
        }
        Ok(Ok(out)) => Ok(out.stdout),
    }
}

/// Reads the logs; `None` when the step is skipped.
pub async fn run(
    inputs: &Inputs,
    since: Timestamp,
    since_age: Duration,
    tz: Option<&str>,
) -> Result<(Analysis, LogsRecord), String> {
    let time = adapters::time_context(tz)?;
    let mut scan = LogScan::new(time, since);
    let mut commands: Vec<String> = Vec::new();
    match inputs {
        Inputs::None => return Err("skipped".into()),
        Inputs::Paths(paths) => scan.paths(paths),
        Inputs::Auto => {
            let paths = usual_paths();
            scan.paths(&paths);
            let age = format!("-{}s", since_age.as_secs().max(1));
            if which("journalctl") {
                match command(
                    "journalctl",
                    &["-o", "short-iso", "--no-pager", "-q", "--since", &age],
                )
                .await
                {
                    Ok(out) => scan.bytes("journalctl", &out),
                    Err(why) => scan.unreadable("journalctl", why),
                }
                commands.push("journalctl".into());
            }
            // The kernel log with raw stamps, dated from the boot time.
            match command("dmesg", &[]).await {
                Ok(out) => scan.bytes("dmesg", &out),
                Err(why) => match std::fs::read("/dev/kmsg") {
                    Ok(bytes) => scan.bytes("/dev/kmsg", &bytes),
                    Err(e) => scan.unreadable("dmesg", format!("{why}; /dev/kmsg: {e}")),
                },
            }
        }
    }
    let (analysis, unreadable) = scan.finish();
    let inputs = analysis
        .inputs
        .iter()
        .map(|i| LogInput {
            name: i.name.clone(),
            lines: i.lines,
            matches: i.matches,
            failed: i.failed || unreadable.contains(&i.name),
        })
        .chain(
            unreadable
                .iter()
                .filter(|u| !analysis.inputs.iter().any(|i| &i.name == *u))
                .map(|u| LogInput {
                    name: u.clone(),
                    lines: 0,
                    matches: 0,
                    failed: true,
                }),
        )
        .collect();
    let notes = analysis
        .notes
        .iter()
        .map(|n| {
            let place = match (n.line, n.offset) {
                (Some(l), _) => format!("{}:{l}", n.input),
                (None, Some(o)) => format!("{} @ byte {o}", n.input),
                _ => n.input.clone(),
            };
            format!("{place}: {}", n.message)
        })
        .collect();
    let record = LogsRecord {
        inputs,
        notes,
        events: analysis.timeline.len(),
        incidents: analysis.incidents.len(),
    };
    Ok((analysis, record))
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()))
}
