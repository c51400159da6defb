//! Inline SVG charts: horizontal bars, histograms, the lineage graph.
//!
//! Each chart carries its numbers as `data-*` attributes (`data-value` on
//! every bar) and as `<title>` tooltips, so what a reader sees can be
//! checked against the report's JSON. Output is a pure function of the
//! input: no clock, no randomness, fixed float formatting.

use std::fmt::Write as _;

use super::html::esc;

/// Series colours, in order (the first is the "before" side).
const COLOURS: &[&str] = &["#94a3b8", "#2563eb", "#f59e0b", "#10b981"];
const THRESHOLD: &str = "#dc2626";

/// A number for display: thousands separated, floats to 4 significant places.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        let s = format!("{}", x.abs() as u64);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if x < 0.0 {
            out.insert(0, '-');
        }
        return out;
    }
    let digits = (4 - x.abs().log10().floor() as i32 - 1).clamp(0, 6) as usize;
    let s = format!("{x:.digits$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A coordinate, to one decimal.
fn c(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// One lane of a bar chart: a label and one value per series.
pub struct Lane {
    pub key: String,
    pub label: String,
    pub values: Vec<u64>,
}

/// Horizontal bars, one lane per row. With `overlay` the series share a
/// lane (the first drawn full, the later ones over it: a funnel's in and
/// out); otherwise each series has its own thinner bar.
/// Bars are `wide` for a section, narrow for a card.
pub fn bars(
    chart: &str,
    attrs: &str,
    series: &[&str],
    lanes: &[Lane],
    overlay: bool,
    wide: bool,
) -> String {
    let max = lanes
        .iter()
        .flat_map(|l| l.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (left, width, right) = if wide {
        (180.0, 420.0, 110.0)
    } else {
        (120.0, 190.0, 80.0)
    };
    let bar = if overlay {
        18.0
    } else {
        (26.0 / series.len().max(1) as f64).min(14.0)
    };
    let lane_h = if overlay {
        26.0
    } else {
        bar * series.len() as f64 + 10.0
    };
    let legend = 22.0;
    let h = legend + lane_h * lanes.len() as f64 + 4.0;
    let total = left + width + right;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" data-chart="{}"{attrs} viewBox="0 0 {} {}" width="{}" height="{}" role="img" xmlns="http://www.w3.org/2000/svg">"#,
        esc(chart),
        c(total),
        c(h),
        c(total),
        c(h)
    );
    legend_row(&mut s, series, 0.0);
    for (i, lane) in lanes.iter().enumerate() {
        let y0 = legend + i as f64 * lane_h;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" class="lab">{}</text>"#,
            c(left - 8.0),
            c(y0 + lane_h / 2.0 + 4.0),
            esc(&clip(&lane.label, if wide { 28 } else { 18 }))
        );
        for (k, v) in lane.values.iter().enumerate() {
            let w = (*v as f64 / max * width).max(if *v > 0 { 1.0 } else { 0.0 });
            let y = if overlay {
                y0 + (lane_h - bar) / 2.0
            } else {
                y0 + 5.0 + k as f64 * bar
            };
            let (inset, hh) = if overlay && k > 0 {
                (3.0, bar - 6.0)
            } else {
                (0.0, bar - 1.0)
            };
            let _ = write!(
                s,
                r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}" data-key="{}" data-series="{}" data-value="{v}"><title>{}: {} {}</title></rect>"#,
                c(left),
                c(y + inset),
                c(w),
                c(hh),
                COLOURS[k % COLOURS.len()],
                esc(&lane.key),
                esc(series.get(k).copied().unwrap_or("")),
                esc(&lane.label),
                esc(series.get(k).copied().unwrap_or("")),
                num(*v as f64)
            );
        }
        let shown: Vec<String> = lane.values.iter().map(|v| num(*v as f64)).collect();
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="val">{}</text>"#,
            c(left + width + 6.0),
            c(y0 + lane_h / 2.0 + 4.0),
            esc(&shown.join(" → "))
        );
    }
    s += "</svg>";
    s
}

