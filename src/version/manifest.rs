//! The manifest: everything a version is, as one JSON object.
//!
//! Its BLAKE3 is the version id. `schemas/manifest.schema.json` is generated
//! from these types (`sift schema manifest`); a test fails when it is stale.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::store::ObjectId;
use crate::version::stats::{
    BalanceStats, ClassifierStats, DecontaminateStats, DedupStats, LanguageStats, StageStats,
    TokensStats, TransformStats,
};

/// The `lineage.command` of a transform stage's output rows.
pub const STAGE_COMMAND: &str = "stage";

/// The manifest format this build writes.
pub const FORMAT: u32 = 1;

/// A dataset version.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format version.
    pub format: u32,
    /// BLAKE3 of (canonical schema, ordered row fingerprints): depends on the rows alone.
    pub content_id: String,
    /// Columns, in order.
    pub schema: Vec<Column>,
    /// The rows, in order: shards with optional selections over them.
    pub segments: Vec<Segment>,
    pub stats: Stats,
    pub lineage: Lineage,
    pub message: Option<String>,
    /// Creation time, RFC 3339, UTC.
    pub created: String,
    /// Rows an import left out (`--on-bad-row skip`), with where and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<Quarantine>,
}

/// The first line of a quarantine object; JSONL of the skipped rows follows.
pub const QUARANTINE_MAGIC: &[u8; 9] = b"SIFTQRN1\n";

/// The rows an import skipped: an object of a magic line, then JSONL of
/// `{path, line, reason, text}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quarantine {
    pub object: ObjectId,
    pub rows: u64,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    /// Logical type, as used in the canonical schema (`string`, `int`, `list<string>`, …).
    #[serde(rename = "type")]
    pub logical: String,
    /// The Arrow type the shards store.
    pub arrow: String,
    pub nullable: bool,
}

/// A shard plus an optional selection of its rows.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Parquet shard object.
    pub shard: ObjectId,
    /// Sidecar object with the shard's row fingerprints, in row order.
    pub fingerprints: ObjectId,
    /// Rows in the shard.
    pub rows: u64,
    /// Size of the shard object in bytes.
    pub shard_bytes: u64,
    /// Selection object (a bitmap of kept row indexes); absent means every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<ObjectId>,
    /// Repeat-count object (shard row → copies, for rows an oversampling
    /// balance stage repeats); absent means every selected row once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<ObjectId>,
    /// Rows this segment contributes (repeats included).
    pub selected_rows: u64,
    /// Canonical bytes of the rows this segment contributes (estimated pro rata under a selection).
    #[serde(default)]
    pub data_bytes: u64,
}

impl Segment {
    /// The canonical bytes of `rows` of this segment's rows, pro rata.
    pub fn pro_rata(&self, rows: u64) -> u64 {
        (self.data_bytes as u128 * rows as u128 / self.selected_rows.max(1) as u128) as u64
    }

    /// A segment holding every row of a freshly written shard.
    pub fn whole(s: &crate::store::shard::WrittenShard) -> Segment {
        Segment {
            shard: s.shard.id,
            fingerprints: s.sidecar.id,
            rows: s.rows,
            shard_bytes: s.shard.len,
            selection: None,
            repeats: None,
            selected_rows: s.rows,
            data_bytes: s.data_bytes,
        }
    }
}

/// Sizes and counts.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    pub rows: u64,
    /// Canonical (uncompressed) bytes of the rows.
    pub data_bytes: u64,
    /// Bytes of the shard objects the version refers to.
    pub stored_bytes: u64,
    /// Bytes this version added to the store when it was written.
    pub new_bytes: u64,
}

/// How the version was made.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lineage {
    /// Versions this one was derived from.
    pub parents: Vec<ObjectId>,
    /// The command that made it.
    pub command: String,
    /// Input files, for an import.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    pub sift_version: String,
    /// For `sift run`: the spec and what each stage did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineLineage>,
}

/// How `sift run` made a version.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineLineage {
    /// The spec file as given.
    pub spec_file: String,
    /// The spec in canonical form (JSON; formatting and TOML/YAML do not matter).
    pub spec: String,
    /// BLAKE3 of the canonical spec.
    pub spec_hash: String,
    /// The input version (the import of a file source, or the named version).
    pub source: ObjectId,
    pub stages: Vec<StageRecord>,
}

