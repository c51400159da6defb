//! The dataset card `sift export` writes beside the data: a Hugging Face
//! `README.md` with YAML front matter (`configs`/`data_files`,
//! `dataset_info` with features and sizes, languages where a language stage
//! recorded them), then the version's identity, lineage, spec and what each
//! stage did. So an export directory can be uploaded as it is, and
//! `datasets.load_dataset(DIR)` reads it with its split.

use std::fmt::Write as _;

use arrow::datatypes::{DataType, SchemaRef};

use super::Version;
use super::stats::StageStats;

/// A line every card sift writes holds, so an export may replace its own card.
pub const MARK: &str = "This card was written by `sift export`";

/// The Hugging Face feature type of an Arrow type, if it has one.
fn dtype(dt: &DataType) -> Option<String> {
    Some(
        match dt {
            DataType::Boolean => "bool",
            DataType::Int8 => "int8",
            DataType::Int16 => "int16",
            DataType::Int32 => "int32",
            DataType::Int64 => "int64",
            DataType::UInt8 => "uint8",
            DataType::UInt16 => "uint16",
            DataType::UInt32 => "uint32",
            DataType::UInt64 => "uint64",
            DataType::Float16 => "float16",
            DataType::Float32 => "float32",
            DataType::Float64 => "float64",
            DataType::Utf8 | DataType::Utf8View => "string",
            DataType::LargeUtf8 => "large_string",
            DataType::Date32 => "date32",
            _ => return None,
        }
        .to_string(),
    )
}

/// A YAML string, quoted.
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// The card of `v`, exported as `files` files (`ext`) of `download_size` bytes in all.
pub fn card(v: &Version, schema: &SchemaRef, ext: &str, download_size: u64) -> String {
    let m = &v.manifest;
    let mut y = String::new();
    y += "---\n";
    y += "configs:\n- config_name: default\n  data_files:\n  - split: train\n";
    let _ = writeln!(y, "    path: {}", q(&format!("data/train-*.{ext}")));
    let features: Option<Vec<String>> = schema
        .fields()
        .iter()
        .map(|f| {
            let line = match f.data_type() {
                DataType::List(inner) | DataType::LargeList(inner) => {
                    format!(
                        "  - name: {}\n    sequence: {}",
                        q(f.name()),
                        dtype(inner.data_type())?
                    )
                }
                dt => format!("  - name: {}\n    dtype: {}", q(f.name()), dtype(dt)?),
            };
            Some(line)
        })
        .collect();
    y += "dataset_info:\n";
    if let Some(features) = features {
        y += "  features:\n";
        for f in features {
            let _ = writeln!(y, "{f}");
        }
    }
    let _ = writeln!(
        y,
        "  splits:\n  - name: train\n    num_bytes: {}\n    num_examples: {}",
        m.stats.data_bytes, m.stats.rows
    );
    let _ = writeln!(y, "  download_size: {download_size}");
    let _ = writeln!(y, "  dataset_size: {}", m.stats.data_bytes);
    let languages = languages(v);
    if !languages.is_empty() {
        y += "language:\n";
        for l in &languages {
            let _ = writeln!(y, "- {l}");
        }
    }
    y += "tags:\n- sift\n---\n\n";

    let title = m
        .message
        .clone()
        .unwrap_or_else(|| format!("Version {}", v.id.short()));
    let _ = writeln!(y, "# {title}\n");
    let _ = writeln!(
        y,
        "{MARK} (sift {}) from version `{}`. Its rows are pinned by their content id: the same rows in the same order give the same id, however they were made.\n",
        env!("CARGO_PKG_VERSION"),
        v.id.short()
    );
    y += "| | |\n|---|---|\n";
    let _ = writeln!(y, "| version | `{}` |", v.id.hex());
    let _ = writeln!(y, "| content id | `{}` |", m.content_id);
    let _ = writeln!(y, "| rows | {} |", m.stats.rows);
    let _ = writeln!(y, "| created | {} |", m.created);
    let _ = writeln!(
        y,
        "| made by | sift {} `{}` |",
        m.lineage.sift_version, m.lineage.command
    );
    if !m.lineage.inputs.is_empty() {
        let _ = writeln!(y, "| inputs | {} |", m.lineage.inputs.join(", "));
    }
    y += "\n";
    if let Some(p) = &m.lineage.pipeline {
        y += "## Lineage\n\n";
        let _ = writeln!(y, "Source version `{}`, then:\n", p.source.short());
        y += "| stage | kind | rows in | rows out | removed |\n|---|---|---:|---:|---|\n";
        for s in &p.stages {
            let removed: Vec<String> = s
                .removed
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            let extra = match &s.stats {
                StageStats::Transform(t) => format!(" (rewrote {} rows)", t.rows_changed),
                _ => String::new(),
            };
            let _ = writeln!(
                y,
                "| {} | {} | {} | {} | {}{extra} |",
                s.name,
                s.kind,
                s.rows_in,
                s.rows_out,
                if removed.is_empty() {
                    "-".into()
                } else {
                    removed.join(", ")
                }
            );
        }
        y += "\n## Pipeline\n\n";
        let _ = writeln!(
            y,
            "`{}` (spec `{}`):\n",
            p.spec_file,
            &p.spec_hash[..12.min(p.spec_hash.len())]
        );
        let pretty = serde_json::from_str::<serde_json::Value>(&p.spec)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| p.spec.clone());
        let _ = writeln!(y, "```json\n{pretty}\n```\n");
        y += "Reproduce it with `sift run` on the same source; `sift explain` says why any source row was removed.\n";
    }
    y
}

/// Languages a language stage kept rows of (ISO 639-1), most rows first.
fn languages(v: &Version) -> Vec<String> {
    let Some(p) = &v.manifest.lineage.pipeline else {
        return vec![];
    };
    p.stages
        .iter()
        .rev()
        .find_map(|s| match &s.stats {
            StageStats::Language(l) => Some(
                l.languages
                    .iter()
                    .filter(|(code, c)| c.after > 0 && code.len() == 2)
                    .map(|(code, _)| code.clone())
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}
