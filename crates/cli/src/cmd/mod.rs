//! One module per subcommand: its clap arguments and its `run`.

pub mod completions;
pub mod diagnose;
pub mod edge;
pub mod exporter;
pub mod incidents;
pub mod keepalive;
pub mod lab;
pub mod lint;
pub mod load;
pub mod logs;
pub mod probe;