/// What one stage did.
///
/// In the manifest the kind's stats sit under a key named after the kind
/// (`dedup`, `balance`); see [`RecordWire`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "RecordWire", into = "RecordWire")]
pub struct StageRecord {
    pub name: String,
    pub kind: String,
    /// BLAKE3 of the stage's parameters (and sift's version): the cache key's first part.
    pub spec_hash: String,
    /// The stage's parameters, as canonical JSON.
    pub spec: String,
    /// Selection-set object over the rows the stage read (the source's, or those a transform before it passed on).
    pub input: ObjectId,
    /// Selection-set object over the rows the stage read: those it kept.
    pub output: ObjectId,
    pub rows_in: u64,
    pub rows_out: u64,
    /// Rows removed, per rule (`where`, a rule's name, or `error:<rule>`), in spec order.
    pub removed: indexmap::IndexMap<String, u64>,
    pub seconds: f64,
    /// True when the selection came from the stage cache.
    pub cached: bool,
    pub stats: StageStats,
}

/// What one stage did, as the manifest writes it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWire {
    pub name: String,
    pub kind: String,
    /// BLAKE3 of the stage's parameters (and sift's version): the cache key's first part.
    pub spec_hash: String,
    /// The stage's parameters, as canonical JSON.
    pub spec: String,
    /// Selection-set object over the rows the stage read (the source's, or those a transform before it passed on).
    pub input: ObjectId,
    /// Selection-set object over the rows the stage read: those it kept.
    pub output: ObjectId,
    pub rows_in: u64,
    pub rows_out: u64,
    /// Rows removed, per rule (`where`, a rule's name, or `error:<rule>`), in spec order.
    pub removed: indexmap::IndexMap<String, u64>,
    pub seconds: f64,
    /// True when the selection came from the stage cache.
    pub cached: bool,
    /// For a dedup stage: clusters, removals, the cluster-size histogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<DedupStats>,
    /// For a balance stage: class counts before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<BalanceStats>,
    /// For a language stage: rows per detected language before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<LanguageStats>,
    /// For a classifier stage: its model, label and score histogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierStats>,
    /// For a tokens stage: its tokenizer and token totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokensStats>,
    /// For a decontaminate stage: its index and the rows each eval set removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decontaminate: Option<DecontaminateStats>,
    /// For a stage that rewrites rows (pii, normalize, lines, map): its output rows and edits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<TransformStats>,
}

/// Content ids of the files a stage reads, by field (`model` → BLAKE3 hex).
pub type Inputs = std::collections::BTreeMap<String, String>;

impl StageRecord {
    /// The content ids of the files the stage read (a model), from its spec's `inputs`.
    pub fn inputs(&self) -> Inputs {
        serde_json::from_str::<serde_json::Value>(&self.spec)
            .ok()
            .and_then(|v| v.get("inputs").cloned())
            .and_then(|i| serde_json::from_value(i).ok())
            .unwrap_or_default()
    }
}

impl From<RecordWire> for StageRecord {
    fn from(w: RecordWire) -> StageRecord {
        let stats = if let Some(d) = w.dedup {
            StageStats::Dedup(d)
        } else if let Some(b) = w.balance {
            StageStats::Balance(b)
        } else if let Some(l) = w.language {
            StageStats::Language(l)
        } else if let Some(c) = w.classifier {
            StageStats::Classifier(c)
        } else if let Some(t) = w.tokens {
            StageStats::Tokens(t)
        } else if let Some(d) = w.decontaminate {
            StageStats::Decontaminate(d)
        } else if let Some(t) = w.transform {
            StageStats::Transform(t)
        } else {
            StageStats::None
        };
        StageRecord {
            name: w.name,
            kind: w.kind,
            spec_hash: w.spec_hash,
            spec: w.spec,
            input: w.input,
            output: w.output,
            rows_in: w.rows_in,
            rows_out: w.rows_out,
            removed: w.removed,
            seconds: w.seconds,
            cached: w.cached,
            stats,
        }
    }
}

