//! The tokens stage: count each row's tokens under a Hugging Face
//! `tokenizer.json`, keep rows within `min`/`max`, and record the version's
//! token total ("1.23 B tokens under tokenizer.json (blake3 …)").
//!
//! ```text
//! text ─▶ tokenizer ─▶ n tokens ─▶ kept if min ≤ n ≤ max
//!                              └─▶ Σ n over the rows read and the rows kept
//! ```
//!
//! The tokenizer is any `tokenizer.json` the `tokenizers` crate reads (BPE,
//! WordPiece, Unigram, with their normalizers and pre-tokenizers), given by a
//! path relative to the spec file. Its BLAKE3 is in the stage hash and its
//! spec's `inputs`, and its bytes are kept in the store (see
//! [`super::input_file`]), so the total names the tokenizer exactly. Counts
//! leave out special tokens unless `add_special_tokens = true`, as
//! `tokenizer.encode(text, add_special_tokens=False)` in Python.
//!
//! `tokens(text, 'tokenizer.json')` counts the same way in any filter or
//! `sift query`, with the path relative to the working directory.

use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{Array, AsArray, Int64Array};
use arrow::datatypes::DataType;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use indexmap::IndexMap;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use super::dedup::texts;
use super::input_file::InputFile;
use super::{
    Check, Context, ExplainContext, Invalid, Kind, Outcome, Part, Planned, Reason, RunError,
    StageStats,
};
use crate::version::selection::SelectionSet;
use crate::version::stats::TokensStats;

/// A tokens stage's spec.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name for stats and `sift explain` (default: the kind and position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The text column (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// A Hugging Face `tokenizer.json`, relative to the spec file.
    pub tokenizer: String,
    /// Keep rows with at least this many tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    /// Keep rows with at most this many tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Count the special tokens the tokenizer adds (`[CLS]`, `<s>`); default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_special_tokens: Option<bool>,
}

/// A validated tokens stage.
pub struct Plan {
    pub column: String,
    pub file: InputFile,
    tokenizer: Arc<Tokenizer>,
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub special: bool,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("column", &self.column)
            .field("file", &self.file)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish()
    }
}

/// Parses a tokenizer.json; an error (never a panic) says why it is not one.
fn parse(bytes: &[u8]) -> Result<Tokenizer, String> {
    match std::panic::catch_unwind(|| Tokenizer::from_bytes(bytes)) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the tokenizer library failed reading it".into()),
    }
}

/// The number of tokens of `text`.
fn count(t: &Tokenizer, text: &str, special: bool) -> Result<u64, String> {
    t.encode_fast(text, special)
        .map(|e| e.len() as u64)
        .map_err(|e| e.to_string())
}

impl Kind for Spec {
    const NAME: &'static str = "tokens";
    type Plan = Plan;

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn validate(&self, cx: &Check) -> Result<Plan, Invalid> {
        let column = self.column.clone().unwrap_or_else(super::text_column);
        cx.text_column("column", &column)?;
        let (file, bytes) = InputFile::open(
            cx,
            "tokenizer",
            "tokenizer",
            &self.tokenizer,
            "e.g. the tokenizer.json of a model on the Hugging Face Hub, downloaded beforehand",
        )?;
        let tokenizer = parse(&bytes).map_err(|e| {
            Invalid::new(
                "tokenizer",
                format!(
                    "{} is not a tokenizer.json sift can read: {e}",
                    file.shown()
                ),
            )
            .hint("give the tokenizer.json that `tokenizer.save(...)` or `save_pretrained` writes")
        })?;
        if let (Some(a), Some(b)) = (self.min, self.max)
            && a > b
        {
            return Err(Invalid::new(
                "max",
                format!("no row has at least {a} and at most {b} tokens"),
            )
            .hint("min must not be more than max"));
        }
        Ok(Plan {
            column,
            file,
            tokenizer: Arc::new(tokenizer),
            min: self.min,
            max: self.max,
            special: self.add_special_tokens.unwrap_or(false),
        })
    }

    fn register_udfs(ctx: &SessionContext) {
        ctx.register_udf(tokens_udf());
    }
}

/// A tokens removal's evidence: the count.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Detail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}

