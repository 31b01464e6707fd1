//! Exit statuses shared by every subcommand.

use std::process::ExitCode;

/// What a subcommand tells the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Nothing wrong was found (probe: the edge passes the response).
    Clean = 0,
    /// A problem was found (probe: the edge would generate an error; lint: an error-level rule).
    Problem = 1,
    /// Usage error or local failure.
    Error = 2,
    /// Stopped by Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// The error and its causes on one line, each said once: library errors often repeat their
/// source in their own text (`binding …: Address already in use: Address already in use`), so a
/// cause whose text, or whose last part, is already on the line adds nothing and is left out.
pub fn message(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let last = text.rsplit(": ").next().unwrap_or(&text);
        if line.contains(&text) || (!line.is_empty() && line.contains(last)) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// A closed stdout (`originlens ... | head`) is not an error.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    err.chain().any(|e| {
        // serde_json's error hides the io::Error it wraps from the chain, but tells its kind.
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "binding 127.0.0.1:80: {}", self.0)
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let err = anyhow::Error::new(Wrapped(io));
        assert_eq!(
            message(&err),
            "binding 127.0.0.1:80: Address already in use"
        );
        let err = anyhow::anyhow!("Error code 14: unable to open database file")
            .context("x.db: unable to open database file")
            .context("x.db: unable to open database file");
        assert_eq!(message(&err), "x.db: unable to open database file");
        let err = anyhow::anyhow!("no such file").context("reading a.conf");
        assert_eq!(message(&err), "reading a.conf: no such file");
    }
}
