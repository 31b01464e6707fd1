//! `originlens logs`.

use crate::exit::Exit;

/// Arguments of `originlens logs`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`originlens logs` is not built yet")
}
