//! What a stage recorded besides its selection: plain data, so that reading
//! a version (show, diff, fsck, gc, the catalog) needs no stage code.
//!
//! In a manifest each kind's stats sit under a key named after the kind
//! (`stages[].dedup`, `stages[].balance`); in memory they are one tagged enum.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::store::ObjectId;

/// A stage's stats, by kind. Kinds that record nothing but their per-rule
/// removal counts (filter) have [`StageStats::None`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStats {
    #[default]
    None,
    Dedup(DedupStats),
    Balance(BalanceStats),
    Language(LanguageStats),
    Classifier(ClassifierStats),
    Tokens(TokensStats),
    Decontaminate(DecontaminateStats),
    /// A stage that rewrites rows (pii, normalize, lines, map).
    Transform(TransformStats),
}

impl StageStats {
    /// Every object the stats name, with what it is.
    pub fn objects(&self) -> Vec<(ObjectId, &'static str)> {
        match self {
            StageStats::None | StageStats::Language(_) | StageStats::Tokens(_) => vec![],
            StageStats::Classifier(c) => {
                c.written.iter().flat_map(TransformStats::objects).collect()
            }
            StageStats::Transform(t) => t.objects(),
            StageStats::Decontaminate(d) => vec![(d.index, "decontamination index")],
            StageStats::Dedup(d) => vec![(d.details, "dedup details")],
            StageStats::Balance(b) => std::iter::once((b.details, "balance details"))
                .chain(b.repeats.map(|r| (r, "balance repeat counts")))
                .collect(),
        }
    }

    /// The repeat-count set an oversampling stage recorded.
    pub fn repeats(&self) -> Option<ObjectId> {
        match self {
            StageStats::Balance(b) => b.repeats,
            _ => None,
        }
    }

    /// The rows a transform stage left for the stages after it.
    pub fn rewritten(&self) -> Option<&TransformStats> {
        match self {
            StageStats::Transform(t) => Some(t),
            StageStats::Classifier(c) => c.written.as_ref(),
            _ => None,
        }
    }

    /// The object listing each removed row with its evidence, for explain.
    pub fn details(&self) -> Option<ObjectId> {
        match self {
            StageStats::None
            | StageStats::Language(_)
            | StageStats::Classifier(_)
            | StageStats::Tokens(_)
            | StageStats::Decontaminate(_)
            | StageStats::Transform(_) => None,
            StageStats::Dedup(d) => Some(d.details),
            StageStats::Balance(b) => Some(b.details),
        }
    }
}

/// Stats of a dedup stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DedupStats {
    /// `exact` or `minhash`.
    pub method: String,
    /// Bands × rows used (MinHash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    /// Candidate pairs found by LSH, and how many passed verification.
    pub candidates: u64,
    pub verified: u64,
    /// Clusters of two or more rows.
    pub clusters: u64,
    pub removed: u64,
    /// Cluster size → number of clusters.
    pub histogram: IndexMap<String, u64>,
    /// Object listing each removed row with its kept row and Jaccard (for explain).
    pub details: ObjectId,
    /// Where signatures were computed: `cpu`, or the GPU's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Rows whose key or band hashes came from the band sidecars of an
    /// earlier run instead of being hashed again (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused: Option<u64>,
    /// Bytes of sorted runs written to the store's `tmp/` because the
    /// memory budget (`sift run --memory`) was smaller than the work (absent:
    /// none). They are removed when the stage ends; the result is the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spilled: Option<u64>,
    /// Candidate pairs whose Jaccard came from the pair sidecars of an
    /// earlier run instead of reading their texts again (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs_reused: Option<u64>,
    /// The earlier versions the stage deduplicated against (`against`), in spec order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub against: Vec<AgainstStats>,
}

/// An earlier version a dedup stage compared its input with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgainstStats {
    /// As the spec names it (a tag or an id).
    pub version: String,
    /// The version's id when the stage ran.
    pub id: ObjectId,
    /// Its rows.
    pub rows: u64,
    /// Rows of the input removed as duplicates of its rows.
    pub removed: u64,
}

