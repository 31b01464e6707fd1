//! `originlens probe`.

use crate::exit::Exit;

/// Arguments of `originlens probe`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`originlens probe` is not built yet")
}
