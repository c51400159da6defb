//! `sift diff A B`: what changed between two versions.
//!
//! ```text
//! segments of A and B ─▶ identical (shard, selection, repeats) on both sides: skipped
//!                     └▶ the rest: fingerprints from sidecars, sorted, merged as multisets
//!                                   ─▶ added / removed rows (counts; no data read)
//!                                   ─▶ with --key: changed rows read, paired by key
//! ```
//!
//! Rows are compared as multisets of row fingerprints: order does not
//! matter, and a row present twice in B and once in A is one row added.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod keys;
mod lineage;
mod rows;

use super::{ReadError, Version};
use crate::store::{self, ObjectId, Store};
use keys::{key_diff, label_counts};
pub use lineage::line_diff;
use lineage::lineage_diff;
use rows::{json_rows, multiset_difference, positioned_fingerprints, unmatched_segments};

/// What to compute beyond the row counts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Key columns: pair removed and added rows into modified ones.
    pub keys: Vec<String>,
    /// A label column whose class counts to compare.
    pub label: Option<String>,
    /// Sample rows to show per kind (0: read no row data unless keys need it).
    pub samples: usize,
}

/// The difference between two versions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diff {
    pub a: Side,
    pub b: Side,
    /// Both versions have the same content id: the same rows in the same order.
    pub same_content: bool,
    pub schema: SchemaDiff,
    pub rows: RowDiff,
    /// With `--key`: rows paired by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeyDiff>,
    /// Class counts of a label column on both sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelDiff>,
    pub lineage: LineageDiff,
    pub samples: Samples,
}

/// One side of the diff.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Side {
    /// As given on the command line.
    pub reference: String,
    pub version: ObjectId,
    pub content_id: String,
    pub rows: u64,
    /// How the version was made, in words.
    pub made_by: String,
}

/// Columns added, removed and retyped (by name).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaDiff {
    pub added: Vec<ColumnType>,
    pub removed: Vec<ColumnType>,
    pub retyped: Vec<Retyped>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnType {
    pub name: String,
    /// Logical type (`string`, `int`, …).
    #[serde(rename = "type")]
    pub logical: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retyped {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// Row counts, as multisets of row fingerprints.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowDiff {
    /// Rows in B beyond their count in A.
    pub added: u64,
    /// Rows in A beyond their count in B.
    pub removed: u64,
    /// Rows in both.
    pub unchanged: u64,
    /// Segments identical on both sides (same shard, selection and repeats), not read.
    pub segments_skipped: u64,
    /// Segments whose fingerprints were compared.
    pub segments_compared: u64,
}

/// Rows paired by key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyDiff {
    pub columns: Vec<String>,
    /// Keys whose row changed (one removed and one added row with that key).
    pub modified: u64,
    /// Added rows whose key A does not have among its removed rows.
    pub added: u64,
    /// Removed rows whose key B does not have among its added rows.
    pub removed: u64,
    /// Column → modified rows in which it changed.
    pub changed_columns: IndexMap<String, u64>,
    /// Key values that occur more than once, per side.
    pub duplicate_keys_a: u64,
    pub duplicate_keys_b: u64,
    /// Up to 5 duplicated key values per side.
    pub duplicate_examples_a: Vec<String>,
    pub duplicate_examples_b: Vec<String>,
}

/// Class counts of a label column.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelDiff {
    pub column: String,
    /// Class → counts, by class name (null is `null`).
    pub classes: IndexMap<String, ClassChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassChange {
    pub a: u64,
    pub b: u64,
}

/// How the two versions were made.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineageDiff {
    /// B descends from A (A is among its parents or its pipeline's source).
    pub b_from_a: bool,
    /// When both came from `sift run` and their specs differ: a line diff of
    /// the canonical specs (`- ` A only, `+ ` B only, `  ` both).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec_diff: Vec<String>,
}

/// Sample rows, as JSON objects.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Samples {
    pub added: Vec<serde_json::Value>,
    pub removed: Vec<serde_json::Value>,
    pub modified: Vec<Modified>,
}

/// A modified row: its key and the columns that changed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Modified {
    pub key: String,
    /// Column → [value in A, value in B].
    pub changes: IndexMap<String, [serde_json::Value; 2]>,
}

/// Why a diff failed.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{side} ({version}) has no column '{column}'; its columns are: {columns}")]
    NoColumn {
        side: &'static str,
        version: String,
        column: String,
        columns: String,
    },
}

impl From<store::Error> for DiffError {
    fn from(e: store::Error) -> Self {
        DiffError::Read(ReadError::Store(e))
    }
}

impl DiffError {
    pub fn hint(&self) -> Option<String> {
        match self {
            DiffError::Read(e) => e.hint(),
            DiffError::NoColumn { .. } => {
                Some("`--key` and `--label` name columns both versions have".into())
            }
        }
    }
}

/// A row of one side: (segment index, shard row).
type At = (u32, u32);

