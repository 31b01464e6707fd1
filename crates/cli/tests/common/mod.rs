//! What the end-to-end tests share: the real binary run and its JSON read, the lab with its CA,
//! the real `originlens edge` and a real nginx started and stopped, curl as the visitor, the incidents
//! store read back, and a running edge watched from outside.

// Each test file compiles this module and uses only a part of it.
#![allow(dead_code)]

pub mod cli;
pub mod curl;
pub mod edge;
pub mod h2frames;
pub mod lab;
pub mod net;
pub mod nginx;
pub mod peers;
pub mod php_stack;
pub mod postgres;
pub mod schema;
pub mod tls_lab;
pub mod watch;
