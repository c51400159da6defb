//! Checked-in JSON schemas match the Rust types (regenerate with SIFT_BLESS=1).

fn check(path: &str, generated: String) {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::env::var_os("SIFT_BLESS").is_some() {
        std::fs::write(&full, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&full).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{path} is stale: regenerate it with `SIFT_BLESS=1 cargo test schemas`"
    );
}

#[test]
fn manifest_schema_is_current() {
    check(
        "schemas/manifest.schema.json",
        sift::version::manifest::json_schema(),
    );
}

#[test]
fn pipeline_schema_is_current() {
    check("schemas/pipeline.schema.json", sift::spec::json_schema());
}

#[test]
fn diff_schema_is_current() {
    check(
        "schemas/diff.schema.json",
        sift::version::diff::json_schema(),
    );
}

#[test]
fn every_json_output_has_a_current_schema() {
    use clap::ValueEnum;
    use sift::cli::schema::{Which, json_schema};
    for w in Which::value_variants() {
        check(&format!("schemas/{}", w.file()), json_schema(*w));
    }
}
