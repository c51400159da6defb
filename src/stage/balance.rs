//! The balance stage: per-class quotas, filled in the order of a seeded hash.
//!
//! ```text
//! selected rows ─▶ label (a column or SQL expression) ─▶ classes
//!                  rank = xxh3-64(row fingerprint, seed) ─▶ each class sorted by rank
//!                  strategy ─▶ quota per class ─▶ the lowest ranks up to the quota
//! ```
//!
//! A row's rank depends only on its content and the seed, so the selection
//! does not depend on row order or thread count, and adding rows to a class
//! moves its selection little: a new row displaces at most one old one.
//! Oversampling repeats every row of a small class `target / n` times and the
//! `target mod n` lowest-ranked rows once more; the repeats are recorded as
//! counts, and reading the version (cat, query, export) writes them out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use datafusion::physical_expr::PhysicalExpr;
use indexmap::IndexMap;
use roaring::RoaringBitmap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Observer, RunError};
use crate::store::{ObjectId, Store};
use crate::version::selection::{SelectionSet, decode_parts, encode_parts, segment_batches};
use crate::version::{Repeats, Version};

/// How quotas are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// At most `max_per_class` rows per class.
    Cap,
    /// Every class down to the smallest class's size, or to `min_per_class`.
    Downsample,
    /// Target fractions per class (`proportions`), as many rows as fit, or `total`.
    Proportions,
    /// Every class up to the largest class's size, or to `per_class`, repeating rows.
    Oversample,
}

/// What to do with rows whose label is null.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NullLabel {
    /// Remove them.
    Drop,
    /// Keep them all, outside every quota.
    Keep,
    /// Treat them as one class named `null`.
    #[default]
    Class,
}

/// A validated balance stage.
#[derive(Debug, Clone)]
pub struct BalancePlan {
    /// The label: a column name or a SQL expression.
    pub label: String,
    pub expr: Arc<dyn PhysicalExpr>,
    pub strategy: Strategy,
    pub max_per_class: Option<u64>,
    pub min_per_class: Option<u64>,
    pub proportions: IndexMap<String, f64>,
    pub total: Option<u64>,
    pub per_class: Option<u64>,
    pub null_label: NullLabel,
    pub seed: u64,
}

/// Label types that make classes.
pub fn usable_label(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => true,
        DataType::Date32 | DataType::Date64 => true,
        DataType::Dictionary(_, v) => usable_label(v),
        d => d.is_integer(),
    }
}

/// Class counts before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassCounts {
    pub before: u64,
    /// Rows the strategy asked for (repeats included).
    pub quota: u64,
    /// Rows kept (repeats included).
    pub after: u64,
}

/// Stats recorded in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BalanceStats {
    /// The label column or expression.
    pub label: String,
    pub strategy: Strategy,
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

/// Why a row was removed, from the details object.
#[derive(Debug, Clone, PartialEq)]
pub struct Removal {
    /// (segment, shard row).
    pub removed: (u32, u32),
    /// Index into [`BalanceStats::classes`]; `None` for a null label dropped.
    pub class: Option<usize>,
    /// 1-based rank of the row within its class.
    pub rank: u32,
}

/// A stage's output: kept rows, per-rule removals, stats, repeat counts per segment.
pub type Outcome = (
    SelectionSet,
    IndexMap<String, u64>,
    BalanceStats,
    Option<Vec<Repeats>>,
);

