//! The nginx configuration lexer and parser, `nginx -t`'s checks and every rule, on text
//! without `include` (relative paths would resolve against a directory that does not exist).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use originlens_lint::{nginx, rules, Options};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    if originlens_fuzz::names_include(input) {
        return;
    }
    let _ = originlens_lint::detect(&text);
    match nginx::parse_str(
        &text,
        Path::new("fuzz.conf"),
        Path::new("/nonexistent/fuzz"),
    ) {
        Ok(config) => {
            let _ = nginx::check::check(&config);
            let _ = rules::check(&[config], &[], &[], &[], &Options::default());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
