//! The PHP-FPM pool, php.ini and Apache configuration parsers and their rules.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use originlens_lint::{apache, fpm, phpini, rules, Options};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    if originlens_fuzz::names_include(input) {
        return;
    }
    let fpm = fpm::parse_str(&text, Path::new("www.conf"));
    let apache = apache::parse_str(&text, Path::new("apache2.conf"));
    let ini = phpini::parse_str(&text, Path::new("php.ini")).map(Arc::new);
    let mut fpm: Vec<_> = fpm.into_iter().collect();
    let apache: Vec<_> = apache.into_iter().collect();
    let inis: Vec<_> = ini.into_iter().collect();
    // The pools read with the php.ini, as when it is found beside them.
    for pool in fpm.iter_mut().flat_map(|c| c.pools.iter_mut()) {
        pool.ini = inis.first().cloned();
    }
    let _ = rules::check(&[], &fpm, &apache, &inis, &Options::default());
});