/// Runs a balance stage over the selected rows.
pub fn run(
    store: &Store,
    source: &Version,
    input: &SelectionSet,
    plan: &BalancePlan,
    threads: usize,
    observer: &dyn Observer,
) -> Result<Outcome, RunError> {
    // Every selected row: where it is, its class, its rank.
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut rows: Vec<Row> = Vec::with_capacity(input.rows() as usize);
    for (si, seg) in source.manifest.segments.iter().enumerate() {
        let sel = &input.0[si];
        if sel.is_empty() {
            continue;
        }
        let fps = crate::store::shard::decode_sidecar(
            &seg.fingerprints,
            &store.objects().get(&seg.fingerprints)?,
        )?;
        let batches = segment_batches(store, seg, sel)?;
        let labels = labels_in_parallel(&batches, plan, threads, observer)
            .map_err(|message| balance_error(plan, message))?;
        for ((ids, _), labels) in batches.iter().zip(labels) {
            for (row, label) in ids.iter().zip(labels) {
                let class = match label {
                    None if plan.null_label == NullLabel::Drop => NULL_DROP,
                    None if plan.null_label == NullLabel::Keep => NULL_KEEP,
                    l => {
                        let name = l.unwrap_or_else(|| "null".to_string());
                        match index.get(&name) {
                            Some(&c) => c,
                            None => {
                                let c = names.len() as u32;
                                index.insert(name.clone(), c);
                                names.push(name);
                                c
                            }
                        }
                    }
                };
                let fp = fps.get(*row as usize).copied().unwrap_or_default();
                rows.push(Row {
                    seg: si as u32,
                    row: *row,
                    class,
                    rank: xxhash_rust::xxh3::xxh3_64_with_seed(&fp.to_le_bytes(), plan.seed),
                    fp,
                });
            }
        }
    }

    // Classes by name, so stats and class indexes do not depend on row order.
    let mut order: Vec<u32> = (0..names.len() as u32).collect();
    order.sort_by(|a, b| names[*a as usize].cmp(&names[*b as usize]));
    let mut slot = vec![0u32; names.len()];
    for (k, c) in order.iter().enumerate() {
        slot[*c as usize] = k as u32;
    }
    let sorted_names: Vec<String> = order.iter().map(|c| names[*c as usize].clone()).collect();
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); names.len()];
    let (mut null_dropped, mut null_kept) = (0u64, 0u64);
    for (i, r) in rows.iter_mut().enumerate() {
        match r.class {
            NULL_DROP => null_dropped += 1,
            NULL_KEEP => null_kept += 1,
            c => {
                r.class = slot[c as usize];
                members[r.class as usize].push(i as u32);
            }
        }
    }
    // Rank order within each class; identical rows tie and go by position.
    for m in &mut members {
        m.sort_unstable_by_key(|&i| (rows[i as usize].rank, rows[i as usize].fp, i));
    }
    let counts: Vec<u64> = members.iter().map(|m| m.len() as u64).collect();
    let quota = quotas(plan, &sorted_names, &counts).map_err(|m| balance_error(plan, m))?;

    // Copies per row: 0 = removed.
    let mut copies = vec![0u32; rows.len()];
    let mut rank_of = vec![0u32; rows.len()];
    let mut classes = IndexMap::new();
    for (c, m) in members.iter().enumerate() {
        let n = m.len() as u64;
        let q = quota[c];
        for (k, &i) in m.iter().enumerate() {
            rank_of[i as usize] = k as u32 + 1;
            copies[i as usize] = if q <= n {
                u32::from((k as u64) < q)
            } else {
                (q / n + u64::from((k as u64) < q % n)) as u32
            };
        }
        classes.insert(
            sorted_names[c].clone(),
            ClassCounts {
                before: n,
                quota: q,
                after: q.min(if plan.strategy == Strategy::Oversample {
                    q
                } else {
                    n
                }),
            },
        );
    }

    let segments = source.manifest.segments.len();
    let mut kept = vec![RoaringBitmap::new(); segments];
    let mut repeats: Vec<Repeats> = vec![Repeats::new(); segments];
    let mut removed_rows: Vec<(u32, u32, u32, u32)> = Vec::new();
    let (mut by_quota, mut by_null) = (0u64, 0u64);
    for (i, r) in rows.iter().enumerate() {
        let n = if r.class == NULL_KEEP { 1 } else { copies[i] };
        match n {
            0 => {
                if r.class == NULL_DROP {
                    by_null += 1;
                } else {
                    by_quota += 1;
                }
                removed_rows.push((r.seg, r.row, r.class, rank_of[i]));
            }
            1 => {
                kept[r.seg as usize].insert(r.row);
            }
            n => {
                kept[r.seg as usize].insert(r.row);
                repeats[r.seg as usize].insert(r.row, n);
            }
        }
    }
    removed_rows.sort_unstable();
    let details = store.objects().put(&encode_details(&removed_rows))?.id;
    let repeats = if repeats.iter().any(|r| !r.is_empty()) {
        Some(repeats)
    } else {
        None
    };
    let repeats_id = match &repeats {
        Some(r) => Some(store.objects().put(&encode_repeat_set(r))?.id),
        None => None,
    };
    let mut by_rule = IndexMap::new();
    by_rule.insert("class_quota".to_string(), by_quota);
    if plan.null_label == NullLabel::Drop {
        by_rule.insert("null_label".to_string(), by_null);
    }
    let stats = BalanceStats {
        label: plan.label.clone(),
        strategy: plan.strategy,
        seed: plan.seed,
        classes,
        null_dropped,
        null_kept,
        repeats: repeats_id,
        details,
    };
    Ok((SelectionSet(kept), by_rule, stats, repeats))
}

const NULL_DROP: u32 = u32::MAX;
const NULL_KEEP: u32 = u32::MAX - 1;

struct Row {
    seg: u32,
    row: u32,
    class: u32,
    rank: u64,
    fp: u128,
}

fn balance_error(plan: &BalancePlan, message: String) -> RunError {
    RunError::Balance {
        label: plan.label.clone(),
        message,
    }
}

