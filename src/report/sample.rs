//! Seeded row samples and what a report computes on them: column
//! statistics and the quality metrics' histograms.
//!
//! A sample ranks a version's rows by a seeded hash of their fingerprints
//! (read from sidecars) and decodes only the lowest-ranked rows. A row that
//! is in both a run's source and its version ranks the same in both, so the
//! two samples hold the same rows where they can.

use std::collections::BinaryHeap;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use indexmap::IndexMap;
use roaring::RoaringBitmap;

use super::{ColumnStats, Histogram, ReportError, TopValue};
use crate::stage::{RowCache, quality};
use crate::store::{self, Store};
use crate::version::selection::full;
use crate::version::{Version, decode_selection};

/// Bins of every histogram.
pub const BINS: usize = 20;

/// A seeded sample of a version's rows.
pub struct Sample {
    /// Rows in the version (each distinct shard row once).
    pub of_rows: u64,
    /// Each sampled row's index among the version's distinct rows, in order.
    pub positions: Vec<u64>,
    pub batch: RecordBatch,
}

/// The rank of a row with fingerprint `fp` under `seed`.
pub fn rank(fp: u128, seed: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(&fp.to_le_bytes(), seed)
}

/// The rows a seeded sample of a version holds, chosen from its sidecars
/// before any row is read.
pub struct Draw {
    of_rows: u64,
    /// Rows of the version before each segment's.
    before: Vec<u64>,
    sels: Vec<RoaringBitmap>,
    /// The sampled shard rows, per segment.
    pub want: Vec<RoaringBitmap>,
}

/// Up to `n` rows of `v`, those whose fingerprints rank lowest under `seed`.
pub fn choose(store: &Store, v: &Version, n: usize, seed: u64) -> Result<Draw, ReportError> {
    // The n lowest (rank, segment, row), as a max-heap.
    let mut heap: BinaryHeap<(u64, usize, u32)> = BinaryHeap::new();
    let mut of_rows = 0;
    let mut before = Vec::new();
    let mut sels = Vec::new();
    for (i, seg) in v.manifest.segments.iter().enumerate() {
        let fps = store::shard::decode_sidecar(
            &seg.fingerprints,
            &store.objects().get(&seg.fingerprints)?,
        )?;
        let sel = match &seg.selection {
            Some(id) => decode_selection(id, &store.objects().get(id)?)?,
            None => full(seg.rows),
        };
        before.push(of_rows);
        of_rows += sel.len();
        for row in sel.iter() {
            let Some(fp) = fps.get(row as usize) else {
                continue;
            };
            let key = (rank(*fp, seed), i, row);
            if heap.len() < n {
                heap.push(key);
            } else if heap.peek().is_some_and(|top| key < *top) {
                heap.pop();
                heap.push(key);
            }
        }
        sels.push(sel);
    }
    let mut want = vec![RoaringBitmap::new(); v.manifest.segments.len()];
    for (_, seg, row) in &heap {
        want[*seg].insert(*row);
    }
    Ok(Draw {
        of_rows,
        before,
        sels,
        want,
    })
}

impl Draw {
    /// The sample, its rows taken from `cache` (which read [`Draw::want`]).
    pub fn take(self, v: &Version, cache: &RowCache) -> Result<Sample, ReportError> {
        let schema = v.schema()?;
        let mut positions = Vec::new();
        let mut parts = Vec::new();
        for (seg, rows) in self.want.iter().enumerate() {
            for row in rows {
                if let Some((b, i)) = cache.get(v, (seg, row)) {
                    positions.push(self.before[seg] + self.sels[seg].rank(row) - 1);
                    parts.push(b.slice(i, 1));
                }
            }
        }
        let batch =
            concat_batches(&schema, &parts).map_err(|e| ReportError::Sample(e.to_string()))?;
        Ok(Sample {
            of_rows: self.of_rows,
            positions,
            batch,
        })
    }
}