fn legend_row(s: &mut String, series: &[&str], x0: f64) {
    if series.len() < 2 {
        return;
    }
    let mut x = x0 + 4.0;
    for (k, name) in series.iter().enumerate() {
        let _ = write!(
            s,
            r#"<rect x="{}" y="5" width="12" height="12" fill="{}"/><text x="{}" y="15" class="lab">{}</text>"#,
            c(x),
            COLOURS[k % COLOURS.len()],
            c(x + 16.0),
            esc(name)
        );
        x += 24.0 + 7.0 * name.chars().count() as f64;
    }
}

/// A histogram of one or more series over shared `edges`, overlaid, with
/// vertical threshold lines (value, label).
pub fn histogram(
    chart: &str,
    attrs: &str,
    edges: &[f64],
    series: &[(&str, &[u64])],
    thresholds: &[(f64, String)],
) -> String {
    let (left, top, width, height) = (44.0, 24.0, 300.0, 130.0);
    let bottom = 34.0 + 11.0 * thresholds.len().saturating_sub(1) as f64;
    let total_w = left + width + 24.0;
    let total_h = top + height + bottom;
    let bins = edges.len().saturating_sub(1).max(1);
    // Each series is scaled to its own total, so samples of other sizes compare.
    let shares: Vec<Vec<f64>> = series
        .iter()
        .map(|(_, counts)| {
            let n = counts.iter().sum::<u64>().max(1) as f64;
            counts.iter().map(|c| *c as f64 / n).collect()
        })
        .collect();
    let max = shares
        .iter()
        .flat_map(|s| s.iter().copied())
        .fold(0f64, f64::max)
        .max(1e-9);
    let (lo, hi) = (edges[0], *edges.last().unwrap_or(&1.0));
    let span = (hi - lo).max(1e-9);
    let x_of = |v: f64| left + ((v - lo) / span).clamp(0.0, 1.0) * width;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" data-chart="{}"{attrs} viewBox="0 0 {} {}" width="{}" height="{}" role="img" xmlns="http://www.w3.org/2000/svg">"#,
        esc(chart),
        c(total_w),
        c(total_h),
        c(total_w),
        c(total_h)
    );
    legend_row(
        &mut s,
        &series.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        left - 4.0,
    );
    let _ = write!(
        s,
        r##"<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#475569"/>"##,
        l = c(left),
        r = c(left + width),
        b = c(top + height)
    );
    let bw = width / bins as f64;
    for (k, (name, counts)) in series.iter().enumerate() {
        let colour = COLOURS[(k + 2usize.saturating_sub(series.len())) % COLOURS.len()];
        for (i, n) in counts.iter().enumerate() {
            let hgt = shares[k][i] / max * height;
            let _ = write!(
                s,
                r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{colour}" fill-opacity="{}" data-series="{}" data-bin="{i}" data-value="{n}"><title>{}: [{}, {}) {}</title></rect>"#,
                c(left + i as f64 * bw + 0.5),
                c(top + height - hgt),
                c((bw - 1.0).max(0.5)),
                c(hgt),
                if series.len() > 1 { "0.6" } else { "0.9" },
                esc(name),
                esc(name),
                num(edges[i]),
                num(edges[i + 1]),
                num(*n as f64)
            );
        }
    }
    for (at, label) in [
        (lo, num(lo)),
        ((lo + hi) / 2.0, num((lo + hi) / 2.0)),
        (hi, num(hi)),
    ] {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" class="tick">{}</text>"#,
            c(x_of(at)),
            c(top + height + 14.0),
            esc(&label)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="end" class="tick">{}%</text>"#,
        c(left - 4.0),
        c(top + 8.0),
        num((max * 1000.0).round() / 10.0)
    );
    for (j, (v, label)) in thresholds.iter().enumerate() {
        let x = x_of(*v);
        let _ = write!(
            s,
            r#"<line class="threshold" x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{THRESHOLD}" stroke-dasharray="4 3" data-value="{}"><title>{}</title></line><text x="{}" y="{}" class="thr" text-anchor="{}">{}</text>"#,
            c(top - 2.0),
            c(top + height),
            v,
            esc(label),
            c(x + if x > left + width / 2.0 { -3.0 } else { 3.0 }),
            c(top + height + 26.0 + 11.0 * j as f64),
            if x > left + width / 2.0 {
                "end"
            } else {
                "start"
            },
            esc(&clip(label, 40)),
            x = c(x)
        );
    }
    s += "</svg>";
    s
}

