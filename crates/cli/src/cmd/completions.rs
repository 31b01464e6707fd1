//! `originlens completions SHELL` and `originlens man`: shell completions and a man page,
//! generated from the same clap definitions that parse the arguments.

use std::io::Write;

use clap_complete::Shell;

use crate::exit::Exit;

/// Arguments of `originlens completions`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Install, e.g.: originlens completions bash > \
/etc/bash_completion.d/originlens\n\nExit status: 0 written, 2 error.")]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Arguments of `originlens man`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Install, e.g.: originlens man > /usr/local/share/man/man1/originlens.1\n\n\
Exit status: 0 written, 2 error."
)]
pub struct ManArgs {}

/// Writes the completion script for `args.shell`.
pub fn run(args: Args, mut command: clap::Command) -> anyhow::Result<Exit> {
    // clap_complete panics on a write error, so the script is built first and written after:
    // a closed stdout then ends quietly like every other command.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "originlens", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(Exit::Clean)
}

/// Writes the man page (roff).
pub fn man(_: ManArgs, command: clap::Command) -> anyhow::Result<Exit> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(command).render(&mut out)?;
    out.flush()?;
    Ok(Exit::Clean)
}