/// Compares A and B.
pub fn diff(
    store: &Store,
    (a, a_ref): (&Version, &str),
    (b, b_ref): (&Version, &str),
    opts: &Options,
) -> Result<Diff, DiffError> {
    for col in opts.keys.iter().chain(&opts.label) {
        for (side, v) in [("A", a), ("B", b)] {
            if !v.manifest.schema.iter().any(|c| &c.name == col) {
                let cols: Vec<&str> = v.manifest.schema.iter().map(|c| c.name.as_str()).collect();
                return Err(DiffError::NoColumn {
                    side,
                    version: v.id.short(),
                    column: col.clone(),
                    columns: cols.join(", "),
                });
            }
        }
    }
    let (rest_a, rest_b, skipped) = unmatched_segments(a, b);
    let fa = positioned_fingerprints(store, a, &rest_a)?;
    let fb = positioned_fingerprints(store, b, &rest_b)?;
    let (removed, added) = multiset_difference(fa, fb);
    let rows = RowDiff {
        added: added.len() as u64,
        removed: removed.len() as u64,
        unchanged: a.manifest.stats.rows - removed.len() as u64,
        segments_skipped: skipped,
        segments_compared: (rest_a.len() + rest_b.len()) as u64,
    };

    let mut samples = Samples::default();
    let keys = if opts.keys.is_empty() {
        samples.removed = json_rows(store, a, &removed[..removed.len().min(opts.samples)])?;
        samples.added = json_rows(store, b, &added[..added.len().min(opts.samples)])?;
        None
    } else {
        Some(key_diff(
            store,
            (a, &removed),
            (b, &added),
            opts,
            &mut samples,
        )?)
    };
    let labels = match &opts.label {
        Some(col) => Some(LabelDiff {
            column: col.clone(),
            classes: label_counts(store, a, b, col)?,
        }),
        None => None,
    };
    Ok(Diff {
        a: side(a, a_ref),
        b: side(b, b_ref),
        same_content: a.manifest.content_id == b.manifest.content_id,
        schema: schema_diff(a, b),
        rows,
        keys,
        labels,
        lineage: lineage_diff(a, b),
        samples,
    })
}

/// The label a balance stage of B (or A) used, when it is a column of both.
pub fn default_label(a: &Version, b: &Version) -> Option<String> {
    [b, a]
        .iter()
        .filter_map(|v| v.manifest.lineage.pipeline.as_ref())
        .flat_map(|p| p.stages.iter())
        .filter_map(|s| match &s.stats {
            super::StageStats::Balance(b) => Some(b.label.clone()),
            _ => None,
        })
        .find(|l| {
            [a, b]
                .iter()
                .all(|v| v.manifest.schema.iter().any(|c| &c.name == l))
        })
}

fn side(v: &Version, reference: &str) -> Side {
    let l = &v.manifest.lineage;
    let made_by = match &l.pipeline {
        Some(p) => format!(
            "sift run {} on {} ({} stages)",
            p.spec_file,
            p.source.short(),
            p.stages.len()
        ),
        None if !l.inputs.is_empty() => {
            let more = if l.inputs.len() > 1 {
                format!(" and {} more", l.inputs.len() - 1)
            } else {
                String::new()
            };
            format!("sift {} {}{more}", l.command, l.inputs[0])
        }
        None => {
            let parents: Vec<String> = l.parents.iter().map(|p| p.short()).collect();
            format!("sift {} {}", l.command, parents.join(" "))
        }
    };
    Side {
        reference: reference.to_string(),
        version: v.id,
        content_id: v.manifest.content_id.clone(),
        rows: v.manifest.stats.rows,
        made_by: made_by.trim_end().to_string(),
    }
}

fn schema_diff(a: &Version, b: &Version) -> SchemaDiff {
    let (ca, cb) = (&a.manifest.schema, &b.manifest.schema);
    let find = |cols: &[super::manifest::Column], name: &str| {
        cols.iter()
            .find(|c| c.name == name)
            .map(|c| c.logical.clone())
    };
    let mut d = SchemaDiff::default();
    for c in cb {
        match find(ca, &c.name) {
            None => d.added.push(ColumnType {
                name: c.name.clone(),
                logical: c.logical.clone(),
            }),
            Some(t) if t != c.logical => d.retyped.push(Retyped {
                name: c.name.clone(),
                from: t,
                to: c.logical.clone(),
            }),
            Some(_) => {}
        }
    }
    for c in ca {
        if find(cb, &c.name).is_none() {
            d.removed.push(ColumnType {
                name: c.name.clone(),
                logical: c.logical.clone(),
            });
        }
    }
    d
}

/// The JSON schema of `sift diff --json`, as checked in under `schemas/`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Diff);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multisets_count_repeats() {
        let a = vec![(1, (0, 0)), (2, (0, 1)), (2, (0, 2)), (3, (0, 3))];
        let b = vec![(2, (0, 0)), (3, (0, 1)), (3, (0, 2)), (4, (0, 3))];
        let (removed, added) = multiset_difference(a, b);
        assert_eq!(removed, [(0, 0), (0, 2)]);
        assert_eq!(added, [(0, 2), (0, 3)]);
    }

    #[test]
    fn line_diffs_keep_common_lines() {
        let d = line_diff("a\nb\nc\n", "a\nx\nc\nd\n");
        assert_eq!(d, ["  a", "+ x", "- b", "  c", "+ d"]);
    }
}
