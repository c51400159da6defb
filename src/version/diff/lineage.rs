//! Lineage: ancestry and the line diff of two specs.

use super::*;

pub(super) fn lineage_diff(a: &Version, b: &Version) -> LineageDiff {
    let l = &b.manifest.lineage;
    let b_from_a =
        l.parents.contains(&a.id) || l.pipeline.as_ref().is_some_and(|p| p.source == a.id);
    let spec_diff = match (&a.manifest.lineage.pipeline, &l.pipeline) {
        (Some(pa), Some(pb)) if pa.spec_hash != pb.spec_hash => {
            line_diff(&pretty(&pa.spec), &pretty(&pb.spec))
        }
        _ => Vec::new(),
    };
    LineageDiff {
        b_from_a,
        spec_diff,
    }
}

pub(super) fn pretty(spec: &str) -> String {
    serde_json::from_str::<serde_json::Value>(spec)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| spec.to_string())
}

/// A line diff by longest common subsequence (specs are small).
pub fn line_diff(a: &str, b: &str) -> Vec<String> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let (n, m) = (la.len(), lb.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if la[i] == lb[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && la[i] == lb[j] {
            out.push(format!("  {}", la[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {}", lb[j]));
            j += 1;
        } else {
            out.push(format!("- {}", la[i]));
            i += 1;
        }
    }
    out
}
