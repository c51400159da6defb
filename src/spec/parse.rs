//! Reading a spec file: TOML or YAML into a [`Pipeline`], each stage typed
//! by its `kind`, every error at its place in the file.

use std::path::Path;

use serde::Deserialize;

use super::{Error, Located, Locator, OutputSpec, Parsed, Pipeline, SourceSpec};
use crate::stage::StageSpec;

pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
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
    let (raw, locator) = match ext.as_str() {
        "toml" => (
            toml::from_str::<RawPipeline>(&text).map_err(|e| {
                let (line, column) = e.span().map(|s| line_col(&text, s.start)).unwrap_or((1, 1));
                let message = e.message().trim().to_string();
                parse_error(path, &text, line, column, message)
            })?,
            Locator::toml(&text),
        ),
        "yaml" | "yml" => (
            serde_yaml_ng::from_str::<RawPipeline>(&text).map_err(|e| {
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
            Locator::yaml(&text),
        ),
        _ => {
            return Err(Error::Extension {
                path: path.to_path_buf(),
            });
        }
    };
    let mut parsed = Parsed {
        path: path.to_path_buf(),
        text,
        pipeline: Pipeline {
            source: raw.source,
            stages: vec![],
            output: raw.output,
        },
        locator,
    };
    for (i, fields) in raw.stages.into_iter().enumerate() {
        let stage = parse_stage(&parsed, i, fields)?;
        parsed.pipeline.stages.push(stage);
    }
    Ok(parsed)
}

/// A pipeline as read, its stages not yet typed by kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    source: SourceSpec,
    #[serde(default, rename = "stage")]
    stages: Vec<serde_json::Value>,
    #[serde(default)]
    output: OutputSpec,
}

/// Types stage `i` by its `kind`; an error names the stage and the field, at its place.
fn parse_stage(
    parsed: &Parsed,
    i: usize,
    mut fields: serde_json::Value,
) -> Result<StageSpec, Error> {
    let at = format!("stage[{i}]");
    let name = fields
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_owned);
    let default_name = match fields.get("kind").and_then(|k| k.as_str()) {
        Some(k) => format!("{k}-{}", i + 1),
        None => format!("stage-{}", i + 1),
    };
    let label = |field: &str| {
        let n = name.clone().unwrap_or_else(|| default_name.clone());
        if field.is_empty() {
            format!("stage {} ({n})", i + 1)
        } else {
            format!("stage {} ({n}), field `{field}`", i + 1)
        }
    };
    let kinds = || {
        crate::stage::KINDS
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(map) = fields.as_object_mut() else {
        return Err(parsed.invalid(
            &label(""),
            &at,
            "a stage must be a table of fields",
            Some(format!("e.g. kind = {}", kinds())),
        ));
    };
    let kind = match map.remove("kind") {
        Some(serde_json::Value::String(k)) => k,
        Some(_) => {
            return Err(parsed.invalid(
                &label("kind"),
                &format!("{at}.kind"),
                "`kind` must be a string",
                Some(format!("kind = one of {}", kinds())),
            ));
        }
        None => {
            let l = label("kind");
            return Err(parsed.invalid(
                &l,
                &at,
                "a stage needs `kind`",
                Some(format!("kind = one of {}", kinds())),
            ));
        }
    };
    let fields = serde_json::Value::Object(map.clone());
    StageSpec::from_value(&kind, fields).map_err(|e| {
        let (mut field, mut message) = (e.path, e.message);
        let mut hint = did_you_mean(&message);
        let mut on_key = false;
        if let Some(unknown) = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
        {
            let unknown = unknown.to_string();
            let owners: Vec<&str> = crate::stage::KINDS
                .iter()
                .copied()
                .filter(|k| *k != kind && StageSpec::fields(k).contains(&unknown))
                .collect();
            if !owners.is_empty() {
                message = format!(
                    "`{unknown}` belongs to {} stages, not {kind}",
                    owners.join(" and ")
                );
                hint = Some(format!(
                    "the fields of a {kind} stage are: {}",
                    StageSpec::fields(&kind).join(", ")
                ));
            }
            field = unknown;
            on_key = true;
        }
        let path = if field.is_empty() {
            at.clone()
        } else if field == "kind" {
            format!("{at}.kind")
        } else {
            format!("{at}.{field}")
        };
        let place = if on_key {
            parsed.locator.key(&path)
        } else {
            parsed.locator.value(&path)
        };
        parsed.error_at(place.unwrap_or((1, 1)), Some(label(&field)), message, hint)
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
