//! `originlens lab`.

use crate::exit::Exit;

/// Arguments of `originlens lab`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`originlens lab` is not built yet")
}
