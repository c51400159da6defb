//! Pipeline specs: TOML or YAML → serde types, which `plan` validates.
//!
//! Both formats map onto the same types, from which
//! `schemas/pipeline.schema.json` is generated. Every error points into the
//! file (`file:line:column`), names the field and shows the offending text.
//!
//! ```text
//!  text ──toml / serde_yaml_ng──▶ RawPipeline { source, output, stage: [fields…] }
//!                                     │ each stage: `kind` picks its Spec; serde_path_to_error names the field
//!                                     ▼
//!                                  Pipeline { source, stages: [StageSpec], output }
//!  text ──locate──▶ Locator: field path (`stage[2].threshold`) → line:column of its key and value
//! ```

mod locate;
mod parse;

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use locate::Locator;
pub use parse::{parse_file, parse_str};

use crate::size::ByteSize;
use crate::source::Format;
use crate::stage::StageSpec;

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
    /// Files: `fail` (default) on a row that does not read, or `skip` it and
    /// record it in the import's quarantine (JSONL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_bad_row: Option<crate::source::OnBadRow>,
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
    pub shard_size: Option<ByteSize>,
    /// Rewrite a shard whose selection keeps less than this fraction of its rows (0 disables; default 0.25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_below: Option<f64>,
    /// Commit a version even when the stages leave no row (default false: an empty result fails the run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_empty: bool,
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
    /// Where each field is in the file.
    pub locator: Locator,
}

impl Parsed {
    /// The directory relative paths in the spec are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// An error at the value of the field at `path` (`stage[1].threshold`),
    /// labelled `label` (`stage 2 (near-dups), field `threshold``).
    pub fn invalid(
        &self,
        label: &str,
        path: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Error {
        let at = self.locator.value(path).unwrap_or((1, 1));
        self.error_at(at, Some(label.to_string()), message.into(), hint)
    }

    fn error_at(
        &self,
        (line, column): (usize, usize),
        field: Option<String>,
        message: String,
        hint: Option<String>,
    ) -> Error {
        let text = self
            .text
            .lines()
            .nth(line.saturating_sub(1))
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty());
        Error::Located(Box::new(Located {
            path: self.path.clone(),
            line,
            column,
            field,
            text,
            message,
            hint,
        }))
    }
}

/// The stage's label in errors: `stage 2 (near-dups)`.
pub fn stage_label(index: usize, spec: &StageSpec) -> String {
    let name = spec
        .name()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}-{}", spec.kind(), index + 1));
    format!("stage {} ({name})", index + 1)
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
        let StageSpec::Filter(f) = &a.stages[0] else {
            panic!("a filter stage")
        };
        assert_eq!(f.rules.keys().collect::<Vec<_>>(), ["too_short", "no_stop"]);
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
    fn an_error_in_a_later_stage_names_that_stage_and_its_line() {
        // The same key in two stages: the error is at the second one's line.
        let t = "[source]\npath = \"x.jsonl\"\n\n[[stage]]\nkind = \"dedup\"\nthreshold = 0.8\n\n[[stage]]\nkind = \"dedup\"\nname = \"near\"\nthreshold = \"0.8\"\n";
        let e = parse_str(Path::new("p.toml"), t.into())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("p.toml:11:14: stage 2 (near), field `threshold`"),
            "{e}"
        );
        let y = "source:\n  path: x.jsonl\nstage:\n  - kind: dedup\n    threshold: 0.8\n  - kind: dedup\n    threshold: high\n";
        let e = parse_str(Path::new("p.yaml"), y.into())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("p.yaml:7:16: stage 2 (dedup-2), field `threshold`"),
            "{e}"
        );
        // A field of another kind says whose it is.
        let t = "[source]\npath = \"x.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"true\"\n\n[[stage]]\nkind = \"filter\"\nmethod = \"exact\"\n";
        let e = parse_str(Path::new("p.toml"), t.into()).unwrap_err();
        assert!(e.to_string().starts_with("p.toml:10:1:"), "{e}");
        assert!(
            e.to_string()
                .contains("`method` belongs to dedup stages, not filter"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_are_located() {
        let t = "[source]\npath = 3\n";
        let e = parse_str(Path::new("p.toml"), t.into()).unwrap_err();
        assert!(e.to_string().starts_with("p.toml:2:"), "{e}");
    }
}
