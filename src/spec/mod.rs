//! Pipeline specs: TOML or YAML → serde types → a validated [`crate::plan::Plan`].
//!
//! Both formats map onto the same types, from which
//! `schemas/pipeline.schema.json` is generated. Every error points into the
//! file (`file:line:column`), names the field and shows the offending text.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::source::Format;

/// A pipeline: a source, ordered stages, and where the result goes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    pub source: SourceSpec,
    /// Stages, applied in order; each sees the rows its predecessor kept.
    #[serde(default, rename = "stage")]
    pub stages: Vec<StageSpec>,
    #[serde(default)]
    pub output: OutputSpec,
}

/// Where rows come from: files (imported first, so the input is pinned) or a version.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// A path or glob, relative to the spec file (`data/*.jsonl.gz`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// File format; default: from the file extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// A schema file (JSON list of {name, type}) instead of inference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// A version in the store: tag, id or id prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Stage kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StageKind {
    /// Keep rows by SQL predicates and named rules.
    Filter,
    /// Remove exact or near duplicates.
    Dedup,
    /// Cap, downsample, proportion or oversample classes.
    Balance,
}

/// What to do with a row whose expression errors or is null.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop the run, naming the row and the rule.
    #[default]
    Fail,
    /// Remove the row (explain says why).
    Drop,
    /// Keep the row.
    Keep,
}

/// One stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub kind: StageKind,
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// filter: a SQL boolean expression; rows where it is true are kept.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<String>,
    /// filter: named SQL boolean expressions; a row is removed by the first one that is true.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub rules: IndexMap<String, String>,
    /// filter: what to do when an expression errors or is null on a row.
    #[serde(default)]
    pub on_error: OnError,
    /// dedup: `exact` or `minhash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<crate::stage::dedup::Method>,
    /// dedup: the text column (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// dedup (minhash): `word` (default) or `char` shingles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shingle: Option<crate::stage::dedup::Shingle>,
    /// dedup (minhash): shingle length in words or characters (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ngram: Option<usize>,
    /// dedup (minhash): permutations (default 128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_perm: Option<usize>,
    /// dedup (minhash): bands and rows per band (both, with bands × rows = num_perm), or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    /// dedup (minhash): Jaccard threshold in (0, 1) (default 0.8); picks bands × rows when they are not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// dedup (minhash): `exact` (default), `signature` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<crate::stage::dedup::Verify>,
    /// dedup (minhash): seed of the permutations; balance: seed of the row ranks (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// dedup: which row of a cluster survives: `first` (default) or `longest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<crate::stage::dedup::Keep>,
    /// dedup (minhash): where signatures are computed: `auto` (default: a GPU if one is usable), `cpu` or `gpu`. The result is the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<crate::gpu::DeviceChoice>,
    /// balance: the class label, a column or a SQL expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// balance: `cap`, `downsample`, `proportions` or `oversample`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<crate::stage::balance::Strategy>,
    /// balance (cap): rows kept per class at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_class: Option<u64>,
    /// balance (downsample): the size every class is cut to (default: the smallest class's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_per_class: Option<u64>,
    /// balance (proportions): class → fraction (summing to 1); classes not listed are removed.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub proportions: IndexMap<String, f64>,
    /// balance (proportions): the total rows (default: the most every class can fill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// balance (oversample): the size every class is raised to (default: the largest class's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_class: Option<u64>,
    /// balance: rows with a null label: `class` (default, a class named `null`), `drop` or `keep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_label: Option<crate::stage::balance::NullLabel>,
}

/// Where the result goes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Tag the resulting version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Message recorded in the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Target shard size for imported and compacted shards (`64MiB`, or bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_size: Option<String>,
    /// Rewrite a shard whose selection keeps less than this fraction of its rows (0 disables; default 0.25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_below: Option<f64>,
}

/// A spec error, located in the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read the pipeline spec", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the spec must end in .toml, .yaml or .yml", path.display())]
    Extension { path: PathBuf },
    #[error(transparent)]
    Located(Box<Located>),
}

/// An error at a place in the spec file.
#[derive(Debug)]
pub struct Located {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The field, for validation errors (`stage 2 (quality), field `where``).
    pub field: Option<String>,
    /// The offending line, for validation errors.
    pub text: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: ", self.path.display(), self.line, self.column)?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(text) = &self.text {
            write!(f, "\n    {text}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Located {}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Located(l) => l.hint.clone(),
            Error::Extension { .. } => Some("name the file pipeline.toml or pipeline.yaml".into()),
            Error::Read { .. } => None,
        }
    }
}

/// A parsed spec and where it came from.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub path: PathBuf,
    pub text: String,
    pub pipeline: Pipeline,
}

