//! sift turns raw text corpora into clean, pinned, diffable dataset versions.
//!
//! ```text
//!  files (JSONL/CSV/Parquet) ──source──▶ Arrow batches ──store::shard──▶ shards + sidecars
//!                                                                          │
//!                                        version::commit: manifest ──▶ catalog (tags, index)
//!
//!  spec ──spec::parse──▶ plan::validate ──stage::run──▶ selections over the source's shards ──▶ version
//!
//!  ref ──store::Catalog::resolve──▶ manifest ──version::rows──▶ cat / export / query (DataFusion)
//! ```
//!
//! | module    | owns |
//! |-----------|------|
//! | [`source`]  | reading input files into Arrow, with located errors |
//! | [`store`]   | objects (BLAKE3-named, verified), content-defined shards, row fingerprints, the sled catalog |
//! | [`version`] | manifests, commit order, reading rows through selections, export |
//! | [`spec`]    | pipeline files (TOML/YAML) and their located errors |
//! | [`plan`]    | validation: a spec becomes a typed plan before any work |
//! | [`stage`]   | the runner, the stage cache, filter and quality functions |
//! | [`query`]   | SQL over tagged versions |
//! | [`cli`]     | the command line |
//!
//! Identities: an object id is BLAKE3 of its bytes; a row fingerprint is
//! xxh3-128 of the row's canonical encoding; a content id is BLAKE3 of the
//! canonical schema and the ordered fingerprints; a version id is the object
//! id of its manifest.

pub mod cli;
pub mod gpu;
pub mod plan;
pub mod query;
pub mod source;
pub mod spec;
pub mod stage;
pub mod store;
pub mod version;

/// Now, as RFC 3339 UTC with microseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
