//! Selection: every row's class and rank, the quotas, and the rows kept,
//! repeated or removed; the details object that explain reads.

use std::collections::HashMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use indexmap::IndexMap;
use roaring::RoaringBitmap;

use super::{NullLabel, Plan, Strategy, quotas, strategy_name};
use crate::stage::{Context, Observer, Outcome, RunError, StageStats};
use crate::store::{ObjectId, codec};
use crate::version::selection::{SelectionSet, segment_batches};
use crate::version::stats::{BalanceStats, ClassCounts};
use crate::version::{self, Repeats};

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

/// A selected row of a segment: its shard row, label and fingerprint.
pub type Gathered = (u32, Option<String>, u128);

/// The label and fingerprint of each row `sel` selects in segment `si`, in
/// row order: what ranks the row (a cluster's executors do this part).
pub(super) fn gather(
    cx: &Context,
    plan: &Plan,
    si: usize,
    sel: &RoaringBitmap,
) -> Result<Vec<Gathered>, RunError> {
    let (store, seg) = (cx.store, &cx.source.manifest.segments[si]);
    if sel.is_empty() {
        return Ok(Vec::new());
    }
    let fps = crate::store::shard::decode_sidecar(
        &seg.fingerprints,
        &store.objects().get(&seg.fingerprints)?,
    )?;
    let batches = segment_batches(store, seg, sel)?;
    let labels = labels_in_parallel(&batches, plan, cx.threads, cx.observer)
        .map_err(|message| balance_error(plan, message))?;
    let mut out = Vec::with_capacity(sel.len() as usize);
    for ((ids, _), labels) in batches.iter().zip(labels) {
        for (row, label) in ids.iter().zip(labels) {
            let fp = fps.get(*row as usize).copied().unwrap_or_default();
            out.push((*row, label, fp));
        }
    }
    Ok(out)
}

/// Runs a balance stage over the selected rows.
pub(super) fn run(cx: &Context, input: &SelectionSet, plan: &Plan) -> Result<Outcome, RunError> {
    let mut segments = Vec::with_capacity(input.0.len());
    for (si, sel) in input.0.iter().enumerate() {
        segments.push(gather(cx, plan, si, sel)?);
    }
    select(cx, plan, segments)
}

/// The selection from every segment's gathered rows, in segment order.
pub(super) fn select(
    cx: &Context,
    plan: &Plan,
    gathered: Vec<Vec<Gathered>>,
) -> Result<Outcome, RunError> {
    let (store, source) = (cx.store, cx.source);
    // Every selected row: where it is, its class, its rank.
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut rows: Vec<Row> = Vec::with_capacity(gathered.iter().map(Vec::len).sum());
    for (si, seg_rows) in gathered.into_iter().enumerate() {
        for (row, label, fp) in seg_rows {
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
            rows.push(Row {
                seg: si as u32,
                row,
                class,
                rank: xxhash_rust::xxh3::xxh3_64_with_seed(&fp.to_le_bytes(), plan.seed),
                fp,
            });
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
        Some(r) => Some(store.objects().put(&version::encode_repeat_set(r))?.id),
        None => None,
    };
    let mut by_rule = IndexMap::new();
    by_rule.insert("class_quota".to_string(), by_quota);
    if plan.null_label == NullLabel::Drop {
        by_rule.insert("null_label".to_string(), by_null);
    }
    let stats = BalanceStats {
        label: plan.label.clone(),
        strategy: strategy_name(plan.strategy).into(),
        seed: plan.seed,
        classes,
        null_dropped,
        null_kept,
        repeats: repeats_id,
        details,
    };
    Ok(Outcome {
        kept: SelectionSet(kept),
        removed: by_rule,
        stats: StageStats::Balance(stats),
    })
}

pub(super) const NULL_DROP: u32 = u32::MAX;
const NULL_KEEP: u32 = u32::MAX - 1;

struct Row {
    seg: u32,
    row: u32,
    class: u32,
    rank: u64,
    fp: u128,
}

fn balance_error(plan: &Plan, message: String) -> RunError {
    RunError::Balance {
        label: plan.label.clone(),
        message,
    }
}

/// The label of every row of every batch (batches in parallel, merged in order).
fn labels_in_parallel(
    batches: &[(Vec<u32>, RecordBatch)],
    plan: &Plan,
    threads: usize,
    observer: &dyn Observer,
) -> Result<Vec<Vec<Option<String>>>, String> {
    crate::par::map_ordered(threads, batches.len(), |k| {
        let l = labels(&batches[k].1, plan);
        observer.rows_done(batches[k].1.num_rows() as u64);
        l
    })
}

/// The label of each row of a batch, as text (null stays null).
fn labels(batch: &RecordBatch, plan: &Plan) -> Result<Vec<Option<String>>, String> {
    let clean = |e: &dyn std::fmt::Display| crate::stage::filter::clean(&e.to_string());
    let value = plan.expr.evaluate(batch).map_err(|e| clean(&e))?;
    let array = value.into_array(batch.num_rows()).map_err(|e| clean(&e))?;
    let text = arrow::compute::cast(&array, &DataType::Utf8).map_err(|e| clean(&e))?;
    let text = text.as_string::<i32>();
    Ok((0..text.len())
        .map(|i| text.is_valid(i).then(|| text.value(i).to_string()))
        .collect())
}

const DETAILS_MAGIC: &[u8; 8] = b"SIFTBAL1";

pub(super) fn encode_details(removed: &[(u32, u32, u32, u32)]) -> Vec<u8> {
    codec::encode_records(
        DETAILS_MAGIC,
        removed
            .iter()
            .map(|(seg, row, class, rank)| codec::u32s::<4, 16>([*seg, *row, *class, *rank])),
    )
}

pub fn decode_details(id: &ObjectId, bytes: &[u8]) -> Result<Vec<Removal>, crate::store::Error> {
    let bad = |reason: &str| crate::store::Error::BadObject {
        id: *id,
        what: "balance details",
        reason: reason.into(),
    };
    Ok(codec::decode_records::<16>(DETAILS_MAGIC, bytes)
        .map_err(bad)?
        .map(|c| {
            let v = |k: usize| codec::u32_at(&c, k);
            Removal {
                removed: (v(0), v(1)),
                class: (v(2) != NULL_DROP).then_some(v(2) as usize),
                rank: v(3),
            }
        })
        .collect())
}

/// A segment's gathered rows as bytes (for a cluster executor to send).
pub(super) fn encode_gathered(rows: &[Gathered]) -> Vec<u8> {
    let v: Vec<(u32, Option<&str>, u64, u64)> = rows
        .iter()
        .map(|(r, l, fp)| (*r, l.as_deref(), (*fp >> 64) as u64, *fp as u64))
        .collect();
    serde_json::to_vec(&v).expect("rows serialize")
}

/// [`encode_gathered`]'s rows back.
pub(super) fn decode_gathered(bytes: &[u8]) -> Result<Vec<Gathered>, String> {
    let v: Vec<(u32, Option<String>, u64, u64)> =
        serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    Ok(v.into_iter()
        .map(|(r, l, hi, lo)| (r, l, (u128::from(hi) << 64) | u128::from(lo)))
        .collect())
}
