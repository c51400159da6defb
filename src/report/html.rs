//! The report as one HTML page: inline CSS and SVG, no script, no link out.

use std::fmt::Write as _;

use super::svg::{self, GraphNode, Lane, num};
use super::{Cluster, ColumnStats, DiffReport, Identity, Quality, Report, Row, StageFunnel};

/// `s` escaped for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls other than tab and newline are not allowed in HTML text.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{--fg:#0f172a;--mut:#64748b;--line:#e2e8f0;--bg:#ffffff;--soft:#f8fafc;--acc:#2563eb}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1120px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:19px;margin:36px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:20px 0 8px}
p.sub{color:var(--mut);margin:0 0 12px}
nav{display:flex;gap:14px;flex-wrap:wrap;margin:12px 0 0;font-size:13px}
nav a{color:var(--acc);text-decoration:none}
table{border-collapse:collapse;margin:8px 0 12px;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.kv code{word-break:break-all}
.kv th{width:140px;background:none;color:var(--mut);font-weight:500}
.mono,code{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:var(--bg);overflow:hidden}
.card h3{margin:0 0 4px}
.card .meta{color:var(--mut);font-size:12px;margin-bottom:6px}
.chart{max-width:100%;height:auto;display:block}
.chart text{font-size:11px;fill:#334155}
.chart .tick{font-size:10px;fill:#64748b}
.chart .thr{font-size:10px;fill:#dc2626}
.chart .b{font-weight:600}
.null{height:6px;background:var(--line);border-radius:3px;overflow:hidden;margin:2px 0 8px}
.null span{display:block;height:100%;background:#f59e0b}
.sample{border-left:3px solid var(--line);padding:4px 10px;margin:6px 0;background:var(--soft);white-space:pre-wrap;word-break:break-word;font-size:12.5px}
.why{color:var(--mut);font-size:12px;margin:8px 0 0}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:10px}
mark{background:#fde68a;padding:0 1px}
.add{color:#15803d}.del{color:#b91c1c}
pre.spec{background:var(--soft);border:1px solid var(--line);padding:8px 10px;overflow:auto;font-size:12px}
footer{margin-top:40px;color:var(--mut);font-size:12px}
.empty{color:var(--mut);font-style:italic}
"#;

fn page(title: &str, nav: &[(&str, &str)], body: &str, footer: &str) -> String {
    let mut s = String::new();
    s += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    s += "<meta name=\"generator\" content=\"sift\">\n";
    let _ = writeln!(s, "<title>{}</title>", esc(title));
    let _ = writeln!(s, "<style>{STYLE}</style>\n</head>\n<body>\n<main>");
    let _ = write!(s, "<h1>{}</h1>", esc(title));
    s += "<nav>";
    for (id, name) in nav {
        let _ = write!(s, "<a href=\"#{id}\">{}</a>", esc(name));
    }
    s += "</nav>\n";
    s += body;
    let _ = write!(s, "<footer>{footer}</footer>\n</main>\n</body>\n</html>\n");
    s
}

fn identity_table(s: &mut String, i: &Identity) {
    s.push_str("<table class=\"kv\">");
    let mut row = |k: &str, v: String| {
        let _ = write!(s, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    row("version", format!("<code>{}</code>", i.version.hex()));
    row("content id", format!("<code>{}</code>", esc(&i.content_id)));
    if !i.tags.is_empty() {
        row("tags", esc(&i.tags.join(", ")));
    }
    row("created", esc(&i.created));
    if let Some(m) = &i.message {
        row("message", esc(m));
    }
    row(
        "made by",
        format!(
            "sift {} <code>{}</code>",
            esc(&i.sift_version),
            esc(&i.command)
        ),
    );
    if let Some(f) = &i.spec_file {
        row(
            "spec",
            format!(
                "<code>{}</code> <span class=\"mono\">{}</span>",
                esc(f),
                esc(&i.spec_hash.clone().unwrap_or_default()
                    [..12.min(i.spec_hash.as_ref().map_or(0, |h| h.len()))])
            ),
        );
    }
    if let Some(d) = &i.device {
        row("device", esc(d));
    }
    row(
        "rows",
        format!(
            "{} ({} of data, {} stored)",
            num(i.rows as f64),
            bytes(i.data_bytes),
            bytes(i.stored_bytes)
        ),
    );
    s.push_str("</table>");
}

/// Bytes in binary units.
fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < units.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", units[u])
    }
}

/// The page of one version.
pub fn render(r: &Report) -> String {
    let id = &r.identity;
    let mut b = String::new();
    if let Some(m) = &id.message {
        let _ = write!(b, "<p class=\"sub\">{}</p>", esc(m));
    }

    // 1. Identity.
    b += "<section id=\"identity\"><h2>1. Identity</h2>";
    identity_table(&mut b, id);
    b += "<h3>Lineage</h3>";
    let nodes: Vec<GraphNode> = r
        .lineage
        .iter()
        .map(|n| GraphNode {
            id: n.id.hex(),
            title: n.label.clone(),
            sub: String::new(),
            rows: n.rows,
        })
        .collect();
    b += &svg::lineage(&nodes);
    b += "</section>\n";

    // 2. Funnel.
    b += "<section id=\"funnel\"><h2>2. Funnel</h2>";
    if r.funnel.is_empty() {
        let _ = write!(
            b,
            "<p class=\"empty\">Made by <code>sift {}</code>, not by a pipeline: no stages removed rows.</p>",
            esc(&id.command)
        );
    } else {
        funnel(&mut b, &r.funnel);
    }
    b += "</section>\n";

    // 3. Columns.
    let _ = write!(
        b,
        "<section id=\"columns\"><h2>3. Columns</h2><p class=\"sub\">On a seeded sample of {} of {} rows (seed {}).</p><div class=\"grid\">",
        num(r.columns.sampled as f64),
        num(r.columns.of_rows as f64),
        r.seed
    );
    for c in &r.columns.columns {
        column(&mut b, c);
    }
    b += "</div></section>\n";

    // 4. Quality.
    b += "<section id=\"quality\"><h2>4. Quality metrics</h2>";
    quality(&mut b, &r.quality, r.seed);
    b += "</section>\n";

    // 5. Samples.
    b += "<section id=\"samples\"><h2>5. Samples</h2>";
    samples(&mut b, r);
    b += "</section>\n";

    let footer = format!(
        "Written by sift {} from version <code>{}</code> with seed {}. Every number here is also in <code>sift report {} --json</code>.",
        env!("CARGO_PKG_VERSION"),
        id.version.short(),
        r.seed,
        esc(&id.reference)
    );
    page(
        &format!("sift report · {}", id.reference),
        &[
            ("identity", "Identity"),
            ("funnel", "Funnel"),
            ("columns", "Columns"),
            ("quality", "Quality"),
            ("samples", "Samples"),
        ],
        &b,
        &footer,
    )
}

fn funnel(b: &mut String, stages: &[StageFunnel]) {
    let lanes: Vec<Lane> = stages
        .iter()
        .map(|f| Lane {
            key: f.stage.to_string(),
            label: format!("{} · {}", f.stage, f.name),
            values: vec![f.rows_in, f.rows_out],
        })
        .collect();
    *b += &svg::bars("funnel", "", &["rows in", "rows out"], &lanes, true, true);
    *b += "<table><tr><th>#</th><th>stage</th><th>kind</th><th class=\"n\">rows in</th><th class=\"n\">rows out</th><th class=\"n\">removed</th><th class=\"n\">bytes in</th><th class=\"n\">bytes out</th><th class=\"n\">seconds</th></tr>";
    for f in stages {
        let _ = write!(
            b,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}{}</td></tr>",
            f.stage,
            esc(&f.name),
            esc(&f.kind),
            num(f.rows_in as f64),
            num(f.rows_out as f64),
            num(f.rows_in.saturating_sub(f.rows_out) as f64),
            bytes(f.bytes_in),
            bytes(f.bytes_out),
            num((f.seconds * 100.0).round() / 100.0),
            if f.cached { " (cached)" } else { "" }
        );
    }
    *b += "</table><div class=\"grid\">";
    for f in stages {
        let _ = write!(
            b,
            "<div class=\"card\" data-stage=\"{}\"><h3>{} · {}</h3><div class=\"meta\">{}</div>",
            f.stage,
            f.stage,
            esc(&f.name),
            esc(&f.kind)
        );
        let removed: Vec<(&String, &u64)> = f.removed.iter().filter(|(_, n)| **n > 0).collect();
        if !removed.is_empty() && f.dedup.is_none() {
            let lanes: Vec<Lane> = removed
                .iter()
                .map(|(r, n)| Lane {
                    key: r.to_string(),
                    label: r.to_string(),
                    values: vec![**n],
                })
                .collect();
            *b += &svg::bars(
                "removed",
                &format!(" data-stage=\"{}\"", f.stage),
                &["removed"],
                &lanes,
                true,
                false,
            );
        }
        if let Some(d) = &f.dedup {
            let _ = write!(
                b,
                "<table><tr><th>method</th><td>{}</td></tr><tr><th>clusters</th><td class=\"n\">{}</td></tr><tr><th>removed</th><td class=\"n\">{}</td></tr><tr><th>exact (Jaccard 1)</th><td class=\"n\">{}</td></tr><tr><th>near</th><td class=\"n\">{}</td></tr></table>",
                esc(&d.method),
                num(d.clusters as f64),
                num(d.removed as f64),
                num(d.exact as f64),
                num(d.near as f64)
            );
            let lanes: Vec<Lane> = d
                .histogram
                .iter()
                .map(|(size, n)| Lane {
                    key: size.clone(),
                    label: format!("{size} rows"),
                    values: vec![*n],
                })
                .collect();
            if !lanes.is_empty() {
                *b += "<div class=\"meta\">clusters by size</div>";
                *b += &svg::bars(
                    "clusters",
                    &format!(" data-stage=\"{}\"", f.stage),
                    &["clusters"],
                    &lanes,
                    true,
                    false,
                );
            }
        }
        if let Some(classes) = &f.balance {
            let lanes: Vec<Lane> = classes
                .iter()
                .map(|(c, n)| Lane {
                    key: c.clone(),
                    label: c.clone(),
                    values: vec![n.before, n.after],
                })
                .collect();
            *b += &svg::bars(
                "classes",
                &format!(" data-stage=\"{}\"", f.stage),
                &["before", "after"],
                &lanes,
                false,
                false,
            );
        }
        for (chart, counts, most) in [
            ("languages", &f.language, 12),
            ("scores", &f.scores, usize::MAX),
        ] {
            let Some(counts) = counts else { continue };
            let lanes: Vec<Lane> = counts
                .iter()
                .take(most)
                .map(|(c, n)| Lane {
                    key: c.clone(),
                    label: c.clone(),
                    values: vec![n.before, n.after],
                })
                .collect();
            *b += &svg::bars(
                chart,
                &format!(" data-stage=\"{}\"", f.stage),
                &["before", "after"],
                &lanes,
                false,
                false,
            );
        }
        if let Some(sets) = &f.decontaminate {
            *b += "<table><tr><th>eval set</th><th class=\"n\">eval rows</th><th class=\"n\">too short</th><th class=\"n\">rows removed</th></tr>";
            for (name, s) in sets {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    esc(name),
                    num(s.eval_rows as f64),
                    num(s.too_short as f64),
                    num(s.rows_removed as f64)
                );
            }
            *b += "</table>";
        }
        if let Some(t) = &f.tokens {
            let _ = write!(
                b,
                "<p>{} tokens read, {} kept, under {}.</p>",
                num(t.tokens_before as f64),
                num(t.tokens_after as f64),
                esc(&t.tokenizer)
            );
        }
        if let Some(t) = &f.rewrites {
            let _ = write!(
                b,
                "<p>Rewrote {} rows.</p><table><tr><th>edit</th><th class=\"n\">count</th></tr>",
                num(t.rows_changed as f64)
            );
            for (e, n) in &t.edits {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                    esc(e),
                    num(*n as f64)
                );
            }
            *b += "</table>";
        }
        if removed.is_empty()
            && f.rewrites.is_none()
            && f.balance.is_none()
            && f.dedup.is_none()
            && f.language.is_none()
            && f.scores.is_none()
        {
            *b += "<p class=\"empty\">Removed no rows.</p>";
        }
        *b += "</div>";
    }
    *b += "</div>";
}

fn column(b: &mut String, c: &ColumnStats) {
    let pct = c.null_fraction * 100.0;
    let _ = write!(
        b,
        "<div class=\"card\" data-column=\"{}\"><h3>{}</h3><div class=\"meta\">{} · {}% null{}</div><div class=\"null\"><span style=\"width:{}%\"></span></div>",
        esc(&c.name),
        esc(&c.name),
        esc(&c.data_type),
        num((pct * 10.0).round() / 10.0),
        c.distinct
            .map(|d| format!(" · {} distinct", num(d as f64)))
            .unwrap_or_default(),
        num((pct * 10.0).round() / 10.0)
    );
    for h in &c.histograms {
        let _ = write!(b, "<div class=\"meta\">{}</div>", esc(&h.of));
        *b += &svg::histogram(
            "column",
            &format!(
                " data-column=\"{}\" data-of=\"{}\"",
                esc(&c.name),
                esc(&h.of)
            ),
            &h.edges,
            &[("sample", &h.counts)],
            &[],
        );
    }
    if !c.top.is_empty() {
        let lanes: Vec<Lane> = c
            .top
            .iter()
            .map(|t| Lane {
                key: t.value.clone(),
                label: t.value.clone(),
                values: vec![t.count],
            })
            .collect();
        *b += &svg::bars(
            "top",
            &format!(" data-column=\"{}\"", esc(&c.name)),
            &["rows"],
            &lanes,
            true,
            false,
        );
    }
    *b += "</div>";
}

fn quality(b: &mut String, q: &Quality, seed: u64) {
    let Some(col) = &q.column else {
        *b += "<p class=\"empty\">No string column to measure.</p>";
        return;
    };
    let sides: Vec<String> = q
        .series
        .iter()
        .map(|(n, rows)| format!("{} rows of the {}", num(*rows as f64), esc(n)))
        .collect();
    let _ = write!(
        b,
        "<p class=\"sub\">Of <code>{}</code>, on seeded samples (seed {seed}): {}. Each series is drawn as a share of its sample; dashed lines are filter thresholds.</p><div class=\"grid\">",
        esc(col),
        sides.join(", ")
    );
    for m in &q.metrics {
        let series: Vec<(&str, &[u64])> = m
            .counts
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice()))
            .collect();
        let thresholds: Vec<(f64, String)> = m
            .thresholds
            .iter()
            .map(|t| {
                (
                    t.value,
                    format!(
                        "{} if {} {} {} ({}{})",
                        if t.keeps { "keep" } else { "drop" },
                        t.metric,
                        t.op,
                        num(t.value),
                        t.rule,
                        if t.from.contains(' ') {
                            String::new()
                        } else {
                            format!(", {}", t.from)
                        }
                    ),
                )
            })
            .collect();
        let _ = write!(
            b,
            "<div class=\"card\"><h3><code>{}</code></h3>",
            esc(&m.name)
        );
        *b += &svg::histogram(
            "metric",
            &format!(" data-metric=\"{}\"", esc(&m.name)),
            &m.edges,
            &series,
            &thresholds,
        );
        *b += "</div>";
    }
    *b += "</div>";
}

fn sample_row(b: &mut String, r: &Row, what: &str) {
    let _ = write!(
        b,
        "<div class=\"why\">{what} {}{}</div><div class=\"sample\">{}{}</div>",
        num(r.row as f64),
        r.reason
            .as_ref()
            .map(|x| format!(": {}", esc(x)))
            .unwrap_or_default(),
        esc(&r.text),
        if r.cut { "…" } else { "" }
    );
}

fn samples(b: &mut String, r: &Report) {
    let s = &r.samples;
    if s.rules.is_empty() && s.clusters.is_empty() && s.classes.is_empty() {
        *b += "<p class=\"empty\">No stage removed rows.</p>";
        return;
    }
    for rule in &s.rules {
        let _ = write!(
            b,
            "<h3 data-stage=\"{}\" data-rule=\"{}\">{} · {} — rule <code>{}</code> ({} removed)</h3>",
            rule.stage,
            esc(&rule.rule),
            rule.stage,
            esc(&rule.stage_name),
            esc(&rule.rule),
            num(rule.removed as f64)
        );
        for row in &rule.rows {
            sample_row(b, row, "source row");
        }
    }
    let mut last = 0;
    for c in &s.clusters {
        if c.stage != last {
            let _ = write!(
                b,
                "<h3>{} · {} — duplicates beside the row kept</h3>",
                c.stage,
                esc(&c.stage_name)
            );
            last = c.stage;
        }
        cluster(b, c);
    }
    let mut last = (0, String::new());
    for c in &s.classes {
        if (c.stage, &c.label) != (last.0, &last.1) {
            let _ = write!(
                b,
                "<h3>{} — rows per class of <code>{}</code></h3>",
                c.stage,
                esc(&c.label)
            );
            last = (c.stage, c.label.clone());
        }
        let _ = write!(
            b,
            "<div class=\"meta\"><b>{}</b> · {} rows kept</div>",
            esc(&c.class),
            num(c.rows_after as f64)
        );
        for row in &c.rows {
            sample_row(b, row, "version row");
        }
    }
}

/// Words of `s` and the whitespace between them, in order.
fn pieces(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut space = None;
    for (i, ch) in s.char_indices() {
        let ws = ch.is_whitespace();
        if space.is_some_and(|w| w != ws) {
            out.push(&s[start..i]);
            start = i;
        }
        space = Some(ws);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// `s` escaped, its words absent from `other` marked.
fn marked(s: &str, other: &str) -> String {
    let theirs: std::collections::HashSet<String> =
        other.split_whitespace().map(|w| w.to_lowercase()).collect();
    let mut out = String::new();
    for p in pieces(s) {
        if !p.trim().is_empty() && !theirs.contains(&p.to_lowercase()) {
            let _ = write!(out, "<mark>{}</mark>", esc(p));
        } else {
            out += &esc(p);
        }
    }
    out
}

fn cluster(b: &mut String, c: &Cluster) {
    let _ = write!(
        b,
        "<div class=\"why\">Jaccard {} — removed source row {} in favour of source row {}</div><div class=\"pair\" data-jaccard=\"{}\"><div class=\"sample\"><b>kept</b> {}\n{}{}</div><div class=\"sample\"><b>removed</b> {}\n{}{}</div></div>",
        num(c.jaccard),
        num(c.removed.row as f64),
        num(c.kept.row as f64),
        c.jaccard,
        num(c.kept.row as f64),
        marked(&c.kept.text, &c.removed.text),
        if c.kept.cut { "…" } else { "" },
        num(c.removed.row as f64),
        marked(&c.removed.text, &c.kept.text),
        if c.removed.cut { "…" } else { "" }
    );
}

/// The page of what changed from A to B.
pub fn render_diff(r: &DiffReport) -> String {
    let d = &r.diff;
    let mut b = String::new();
    b += "<section id=\"identity\"><h2>1. Identity</h2><div class=\"pair\"><div><h3>A</h3>";
    identity_table(&mut b, &r.a);
    b += "</div><div><h3>B</h3>";
    identity_table(&mut b, &r.b);
    b += "</div></div></section>\n";

    b += "<section id=\"changes\"><h2>2. Rows</h2>";
    let mut lanes = vec![
        Lane {
            key: "unchanged".into(),
            label: "unchanged".into(),
            values: vec![d.rows.unchanged],
        },
        Lane {
            key: "added".into(),
            label: "added".into(),
            values: vec![d.rows.added],
        },
        Lane {
            key: "removed".into(),
            label: "removed".into(),
            values: vec![d.rows.removed],
        },
    ];
    if let Some(k) = &d.keys {
        lanes.push(Lane {
            key: "modified".into(),
            label: format!("modified (by {})", k.columns.join(", ")),
            values: vec![k.modified],
        });
    }
    b += &svg::bars("rows", "", &["rows"], &lanes, true, true);
    let _ = write!(
        b,
        "<p>A has {} rows, B has {}{}.</p>",
        num(d.a.rows as f64),
        num(d.b.rows as f64),
        if d.same_content {
            ": the same content"
        } else {
            ""
        }
    );
    if let Some(k) = &d.keys
        && !k.changed_columns.is_empty()
    {
        b += "<table><tr><th>column</th><th class=\"n\">rows changed</th></tr>";
        for (c, n) in &k.changed_columns {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(c),
                num(*n as f64)
            );
        }
        b += "</table>";
    }
    b += "<h3>Sample rows</h3>";
    for (what, rows) in [("added", &d.samples.added), ("removed", &d.samples.removed)] {
        for row in rows {
            let _ = write!(
                b,
                "<div class=\"why\">{what}</div><div class=\"sample\">{}</div>",
                esc(&svg::clip(&row.to_string(), 400))
            );
        }
    }
    for m in &d.samples.modified {
        let _ = write!(b, "<div class=\"why\">modified {}</div>", esc(&m.key));
        b += "<table><tr><th>column</th><th>A</th><th>B</th></tr>";
        for (c, [x, y]) in &m.changes {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"del\">{}</td><td class=\"add\">{}</td></tr>",
                esc(c),
                esc(&svg::clip(&x.to_string(), 200)),
                esc(&svg::clip(&y.to_string(), 200))
            );
        }
        b += "</table>";
    }
    b += "</section>\n";

    b += "<section id=\"classes\"><h2>3. Classes</h2>";
    match &d.labels {
        Some(l) => {
            let lanes: Vec<Lane> = l
                .classes
                .iter()
                .map(|(c, n)| Lane {
                    key: c.clone(),
                    label: c.clone(),
                    values: vec![n.a, n.b],
                })
                .collect();
            let _ = write!(
                b,
                "<p class=\"sub\">By <code>{}</code>.</p>",
                esc(&l.column)
            );
            b += &svg::bars("labels", "", &["A", "B"], &lanes, false, true);
        }
        None => b += "<p class=\"empty\">No label column (set one with <code>--label</code>).</p>",
    }
    b += "</section>\n";

    b += "<section id=\"schema\"><h2>4. Schema and spec</h2>";
    let sc = &d.schema;
    if sc.added.is_empty() && sc.removed.is_empty() && sc.retyped.is_empty() {
        b += "<p>The same columns.</p>";
    } else {
        b += "<table><tr><th>change</th><th>column</th><th>type</th></tr>";
        for c in &sc.added {
            let _ = write!(
                b,
                "<tr><td class=\"add\">added</td><td>{}</td><td>{}</td></tr>",
                esc(&c.name),
                esc(&c.logical)
            );
        }
        for c in &sc.removed {
            let _ = write!(
                b,
                "<tr><td class=\"del\">removed</td><td>{}</td><td>{}</td></tr>",
                esc(&c.name),
                esc(&c.logical)
            );
        }
        for c in &sc.retyped {
            let _ = write!(
                b,
                "<tr><td>retyped</td><td>{}</td><td>{} → {}</td></tr>",
                esc(&c.name),
                esc(&c.from),
                esc(&c.to)
            );
        }
        b += "</table>";
    }
    if d.lineage.spec_diff.is_empty() {
        b += "<p class=\"empty\">No spec difference.</p>";
    } else {
        b += "<pre class=\"spec\">";
        for line in &d.lineage.spec_diff {
            let class = match line.chars().next() {
                Some('+') => "add",
                Some('-') => "del",
                _ => "",
            };
            let _ = writeln!(b, "<span class=\"{class}\">{}</span>", esc(line));
        }
        b += "</pre>";
    }
    b += "</section>\n";

    b += "<section id=\"quality\"><h2>5. Quality metrics</h2>";
    quality(&mut b, &r.quality, r.seed);
    b += "</section>\n";
    let footer = format!(
        "Written by sift {} from versions <code>{}</code> and <code>{}</code> with seed {}.",
        env!("CARGO_PKG_VERSION"),
        r.a.version.short(),
        r.b.version.short(),
        r.seed
    );
    page(
        &format!("sift report · {} → {}", r.a.reference, r.b.reference),
        &[
            ("identity", "Identity"),
            ("changes", "Rows"),
            ("classes", "Classes"),
            ("schema", "Schema and spec"),
            ("quality", "Quality"),
        ],
        &b,
        &footer,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            esc("<a href=\"x\">&'\u{7}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;\u{fffd}"
        );
    }

    #[test]
    fn marks_the_words_the_other_lacks() {
        assert_eq!(
            marked("the quick  fox", "The slow fox"),
            "the <mark>quick</mark>  fox"
        );
    }
}