/// The label of every row of every batch (batches in parallel, merged in order).
fn labels_in_parallel(
    batches: &[(Vec<u32>, RecordBatch)],
    plan: &BalancePlan,
    threads: usize,
    observer: &dyn Observer,
) -> Result<Vec<Vec<Option<String>>>, String> {
    let next = AtomicUsize::new(0);
    type Labels = Result<Vec<Option<String>>, String>;
    let results: Mutex<Vec<Option<Labels>>> =
        Mutex::new((0..batches.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, batches.len().max(1)) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= batches.len() {
                        return;
                    }
                    let l = labels(&batches[k].1, plan);
                    observer.rows_done(batches[k].1.num_rows() as u64);
                    results.lock().expect("lock")[k] = Some(l);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("lock")
        .into_iter()
        .map(|r| r.expect("every batch ran"))
        .collect()
}

/// The label of each row of a batch, as text (null stays null).
fn labels(batch: &RecordBatch, plan: &BalancePlan) -> Result<Vec<Option<String>>, String> {
    let clean = |e: &dyn std::fmt::Display| super::filter::clean(&e.to_string());
    let value = plan.expr.evaluate(batch).map_err(|e| clean(&e))?;
    let array = value.into_array(batch.num_rows()).map_err(|e| clean(&e))?;
    let text = arrow::compute::cast(&array, &DataType::Utf8).map_err(|e| clean(&e))?;
    let text = text.as_string::<i32>();
    Ok((0..text.len())
        .map(|i| text.is_valid(i).then(|| text.value(i).to_string()))
        .collect())
}

/// Rows per class the strategy asks for; classes by name, `counts` aligned.
pub fn quotas(plan: &BalancePlan, names: &[String], counts: &[u64]) -> Result<Vec<u64>, String> {
    let largest = counts.iter().copied().max().unwrap_or(0);
    let smallest = counts.iter().copied().min().unwrap_or(0);
    Ok(match plan.strategy {
        Strategy::Cap => {
            let max = plan.max_per_class.expect("validated");
            counts.iter().map(|&n| n.min(max)).collect()
        }
        Strategy::Downsample => {
            let to = plan.min_per_class.unwrap_or(smallest);
            counts.iter().map(|&n| n.min(to)).collect()
        }
        Strategy::Oversample => {
            let to = plan.per_class.unwrap_or(largest);
            counts.iter().map(|&n| n.max(to)).collect()
        }
        Strategy::Proportions => {
            let count_of = |class: &str| {
                names
                    .iter()
                    .position(|n| n == class)
                    .map_or(0, |i| counts[i])
            };
            for class in plan.proportions.keys() {
                if count_of(class) == 0 {
                    let seen: Vec<&str> = names.iter().map(String::as_str).collect();
                    return Err(format!(
                        "class '{class}' of `proportions` has no rows (classes seen: {})",
                        seen.join(", ")
                    ));
                }
            }
            let total = match plan.total {
                Some(t) => t,
                // The largest total every class can fill.
                None => plan
                    .proportions
                    .iter()
                    .map(|(c, f)| ((count_of(c) as f64 / f) + 1e-9).floor() as u64)
                    .min()
                    .unwrap_or(0),
            };
            let shares = apportion(total, &plan.proportions);
            for ((class, f), &q) in plan.proportions.iter().zip(&shares) {
                let n = count_of(class);
                if q > n {
                    return Err(format!(
                        "class '{class}' has {n} rows, fewer than its quota {q} ({f} of total {total})"
                    ));
                }
            }
            names
                .iter()
                .map(|n| {
                    plan.proportions
                        .get_index_of(n.as_str())
                        .map_or(0, |i| shares[i])
                })
                .collect()
        }
    })
}

/// Splits `total` by fractions (largest remainder; ties in spec order), summing to `total`.
fn apportion(total: u64, fractions: &IndexMap<String, f64>) -> Vec<u64> {
    let exact: Vec<f64> = fractions.values().map(|f| f * total as f64).collect();
    let mut out: Vec<u64> = exact.iter().map(|x| (x + 1e-9).floor() as u64).collect();
    let mut left = total.saturating_sub(out.iter().sum());
    let mut by_remainder: Vec<usize> = (0..out.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - out[a] as f64, exact[b] - out[b] as f64);
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for i in by_remainder {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

const DETAILS_MAGIC: &[u8; 8] = b"SIFTBAL1";
const REPEAT_SET_MAGIC: &[u8; 8] = b"SIFTRPS1";

fn encode_details(removed: &[(u32, u32, u32, u32)]) -> Vec<u8> {
    let mut out = DETAILS_MAGIC.to_vec();
    out.extend_from_slice(&(removed.len() as u64).to_le_bytes());
    for (seg, row, class, rank) in removed {
        for v in [seg, row, class, rank] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

pub fn decode_details(id: &ObjectId, bytes: &[u8]) -> Result<Vec<Removal>, crate::store::Error> {
    let bad = |reason: &str| crate::store::Error::BadObject {
        id: *id,
        what: "balance details",
        reason: reason.into(),
    };
    if bytes.len() < 16 || &bytes[..8] != DETAILS_MAGIC {
        return Err(bad("missing header"));
    }
    let n = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let body = &bytes[16..];
    if body.len() != n.saturating_mul(16) {
        return Err(bad("length does not match its count"));
    }
    Ok(body
        .chunks_exact(16)
        .map(|c| {
            let v = |k: usize| u32::from_le_bytes(c[k * 4..k * 4 + 4].try_into().expect("4 bytes"));
            Removal {
                removed: (v(0), v(1)),
                class: (v(2) != NULL_DROP).then_some(v(2) as usize),
                rank: v(3),
            }
        })
        .collect())
}

fn encode_repeat_set(set: &[Repeats]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = set.iter().map(crate::version::encode_repeats).collect();
    encode_parts(REPEAT_SET_MAGIC, &parts)
}

/// Loads the repeat counts a balance stage recorded, one map per segment.
pub fn load_repeat_set(store: &Store, id: &ObjectId) -> Result<Vec<Repeats>, crate::store::Error> {
    let bytes = store.objects().get(id)?;
    decode_parts(REPEAT_SET_MAGIC, &bytes)
        .map_err(|reason| crate::store::Error::BadObject {
            id: *id,
            what: "repeat counts",
            reason: reason.into(),
        })?
        .into_iter()
        .map(|p| crate::version::decode_repeats(id, p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(strategy: Strategy) -> BalancePlan {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("c", DataType::Utf8, true),
        ]));
        let (expr, _) =
            super::super::filter::compile_expr(&super::super::filter::session(), &schema, "c")
                .unwrap();
        BalancePlan {
            label: "c".into(),
            expr,
            strategy,
            max_per_class: None,
            min_per_class: None,
            proportions: IndexMap::new(),
            total: None,
            per_class: None,
            null_label: NullLabel::Class,
            seed: 1,
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quotas_follow_each_strategy() {
        let classes = names(&["a", "b", "c"]);
        let counts = [100, 30, 7];
        let mut p = plan(Strategy::Cap);
        p.max_per_class = Some(20);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [20, 20, 7]);
        let mut p = plan(Strategy::Downsample);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [7, 7, 7]);
        p.min_per_class = Some(10);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [10, 10, 7]);
        let mut p = plan(Strategy::Oversample);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [100, 100, 100]);
        p.per_class = Some(50);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [100, 50, 50]);
    }

    #[test]
    fn proportions_fill_the_largest_total_or_the_given_one() {
        let classes = names(&["a", "b", "c"]);
        let counts = [100, 30, 7];
        let mut p = plan(Strategy::Proportions);
        p.proportions = [("a".to_string(), 0.5), ("b".to_string(), 0.5)]
            .into_iter()
            .collect();
        // b limits the total to 60: 30 + 30; c is not listed.
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [30, 30, 0]);
        p.total = Some(41);
        assert_eq!(quotas(&p, &classes, &counts).unwrap(), [21, 20, 0]);
        p.total = Some(80);
        let err = quotas(&p, &classes, &counts).unwrap_err();
        assert!(
            err.contains("class 'b' has 30 rows, fewer than its quota 40"),
            "{err}"
        );
        p.proportions.insert("z".into(), 0.0);
        let err = quotas(&p, &classes, &counts).unwrap_err();
        assert!(
            err.contains("class 'z' of `proportions` has no rows"),
            "{err}"
        );
    }

    #[test]
    fn apportioning_sums_to_the_total() {
        let f: IndexMap<String, f64> = [("x", 0.1), ("y", 0.2), ("z", 0.7)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        for total in [0, 1, 7, 10, 99, 1001] {
            let a = apportion(total, &f);
            assert_eq!(a.iter().sum::<u64>(), total);
        }
        assert_eq!(apportion(10, &f), [1, 2, 7]);
    }

    #[test]
    fn details_and_repeat_sets_round_trip() {
        let d = encode_details(&[(0, 3, 1, 9), (2, 1, NULL_DROP, 0)]);
        let id = ObjectId::of(&d);
        let back = decode_details(&id, &d).unwrap();
        assert_eq!(back[0].class, Some(1));
        assert_eq!(back[1].class, None);
        assert!(decode_details(&id, &d[..d.len() - 1]).is_err());
        let r: Repeats = [(3, 2), (9, 5)].into_iter().collect();
        let bytes = crate::version::encode_repeats(&r);
        assert_eq!(
            crate::version::decode_repeats(&ObjectId::of(&bytes), &bytes).unwrap(),
            r
        );
    }
}
