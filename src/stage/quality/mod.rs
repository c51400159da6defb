//! Text-quality metrics and the published rule sets (Gopher, C4, FineWeb).
//!
//! Every function here follows the reference behaviour documented in
//! `QUALITY_RULES.md` (datatrove's filters): lengths are Unicode code
//! points, each rule uses its own line splitter, and comparisons are strict
//! or inclusive exactly as published. The functions are pure; [`udfs`]
//! registers them with DataFusion so any filter expression can use them.
//!
//! Where datatrove divides by zero (an empty document), sift defines the
//! result: ratios are 0.0 and every rule set drops the document.
//!
//! | file | owns |
//! |------|------|
//! | `tables.rs` | character classes and punctuation tables |
//! | `spacy.rs` | spaCy's icon ranges and one-token exceptions (generated) |
//! | `text.rs` | line, paragraph and word splitting |
//! | `metrics.rs` | the metrics |
//! | `ngrams.rs` | the word n-gram statistics of Gopher repetition |
//! | `rules.rs` | the rule sets |
//! | `udfs.rs` | their DataFusion UDFs |

mod metrics;
mod ngrams;
mod rules;
mod spacy;
mod tables;
mod text;
pub mod udfs;

#[cfg(test)]
mod tests;

pub use metrics::*;
pub use rules::*;
pub use tables::*;
pub use text::*;
