//! The quality metrics as DataFusion scalar UDFs, usable in any filter
//! expression or `sift query`.
//!
//! | function | returns | definition |
//! |---|---|---|
//! | `word_count(text)` | int | non-symbol word tokens (Gopher rule 1) |
//! | `mean_word_length(text)` | float | mean code points of non-symbol words (Gopher rule 2) |
//! | `symbol_to_word_ratio(text)` | float | (`#` + `...` + `…`) per token (Gopher rules 3–4) |
//! | `hash_to_word_ratio(text)`, `ellipsis_to_word_ratio(text)` | float | each symbol alone |
//! | `alpha_word_fraction(text)` | float | tokens with a letter (Gopher rule 7) |
//! | `stopword_count(text)` | int | distinct Gopher stop words (rule 8) |
//! | `bullet_line_fraction(text)`, `ellipsis_line_fraction(text)` | float | Gopher rules 5–6 |
//! | `duplicate_line_fraction`, `duplicate_paragraph_fraction`, `duplicate_line_char_fraction`, `duplicate_paragraph_char_fraction` | float | Gopher repetition |
//! | `top_ngram_char_fraction(text, n)`, `duplicate_ngram_char_fraction(text, n)` | float | Gopher repetition n-grams |
//! | `terminal_punct_line_fraction`, `short_line_fraction`, `fineweb_char_dup_ratio`, `list_ratio` | float | FineWeb |
//! | `sentence_count(text)` | int | C4 sentence count |
//! | `lorem_ipsum`, `has_javascript`, `has_curly_brace` | bool | C4 flags |
//! | `gopher_quality`, `gopher_repetition`, `c4_quality`, `fineweb_quality` | bool | true = keep |
//! | `c4_paragraph(text)` | bool | mC4 paragraphs: ≥ 3 lines, the 3 longest ≥ 200 code points |
//! | `…_reason(text)` of each rule set | string | why it drops, or null |
//!
//! A null text gives a null result.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;

fn text_arg(args: &[ColumnarValue], rows: usize) -> Result<ArrayRef> {
    args[0].to_array(rows)
}

fn each_text<T>(arr: &ArrayRef, f: impl Fn(&str) -> T) -> Result<Vec<Option<T>>> {
    match arr.data_type() {
        DataType::Utf8 => Ok(arr.as_string::<i32>().iter().map(|v| v.map(&f)).collect()),
        DataType::LargeUtf8 => Ok(arr.as_string::<i64>().iter().map(|v| v.map(&f)).collect()),
        DataType::Utf8View => Ok(arr.as_string_view().iter().map(|v| v.map(&f)).collect()),
        other => Err(DataFusionError::Execution(format!(
            "expected a string column, got {other}"
        ))),
    }
}

/// The number of rows a UDF's arguments stand for (1 when all are scalars).
pub(crate) fn rows_of(args: &[ColumnarValue]) -> usize {
    args.iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            _ => None,
        })
        .unwrap_or(1)
}

pub(crate) fn float1(name: &str, f: fn(&str) -> f64) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arr = text_arg(args, rows_of(args))?;
            Ok(ColumnarValue::Array(Arc::new(Float64Array::from(
                each_text(&arr, f)?,
            ))))
        }),
    )
}

fn int1(name: &str, f: fn(&str) -> usize) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arr = text_arg(args, rows_of(args))?;
            let v: Vec<Option<i64>> = each_text(&arr, f)?
                .into_iter()
                .map(|x| x.map(|n| n as i64))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(Int64Array::from(v))))
        }),
    )
}

fn bool1(name: &str, f: fn(&str) -> bool) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arr = text_arg(args, rows_of(args))?;
            Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(
                each_text(&arr, f)?,
            ))))
        }),
    )
}

pub(crate) fn reason1(name: &str, f: fn(&str) -> Option<&'static str>) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arr = text_arg(args, rows_of(args))?;
            let v: Vec<Option<&str>> = each_text(&arr, f)?
                .into_iter()
                .map(|x| x.flatten())
                .collect();
            Ok(ColumnarValue::Array(Arc::new(StringArray::from(v))))
        }),
    )
}

fn float_n(name: &str, f: fn(&str, usize) -> f64) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8, DataType::Int64],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let rows = rows_of(args);
            let text = text_arg(args, rows)?;
            let n = args[1].to_array(rows)?;
            let n = n.as_primitive::<arrow::datatypes::Int64Type>();
            let texts = each_text(&text, |s| s.to_string())?;
            let mut out = Vec::with_capacity(rows);
            for (i, t) in texts.into_iter().enumerate() {
                out.push(match (t, n.is_valid(i)) {
                    (Some(t), true) => {
                        let n = n.value(i);
                        if !(1..=1000).contains(&n) {
                            return Err(DataFusionError::Execution(format!(
                                "n must be between 1 and 1000, got {n}"
                            )));
                        }
                        Some(f(&t, n as usize))
                    }
                    _ => None,
                });
            }
            Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
        }),
    )
}

/// Every quality UDF.
pub fn all() -> Vec<ScalarUDF> {
    use super::*;
    vec![
        int1("word_count", word_count),
        float1("mean_word_length", mean_word_length),
        float1("symbol_to_word_ratio", symbol_to_word_ratio),
        float1("hash_to_word_ratio", hash_to_word_ratio),
        float1("ellipsis_to_word_ratio", ellipsis_to_word_ratio),
        float1("alpha_word_fraction", alpha_word_fraction),
        int1("stopword_count", stopword_count),
        float1("bullet_line_fraction", bullet_line_fraction),
        float1("ellipsis_line_fraction", ellipsis_line_fraction),
        float1("duplicate_line_fraction", duplicate_line_fraction),
        float1("duplicate_paragraph_fraction", duplicate_paragraph_fraction),
        float1("duplicate_line_char_fraction", duplicate_line_char_fraction),
        float1(
            "duplicate_paragraph_char_fraction",
            duplicate_paragraph_char_fraction,
        ),
        float_n("top_ngram_char_fraction", top_ngram_char_fraction),
        float_n(
            "duplicate_ngram_char_fraction",
            duplicate_ngram_char_fraction,
        ),
        float1("terminal_punct_line_fraction", terminal_punct_line_fraction),
        float1("short_line_fraction", short_line_fraction),
        float1("fineweb_char_dup_ratio", fineweb_char_dup_ratio),
        float1("list_ratio", list_ratio),
        int1("sentence_count", sentence_count),
        bool1("lorem_ipsum", lorem_ipsum),
        bool1("has_javascript", has_javascript),
        bool1("has_curly_brace", has_curly_brace),
        bool1("gopher_quality", |t| gopher_quality_reason(t).is_none()),
        bool1("gopher_repetition", |t| {
            gopher_repetition_reason(t).is_none()
        }),
        bool1("c4_quality", |t| c4_quality_reason(t).is_none()),
        bool1("c4_paragraph", c4_paragraph),
        bool1("fineweb_quality", |t| fineweb_quality_reason(t).is_none()),
        reason1("gopher_quality_reason", gopher_quality_reason),
        reason1("gopher_repetition_reason", gopher_repetition_reason),
        reason1("c4_quality_reason", c4_quality_reason),
        reason1("fineweb_quality_reason", fineweb_quality_reason),
    ]
}

/// Registers every quality UDF with `ctx`.
pub fn register(ctx: &SessionContext) {
    for udf in all() {
        ctx.register_udf(udf);
    }
}