/// A part's tally of tokens: before the stage and in the rows it keeps.
const TOKENS: &str = "tokens";

impl Plan {
    /// A segment's part: the rows kept, removals per rule, and its tokens
    /// before and after (`counts["tokens"]`).
    fn part(
        &self,
        cx: &Context,
        seg: usize,
        batches: &super::rows::SegmentBatches,
    ) -> Result<Part, RunError> {
        let mut part = Part::default();
        let mut tokens = (0u64, 0u64);
        super::rows::segment_texts(
            cx,
            batches,
            &self.column,
            |text| count(&self.tokenizer, text, self.special),
            |row, n| {
                let n = n.map_err(|message| RunError::Row {
                    stage: cx.index + 1,
                    name: cx.name.to_string(),
                    rule: "tokens".into(),
                    expr: self.file.file.clone(),
                    row: cx.source_row(seg, row),
                    message,
                })?;
                tokens.0 += n;
                match self.verdict(n) {
                    None => {
                        part.kept.insert(row);
                        tokens.1 += n;
                    }
                    Some(rule) => *part.removed.entry(rule.to_string()).or_default() += 1,
                }
                Ok(())
            },
        )?;
        part.counts.insert(TOKENS.into(), tokens);
        Ok(part)
    }

    fn verdict(&self, n: u64) -> Option<&'static str> {
        if self.min.is_some_and(|m| n < m) {
            Some("too_few_tokens")
        } else if self.max.is_some_and(|m| n > m) {
            Some("too_many_tokens")
        } else {
            None
        }
    }

    fn wanted(&self) -> String {
        match (self.min, self.max) {
            (Some(a), Some(b)) => format!("{a} to {b}"),
            (Some(a), None) => format!("at least {a}"),
            (None, Some(b)) => format!("at most {b}"),
            (None, None) => "any number".into(),
        }
    }

    fn describe_tokenizer(&self) -> String {
        self.file.describe()
    }
}

impl Planned for Plan {
    type Detail = Detail;

    fn per_segment(&self) -> bool {
        true
    }

    fn keep_inputs(&self, store: &crate::store::Store) -> Result<(), RunError> {
        self.file.keep(store)
    }

    fn run(&self, cx: &Context, input: &SelectionSet) -> Result<Outcome, RunError> {
        self.keep_inputs(cx.store)?;
        let parts = super::rows::parts(cx, input, |seg, batches| self.part(cx, seg, &batches))?;
        Ok(self.merge(parts))
    }

    fn run_segment(
        &self,
        cx: &Context,
        segment: usize,
        rows: &RoaringBitmap,
    ) -> Option<Result<Part, RunError>> {
        Some(
            super::rows::segment(cx, segment, rows)
                .and_then(|batches| self.part(cx, segment, &batches)),
        )
    }

    fn merge(&self, parts: Vec<Part>) -> Outcome {
        let mut removed: IndexMap<String, u64> = IndexMap::new();
        if self.min.is_some() {
            removed.insert("too_few_tokens".into(), 0);
        }
        if self.max.is_some() {
            removed.insert("too_many_tokens".into(), 0);
        }
        let (mut before, mut after) = (0u64, 0u64);
        for p in &parts {
            if let Some((b, a)) = p.counts.get(TOKENS) {
                before += b;
                after += a;
            }
        }
        let mut outcome = super::merge_parts(removed, parts);
        outcome.stats = StageStats::Tokens(TokensStats {
            tokenizer: self.describe_tokenizer(),
            tokenizer_id: self.file.id.hex(),
            special_tokens: self.special,
            tokens_before: before,
            tokens_after: after,
        });
        outcome
    }

    fn explain(&self, cx: &ExplainContext) -> Result<Reason<Detail>, RunError> {
        let Some(batch) = cx.row()? else {
            return Ok(Reason::recorded());
        };
        let text = texts(&batch, &self.column).first().copied().unwrap_or("");
        let Ok(n) = count(&self.tokenizer, text, self.special) else {
            return Ok(Reason::recorded());
        };
        let Some(rule) = self.verdict(n) else {
            return Ok(Reason::recorded());
        };
        Ok(Reason {
            rule: Some(rule.into()),
            expr: None,
            because: format!(
                "has {n} tokens under {}; wanted {}",
                self.describe_tokenizer(),
                self.wanted()
            ),
            detail: Detail { tokens: Some(n) },
        })
    }

