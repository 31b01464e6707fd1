//! What the fuzz targets share.

/// Does the input name an `include` (ASCII case ignored)? An include reads whatever file it
/// names (`/dev/zero`, `/proc/kcore`): the lint targets leave such inputs to the tests, which
/// include files of their own, and give the parsers and rules the text alone.
pub fn names_include(input: &[u8]) -> bool {
    input.windows(7).any(|w| w.eq_ignore_ascii_case(b"include"))
}
