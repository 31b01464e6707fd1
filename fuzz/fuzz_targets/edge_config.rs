//! The edge's TOML configuration: any text gives a configuration or an error, never a panic;
//! a configuration that parses also validates without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    match originlens_edge::file::parse(text) {
        Ok(cfg) => {
            let _ = cfg.validate();
            let _ = cfg.route(Some("a.test"));
            let _ = cfg.route(None);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
