//! The `originlens` binary: argument parsing and rendering only. The work is done by the library
//! crates (`originlens-wire`, `-net`, `-probe`, `-edge`, `-lab`, `-logs`, `-lint`, `-load`,
//! `-diagnose`, `-fleet`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod args;
mod cmd;
mod exit;

use exit::Exit;

/// Why does the edge show my visitors a 520?
#[derive(Parser, Debug)]
#[command(name = "originlens", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Talk to the origin directly, keep the raw bytes, name the cause and predict what the visitor sees.
    Probe(cmd::probe::Args),
    /// Measure how the origin treats idle and reused connections against the edge's reuse window.
    Keepalive(cmd::keepalive::Args),
    /// Run an origin that misbehaves on purpose, one route per cause.
    Lab(cmd::lab::Args),
    /// Read origin logs and explain the lines that matter.
    Logs(cmd::logs::Args),
    /// Check nginx and PHP-FPM configuration for settings that cause 5xx at the edge.
    Lint(cmd::lint::Args),
    /// Sit in front of an origin, answer like the edge, and record why for every bad response.
    Edge(cmd::edge::Args),
    /// List, show and export the incidents `edge` recorded.
    Incidents(cmd::incidents::Args),
    /// Drive the origin like the edge does, judge every response, and say why each failure happened.
    Load(cmd::load::Args),
    /// Answer Prometheus' multi-target scrapes: blackbox_exporter's metrics plus the cause.
    Exporter(cmd::exporter::Args),
    /// Print a shell completion script.
    Completions(cmd::completions::Args),
    /// Print the man page (roff).
    Man(cmd::completions::ManArgs),
    /// The whole 520 runbook in one command: cause, proof, fix and the verification checklist.
    Diagnose(cmd::diagnose::Args),
    /// After the fix: run only what the verification checklist needs; exit 0 = verified.
    Verify(cmd::diagnose::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Probe(args) => cmd::probe::run(args),
        Command::Keepalive(args) => cmd::keepalive::run(args),
        Command::Lab(args) => cmd::lab::run(args),
        Command::Logs(args) => cmd::logs::run(args),
        Command::Lint(args) => cmd::lint::run(args),
        Command::Edge(args) => cmd::edge::run(args),
        Command::Incidents(args) => cmd::incidents::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Exporter(args) => cmd::exporter::run(args),
        Command::Completions(args) => cmd::completions::run(args, Cli::command()),
        Command::Man(args) => cmd::completions::man(args, Cli::command()),
        Command::Diagnose(args) => cmd::diagnose::run(args, originlens_diagnose::Mode::Diagnose),
        Command::Verify(args) => cmd::diagnose::run(args, originlens_diagnose::Mode::Verify),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(err) => {
            if exit::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("originlens: error: {}", exit::message(&err));
            Exit::Error.into()
        }
    }
}