/// One node of the lineage graph.
pub struct GraphNode {
    pub id: String,
    pub title: String,
    pub sub: String,
    pub rows: u64,
}

/// The lineage as boxes joined by arrows, five to a row.
pub fn lineage(nodes: &[GraphNode]) -> String {
    let per_row = 5usize;
    let (bw, bh, gap_x, gap_y) = (172.0, 58.0, 34.0, 30.0);
    let cols = nodes.len().clamp(1, per_row);
    let rows = nodes.len().div_ceil(per_row).max(1);
    let w = cols as f64 * (bw + gap_x) - gap_x + 8.0;
    let h = rows as f64 * (bh + gap_y) - gap_y + 8.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg class="chart lineage" data-chart="lineage" viewBox="0 0 {} {}" width="{}" height="{}" role="img" xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#64748b"/></marker></defs>"##,
        c(w),
        c(h),
        c(w),
        c(h)
    );
    let pos = |i: usize| {
        let (r, k) = (i / per_row, i % per_row);
        (4.0 + k as f64 * (bw + gap_x), 4.0 + r as f64 * (bh + gap_y))
    };
    for i in 1..nodes.len() {
        let (x0, y0) = pos(i - 1);
        let (x1, y1) = pos(i);
        let d = if y0 == y1 {
            format!(
                "M{},{}L{},{}",
                c(x0 + bw),
                c(y0 + bh / 2.0),
                c(x1 - 2.0),
                c(y1 + bh / 2.0)
            )
        } else {
            let mid = y0 + bh + gap_y / 2.0;
            format!(
                "M{},{}L{},{}L{},{}L{},{}",
                c(x0 + bw / 2.0),
                c(y0 + bh),
                c(x0 + bw / 2.0),
                c(mid),
                c(x1 + bw / 2.0),
                c(mid),
                c(x1 + bw / 2.0),
                c(y1 - 2.0)
            )
        };
        let _ = write!(
            s,
            r##"<path d="{d}" fill="none" stroke="#64748b" stroke-width="1.5" marker-end="url(#arrow)"/>"##
        );
    }
    for (i, n) in nodes.iter().enumerate() {
        let (x, y) = pos(i);
        let _ = write!(
            s,
            r##"<g class="node" data-id="{}" data-rows="{}"><title>{}</title><rect x="{}" y="{}" width="{bw}" height="{bh}" rx="6" fill="#f8fafc" stroke="#334155"/><text x="{}" y="{}" class="lab b">{}</text><text x="{}" y="{}" class="tick">{}</text><text x="{}" y="{}" class="tick mono">{}</text></g>"##,
            esc(&n.id),
            n.rows,
            esc(&n.id),
            c(x),
            c(y),
            c(x + 8.0),
            c(y + 18.0),
            esc(&clip(&n.title, 24)),
            c(x + 8.0),
            c(y + 34.0),
            esc(&format!("{} rows{}", num(n.rows as f64), n.sub)),
            c(x + 8.0),
            c(y + 49.0),
            esc(&n.id[..12.min(n.id.len())])
        );
    }
    s += "</svg>";
    s
}

/// `s` cut to `n` characters, with an ellipsis.
pub fn clip(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(1234567.0), "1,234,567");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(1.23456), "1.235");
        assert_eq!(num(-1200.0), "-1,200");
    }

    #[test]
    fn bars_carry_their_values() {
        let svg = bars(
            "funnel",
            "",
            &["in", "out"],
            &[Lane {
                key: "1".into(),
                label: "filter <q>".into(),
                values: vec![10, 4],
            }],
            true,
            true,
        );
        assert!(svg.contains(r#"data-series="in" data-value="10""#));
        assert!(svg.contains(r#"data-series="out" data-value="4""#));
        assert!(svg.contains("filter &lt;q&gt;"));
    }
}