impl Parsed {
    /// The directory relative paths in the spec are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// 1-based line and column of the first occurrence of `needle` (or 1:1).
    pub fn locate(&self, needle: &str) -> (usize, usize) {
        match self.text.find(needle).filter(|_| !needle.is_empty()) {
            Some(off) => line_col(&self.text, off),
            None => (1, 1),
        }
    }

    /// An error at `needle`'s place in the file.
    pub fn invalid(
        &self,
        field: &str,
        needle: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Error {
        let (line, column) = self.locate(needle);
        let text = self
            .text
            .lines()
            .nth(line - 1)
            .unwrap_or("")
            .trim()
            .to_string();
        Error::Located(Box::new(Located {
            path: self.path.clone(),
            line,
            column,
            field: Some(field.into()),
            text: Some(text),
            message: message.into(),
            hint,
        }))
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

fn parse_error(path: &Path, text: &str, line: usize, column: usize, message: String) -> Error {
    let offending = text
        .lines()
        .nth(line.saturating_sub(1))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());
    Error::Located(Box::new(Located {
        path: path.to_path_buf(),
        line,
        column,
        field: None,
        text: offending,
        hint: did_you_mean(&message),
        message,
    }))
}

/// Reads and parses a spec file (TOML or YAML by extension).
pub fn parse_file(path: &Path) -> Result<Parsed, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_str(path, text)
}

pub fn parse_str(path: &Path, text: String) -> Result<Parsed, Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let pipeline = match ext.as_str() {
        "toml" => toml::from_str::<Pipeline>(&text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(&text, s.start)).unwrap_or((1, 1));
            let message = e.message().trim().to_string();
            parse_error(path, &text, line, column, message)
        })?,
        "yaml" | "yml" => serde_yaml_ng::from_str::<Pipeline>(&text).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((1, 1));
            let mut message = e.to_string();
            if let Some(i) = message.find(" at line ") {
                message.truncate(i);
            }
            parse_error(path, &text, line, column, message)
        })?,
        _ => {
            return Err(Error::Extension {
                path: path.to_path_buf(),
            });
        }
    };
    Ok(Parsed {
        path: path.to_path_buf(),
        text,
        pipeline,
    })
}

/// From serde's "unknown field `x`, expected one of `a`, `b`", the closest name.
fn did_you_mean(message: &str) -> Option<String> {
    let names: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let (unknown, candidates) = names.split_first()?;
    if !(message.contains("unknown field") || message.contains("unknown variant")) {
        return None;
    }
    let best = candidates
        .iter()
        .map(|c| (crate::store::catalog::edit_distance(unknown, c), *c))
        .min()?;
    if best.0 <= 2.max(unknown.len() / 3) {
        Some(format!("did you mean `{}`?", best.1))
    } else {
        Some(format!("valid names: {}", candidates.join(", ")))
    }
}

/// The JSON schema of pipeline specs, as checked in under `schemas/`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Pipeline);
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_yaml_map_to_the_same_spec() {
        let t = r#"
[source]
path = "data/*.jsonl"

[[stage]]
kind = "filter"
name = "quality"
where = "length(text) > 10"
[stage.rules]
too_short = "word_count(text) < 50"
no_stop = "stopword_count(text) < 2"

[output]
tag = "clean"
"#;
        let y = r#"
source:
  path: data/*.jsonl
stage:
  - kind: filter
    name: quality
    where: length(text) > 10
    rules:
      too_short: word_count(text) < 50
      no_stop: stopword_count(text) < 2
output:
  tag: clean
"#;
        let a = parse_str(Path::new("p.toml"), t.into()).unwrap().pipeline;
        let b = parse_str(Path::new("p.yaml"), y.into()).unwrap().pipeline;
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        assert_eq!(
            a.stages[0].rules.keys().collect::<Vec<_>>(),
            ["too_short", "no_stop"]
        );
    }

    #[test]
    fn unknown_keys_point_at_the_line_and_suggest() {
        let t = "[source]\npath = \"x.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nwher = \"true\"\n";
        let e = parse_str(Path::new("p.toml"), t.into()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("p.toml:6:1:"), "{msg}");
        assert_eq!(e.hint().as_deref(), Some("did you mean `where`?"));
        let y = "source:\n  path: x.jsonl\nstage:\n  - kind: filtr\n";
        let e = parse_str(Path::new("p.yaml"), y.into()).unwrap_err();
        assert!(e.to_string().contains("p.yaml:4:"), "{e}");
        assert_eq!(e.hint().as_deref(), Some("did you mean `filter`?"));
    }

    #[test]
    fn wrong_types_are_located() {
        let t = "[source]\npath = 3\n";
        let e = parse_str(Path::new("p.toml"), t.into()).unwrap_err();
        assert!(e.to_string().starts_with("p.toml:2:"), "{e}");
    }
}
