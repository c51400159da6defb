use std::process::ExitCode;

use arrow::util::display::{ArrayFormatter, FormatOptions};
use clap::Args;
use roaring::RoaringBitmap;

use super::Global;
use crate::stage::filter;
use crate::version::{
    self,
    selection::{SelectionSet, segment_batches},
};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A version made by `sift run`: tag, id or unique id prefix.
    pub reference: String,
    /// A source row index (0-based), or a value of the --key column.
    pub row: String,
    /// Find the row by this column's value instead of by index.
    #[arg(long, value_name = "COL")]
    pub key: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let store = g.open_store()?;
    let v = version::resolve(&store, &a.reference)?;
    let Some(p) = v.manifest.lineage.pipeline.clone() else {
        anyhow::bail!(
            "{} was made by `sift {}`, not `sift run`: it keeps every row of its input",
            v.id.short(),
            v.manifest.lineage.command
        );
    };
    let source = version::load(&store, &p.source)?;
    let base = SelectionSet::of_version(&store, &source)?;
    let total = base.rows();
    let rows: Vec<u64> = match &a.key {
        None => {
            let r: u64 = a.row.parse().map_err(|_| {
                anyhow::anyhow!(
                    "'{}' is not a row index; use --key COL to find a row by value",
                    a.row
                )
            })?;
            anyhow::ensure!(
                r < total,
                "row {r} is out of range: the source {} has {total} rows (0..{})",
                source.id.short(),
                total.saturating_sub(1)
            );
            vec![r]
        }
        Some(col) => find_by_key(&store, &source, col, &a.row)?,
    };
    anyhow::ensure!(
        !rows.is_empty(),
        "no row of source {} has {} = {}",
        source.id.short(),
        a.key.as_deref().unwrap_or("?"),
        a.row
    );
    let schema = source.schema()?;
    let mut outs = Vec::new();
    for global in rows {
        let (seg, shard_row) = locate(&base, global);
        let mut verdict = serde_json::json!({"row": global, "kept": true});
        let mut before = None;
        for (k, st) in p.stages.iter().enumerate() {
            let out = SelectionSet::load(&store, &st.output)?;
            if out.0[seg].contains(shard_row) {
                before = Some(out);
                continue;
            }
            if let Some(d) = &st.dedup {
                let details = crate::stage::dedup::decode_details(
                    &d.details,
                    &store.objects().get(&d.details)?,
                )?;
                let hit = details
                    .iter()
                    .find(|r| r.removed == (seg as u32, shard_row));
                let reason = match hit {
                    Some(r) => {
                        let (ks, kr) = (r.kept.0 as usize, r.kept.1);
                        let kept_row = base.0[..ks].iter().map(|b| b.len()).sum::<u64>()
                            + base.0[ks].rank(kr)
                            - 1;
                        let what = match d.method {
                            crate::stage::dedup::Method::Exact => {
                                "an exact duplicate (after normalization)"
                            }
                            crate::stage::dedup::Method::Minhash => "a near duplicate",
                        };
                        serde_json::json!({
                            "rule": if d.method == crate::stage::dedup::Method::Exact { "exact_duplicate" } else { "near_duplicate" },
                            "because": format!("{what} of source row {kept_row}, which was kept (Jaccard {:.3})", r.similarity),
                            "kept_row": kept_row, "jaccard": r.similarity,
                        })
                    }
                    None => {
                        serde_json::json!({"because": "the stage's recorded selection dropped it"})
                    }
                };
                verdict = serde_json::json!({"row": global, "kept": false, "stage": k + 1, "stage_name": st.name, "kind": st.kind, "reason": reason});
                break;
            }
            if let Some(b) = &st.balance {
                let details = crate::stage::balance::decode_details(
                    &b.details,
                    &store.objects().get(&b.details)?,
                )?;
                let hit = details
                    .iter()
                    .find(|r| r.removed == (seg as u32, shard_row));
                let reason = match hit.map(|r| (r, r.class.and_then(|c| b.classes.get_index(c)))) {
                    Some((r, Some((class, counts)))) => serde_json::json!({
                        "rule": "class_quota", "class": class, "rank": r.rank,
                        "quota": counts.quota, "class_rows": counts.before,
                        "because": format!(
                            "class '{class}' kept {} of its {} rows (strategy {}), and this row ranks {} (seed {})",
                            counts.quota.min(counts.before), counts.before,
                            serde_json::to_value(b.strategy)?.as_str().unwrap_or("?"), r.rank, b.seed
                        ),
                    }),
                    Some((_, None)) => serde_json::json!({
                        "rule": "null_label",
                        "because": format!("its label `{}` is null, and null_label = \"drop\"", b.label),
                    }),
                    None => {
                        serde_json::json!({"because": "the stage's recorded selection dropped it"})
                    }
                };
                verdict = serde_json::json!({"row": global, "kept": false, "stage": k + 1, "stage_name": st.name, "kind": st.kind, "reason": reason});
                break;
            }
            let spec: crate::spec::StageSpec = serde_json::from_str(&st.spec)?;
            let mut rules = Vec::new();
            if let Some(w) = &spec.where_ {
                rules.push(("where".to_string(), w.clone(), true));
            }
            rules.extend(
                spec.rules
                    .iter()
                    .map(|(n, e)| (n.clone(), e.clone(), false)),
            );
            let compiled = filter::compile(&schema, &rules)
                .map_err(|e| anyhow::anyhow!("{}: {}", e.rule, e.message))?;
            let mut one = RoaringBitmap::new();
            one.insert(shard_row);
            let batches = segment_batches(&store, &source.manifest.segments[seg], &one)?;
            let verdicts = filter::evaluate(&compiled, crate::spec::OnError::Drop, &batches[0].1)
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let reason = match &verdicts[0] {
                filter::Verdict::Removed(r) => {
                    let r = &compiled[*r];
                    let mut because = if r.keeps {
                        "the expression is false".to_string()
                    } else {
                        "the expression is true".to_string()
                    };
                    let details = rule_set_reasons(&r.expr, &batches[0].1);
                    if !details.is_empty() {
                        because = format!("{because} ({})", details.join(", "));
                    }
                    serde_json::json!({"rule": r.name, "expr": r.expr, "because": because, "rule_sets": details})
                }
                filter::Verdict::Errored(r, msg) => {
                    serde_json::json!({"rule": compiled[*r].name, "expr": compiled[*r].expr, "because": msg})
                }
                filter::Verdict::Keep => {
                    serde_json::json!({"because": "the stage's recorded selection dropped it"})
                }
            };
            verdict = serde_json::json!({"row": global, "kept": false, "stage": k + 1, "stage_name": st.name, "kind": st.kind, "reason": reason});
            break;
        }
        if verdict["kept"] == true {
            let last = match before {
                Some(s) => s,
                None => base.clone(),
            };
            let position: u64 = last.0[..seg].iter().map(|b| b.len()).sum::<u64>()
                + last.0[seg].rank(shard_row)
                - 1;
            verdict["position"] = serde_json::json!(position);
        }
        outs.push(verdict);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&outs)?);
        return Ok(ExitCode::SUCCESS);
    }
    for o in outs {
        let row = &o["row"];
        if o["kept"] == true {
            println!(
                "row {row} of source {}: kept, as row {} of {}",
                source.id.short(),
                o["position"],
                v.id.short()
            );
        } else {
            let r = &o["reason"];
            if r.get("expr").is_none() {
                println!(
                    "row {row} of source {}: removed by stage {} ({}, {}): {}",
                    source.id.short(),
                    o["stage"],
                    o["stage_name"].as_str().unwrap_or(""),
                    o["kind"].as_str().unwrap_or(""),
                    r["because"].as_str().unwrap_or("")
                );
                continue;
            }
            println!(
                "row {row} of source {}: removed by stage {} ({}, {}): rule `{}` = `{}`: {}",
                source.id.short(),
                o["stage"],
                o["stage_name"].as_str().unwrap_or(""),
                o["kind"].as_str().unwrap_or(""),
                r["rule"].as_str().unwrap_or("?"),
                r["expr"].as_str().unwrap_or("?"),
                r["because"].as_str().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A rule set's verdict: `None` keeps, `Some(reason)` drops.
type RuleSet = fn(&str) -> Option<&'static str>;

/// For each rule set called in `expr` as `name(column)`, its verdict on the (one-row) batch.
fn rule_set_reasons(expr: &str, batch: &arrow::array::RecordBatch) -> Vec<String> {
    use crate::stage::quality as q;
    let sets: [(&str, RuleSet); 4] = [
        ("gopher_quality", q::gopher_quality_reason),
        ("gopher_repetition", q::gopher_repetition_reason),
        ("c4_quality", q::c4_quality_reason),
        ("fineweb_quality", q::fineweb_quality_reason),
    ];
    let mut out = Vec::new();
    for (name, f) in sets {
        let Some(at) = expr.find(&format!("{name}(")) else {
            continue;
        };
        let rest = &expr[at + name.len() + 1..];
        let col = rest
            .split(')')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        let Some(array) = batch.column_by_name(col) else {
            continue;
        };
        let Ok(f_) = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()) else {
            continue;
        };
        let text = f_.value(0).to_string();
        out.push(format!("{name}: {}", f(&text).unwrap_or("passes")));
    }
    out
}

/// (segment, shard row) of the source's `global`-th row.
fn locate(base: &SelectionSet, mut global: u64) -> (usize, u32) {
    for (i, b) in base.0.iter().enumerate() {
        if global < b.len() {
            return (i, b.select(global as u32).expect("in range"));
        }
        global -= b.len();
    }
    unreachable!("row index checked against the row count")
}

fn find_by_key(
    store: &crate::store::Store,
    source: &version::Version,
    col: &str,
    value: &str,
) -> anyhow::Result<Vec<u64>> {
    let schema = source.schema()?;
    let Ok(idx) = schema.index_of(col) else {
        let cols: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        anyhow::bail!(
            "the source has no column '{col}'; its columns are: {}",
            cols.join(", ")
        );
    };
    let mut out = Vec::new();
    let mut offset = 0u64;
    for b in version::rows(store, source)? {
        let b = b?;
        let f = ArrayFormatter::try_new(b.column(idx).as_ref(), &FormatOptions::default())?;
        for i in 0..b.num_rows() {
            if f.value(i).to_string() == value {
                out.push(offset + i as u64);
            }
        }
        offset += b.num_rows() as u64;
    }
    Ok(out)
}
