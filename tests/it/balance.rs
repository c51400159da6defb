//! The balance stage: quotas per strategy, order- and thread-independence, repeats.

use std::collections::{BTreeMap, BTreeSet};

use super::util::{Env, Rng, query_ids};

/// Rows with classes a (40), b (25), c (10) and 5 with a null label, in a mixed order.
fn rows(seed: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut id = 0;
    for (class, n) in [("a", 40), ("b", 25), ("c", 10)] {
        for _ in 0..n {
            out.push(serde_json::json!({"id": id, "label": class, "text": format!("document {id} of {class}")}).to_string());
            id += 1;
        }
    }
    for _ in 0..5 {
        out.push(
            serde_json::json!({"id": id, "label": null, "text": format!("document {id}")})
                .to_string(),
        );
        id += 1;
    }
    shuffle(&mut out, seed);
    out
}

fn shuffle(rows: &mut [String], seed: u64) {
    let mut rng = Rng(seed | 1);
    for i in (1..rows.len()).rev() {
        rows.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

fn write(env: &Env, rows: &[String]) {
    env.write("data/d.jsonl", rows.join("\n") + "\n");
}

fn spec(extra: &str, tag: &str) -> String {
    format!(
        "[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"balance\"\nlabel = \"label\"\n{extra}\n[output]\ntag = \"{tag}\"\nshard_size = \"2KiB\"\n"
    )
}

/// Class → rows in a version (null as "NULL").
fn class_counts(env: &Env, tag: &str) -> BTreeMap<String, u64> {
    env.ok(&[
        "query",
        &format!("SELECT coalesce(label, 'NULL') AS l, count(*) AS n FROM \"{tag}\" GROUP BY l"),
        "--format",
        "csv",
    ])
    .lines()
    .skip(1)
    .map(|l| {
        let (c, n) = l.split_once(',').unwrap();
        (c.to_string(), n.parse().unwrap())
    })
    .collect()
}

fn ids(env: &Env, tag: &str) -> Vec<u64> {
    query_ids(env, tag)
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(c, n)| (c.to_string(), *n)).collect()
}

#[test]
fn each_strategy_meets_its_quotas_exactly() {
    let env = Env::new();
    write(&env, &rows(7));
    for (extra, want) in [
        (
            "strategy = \"cap\"\nmax_per_class = 20\n",
            counts(&[("a", 20), ("b", 20), ("c", 10), ("NULL", 5)]),
        ),
        (
            "strategy = \"cap\"\nmax_per_class = 20\nnull_label = \"drop\"\n",
            counts(&[("a", 20), ("b", 20), ("c", 10)]),
        ),
        (
            "strategy = \"downsample\"\nnull_label = \"keep\"\n",
            counts(&[("a", 10), ("b", 10), ("c", 10), ("NULL", 5)]),
        ),
        (
            "strategy = \"downsample\"\nmin_per_class = 15\nnull_label = \"drop\"\n",
            counts(&[("a", 15), ("b", 15), ("c", 10)]),
        ),
        (
            // c limits the total to 10 / 0.2 = 50.
            "strategy = \"proportions\"\nproportions = { a = 0.5, b = 0.3, c = 0.2 }\n",
            counts(&[("a", 25), ("b", 15), ("c", 10)]),
        ),
        (
            "strategy = \"proportions\"\nproportions = { a = 0.6, b = 0.4 }\ntotal = 51\n",
            counts(&[("a", 31), ("b", 20)]),
        ),
        (
            "strategy = \"oversample\"\nnull_label = \"drop\"\n",
            counts(&[("a", 40), ("b", 40), ("c", 40)]),
        ),
        (
            "strategy = \"oversample\"\nper_class = 32\n",
            counts(&[("a", 40), ("b", 32), ("c", 32), ("NULL", 32)]),
        ),
    ] {
        env.write("p.toml", spec(extra, "t"));
        let out = env.json(&["run", "p.toml", "--json"]);
        assert_eq!(class_counts(&env, "t"), want, "{extra}");
        let total: u64 = want.values().sum();
        assert_eq!(out["rows"], total, "{extra}");
        let stats = &out["stages"][0]["balance"];
        assert_eq!(stats["strategy"], extra.split('"').nth(1).unwrap());
        assert_eq!(stats["classes"]["a"]["before"], 40, "{extra}");
    }
}

#[test]
fn oversampled_rows_repeat_evenly_and_survive_export() {
    let env = Env::new();
    write(&env, &rows(3));
    env.write(
        "p.toml",
        spec(
            "strategy = \"oversample\"\nnull_label = \"drop\"\n",
            "overs",
        ),
    );
    let out = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(out["rows"], 120);
    // c: 10 rows × 4; b: 25 rows, 15 of them twice.
    let per_row = env.ok(&[
        "query",
        "SELECT label, id, count(*) AS n FROM overs GROUP BY label, id ORDER BY label, id",
        "--format",
        "csv",
    ]);
    let mut copies: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for l in per_row.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        copies
            .entry(f[0].to_string())
            .or_default()
            .push(f[2].parse().unwrap());
    }
    assert!(copies["c"].iter().all(|&n| n == 4), "{:?}", copies["c"]);
    assert_eq!(copies["b"].iter().filter(|&&n| n == 2).count(), 15);
    assert_eq!(copies["b"].len(), 25);
    assert!(copies["a"].iter().all(|&n| n == 1));
    // `cat` writes the repeats, and the export re-imports to the same content id.
    let cat = env.ok(&["cat", "overs", "--format", "jsonl"]);
    assert_eq!(cat.lines().count(), 120);
    env.ok(&["export", "overs", "--to", "out", "--format", "jsonl"]);
    let mut exported: Vec<_> = std::fs::read_dir(env.path("out/data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    exported.sort();
    let mut args = vec!["import".to_string()];
    args.extend(exported.iter().map(|p| p.display().to_string()));
    args.push("--json".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let back = env.json(&args);
    assert_eq!(back["content_id"], out["content_id"]);
    // A pipeline cannot read an oversampled version, nor oversample before another stage.
    env.write(
        "next.toml",
        "[source]\nversion = \"overs\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"id > 3\"\n",
    );
    let err = env.fail(&["check", "next.toml"]);
    assert!(err.contains("repeats rows"), "{err}");
    env.write(
        "order.toml",
        "[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"balance\"\nlabel = \"label\"\nstrategy = \"oversample\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"id > 3\"\n",
    );
    assert!(
        env.fail(&["check", "order.toml"])
            .contains("must be the last stage")
    );
}

#[test]
fn selection_ignores_row_order_and_thread_count() {
    let mut runs = Vec::new();
    for (seed, threads) in [(1, "1"), (1, "2"), (99, "2")] {
        let env = Env::new();
        write(&env, &rows(seed));
        env.write(
            "p.toml",
            spec("strategy = \"cap\"\nmax_per_class = 12\nseed = 5\n", "t"),
        );
        let out = env.json(&["run", "p.toml", "--threads", threads, "--json"]);
        runs.push((out["content_id"].clone(), ids(&env, "t")));
    }
    assert_eq!(runs[0].0, runs[1].0, "content id at 1 and 2 threads");
    assert_eq!(runs[0].1, runs[1].1);
    assert_eq!(
        runs[0].1, runs[2].1,
        "the same rows after shuffling the input"
    );
    assert_eq!(runs[0].1.len(), 12 + 12 + 10 + 5);
}

#[test]
fn another_seed_picks_other_rows_and_new_rows_displace_few() {
    let env = Env::new();
    let base = rows(1);
    write(&env, &base);
    env.write(
        "p.toml",
        spec("strategy = \"cap\"\nmax_per_class = 12\n", "s1"),
    );
    env.ok(&["run", "p.toml"]);
    env.write(
        "p.toml",
        spec("strategy = \"cap\"\nmax_per_class = 12\nseed = 2\n", "s2"),
    );
    env.ok(&["run", "p.toml"]);
    assert_ne!(ids(&env, "s1"), ids(&env, "s2"));
    // Five more rows of class a: at most five of the old picks are displaced.
    let mut grown = base.clone();
    for id in 1000..1005 {
        grown.push(
            serde_json::json!({"id": id, "label": "a", "text": format!("new document {id}")})
                .to_string(),
        );
    }
    write(&env, &grown);
    env.write(
        "p.toml",
        spec("strategy = \"cap\"\nmax_per_class = 12\n", "g"),
    );
    env.ok(&["run", "p.toml"]);
    let before: BTreeSet<u64> = ids(&env, "s1").into_iter().collect();
    let after: BTreeSet<u64> = ids(&env, "g").into_iter().collect();
    assert!(before.difference(&after).count() <= 5);
    assert_eq!(after.len(), before.len());
}

#[test]
fn explain_names_the_class_and_rank_and_the_run_prints_a_table() {
    let env = Env::new();
    write(&env, &rows(4));
    env.write(
        "p.toml",
        spec(
            "strategy = \"cap\"\nmax_per_class = 20\nnull_label = \"drop\"\n",
            "t",
        ),
    );
    let table = env.ok(&["run", "p.toml"]);
    assert!(
        table.contains("balance by `label` (cap, seed 1)"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("a ") && l.contains("40") && l.contains("20")),
        "{table}"
    );
    let kept: BTreeSet<u64> = ids(&env, "t").into_iter().collect();
    let all_a: Vec<u64> = (0..40).collect();
    let gone = all_a.iter().find(|i| !kept.contains(i)).unwrap();
    let e = env.json(&["explain", "t", &gone.to_string(), "--key", "id", "--json"]);
    assert_eq!(e[0]["kind"], "balance");
    assert_eq!(e[0]["reason"]["class"], "a");
    assert!(e[0]["reason"]["rank"].as_u64().unwrap() > 20);
    let text = env.ok(&["explain", "t", &gone.to_string(), "--key", "id"]);
    assert!(text.contains("class 'a' kept 20 of its 40 rows"), "{text}");
    let null_row = 75; // ids 75..80 have a null label
    let e = env.json(&[
        "explain",
        "t",
        &null_row.to_string(),
        "--key",
        "id",
        "--json",
    ]);
    assert_eq!(e[0]["reason"]["rule"], "null_label");
}

#[test]
fn bad_balance_stages_are_refused_at_validation() {
    let env = Env::new();
    env.write(
        "data/d.jsonl",
        "{\"id\": 1, \"label\": \"a\", \"score\": 0.5, \"tags\": [\"x\"], \"text\": \"t\"}\n",
    );
    for (extra, want) in [
        (
            "label = \"lable\"\nstrategy = \"cap\"\nmax_per_class = 3\n",
            "lable",
        ),
        (
            "label = \"score\"\nstrategy = \"cap\"\nmax_per_class = 3\n",
            "classes need a text",
        ),
        (
            "label = \"tags\"\nstrategy = \"cap\"\nmax_per_class = 3\n",
            "classes need a text",
        ),
        (
            "label = \"label\"\nstrategy = \"cap\"\n",
            "needs `max_per_class`",
        ),
        ("label = \"label\"\n", "needs `strategy`"),
        ("strategy = \"cap\"\nmax_per_class = 3\n", "needs `label`"),
        (
            "label = \"label\"\nstrategy = \"proportions\"\nproportions = { a = 0.5, b = 0.4 }\n",
            "sum to 0.9",
        ),
        (
            "label = \"label\"\nstrategy = \"cap\"\nmax_per_class = 3\nper_class = 4\n",
            "`per_class` does not apply to strategy = \"cap\"",
        ),
        (
            "label = \"label\"\nstrategy = \"cap\"\nmax_per_class = 3\nmethod = \"exact\"\n",
            "`method` belongs to dedup stages, not balance",
        ),
        (
            "label = \"label\"\nstrategy = \"even\"\n",
            "unknown variant `even`",
        ),
    ] {
        env.write(
            "bad.toml",
            format!("[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"balance\"\n{extra}"),
        );
        let err = env.fail(&["check", "bad.toml"]);
        assert!(err.contains(want), "{extra}: {err}");
    }
    // An expression label works; a class of proportions with no rows fails the run clearly.
    env.write(
        "expr.toml",
        "[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"balance\"\nlabel = \"upper(label)\"\nstrategy = \"proportions\"\nproportions = { A = 0.5, B = 0.5 }\n",
    );
    let err = env.fail(&["run", "expr.toml"]);
    assert!(
        err.contains("class 'B' of `proportions` has no rows"),
        "{err}"
    );
}