impl From<StageRecord> for RecordWire {
    fn from(r: StageRecord) -> RecordWire {
        let (
            mut dedup,
            mut balance,
            mut language,
            mut classifier,
            mut tokens,
            mut decontaminate,
            mut transform,
        ) = (None, None, None, None, None, None, None);
        match r.stats {
            StageStats::None => {}
            StageStats::Dedup(d) => dedup = Some(d),
            StageStats::Balance(b) => balance = Some(b),
            StageStats::Language(l) => language = Some(l),
            StageStats::Classifier(c) => classifier = Some(c),
            StageStats::Tokens(t) => tokens = Some(t),
            StageStats::Decontaminate(d) => decontaminate = Some(d),
            StageStats::Transform(t) => transform = Some(t),
        }
        RecordWire {
            name: r.name,
            kind: r.kind,
            spec_hash: r.spec_hash,
            spec: r.spec,
            input: r.input,
            output: r.output,
            rows_in: r.rows_in,
            rows_out: r.rows_out,
            removed: r.removed,
            seconds: r.seconds,
            cached: r.cached,
            dedup,
            balance,
            language,
            classifier,
            tokens,
            decontaminate,
            transform,
        }
    }
}

impl JsonSchema for StageRecord {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StageRecord".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RecordWire::json_schema(g)
    }
}

impl Manifest {
    /// Every object the version names, with what it is (parents included).
    pub fn objects(&self) -> Vec<(ObjectId, &'static str)> {
        let mut out = Vec::new();
        for s in &self.segments {
            out.push((s.shard, "shard"));
            out.push((s.fingerprints, "fingerprint sidecar"));
            if let Some(id) = s.selection {
                out.push((id, "selection"));
            }
            if let Some(id) = s.repeats {
                out.push((id, "repeat counts"));
            }
        }
        if let Some(q) = &self.quarantine {
            out.push((q.object, "quarantine"));
        }
        for p in &self.lineage.parents {
            out.push((*p, "parent manifest"));
        }
        if let Some(p) = &self.lineage.pipeline {
            out.push((p.source, "source manifest"));
            for st in &p.stages {
                out.push((st.input, "stage input selection"));
                out.push((st.output, "stage output selection"));
                out.extend(st.stats.objects());
                for id in st.inputs().values().filter_map(|h| h.parse().ok()) {
                    out.push((id, "stage input file"));
                }
            }
        }
        out.sort();
        out.dedup_by_key(|o| o.0);
        out
    }

    /// Whether this is the output of a transform stage inside a run rather
    /// than a version of its own (no catalog entry, no tags, not in `sift log`).
    pub fn is_stage_rows(&self) -> bool {
        self.lineage.command == STAGE_COMMAND
    }

    /// The Arrow schema of the version's rows.
    pub fn arrow_schema(&self) -> Result<SchemaRef, String> {
        let fields = self
            .schema
            .iter()
            .map(|c| {
                let dt: DataType = c
                    .arrow
                    .parse()
                    .map_err(|e| format!("column '{}': {e}", c.name))?;
                Ok(Field::new(&c.name, dt, c.nullable))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("manifest serializes");
        v.push(b'\n');
        v
    }
}

/// The columns of an Arrow schema, for a manifest.
pub fn columns(schema: &Schema) -> Vec<Column> {
    schema
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name().clone(),
            logical: crate::store::fingerprint::logical_type(f.data_type()).unwrap_or_default(),
            arrow: f.data_type().to_string(),
            nullable: f.is_nullable(),
        })
        .collect()
}

/// The JSON schema of the manifest, as checked in under `schemas/`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Manifest);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::DataType;

    #[test]
    fn arrow_types_round_trip_through_the_manifest() {
        let schema = Schema::new(vec![
            Field::new("text", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
            Field::new("tags", DataType::new_list(DataType::Utf8, true), true),
        ]);
        let m = Manifest {
            format: FORMAT,
            content_id: "c".into(),
            schema: columns(&schema),
            segments: vec![],
            stats: Stats {
                rows: 0,
                data_bytes: 0,
                stored_bytes: 0,
                new_bytes: 0,
            },
            lineage: Lineage {
                parents: vec![],
                command: "x".into(),
                inputs: vec![],
                sift_version: "0".into(),
                pipeline: None,
            },
            message: None,
            created: "t".into(),
            quarantine: None,
        };
        let back: Manifest = serde_json::from_slice(&m.to_bytes()).unwrap();
        assert_eq!(back.arrow_schema().unwrap().as_ref(), &schema);
    }
}
