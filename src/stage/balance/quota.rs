//! Quotas: how many rows of each class a strategy asks for.

use indexmap::IndexMap;

use super::{Plan, Strategy};

/// Rows per class the strategy asks for; classes by name, `counts` aligned.
pub fn quotas(plan: &Plan, names: &[String], counts: &[u64]) -> Result<Vec<u64>, String> {
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
pub(super) fn apportion(total: u64, fractions: &IndexMap<String, f64>) -> Vec<u64> {
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