/// Class counts before and after a balance stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassCounts {
    pub before: u64,
    /// Rows the strategy asked for (repeats included).
    pub quota: u64,
    /// Rows kept (repeats included).
    pub after: u64,
}

/// Stats of a balance stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BalanceStats {
    /// The label column or expression.
    pub label: String,
    /// `cap`, `downsample`, `proportions` or `oversample`.
    pub strategy: String,
    pub seed: u64,
    /// Per class, by class name (a null label is the class `null` unless `null_label` says otherwise).
    pub classes: IndexMap<String, ClassCounts>,
    /// Rows with a null label removed (`null_label = "drop"`) or kept outside the quotas (`"keep"`).
    #[serde(default)]
    pub null_dropped: u64,
    #[serde(default)]
    pub null_kept: u64,
    /// Repeat counts over the source's rows (oversampling), one list per segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<ObjectId>,
    /// Object listing each removed row with its class and rank (for explain).
    pub details: ObjectId,
}

/// Stats of a language stage: rows per detected language, before and after.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageStats {
    /// The model that decided (`whatlang 0.18`).
    pub model: String,
    /// Per detected language (ISO 639-1; `und` where none was detected), most rows first.
    pub languages: IndexMap<String, RowCount>,
}

/// Rows of one group (a detected language, a band of scores) before and after a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowCount {
    pub before: u64,
    pub after: u64,
}

/// Stats of a classifier stage: its model, label, and how the scores fell.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifierStats {
    /// The model that scored (`fastText quality.bin (blake3 1a2b3c4d5e6f)`).
    pub model: String,
    /// The label whose probability is the score (without `__label__`).
    pub label: String,
    /// The mean score of the rows the stage read, and of those it kept.
    pub mean_before: f64,
    pub mean_after: f64,
    /// Rows per tenth of the score range (`0.0-0.1` … `0.9-1.0`), before and after.
    pub histogram: IndexMap<String, RowCount>,
    /// With `score_column`: the rows it wrote, with the score column added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<TransformStats>,
}

/// Stats of a tokens stage: the token totals under one tokenizer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokensStats {
    /// The tokenizer (`tokenizer.json (blake3 1a2b3c4d5e6f)`).
    pub tokenizer: String,
    /// BLAKE3 of the tokenizer.json: the counts hold under exactly this file.
    pub tokenizer_id: String,
    /// Whether the special tokens it adds were counted.
    pub special_tokens: bool,
    /// Tokens of the rows the stage read, and of those it kept.
    pub tokens_before: u64,
    pub tokens_after: u64,
}

/// Stats of a decontaminate stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecontaminateStats {
    /// Words per n-gram.
    pub ngram: usize,
    /// The n-gram index of the eval sets (an object, reused across runs).
    pub index: ObjectId,
    /// Per eval set, by name, in spec order.
    pub benchmarks: IndexMap<String, Benchmark>,
}

/// One eval set's part in a decontamination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Benchmark {
    pub eval_rows: u64,
    /// Eval rows of fewer words than an n-gram, which can match nothing.
    pub too_short: u64,
    /// Rows removed whose first shared n-gram is in this set.
    pub rows_removed: u64,
}

/// Stats of a stage that rewrites rows (pii, normalize, lines, map).
///
/// The rows it changed are written as new shards; the rows it left alone
/// stay segments of their shards. `version` is a manifest of the stage's
/// output rows (not a version of its own: `sift log` does not list it),
/// which the stages after it read and `sift explain` follows.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformStats {
    /// The manifest of the rows the stage passed on.
    pub version: ObjectId,
    /// Selection set over the stage's input: the rows it rewrote.
    pub changed: ObjectId,
    /// Rows rewritten (and kept).
    pub rows_changed: u64,
    /// Bytes of new shards and sidecars the stage stored.
    pub new_bytes: u64,
    /// Edits per rule or entity (replacements, lines dropped, fixes), in spec order.
    pub edits: IndexMap<String, u64>,
}

impl TransformStats {
    /// The objects it names, with what they are.
    pub fn objects(&self) -> Vec<(ObjectId, &'static str)> {
        vec![
            (self.version, "stage rows manifest"),
            (self.changed, "stage changed rows"),
        ]
    }
}
