//! One module per subcommand: its clap arguments and its `run`.

pub mod diagnose;
pub mod edge;
pub mod incidents;
pub mod keepalive;
pub mod lab;
pub mod lint;
pub mod logs;
pub mod probe;
