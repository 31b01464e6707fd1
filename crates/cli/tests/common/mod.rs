//! What the edge tests share: the real `originlens edge` started and stopped, curl as the
//! visitor, and the incidents store read back.

// Each test file compiles this module and uses only a part of it.
#![allow(dead_code)]

pub mod curl;
pub mod edge;
