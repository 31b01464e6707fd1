//! The checked-in JSON Schemas under `schemas/` and a validator that lists every violation.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `schemas/` at the repository's root.
pub fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

/// `schemas/NAME.json`, parsed.
pub fn schema(name: &str) -> Value {
    let path = schemas_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Validates `doc` against `schemas/NAME.json`, listing every violation with its place.
pub fn check(name: &str, doc: &Value) {
    let schema = schema(name);
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("schemas/{name}.json does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "output does not match schemas/{name}.json:\n{}\n\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(doc).unwrap()
    );
}