/// The strings of a text column (null as `None`).
pub fn texts(col: &ArrayRef) -> Vec<Option<String>> {
    match cast(col, &DataType::Utf8) {
        Ok(c) => c
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect(),
        Err(_) => vec![None; col.len()],
    }
}

/// A round step near `span / bins`: 1, 2 or 5 times a power of ten.
fn nice_step(span: f64, bins: usize) -> f64 {
    let raw = (span / bins as f64).max(f64::MIN_POSITIVE);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// Edges of at most `BINS` bins from `lo` covering `hi`, on round numbers (whole
/// ones when `whole`).
pub fn edges(lo: f64, hi: f64, whole: bool) -> Vec<f64> {
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let mut step = nice_step(hi - lo, BINS);
    if whole {
        step = step.max(1.0).round();
    }
    let start = (lo / step).floor() * step;
    let bins = (((hi - start) / step).ceil() as usize).clamp(1, BINS);
    (0..=bins).map(|i| round(start + i as f64 * step)).collect()
}

/// `x` without float noise (at most 6 decimals).
fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Counts of `values` in the bins `edges`; values past the last edge count
/// in the last bin, values before the first in the first.
pub fn count(values: &[f64], edges: &[f64]) -> Vec<u64> {
    let bins = edges.len() - 1;
    let mut out = vec![0u64; bins];
    for v in values.iter().filter(|v| v.is_finite()) {
        let i = edges[1..].iter().position(|e| v < e).unwrap_or(bins - 1);
        out[i] += 1;
    }
    out
}

/// The value below which 99% of `values` fall.
pub fn p99(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * 0.99).round() as usize]
}

/// A histogram of `values` over `[0, p99]` (or their own range if negative).
fn histogram(of: &str, values: &[f64], whole: bool) -> Histogram {
    let lo = values.iter().copied().fold(0f64, f64::min);
    let e = edges(lo, p99(values), whole);
    Histogram {
        of: of.to_string(),
        counts: count(values, &e),
        edges: e,
    }
}

/// Words of a text, as the report counts them (whitespace-separated).
fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Statistics of each column of the sample.
pub fn columns(batch: &RecordBatch) -> Vec<ColumnStats> {
    let rows = batch.num_rows() as u64;
    batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, col)| {
            let nulls = col.null_count() as u64;
            let mut stats = ColumnStats {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                sampled: rows,
                nulls,
                null_fraction: if rows == 0 {
                    0.0
                } else {
                    round(nulls as f64 / rows as f64)
                },
                histograms: vec![],
                top: vec![],
                distinct: None,
            };
            let dt = f.data_type();
            if dt.is_numeric() {
                if let Ok(c) = cast(col, &DataType::Float64) {
                    let v: Vec<f64> = c
                        .as_primitive::<arrow::datatypes::Float64Type>()
                        .iter()
                        .flatten()
                        .collect();
                    stats
                        .histograms
                        .push(histogram("value", &v, dt.is_integer()));
                }
            } else if matches!(
                dt,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                let t: Vec<String> = texts(col).into_iter().flatten().collect();
                let distinct = t.iter().collect::<std::collections::HashSet<_>>().len();
                let long = t.iter().map(|s| s.chars().count()).max().unwrap_or(0);
                stats.distinct = Some(distinct as u64);
                if is_label(distinct, t.len(), long) {
                    stats.top = top(t.iter().map(String::as_str));
                } else {
                    let chars: Vec<f64> = t.iter().map(|s| s.chars().count() as f64).collect();
                    let w: Vec<f64> = t.iter().map(|s| words(s) as f64).collect();
                    stats.histograms.push(histogram("characters", &chars, true));
                    stats.histograms.push(histogram("words", &w, true));
                }
            } else if let Ok(f) = ArrayFormatter::try_new(col.as_ref(), &FormatOptions::default()) {
                let shown: Vec<String> = (0..col.len())
                    .filter(|i| col.is_valid(*i))
                    .map(|i| f.value(i).to_string())
                    .collect();
                let distinct = shown.iter().collect::<std::collections::HashSet<_>>().len();
                stats.distinct = Some(distinct as u64);
                if distinct <= 20 {
                    stats.top = top(shown.iter().map(String::as_str));
                }
            }
            stats
        })
        .collect()
}

