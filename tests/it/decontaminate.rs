//! The decontaminate stage: eval sets as versions or files, n-gram hits.

use super::util::Env;

/// Training rows with known texts, and an eval set that overlaps some of them.
fn corpus(env: &Env) {
    // Distinct letter-only words (normalization maps digits to 0).
    let word = |mut n: usize| -> String {
        let mut w = String::from("w");
        for _ in 0..4 {
            w.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
        }
        w
    };
    let words = |seed: usize, n: usize| -> String {
        (0..n)
            .map(|k| word((seed * 7919 + k * 104_729) % 456_976))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut train = String::new();
    for i in 0..200 {
        train += &serde_json::json!({"id": i, "text": words(i, 40)}).to_string();
        train.push('\n');
    }
    env.write("data/train.jsonl", train);
    // Eval 0 copies a 13-word window of row 17; eval 1 only 12 words of row 50,
    // then two others (no shared 13-gram); eval 2 copies 20 words of row 120,
    // upper-cased and with commas (normalization undoes both).
    let w17: Vec<String> = words(17, 40).split(' ').map(str::to_owned).collect();
    let w50: Vec<String> = words(50, 40).split(' ').map(str::to_owned).collect();
    let w120: Vec<String> = words(120, 40).split(' ').map(str::to_owned).collect();
    let evals = [
        format!("Question: {} ?", w17[5..18].join(" ")),
        format!("{} and more", w50[0..12].join(" ")),
        w120[10..30].join(", ").to_uppercase(),
        "a short question".to_string(),
    ];
    let mut e = String::new();
    for (i, q) in evals.iter().enumerate() {
        e += &serde_json::json!({"qid": i, "question": q}).to_string();
        e.push('\n');
    }
    env.write("evals/bench.jsonl", e);
}

fn spec(against: &str) -> String {
    format!(
        "[source]\npath = \"data/train.jsonl\"\n\n[[stage]]\nkind = \"decontaminate\"\nname = \"decon\"\nagainst = [{against}]\n\n[output]\ntag = \"clean\"\n"
    )
}

#[test]
fn planted_overlaps_are_removed_and_explained_and_the_index_is_shared() {
    let env = Env::new();
    corpus(&env);
    env.write(
        "p.toml",
        spec("{ path = \"evals/bench.jsonl\", column = \"question\", name = \"bench\" }"),
    );
    let out = env.json(&["run", "p.toml", "--json"]);
    let st = &out["stages"][0];
    assert_eq!(st["removed"]["contaminated"], 2, "rows 17 and 120: {st}");
    assert_eq!(out["rows"], 198);
    let b = &st["decontaminate"]["benchmarks"]["bench"];
    assert_eq!(b["eval_rows"], 4);
    assert_eq!(b["too_short"], 1, "the 3-word question makes no 13-gram");
    assert_eq!(b["rows_removed"], 2);
    let kept = super::util::query_ids(&env, "clean");
    assert!(!kept.contains(&17) && !kept.contains(&120) && kept.contains(&50));
    let e = env.ok(&["explain", "clean", "17"]);
    assert!(
        e.contains("removed by stage 1 (decon, decontaminate): shares the 13-gram")
            && e.contains("with row 0 of bench"),
        "{e}"
    );
    let e = env.json(&["explain", "clean", "120", "--json"]);
    assert_eq!(e[0]["reason"]["benchmark"], "bench");
    assert_eq!(e[0]["reason"]["eval_row"], 2);
    // The same eval set as a version gives the same index object.
    env.ok(&["import", "evals/bench.jsonl", "--tag", "bench-v"]);
    env.write(
        "q.toml",
        spec("{ version = \"bench-v\", column = \"question\", name = \"bench\" }"),
    );
    let out2 = env.json(&["run", "q.toml", "--json"]);
    assert_eq!(
        out2["stages"][0]["decontaminate"]["index"],
        st["decontaminate"]["index"]
    );
    assert_eq!(out2["content_id"], out["content_id"]);
}

#[test]
fn a_fraction_mode_and_bad_eval_sets() {
    let env = Env::new();
    corpus(&env);
    // Row 17 shares one 13-gram of its 28: about 4%, under a 10% allowance.
    env.write(
        "f.toml",
        spec("{ path = \"evals/bench.jsonl\", column = \"question\" }")
            .replace("against", "mode = \"fraction\"\nmax_overlap = 0.1\nagainst"),
    );
    let out = env.json(&["run", "f.toml", "--json"]);
    assert_eq!(
        out["stages"][0]["removed"]["contaminated"], 1,
        "only row 120 (20 shared words)"
    );
    for (against, want) in [
        ("{ version = \"nope\" }", "unknown ref 'nope'"),
        ("{ path = \"evals/none*.jsonl\" }", "no file matches"),
        (
            "{ path = \"evals/bench.jsonl\", column = \"q\" }",
            "no text column 'q'",
        ),
        (
            "{ version = \"x\", path = \"y\" }",
            "exactly one of `version` or `path`",
        ),
    ] {
        env.write("bad.toml", spec(against));
        let err = env.fail(&["check", "bad.toml"]);
        assert!(
            err.contains(want) && err.contains("stage 1 (decon)"),
            "{against}: {err}"
        );
    }
}
