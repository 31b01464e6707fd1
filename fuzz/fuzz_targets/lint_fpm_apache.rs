//! The PHP-FPM pool and Apache configuration parsers and their rules.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use originlens_lint::{apache, fpm, rules, Options};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let fpm = fpm::parse_str(&text, Path::new("www.conf"));
    let apache = apache::parse_str(&text, Path::new("apache2.conf"));
    let fpm: Vec<_> = fpm.into_iter().collect();
    let apache: Vec<_> = apache.into_iter().collect();
    let _ = rules::check(&[], &fpm, &apache, &Options::default());
});