/// Whether a string column of `distinct` values among `n` (the longest
/// `long` characters) reads as labels rather than text.
fn is_label(distinct: usize, n: usize, long: usize) -> bool {
    long <= 64 && (distinct <= 20 || distinct * 5 <= n)
}

/// The 10 most frequent values (ties by value), then the rest as one.
fn top<'a>(values: impl Iterator<Item = &'a str>) -> Vec<TopValue> {
    let mut counts: IndexMap<&str, u64> = IndexMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut all: Vec<(&str, u64)> = counts.into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let rest: u64 = all.iter().skip(10).map(|(_, n)| n).sum();
    let others = all.len().saturating_sub(10);
    let mut out: Vec<TopValue> = all
        .into_iter()
        .take(10)
        .map(|(v, n)| TopValue {
            value: v.to_string(),
            count: n,
            other: false,
        })
        .collect();
    if rest > 0 {
        out.push(TopValue {
            value: format!("{others} other values"),
            count: rest,
            other: true,
        });
    }
    out
}

/// The quality metrics a report draws, with the range each is drawn over
/// (`None`: from 0 to the samples' 99th percentile).
pub const METRICS: &[(&str, Option<f64>)] = &[
    ("word_count", None),
    ("mean_word_length", None),
    ("alpha_word_fraction", Some(1.0)),
    ("symbol_to_word_ratio", None),
    ("duplicate_line_fraction", Some(1.0)),
    ("top_ngram_char_fraction(2)", Some(1.0)),
];

/// Metric `name` of a text.
pub fn metric(name: &str, text: &str) -> f64 {
    match name {
        "word_count" => quality::word_count(text) as f64,
        "mean_word_length" => quality::mean_word_length(text),
        "alpha_word_fraction" => quality::alpha_word_fraction(text),
        "symbol_to_word_ratio" => quality::symbol_to_word_ratio(text),
        "duplicate_line_fraction" => quality::duplicate_line_fraction(text),
        "top_ngram_char_fraction(2)" => quality::top_ngram_char_fraction(text, 2),
        _ => f64::NAN,
    }
}

/// Each metric of each text.
pub fn metrics(texts: &[String]) -> Vec<Vec<f64>> {
    METRICS
        .iter()
        .map(|(m, _)| texts.iter().map(|t| metric(m, t)).collect())
        .collect()
}

/// Edges for metric `k` over every series' values, reaching each threshold.
pub fn metric_edges(k: usize, series: &[&[f64]], thresholds: &[f64]) -> Vec<f64> {
    let all: Vec<f64> = series.iter().flat_map(|s| s.iter().copied()).collect();
    let hi = match METRICS[k].1 {
        Some(hi) => hi,
        None => p99(&all),
    };
    let hi = thresholds.iter().fold(hi, |h, t| h.max(t * 1.05));
    edges(0.0, hi, k == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_round_and_cover_the_range() {
        let e = edges(0.0, 437.0, true);
        assert_eq!(e.len(), 10);
        assert_eq!(e[1], 50.0);
        assert_eq!(*e.last().unwrap(), 450.0);
        let f = edges(0.0, 1.0, false);
        assert_eq!(f[1], 0.05);
        assert_eq!(*f.last().unwrap(), 1.0);
    }

    #[test]
    fn counts_put_outliers_in_the_end_bins() {
        let e = vec![0.0, 1.0, 2.0];
        assert_eq!(count(&[-3.0, 0.5, 1.0, 1.5, 9.0, f64::NAN], &e), vec![2, 3]);
    }

    #[test]
    fn labels_are_few_short_values() {
        assert!(is_label(3, 1000, 10));
        assert!(!is_label(900, 1000, 10));
        assert!(!is_label(3, 1000, 500));
        let t = top(["b", "a", "b", "c"].into_iter());
        assert_eq!(t[0].value, "b");
        assert_eq!(t[1].value, "a");
    }
}
