//! `originlens lint`.

use crate::exit::Exit;

/// Arguments of `originlens lint`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`originlens lint` is not built yet")
}
