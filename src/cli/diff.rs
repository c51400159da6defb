use std::process::ExitCode;

use clap::Args;

use super::printer::{Printer, say_raw};

use super::{Global, ui};
use crate::version::{self, diff};

pub const EXAMPLES: &str = "\
Examples:
  sift diff v1 v2                 summary, schema, lineage and 3 sample rows of each kind
  sift diff v1 v2 --stat          counts only; reads fingerprints, never row data
  sift diff v1 v2 --key id        pair changed rows by id: modified rows and their columns
  sift diff v1 v2 --label source  class counts on both sides
  sift diff v1 v2 --json          everything, as JSON (schemas/diff.schema.json)";

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older version: tag, id or unique id prefix.
    pub a: String,
    /// The newer version.
    pub b: String,
    /// Key columns (comma-separated): removed and added rows with one key are one modified row.
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    pub key: Vec<String>,
    /// A label column to compare class counts of (default: a balance stage's label).
    #[arg(long, value_name = "COL")]
    pub label: Option<String>,
    /// Sample rows shown per kind (added, removed, modified).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub rows: usize,
    /// Counts only: no sample rows, no lineage.
    #[arg(long)]
    pub stat: bool,
    /// Print everything as JSON (schemas/diff.schema.json).
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 when the versions' rows or schemas differ.
    #[arg(long)]
    pub exit_code: bool,
}

pub fn run(g: &Global, a: DiffArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    let store = g.open_store()?;
    let va = version::resolve(&store, &a.a)?;
    let vb = version::resolve(&store, &a.b)?;
    let label = a
        .label
        .clone()
        .or_else(|| (!a.stat).then(|| diff::default_label(&va, &vb)).flatten());
    let opts = diff::Options {
        keys: a.key.clone(),
        label,
        samples: if a.stat { 0 } else { a.rows },
    };
    let d = diff::diff(&store, (&va, &a.a), (&vb, &a.b), &opts)?;
    let differs = d.rows.added + d.rows.removed > 0
        || !(d.schema.added.is_empty()
            && d.schema.removed.is_empty()
            && d.schema.retyped.is_empty());
    if a.json {
        pr.json(&d)?;
    } else {
        say_raw!(pr, "{}", render(&d, a.stat));
    }
    Ok(if a.exit_code && differs {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn render(d: &diff::Diff, stat: bool) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    for (mark, s) in [("---", &d.a), ("+++", &d.b)] {
        line(format!(
            "{mark} {:<12} {}  {:>10} rows  {}",
            s.reference,
            s.version.short(),
            ui::count(s.rows),
            s.made_by
        ));
    }
    if d.same_content {
        line("same content: the same rows in the same order".into());
    }
    let sc = &d.schema;
    if !(sc.added.is_empty() && sc.removed.is_empty() && sc.retyped.is_empty()) {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(
            sc.added
                .iter()
                .map(|c| format!("+{} ({})", c.name, c.logical)),
        );
        parts.extend(
            sc.removed
                .iter()
                .map(|c| format!("-{} ({})", c.name, c.logical)),
        );
        parts.extend(
            sc.retyped
                .iter()
                .map(|c| format!("~{} ({} → {})", c.name, c.from, c.to)),
        );
        line(format!("schema   {}", parts.join("  ")));
    }
    let r = &d.rows;
    line(format!(
        "rows     +{} added  -{} removed  {} unchanged   ({} segments compared, {} identical skipped)",
        ui::count(r.added),
        ui::count(r.removed),
        ui::count(r.unchanged),
        r.segments_compared,
        r.segments_skipped
    ));
    if let Some(k) = &d.keys {
        let cols: Vec<String> = k
            .changed_columns
            .iter()
            .map(|(c, n)| format!("{c} {}", ui::count(*n)))
            .collect();
        line(format!(
            "by key   {}: {} modified{}, {} added, {} removed",
            k.columns.join(","),
            ui::count(k.modified),
            if cols.is_empty() {
                String::new()
            } else {
                format!(" ({})", cols.join(", "))
            },
            ui::count(k.added),
            ui::count(k.removed)
        ));
        for (side, n, ex) in [
            ("A", k.duplicate_keys_a, &k.duplicate_examples_a),
            ("B", k.duplicate_keys_b, &k.duplicate_examples_b),
        ] {
            if n > 0 {
                line(format!(
                    "warning  {side} has {} duplicated key values (e.g. {}): pairs by key are ambiguous",
                    ui::count(n),
                    ex.join("; ")
                ));
            }
        }
    }
    if let Some(l) = &d.labels {
        line(format!("labels   {}", l.column));
        let rows: Vec<Vec<String>> = l
            .classes
            .iter()
            .map(|(c, n)| {
                let change = n.b as i64 - n.a as i64;
                vec![
                    format!("  {c}"),
                    ui::count(n.a),
                    ui::count(n.b),
                    if change > 0 {
                        format!("+{}", ui::count(change as u64))
                    } else if change < 0 {
                        format!("-{}", ui::count((-change) as u64))
                    } else {
                        "=".into()
                    },
                ]
            })
            .collect();
        for l in ui::table(&["  CLASS", "A", "B", "CHANGE"], &rows).lines() {
            line(l.to_string());
        }
    }
    if stat {
        return out;
    }
    if d.lineage.b_from_a {
        line(format!(
            "lineage  {} was made from {}",
            d.b.reference, d.a.reference
        ));
    }
    if !d.lineage.spec_diff.is_empty() {
        line("spec diff".into());
        for l in &d.lineage.spec_diff {
            line(format!("  {l}"));
        }
    }
    let s = &d.samples;
    if !(s.added.is_empty() && s.removed.is_empty() && s.modified.is_empty()) {
        line("sample rows".into());
        for (mark, rows) in [("+", &s.added), ("-", &s.removed)] {
            for row in rows.iter() {
                line(format!("{mark} {}", short(&row.to_string(), 160)));
            }
        }
        for m in &s.modified {
            let changes: Vec<String> = m
                .changes
                .iter()
                .map(|(c, [a, b])| {
                    format!(
                        "{c}: {} → {}",
                        short(&a.to_string(), 60),
                        short(&b.to_string(), 60)
                    )
                })
                .collect();
            line(format!("~ {}  {}", m.key, changes.join("; ")));
        }
    }
    out
}

/// `s` cut to `max` characters, with an ellipsis.
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max - 1).collect();
    format!("{cut}…")
}
