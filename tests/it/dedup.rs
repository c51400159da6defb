//! The dedup stage against brute-force oracles written independently here.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::util::{Env, Rng, query_ids};

/// ASCII-only oracle of the normalization: lowercase, digits → 0, other non-alphanumerics → space, collapsed.
fn norm(t: &str) -> String {
    let mapped: String = t
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                '0'
            } else if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shingles(t: &str, n: usize) -> HashSet<String> {
    let words: Vec<String> = norm(t).split(' ').map(str::to_owned).collect();
    if words.len() < n {
        return [words.join(" ")].into_iter().collect();
    }
    words.windows(n).map(|w| w.join(" ")).collect()
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let i = a.intersection(b).count();
    i as f64 / (a.len() + b.len() - i) as f64
}

fn kept_ids(env: &Env, tag: &str) -> BTreeSet<u64> {
    query_ids(env, tag).into_iter().collect()
}

fn write_rows(env: &Env, rows: &[(u64, String)]) {
    write_named(env, "data/d.jsonl", rows);
}

/// Rows as JSON lines `{"id", "text"}` in file `name`.
fn write_named(env: &Env, name: &str, rows: &[(u64, String)]) {
    let text: String = rows
        .iter()
        .map(|(id, t)| serde_json::json!({"id": id, "text": t}).to_string() + "\n")
        .collect();
    env.write(name, text);
}

const VOCAB: &[&str] = &[
    "river", "stone", "light", "market", "winter", "garden", "signal", "paper", "engine", "forest",
    "harbor", "silver", "candle", "window", "meadow", "thunder", "copper", "valley", "orbit",
    "lantern", "breeze", "canyon", "ember", "falcon", "glacier", "hollow", "island", "jungle",
    "kettle", "ladder", "marble", "nectar", "oyster", "pepper", "quartz", "raven", "saddle",
    "timber", "umbrella", "velvet", "walnut", "yonder", "zephyr", "anchor", "bridge", "cobalt",
    "dune", "echo",
];

