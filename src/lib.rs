//! sift turns raw text corpora into clean, pinned, diffable dataset versions.
//!
//! ```text
//!  files (JSONL/CSV/Parquet) ──source──▶ Arrow batches ──store::shard──▶ shards + sidecars
//!                                                                          │
//!                                        version::commit: manifest ──▶ catalog (tags, index)
//!
//!  spec ──spec::parse──▶ plan::validate ──pipeline::run──▶ selections over the source's shards ──▶ version::commit
//!
//!  ref ──store::Catalog::resolve──▶ manifest ──version::rows──▶ cat / export / query (DataFusion)
//! ```
//!
//! Modules, from the face down; each uses only those below it:
//!
//! | module       | owns |
//! |--------------|------|
//! | [`cli`]      | the command line: clap definitions, one handler file per subcommand, rendering |
//! | [`report`]   | one HTML page (and its JSON) about a version, or two |
//! | [`cluster`]  | a DataFusion Ballista scheduler and executor with sift's codec, and `run --cluster`'s client |
//! | [`pipeline`] | the runner: stages over selections, the stage cache, the commit of a run |
//! | [`explain`]  | why a row of a run's version is there, or which stage removed it |
//! | [`query`]    | SQL over tagged versions |
//! | [`plan`]     | validation: a spec becomes a typed plan before any work |
//! | [`spec`]     | pipeline files (TOML/YAML), their located errors |
//! | [`stage`]    | one module per kind of stage (filter, dedup, balance, language, decontaminate) behind one enum; quality functions |
//! | [`gpu`]      | MinHash on a GPU through cudarc, over plain buffers |
//! | [`version`]  | manifests, stage stats, drafts and commits, reading rows through selections, diff, export, fsck, gc |
//! | [`source`]   | reading input files into Arrow, with located errors |
//! | [`spill`]    | external sorting under a memory budget (sorted runs in the store's `tmp/`) |
//! | [`store`]    | objects (BLAKE3-named, verified), content-defined shards, row fingerprints, the sled catalog |
//! | [`par`]      | ordered parallel maps |
//! | [`size`]     | byte sizes (`64MiB`) |
//!
//! Identities: an object id is BLAKE3 of its bytes; a row fingerprint is
//! xxh3-128 of the row's canonical encoding; a content id is BLAKE3 of the
//! canonical schema and the ordered fingerprints; a version id is the object
//! id of its manifest.

pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod explain;
pub mod gpu;
pub mod par;
pub mod pipeline;
pub mod plan;
pub mod query;
pub mod report;
pub mod size;
pub mod source;
pub mod spec;
pub mod spill;
pub mod stage;
pub mod store;
pub mod version;

/// Now, as RFC 3339 UTC with microseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