    fn describe(&self) -> Vec<String> {
        vec![format!(
            "count `{}` tokens under {}{}; keep rows with {}",
            self.column,
            self.describe_tokenizer(),
            if self.special {
                ", special tokens included"
            } else {
                ""
            },
            self.wanted()
        )]
    }

    fn inputs(&self) -> super::Inputs {
        self.file.inputs()
    }
}

/// Tokenizers the UDF has read, by path (a file is read once per process).
fn loaded(path: &str) -> Result<Arc<Tokenizer>, DataFusionError> {
    static CACHE: OnceLock<Mutex<std::collections::HashMap<String, Arc<Tokenizer>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(t) = cache.lock().expect("tokenizer cache").get(path) {
        return Ok(t.clone());
    }
    let bytes = std::fs::read(path).map_err(|e| {
        DataFusionError::Execution(format!(
            "tokens(): cannot read the tokenizer {path}: {e} (the path is relative to the working directory)"
        ))
    })?;
    let t = Arc::new(parse(&bytes).map_err(|e| {
        DataFusionError::Execution(format!(
            "tokens(): {path} is not a tokenizer.json sift can read: {e}"
        ))
    })?);
    cache
        .lock()
        .expect("tokenizer cache")
        .insert(path.to_string(), t.clone());
    Ok(t)
}

/// `tokens(text, 'tokenizer.json')`: the number of tokens (no special tokens); null for a null text.
fn tokens_udf() -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        "tokens",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = crate::stage::quality::udfs::rows_of(args);
            let path = match &args[1] {
                ColumnarValue::Scalar(s) => match s.try_as_str() {
                    Some(Some(p)) => p.to_string(),
                    _ => {
                        return Err(DataFusionError::Execution(
                            "tokens(text, path): the path is null".into(),
                        ));
                    }
                },
                ColumnarValue::Array(_) => {
                    return Err(DataFusionError::Execution(
                        "tokens(text, path): the path must be a string literal, e.g. tokens(text, 'tokenizer.json')".into(),
                    ));
                }
            };
            let t = loaded(&path)?;
            let arr = args[0].to_array(rows)?;
            let arr = arrow::compute::cast(&arr, &DataType::Utf8)?;
            let mut out = Vec::with_capacity(arr.len());
            for v in arr.as_string::<i32>().iter() {
                out.push(match v {
                    None => None,
                    Some(text) => {
                        Some(count(&t, text, false).map_err(DataFusionError::Execution)? as i64)
                    }
                });
            }
            Ok(ColumnarValue::Array(Arc::new(Int64Array::from(out))))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tokenizer bench/tokenizer_expected.py trained (`pipelines/data/tokenizer.json` is its BPE).
    fn tokenizer(path: &str) -> Tokenizer {
        let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        parse(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn counts_equal_python_tokenizers() {
        let bpe = tokenizer("pipelines/data/tokenizer.json");
        let wp = tokenizer("tests/data/tokenizer_wordpiece.json");
        let expected = include_str!("../../tests/data/tokenizer_counts.jsonl");
        let mut n = 0;
        for line in expected.lines() {
            let want: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = want["text"].as_str().unwrap();
            assert_eq!(count(&bpe, text, false).unwrap(), want["bpe"], "{text:?}");
            assert_eq!(
                count(&wp, text, false).unwrap(),
                want["wordpiece"],
                "{text:?}"
            );
            assert_eq!(
                count(&wp, text, true).unwrap(),
                want["wordpiece_special"],
                "{text:?}"
            );
            n += 1;
        }
        assert_eq!(n, 31);
    }

    #[test]
    fn a_file_that_is_no_tokenizer_is_refused_without_a_panic() {
        assert!(parse(b"").is_err());
        assert!(parse(b"{\"version\": \"1.0\"}").is_err());
        let good = std::fs::read(format!(
            "{}/pipelines/data/tokenizer.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        for cut in [1, 100, good.len() / 2, good.len() - 2] {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
    }
}