fn doc(rng: &mut Rng, words: usize) -> String {
    (0..words)
        .map(|_| VOCAB[rng.below(VOCAB.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn exact_dedup_removes_exactly_the_normalized_repeats() {
    let env = Env::new();
    let mut rng = Rng(7);
    let mut rows = Vec::new();
    for id in 0..300u64 {
        let t = if id > 10 && rng.below(4) == 0 {
            // A variant of an earlier row: case, punctuation and digits differ, normalization equal.
            let (_, earlier) = &rows[rng.below(id) as usize];
            let earlier: &String = earlier;
            format!(
                "{}!! {}",
                earlier.to_uppercase().replace(' ', ",  "),
                rng.below(10)
            )
        } else {
            format!("{} {}", doc(&mut rng, 12), rng.below(10))
        };
        rows.push((id, t));
    }
    write_rows(&env, &rows);
    env.write("p.toml", "[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"exact\"\n\n[output]\ntag = \"x\"\n");
    let out = env.json(&["run", "p.toml", "--json"]);
    let mut seen = HashSet::new();
    let want: BTreeSet<u64> = rows
        .iter()
        .filter(|(_, t)| seen.insert(norm(t)))
        .map(|(id, _)| *id)
        .collect();
    assert!(want.len() < 290, "the corpus has repeats");
    assert_eq!(kept_ids(&env, "x"), want);
    assert_eq!(
        out["stages"][0]["dedup"]["removed"].as_u64().unwrap() as usize,
        rows.len() - want.len()
    );
}

/// A corpus with near-duplicates planted at known edit rates.
fn planted(seed: u64, n: usize) -> Vec<(u64, String)> {
    let mut rng = Rng(seed);
    let mut rows: Vec<(u64, String)> = Vec::new();
    for id in 0..n as u64 {
        if id > 20 && rng.below(3) == 0 {
            let base = rows[rng.below(rows.len() as u64) as usize].1.clone();
            let rate = [0.0, 0.01, 0.03, 0.05, 0.1, 0.2][rng.below(6) as usize];
            let words: Vec<String> = base
                .split(' ')
                .map(|w| {
                    if (rng.below(10_000) as f64) < rate * 10_000.0 {
                        VOCAB[rng.below(VOCAB.len() as u64) as usize].to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            rows.push((id, words.join(" ")));
        } else {
            let len = 80 + rng.below(80) as usize;
            rows.push((id, doc(&mut rng, len)));
        }
    }
    rows
}

#[test]
fn minhash_finds_planted_near_duplicates_with_high_recall_and_precision() {
    let env = Env::new();
    let rows = planted(11, 360);
    write_rows(&env, &rows);
    env.write("p.toml", "[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"dedup\"\nname = \"near\"\nmethod = \"minhash\"\nthreshold = 0.8\n\n[output]\ntag = \"x\"\n");
    let out = env.json(&["run", "p.toml", "--json"]);
    // verify = "exact" (the default) picks bands for 0.75 × 0.8 = 0.6: 18 × 7, as datasketch would for 0.6.
    assert_eq!(
        (
            out["stages"][0]["dedup"]["bands"].clone(),
            out["stages"][0]["dedup"]["rows"].clone()
        ),
        (18.into(), 7.into())
    );
    let kept = kept_ids(&env, "x");
    let sets: Vec<HashSet<String>> = rows.iter().map(|(_, t)| shingles(t, 5)).collect();
    // Recall: of every pair with true Jaccard ≥ 0.85, at most one row survives.
    let (mut pairs, mut found) = (0, 0);
    let mut justified: HashSet<u64> = HashSet::new();
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let jac = jaccard(&sets[i], &sets[j]);
            if jac >= 0.8 {
                justified.insert(rows[i].0);
                justified.insert(rows[j].0);
            }
            if jac >= 0.85 {
                pairs += 1;
                if !(kept.contains(&rows[i].0) && kept.contains(&rows[j].0)) {
                    found += 1;
                }
            }
        }
    }
    let recall = found as f64 / pairs as f64;
    assert!(pairs > 40, "enough planted pairs: {pairs}");
    assert!(recall >= 0.95, "recall {recall:.3} ({found}/{pairs})");
    // Precision: every removed row has a true near-duplicate (Jaccard ≥ 0.8) in the corpus.
    let removed: Vec<u64> = rows
        .iter()
        .map(|r| r.0)
        .filter(|id| !kept.contains(id))
        .collect();
    let good = removed.iter().filter(|id| justified.contains(id)).count();
    let precision = good as f64 / removed.len().max(1) as f64;
    assert!(
        precision >= 0.98,
        "precision {precision:.3} ({good}/{})",
        removed.len()
    );

    // Explain names the kept twin.
    let r = removed[0];
    let e = env.json(&["explain", "x", &r.to_string(), "--key", "id", "--json"]);
    assert_eq!(e[0]["kind"], "dedup");
    assert_eq!(e[0]["reason"]["rule"], "near_duplicate");
    let twin = e[0]["reason"]["kept_row"].as_u64().unwrap();
    assert!(
        kept.contains(&rows[twin as usize].0),
        "the named twin was kept"
    );
    assert!(e[0]["reason"]["jaccard"].as_f64().unwrap() >= 0.8);

    // `minhash_bands(text)` gives the stage's band hashes (its settings are
    // the defaults): the removed row and its twin share one.
    let text = |id: u64| rows.iter().find(|r| r.0 == id).unwrap().1.clone();
    let (a, b) = (text(r), rows[twin as usize].1.clone());
    let q = format!(
        "SELECT array_has_any(minhash_bands('{a}'), minhash_bands('{b}')) AS shared, \
         array_length(minhash_bands('{a}')) AS bands, minhash_bands(NULL) IS NULL AS null_text"
    );
    let out = env.ok(&["query", &q, "--format", "csv"]);
    assert_eq!(out.lines().nth(1), Some("true,18,true"), "{out}");
}

#[test]
fn dedup_gives_one_content_id_at_one_and_two_threads() {
    let mut ids = Vec::new();
    for threads in ["1", "2"] {
        let env = Env::new();
        write_rows(&env, &planted(5, 300));
        env.write(
            "p.toml",
            "[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"minhash\"\nverify = \"signature\"\nkeep = \"longest\"\n\n[output]\nshard_size = \"8KiB\"\n",
        );
        ids.push(
            env.json(&["run", "p.toml", "--threads", threads, "--json"])["content_id"].clone(),
        );
    }
    assert_eq!(ids[0], ids[1]);
}

#[test]
fn bad_dedup_parameters_are_refused_at_validation() {
    let env = Env::new();
    write_rows(&env, &planted(3, 20));
    let head = "[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"dedup\"\n";
    for (extra, want) in [
        (
            "method = \"minhash\"\nbands = 10\nrows = 10\n",
            "bands × rows must equal num_perm",
        ),
        (
            "method = \"minhash\"\nthreshold = 1.5\n",
            "threshold must be in (0, 1)",
        ),
        (
            "method = \"minhash\"\nngram = 0\n",
            "ngram must be at least 1",
        ),
        (
            "method = \"minhash\"\ncolumn = \"body\"\n",
            "no column 'body'",
        ),
        ("method = \"minhash\"\ncolumn = \"id\"\n", "not text"),
        ("method = \"fuzzy\"\n", "unknown variant `fuzzy`"),
        (
            "method = \"exact\"\nkeep = { by = \"rank\" }\n",
            "no column 'rank'",
        ),
        (
            "method = \"exact\"\nkeep = { by = \"text\" }\n",
            "not a number",
        ),
        (
            "method = \"exact\"\nkeep = \"best\"\n",
            "`keep` must be \"first\", \"longest\" or { by",
        ),
        ("threshold = 0.8\n", "needs `method`"),
    ] {
        env.write("bad.toml", format!("{head}{extra}"));
        let err = env.fail(&["check", "bad.toml"]);
        assert!(err.contains(want), "{extra}: {err}");
    }
}

#[test]
fn keep_by_score_picks_the_best_row_of_each_cluster() {
    let env = Env::new();
    // Three copies of one text and two of another; scores decide the survivor, nulls lose.
    let rows = [
        (1, "The same words again", Some(0.2)),
        (2, "the  SAME words again!", Some(0.9)),
        (3, "The same words again.", None),
        (4, "Another text here", None),
        (5, "another text here", Some(-1.0)),
        (6, "A unique one", Some(0.0)),
    ];
    let text: String = rows
        .iter()
        .map(|(id, t, s)| serde_json::json!({"id": id, "text": t, "score": s}).to_string() + "\n")
        .collect();
    env.write("data/d.jsonl", text);
    for (order, want) in [("desc", [2, 5, 6]), ("asc", [1, 5, 6])] {
        env.write(
            "p.toml",
            format!(
                "[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"exact\"\nkeep = {{ by = \"score\", order = \"{order}\" }}\n\n[output]\ntag = \"{order}\"\n"
            ),
        );
        env.ok(&["run", "p.toml"]);
        assert_eq!(kept_ids(&env, order), want.into_iter().collect(), "{order}");
    }
}

/// Band sidecars: a grown corpus hashes only what no earlier run hashed, and
/// gives the content id of a cold run; a damaged sidecar is a miss; `gc`
/// keeps a live shard's sidecars and fsck stays clean.
#[test]
fn a_grown_corpus_rehashes_only_its_new_rows_and_matches_a_cold_run() {
    let spec = |tag: &str, method: &str| {
        format!(
            "[source]\nversion = \"{tag}\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"{method}\"\n\n[output]\ntag = \"{tag}-{method}\"\n"
        )
    };
    let all = planted(17, 900);
    let (a, grown) = (&all[..800], &all[..]);
    let write = write_named;
    let reused = |out: &serde_json::Value| out["stages"][0]["dedup"]["reused"].as_u64();

    let warm = Env::new();
    write(&warm, "a.jsonl", a);
    write(&warm, "grown.jsonl", grown);
    warm.import("a.jsonl", &["--shard-size", "16KiB", "--tag", "a"]);
    warm.import("grown.jsonl", &["--shard-size", "16KiB", "--tag", "grown"]);
    let (a_shards, grown_shards) = (warm.shards("a"), warm.shards("grown"));
    let shared = grown_shards.iter().filter(|s| a_shards.contains(s)).count();
    assert!(
        shared >= 3,
        "the grown corpus keeps most of a's shards ({shared} of {})",
        a_shards.len()
    );
    for method in ["minhash", "exact"] {
        warm.write("a.toml", spec("a", method));
        let first = warm.json(&["run", "a.toml", "--json"]);
        assert_eq!(reused(&first), None, "a cold run hashes every row");
        warm.write("grown.toml", spec("grown", method));
        let second = warm.json(&["run", "grown.toml", "--json"]);
        let n = reused(&second).expect("the shared shards come from sidecars");
        assert!((300..900).contains(&n), "{method}: {n} rows reused");
        // A cold store gives the same content id.
        let cold = Env::new();
        write(&cold, "grown.jsonl", grown);
        cold.import("grown.jsonl", &["--shard-size", "16KiB", "--tag", "grown"]);
        cold.write("grown.toml", spec("grown", method));
        let c = cold.json(&["run", "grown.toml", "--json"]);
        assert_eq!(reused(&c), None);
        assert_eq!(second["content_id"], c["content_id"], "{method}");
        assert_eq!(second["rows"], c["rows"], "{method}");
        if method == "minhash" {
            // Pairs the first run verified are not read again.
            let pairs = &second["stages"][0]["dedup"]["pairs_reused"];
            assert!(pairs.as_u64().unwrap_or(0) > 0, "{second}");
            assert_eq!(c["stages"][0]["dedup"].get("pairs_reused"), None);
        }
    }
    // Other parameters do not match the sidecars.
    warm.write(
        "seed.toml",
        "[source]\nversion = \"grown\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"minhash\"\nseed = 9\n\n[output]\ntag = \"seed\"\n",
    );
    assert_eq!(reused(&warm.json(&["run", "seed.toml", "--json"])), None);

    // gc keeps them (the shards are live) and fsck is clean.
    warm.ok(&["gc", "--grace", "0"]);
    let fsck = warm.json(&["fsck", "--json"]);
    assert_eq!(fsck["findings"], serde_json::json!([]), "{fsck}");
    let longest = |tag: &str| {
        spec("grown", "minhash")
            .replace("grown-minhash", tag)
            .replace(
                "method = \"minhash\"",
                "method = \"minhash\"\nkeep = \"longest\"",
            )
    };
    warm.write("longest.toml", longest("longest"));
    let again = warm.json(&["run", "longest.toml", "--json"]);
    assert_eq!(
        reused(&again),
        Some(900),
        "every row from sidecars after gc"
    );
    // Every candidate pair's Jaccard is known by now.
    let d = &again["stages"][0]["dedup"];
    assert_eq!(d["pairs_reused"], d["candidates"], "{d}");

    // A damaged sidecar is a miss: its shard is hashed again, to the same result.
    let sidecars: Vec<std::path::PathBuf> = walk_files(&warm.store().join("objects"))
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.starts_with(b"SIFTBND1") && b.len() > 200))
        .collect();
    assert!(!sidecars.is_empty());
    for p in &sidecars {
        super::util::flip_byte(p, 100);
    }
    // (keep by a score: another stage, whose scores are read from the rows.)
    let by_id = |tag: &str| {
        longest(tag).replace(
            "keep = \"longest\"",
            "keep = { by = \"id\", order = \"asc\" }",
        )
    };
    warm.write("first.toml", by_id("first"));
    let damaged = warm.json(&["run", "first.toml", "--json"]);
    assert!(reused(&damaged).unwrap_or(0) < 900, "{damaged}");
    // The lowest id is the first row: the same survivors as a cold run's keep-first.
    let cold = Env::new();
    write(&cold, "grown.jsonl", grown);
    cold.import("grown.jsonl", &["--shard-size", "16KiB", "--tag", "grown"]);
    cold.write("first.toml", by_id("first"));
    let c = cold.json(&["run", "first.toml", "--json"]);
    assert_eq!(damaged["content_id"], c["content_id"]);
    assert_eq!(
        kept_ids(&warm, "first"),
        kept_ids(&warm, "grown-minhash"),
        "keep the lowest id = keep first"
    );
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The dedup stats that must not depend on the memory budget.
fn budget_free(stats: &serde_json::Value) -> serde_json::Value {
    let mut s = stats.clone();
    s.as_object_mut().unwrap().remove("spilled");
    s
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(6),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// A budget of a few bytes spills every few records (bands, keys, pairs,
    /// signatures) and verifies a pair or two per chunk: the content id, the
    /// candidates, clusters and the details object equal an in-memory run's,
    /// and no spill file is left.
    #[test]
    fn any_memory_budget_gives_the_in_memory_result(
        seed in 1u64..1000,
        n in 40usize..160,
        method in 0usize..4,
        keep in 0usize..2,
        budget in 0u64..4096,
        threads in 1usize..3,
    ) {
        let stage = [
            "method = \"exact\"",
            "method = \"minhash\"",
            "method = \"minhash\"\nverify = \"signature\"",
            "method = \"minhash\"\nverify = \"none\"\nthreshold = 0.7",
        ][method];
        let keep = ["first", "longest"][keep];
        let spec = format!(
            "[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"dedup\"\n{stage}\nkeep = \"{keep}\"\n\n[output]\nshard_size = \"8KiB\"\n"
        );
        let mut outs = Vec::new();
        for memory in ["8GiB".to_string(), budget.to_string()] {
            let env = Env::new();
            write_rows(&env, &planted(seed, n));
            env.write("p.toml", &spec);
            let t = threads.to_string();
            outs.push(env.json(&["run", "p.toml", "--memory", &memory, "--threads", &t, "--json"]));
            proptest::prop_assert_eq!(env.tmp_files(), 0);
        }
        let (big, small) = (&outs[0], &outs[1]);
        proptest::prop_assert_eq!(&big["content_id"], &small["content_id"]);
        let (a, b) = (&big["stages"][0]["dedup"], &small["stages"][0]["dedup"]);
        proptest::prop_assert!(a.get("spilled").is_none(), "8 GiB spilled: {a}");
        proptest::prop_assert!(b["spilled"].as_u64().unwrap() > 0, "{budget} B did not spill: {b}");
        proptest::prop_assert_eq!(budget_free(a), budget_free(b));
    }
}

/// `against`: rows of a new corpus that near-duplicate rows of an earlier
/// version are removed, the earlier rows never are; explain names the
/// version and its row; the earlier version's hashes come from its band
/// sidecars; the stage hash follows the version a tag names.
#[test]
fn against_removes_duplicates_of_an_earlier_version_and_explains_them() {
    let env = Env::new();
    let all = planted(23, 600);
    let (old, new) = all.split_at(300);
    let write = |name: &str, rows: &[(u64, String)]| write_named(&env, name, rows);
    write("old.jsonl", old);
    write("new.jsonl", new);
    env.import("old.jsonl", &["--tag", "v1"]);
    env.import("new.jsonl", &["--tag", "new"]);
    let stage = "[[stage]]\nkind = \"dedup\"\nmethod = \"minhash\"\nthreshold = 0.8\n";
    // Deduplicating v1 once writes the band sidecars of its shards.
    env.write(
        "v1.toml",
        format!("[source]\nversion = \"v1\"\n\n{stage}\n[output]\ntag = \"v1-dedup\"\n"),
    );
    env.ok(&["run", "v1.toml"]);
    env.write(
        "p.toml",
        format!(
            "[source]\nversion = \"new\"\n\n{stage}against = [\"v1\"]\n\n[output]\ntag = \"x\"\n"
        ),
    );
    let out = env.json(&["run", "p.toml", "--json"]);
    let d = &out["stages"][0]["dedup"];
    assert_eq!(d["against"][0]["version"], "v1");
    assert_eq!(d["against"][0]["rows"], 300);
    assert!(
        d["reused"].as_u64().unwrap() >= 300,
        "v1 came from its sidecars: {d}"
    );

    let kept = kept_ids(&env, "x");
    let sets: HashMap<u64, HashSet<String>> =
        all.iter().map(|(id, t)| (*id, shingles(t, 5))).collect();
    let (mut by_old, mut checked) = (0, 0);
    for (id, _) in new {
        let near_old = old
            .iter()
            .map(|(o, _)| jaccard(&sets[id], &sets[o]))
            .fold(0.0, f64::max);
        if near_old >= 0.9 {
            // A close twin in v1: removed.
            assert!(
                !kept.contains(id),
                "row {id} duplicates v1 (J {near_old:.2}) but was kept"
            );
            checked += 1;
        }
        if kept.contains(id) {
            continue;
        }
        // Every removed row has a twin in v1 or earlier in the new rows.
        let near_new = new
            .iter()
            .take_while(|(o, _)| o < id)
            .map(|(o, _)| jaccard(&sets[id], &sets[o]))
            .fold(0.0, f64::max);
        assert!(
            near_old.max(near_new) >= 0.75,
            "row {id} removed without a twin"
        );
        let e = env.json(&["explain", "x", &id.to_string(), "--key", "id", "--json"]);
        let reason = &e[0]["reason"];
        if reason["kept_version"] == "v1" {
            by_old += 1;
            let row = reason["kept_row"].as_u64().unwrap() as usize;
            let twin = old[row].0;
            assert!(
                jaccard(&sets[id], &sets[&twin]) >= 0.75,
                "row {id}: named twin {twin}"
            );
            assert!(
                reason["because"]
                    .as_str()
                    .unwrap()
                    .contains("earlier version `v1`"),
                "{reason}"
            );
        }
    }
    assert!(checked > 10, "enough rows duplicate v1: {checked}");
    assert_eq!(d["against"][0]["removed"], by_old);
    // v1 itself is untouched by the stage.
    assert_eq!(query_ids(&env, "v1").len(), 300);

    // The stage hash names the version: a tag moved to another version runs again.
    env.ok(&["tag", "v1", "v1-dedup"]);
    let again = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(again["stages"][0]["cached"], false);
    let a = &again["stages"][0]["dedup"]["against"][0];
    assert_eq!(a["version"], "v1");
    assert_ne!(a["id"], d["against"][0]["id"]);
    assert!(a["rows"].as_u64().unwrap() < 300);

    // Bad references are refused before anything runs, naming the field.
    env.write(
        "bad.toml",
        format!("[source]\nversion = \"new\"\n\n{stage}against = [\"nope\"]\n"),
    );
    let err = env.fail(&["run", "bad.toml"]);
    assert!(err.contains("against[0]") && err.contains("nope"), "{err}");
}

#[test]
fn a_few_rows_of_a_large_shard_are_read_and_checked_in_part() {
    let env = Env::new();
    let mut rng = Rng(41);
    // One shard of about a MB: many 64 KiB groups. The first megabyte of
    // texts is in its dictionary page, the rest in plain pages.
    let old: Vec<(u64, String)> = (0..4000).map(|id| (id, doc(&mut rng, 150))).collect();
    let write = |name: &str, rows: &[(u64, String)]| write_named(&env, name, rows);
    write("old.jsonl", &old);
    env.import("old.jsonl", &["--tag", "v1"]);
    let shard = env.shards("v1");
    assert_eq!(shard.len(), 1);
    let path = super::util::object_path(&env.store(), &shard[0]);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    assert!(len > 8 * 65536, "{len} bytes: many groups");
    let stage = "[[stage]]\nkind = \"dedup\"\nmethod = \"minhash\"\nthreshold = 0.8\n";
    env.write(
        "v1.toml",
        format!("[source]\nversion = \"v1\"\n\n{stage}\n[output]\ntag = \"v1-dedup\"\n"),
    );
    env.ok(&["run", "v1.toml"]);
    // New rows, one a copy of v1's first row: verifying that pair reads the
    // first row of v1's shard, and its footer, and nothing else.
    let copy_of_first = |n: u64| {
        let mut rows: Vec<(u64, String)> = (0..5)
            .map(|k| (n * 10 + k, doc(&mut Rng(n * 100 + k), 150)))
            .collect();
        rows.push((n * 10 + 9, format!("{} the", old[0].1)));
        rows
    };
    let against = |name: &str, n: u64| {
        write(&format!("{name}.jsonl"), &copy_of_first(n));
        env.import(&format!("{name}.jsonl"), &["--tag", name]);
        env.write(
            &format!("{name}.toml"),
            format!(
                "[source]\nversion = \"{name}\"\n\n{stage}against = [\"v1\"]\n\n[output]\ntag = \"{name}-dedup\"\n"
            ),
        );
        env.sift(&["run", &format!("{name}.toml"), "--json"])
    };
    // A flipped byte among the last rows' pages is in no group that is read.
    super::util::flip_byte(&path, len * 85 / 100);
    let out = against("b", 1);
    assert!(out.status.success(), "{out:?}");
    let out: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        out["rows"], 5,
        "the copy of v1's first row is removed: {out}"
    );
    // fsck reads every byte.
    let fsck = env.sift(&["fsck", "--read-data"]);
    let text =
        String::from_utf8_lossy(&fsck.stdout).to_string() + &String::from_utf8_lossy(&fsck.stderr);
    assert!(!fsck.status.success() && text.contains(&shard[0]), "{text}");
    // One in the footer is read, and named as the shard's corruption.
    super::util::flip_byte(&path, len - 20);
    let out = against("c", 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&shard[0]) && err.contains("corrupt"), "{err}");
    assert!(err.contains("sift fsck"), "{err}");
}
