//! `sift report`: the page of a version (or of two), its JSON, `sift run
//! --report`. The page is checked by an HTML5 parser against the JSON
//! (`tests/report_check.py`, with html5lib from `.ci/venv`) and rendered by
//! headless Chromium; both skip, saying so, where their tool is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::util::Env;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn python() -> Option<String> {
    let py = format!("{REPO}/.ci/venv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import html5lib"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

/// The recipe pipeline's version (every kind of stage but map), reported
/// as a page and as JSON.
fn recipe(env: &Env) -> (String, serde_json::Value) {
    env.ok(&["run", &format!("{REPO}/pipelines/recipe.toml")]);
    env.ok(&["report", "forum-recipe", "-o", "recipe.html"]);
    let html = std::fs::read_to_string(env.path("recipe.html")).unwrap();
    let json = env.json(&["report", "forum-recipe", "--json"]);
    (html, json)
}

#[test]
fn a_report_has_every_section_and_the_numbers_of_its_json() {
    let env = Env::new();
    let (html, r) = recipe(&env);
    for id in ["identity", "funnel", "columns", "quality", "samples"] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    assert!(!html.contains("<script"), "no script");
    assert!(!html.contains("src=\"http"), "nothing loaded from outside");

    // What the JSON says, from what the run recorded.
    let show = env.json(&["show", "forum-recipe", "--json"]);
    let stages = show["lineage"]["pipeline"]["stages"].as_array().unwrap();
    let funnel = r["funnel"].as_array().unwrap();
    assert_eq!(funnel.len(), stages.len());
    for (f, s) in funnel.iter().zip(stages) {
        assert_eq!(f["rows_in"], s["rows_in"]);
        assert_eq!(f["rows_out"], s["rows_out"]);
        assert_eq!(f["removed"], s["removed"]);
        assert!(f["bytes_out"].as_u64().unwrap() <= f["bytes_in"].as_u64().unwrap());
    }
    let lineage = r["lineage"].as_array().unwrap();
    assert_eq!(lineage.len(), stages.len() + 2, "source, stages, version");
    assert_eq!(lineage.last().unwrap()["rows"], 357);
    assert_eq!(r["identity"]["tags"], serde_json::json!(["forum-recipe"]));
    assert_eq!(r["identity"]["device"], "cpu");
    let dedup = &funnel[4]["dedup"];
    assert_eq!(
        dedup["exact"].as_u64().unwrap() + dedup["near"].as_u64().unwrap(),
        dedup["removed"].as_u64().unwrap()
    );

    // Columns: the sample holds every row of this small version.
    assert_eq!(r["columns"]["sampled"], 357);
    let cols = r["columns"]["columns"].as_array().unwrap();
    let forum = cols.iter().find(|c| c["name"] == "forum").unwrap();
    let top: u64 = forum["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["count"].as_u64().unwrap())
        .sum();
    assert_eq!(top, 357, "labels: the top values cover the sample");
    let text = cols.iter().find(|c| c["name"] == "text").unwrap();
    assert_eq!(text["histograms"][0]["of"], "characters");
    let chars: u64 = text["histograms"][0]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(chars, 357);

    // Metrics: both samples on the same bins, the filter's threshold drawn.
    let metrics = r["quality"]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 6);
    let wc = &metrics[0];
    assert_eq!(wc["name"], "word_count");
    let total = |s: &str| -> u64 {
        wc["counts"][s]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum()
    };
    assert_eq!(total("source"), 424);
    assert_eq!(total("version"), 357);
    assert_eq!(wc["thresholds"][0]["value"], 20.0);
    assert_eq!(wc["thresholds"][0]["keeps"], true);

    // Samples: each sampled rule names a rule the stage removed rows by,
    // and its rows say why; dedup pairs a removed row with the kept one.
    let rules = r["samples"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|s| s["rule"] == "contaminated"));
    assert!(rules.iter().any(|s| s["kind"] == "balance"));
    for s in rules {
        let stage = &funnel[s["stage"].as_u64().unwrap() as usize - 1];
        assert!(
            stage["removed"][s["rule"].as_str().unwrap()]
                .as_u64()
                .unwrap()
                > 0
        );
        let rows = s["rows"].as_array().unwrap();
        assert!(!rows.is_empty() && rows.len() <= 3);
        assert!(rows.iter().all(|x| x["reason"].is_string()));
    }
    let clusters = r["samples"]["clusters"].as_array().unwrap();
    assert!(!clusters.is_empty());
    for c in clusters {
        assert!(c["jaccard"].as_f64().unwrap() >= 0.8);
        assert_ne!(c["kept"]["row"], c["removed"]["row"]);
    }
    let classes = r["samples"]["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 3, "one per forum");

    // Every removed row a sample shows is one `sift explain` says that stage removed.
    let first = &rules[0]["rows"][0];
    let e = env.json(&[
        "explain",
        "forum-recipe",
        &first["row"].to_string(),
        "--json",
    ]);
    assert_eq!(e[0]["stage"], rules[0]["stage"]);
    assert_eq!(e[0]["reason"]["rule"], rules[0]["rule"]);
}

#[test]
fn the_page_parses_as_html5_and_its_charts_hold_the_json() {
    let Some(py) = python() else {
        eprintln!("skipped: no html5lib in .ci/venv (run .ci/run to install it)");
        return;
    };
    let env = Env::new();
    let (_, r) = recipe(&env);
    std::fs::write(env.path("recipe.json"), r.to_string()).unwrap();
    env.ok(&[
        "run",
        &format!("{REPO}/pipelines/filter_balance.toml"),
        "--report",
        "balanced.html",
    ]);
    env.ok(&["report", "web-balanced", "--json", "-o", "balanced.json"]);
    env.ok(&["run", &format!("{REPO}/pipelines/filter_dedup.toml")]);
    env.ok(&["report", "web-dedup", "-o", "dedup.html"]);
    env.ok(&["report", "web-dedup", "--json", "-o", "dedup.json"]);
    env.ok(&[
        "report",
        "web-dedup",
        "web-balanced",
        "--key",
        "id",
        "-o",
        "diff.html",
    ]);
    env.ok(&[
        "report",
        "web-dedup",
        "web-balanced",
        "--key",
        "id",
        "--json",
        "-o",
        "diff.json",
    ]);
    let check = |page: &str, json: &str, kind: &str| -> serde_json::Value {
        let out = Command::new(&py)
            .arg(format!("{REPO}/tests/report_check.py"))
            .args([env.path(page), env.path(json)])
            .arg(kind)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let one = check("recipe.html", "recipe.json", "one");
    assert!(one["charts"].as_u64().unwrap() >= 15, "{one}");
    check("balanced.html", "balanced.json", "one");
    check("dedup.html", "dedup.json", "one");
    let two = check("diff.html", "diff.json", "diff");
    assert!(two["charts"].as_u64().unwrap() >= 7, "{two}");

    // The checker itself fails on a page whose chart disagrees with the JSON.
    let page = std::fs::read_to_string(env.path("recipe.html")).unwrap();
    let wrong = page.replacen(
        "data-series=\"rows out\" data-value=\"421\"",
        "data-series=\"rows out\" data-value=\"420\"",
        1,
    );
    assert_ne!(wrong, page);
    std::fs::write(env.path("wrong.html"), wrong).unwrap();
    let out = Command::new(&py)
        .arg(format!("{REPO}/tests/report_check.py"))
        .args([env.path("wrong.html"), env.path("recipe.json")])
        .arg("one")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("funnel"));
}

#[test]
fn the_same_version_and_seed_give_the_same_bytes() {
    let env = Env::new();
    let (html, _) = recipe(&env);
    env.ok(&[
        "report",
        "forum-recipe",
        "-o",
        "again.html",
        "--threads",
        "1",
    ]);
    assert_eq!(
        html,
        std::fs::read_to_string(env.path("again.html")).unwrap(),
        "byte-identical"
    );
    // Another seed draws other samples.
    env.ok(&["report", "forum-recipe", "-o", "seed2.html", "--seed", "2"]);
    let other = std::fs::read_to_string(env.path("seed2.html")).unwrap();
    assert_ne!(html, other);
    // The default name is the version's.
    let out = env.sift(&["report", "forum-recipe"]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    let name = said
        .split_whitespace()
        .nth(1)
        .expect("it says where it wrote");
    assert!(
        name.starts_with("report-") && name.ends_with(".html"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(env.path(name)).unwrap(), html);
}

#[test]
fn a_version_not_made_by_a_run_still_reports() {
    let env = Env::new();
    env.ok(&[
        "import",
        &format!("{REPO}/pipelines/data/web_sample.jsonl"),
        "--tag",
        "raw",
    ]);
    let r = env.json(&["report", "raw", "--json", "--sample", "50"]);
    assert_eq!(r["funnel"], serde_json::json!([]));
    assert_eq!(r["columns"]["sampled"], 50);
    assert_eq!(r["columns"]["of_rows"], 400);
    assert_eq!(r["lineage"].as_array().unwrap().len(), 1);
    assert_eq!(r["quality"]["series"], serde_json::json!({"version": 50}));
    let html = env.ok(&["report", "raw", "-o", "-"]);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("not by a pipeline"));
}

#[test]
fn bad_report_requests_say_what_to_do() {
    let env = Env::new();
    env.ok(&[
        "import",
        &format!("{REPO}/pipelines/data/web_sample.jsonl"),
        "--tag",
        "raw",
    ]);
    let err = env.fail(&["report", "nope"]);
    assert!(err.contains("nope"), "{err}");
    let err = env.fail(&["report", "raw", "--column", "body"]);
    assert!(err.contains("no column 'body'"), "{err}");
    assert!(err.contains("--column"), "{err}");
    let err = env.fail(&["report", "raw", "-o", "no/such/dir/r.html"]);
    assert!(err.contains("could not write"), "{err}");
    assert!(
        std::fs::read_dir(env.dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")),
        "no temporary file is left"
    );
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

/// An 8-bit RGB or RGBA PNG as (width, height, RGB pixels).
fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<[u8; 3]>) {
    use std::io::Read;
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let (mut at, mut w, mut h, mut channels) = (8, 0, 0, 0);
    let mut data = Vec::new();
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let body = &bytes[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
                h = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
                assert_eq!(body[8], 8, "8-bit");
                channels = match body[9] {
                    2 => 3,
                    6 => 4,
                    t => panic!("colour type {t}"),
                };
                assert_eq!(body[12], 0, "not interlaced");
            }
            b"IDAT" => data.extend_from_slice(body),
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = w * channels;
    let mut prev = vec![0u8; stride];
    let mut px = Vec::with_capacity(w * h);
    for y in 0..h {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let mut cur = line[1..].to_vec();
        for i in 0..stride {
            let a = if i >= channels { cur[i - channels] } else { 0 } as i16;
            let b = prev[i] as i16;
            let c = if i >= channels { prev[i - channels] } else { 0 } as i16;
            let add = match line[0] {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("filter {f}"),
            };
            cur[i] = cur[i].wrapping_add(add as u8);
        }
        for x in 0..w {
            let p = &cur[x * channels..x * channels + 3];
            px.push([p[0], p[1], p[2]]);
        }
        prev = cur;
    }
    (w, h, px)
}

/// Runs headless Chromium on `page`; returns its screenshot's pixels and what it logged.
fn screenshot(browser: &Path, page: &Path, out: &Path, size: (u32, u32)) -> (String, Vec<u8>) {
    let run = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            out.with_extension("profile").display()
        ))
        .arg(format!("--window-size={},{}", size.0, size.1))
        .arg(format!("--screenshot={}", out.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "chromium failed:\n{log}");
    (log, std::fs::read(out).unwrap())
}

#[test]
fn a_browser_renders_the_page_whole() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no chromium on PATH (.ci/run installs Debian's `chromium`)");
        return;
    };
    let env = Env::new();
    recipe(&env);
    let (w, h) = (1200u32, 9000u32);
    let (log, png) = screenshot(
        &browser,
        &env.path("recipe.html"),
        &env.path("recipe.png"),
        (w, h),
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let (pw, ph, px) = decode_png(&png);
    assert_eq!((pw, ph), (w as usize, h as usize));
    let white = |p: &[u8; 3]| p.iter().all(|c| *c >= 250);
    let ink = px.iter().filter(|p| !white(p)).count();
    assert!(
        ink > px.len() / 200,
        "the page is blank: {ink} of {} pixels drawn",
        px.len()
    );
    // Not cut off: the page ends above the window's bottom, and nothing
    // runs past its right edge.
    let rows_inked: Vec<bool> = (0..ph)
        .map(|y| px[y * pw..(y + 1) * pw].iter().any(|p| !white(p)))
        .collect();
    let last = rows_inked.iter().rposition(|r| *r).unwrap();
    assert!(
        last + 100 < ph,
        "drawn down to row {last} of {ph}: the page may be cut off"
    );
    assert!(last > 2000, "the page is too short: it ends at row {last}");
    let right_edge = (0..ph).all(|y| (pw - 8..pw).all(|x| white(&px[y * pw + x])));
    assert!(right_edge, "something runs past the right edge");

    // The checks catch a page that logs to the console.
    env.write(
        "noisy.html",
        "<!DOCTYPE html><p>x</p><script>console.error('broken')</script>",
    );
    let (log, _) = screenshot(
        &browser,
        &env.path("noisy.html"),
        &env.path("noisy.png"),
        (400, 300),
    );
    assert!(log.lines().any(|l| l.contains("CONSOLE")), "{log}");
}

#[test]
fn filter_thresholds_are_drawn_on_their_metrics() {
    let env = Env::new();
    env.ok(&["run", &format!("{REPO}/pipelines/web_quality.toml")]);
    let r = env.json(&["report", "web-quality", "--json"]);
    let metric = |name: &str| -> Vec<serde_json::Value> {
        r["quality"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()["thresholds"]
            .as_array()
            .unwrap()
            .clone()
    };
    let wc = metric("word_count");
    // `too_short = "word_count(text) < 50"`, and gopher_quality's own 50.
    assert_eq!(wc.len(), 2, "{wc:?}");
    assert!(wc.iter().all(|t| t["value"] == 50.0 && t["keeps"] == false));
    assert!(
        wc.iter()
            .any(|t| t["rule"] == "too_short" && t["op"] == "<")
    );
    assert!(wc.iter().any(|t| t["from"] == "gopher_quality"));
    let mwl: Vec<f64> = metric("mean_word_length")
        .iter()
        .map(|t| t["value"].as_f64().unwrap())
        .collect();
    assert_eq!(mwl, vec![3.0, 10.0]);
    let dup = metric("duplicate_line_fraction");
    assert_eq!(dup[0]["rule"], "gopher_repetition");
    assert_eq!(dup[0]["value"], 0.3);
    // Each threshold lies on the metric's axis.
    for m in r["quality"]["metrics"].as_array().unwrap() {
        let last = m["edges"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_f64()
            .unwrap();
        for t in m["thresholds"].as_array().unwrap() {
            assert!(t["value"].as_f64().unwrap() <= last, "{m}");
        }
    }
}
