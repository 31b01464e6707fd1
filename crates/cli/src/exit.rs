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
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// A closed stdout (`originlens ... | head`) is not an error.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
