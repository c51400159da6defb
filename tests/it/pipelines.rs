//! `sift check`, `sift run`, `sift explain`, `sift compact`.

use super::util::{Env, jsonl_rows, lines};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn every_bundled_pipeline_runs() {
    let env = Env::new();
    let mut ran = 0;
    for entry in std::fs::read_dir(format!("{REPO}/pipelines")).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "toml" | "yaml" | "yml") {
            continue;
        }
        let p = path.to_str().unwrap();
        env.ok(&["check", p]);
        let out = env.json(&["run", p, "--json"]);
        assert!(out["rows"].as_u64().unwrap() > 0, "{p}");
        ran += 1;
    }
    assert!(ran >= 4, "every bundled pipeline ran");
}

/// The bundled pipelines' content ids, pinned: a refactor of the stages or
/// the runner must not change what a pipeline keeps.
#[test]
fn bundled_pipelines_keep_their_content_ids() {
    let pinned = [
        (
            "filter_balance.toml",
            "769bdb3732558e4958285d2bf55284d2ae1cff853f223a53de888c639957619b",
            250,
        ),
        (
            "filter_dedup.toml",
            // 187 documents pass the quality filter, as in datatrove 0.10.1.
            "47f315e1676fcadac6eb5a1e667f6b6a03d9eb29a30b3d64e2e0bdc71b449de9",
            159,
        ),
        (
            "pii.toml",
            "1e7eaf42492e3bad3c087057ef13801f149ee93295d8d7c5364804b35a174d9c",
            412,
        ),
        (
            "recipe.toml",
            "20beed3b0c867c732437e5beff49be7b1e242472867bf277ab24328caf449053",
            357,
        ),
        (
            "forum_clean.toml",
            "e8b10e330f44c629a6c2f9696b0b3e4662e533762b24b0a77e39ec0e3a9aeca0",
            410,
        ),
        (
            "web_quality.toml",
            "27391e6d0d276c80d0eee493f3bc2e271b821b42df4d077b19ac65b05cc6ac07",
            248,
        ),
        (
            "web_quality.yaml",
            "27391e6d0d276c80d0eee493f3bc2e271b821b42df4d077b19ac65b05cc6ac07",
            248,
        ),
    ];
    let env = Env::new();
    for (file, content_id, rows) in pinned {
        let out = env.json(&["run", &format!("{REPO}/pipelines/{file}"), "--json"]);
        assert_eq!(out["content_id"], content_id, "{file}");
        assert_eq!(out["rows"], rows, "{file}");
    }
    // The recipe ends by counting the tokens of what it kept.
    let show = env.ok(&["show", "forum-recipe"]);
    assert!(
        show.contains("tokens    59.3 K under tokenizer.json (blake3 ")
            && show.contains("counted by stage 8 (tokens)"),
        "{show}"
    );
    // The objects a run writes keep their bytes too: selection sets and the
    // details objects explain reads.
    let out = env.json(&[
        "run",
        &format!("{REPO}/pipelines/filter_dedup.toml"),
        "--json",
    ]);
    let dedup = &out["stages"][1];
    assert_eq!(
        dedup["output"],
        "46ce95a1cda776f114e2ac0ae3a2a29efbe8c7c1799ddf511b0b341a4e79ce90"
    );
    assert_eq!(
        dedup["dedup"]["details"],
        "1cb60407240dfedd0350ec97230015b468ddf311bac1048a272fbd09551984dc"
    );
    let out = env.json(&[
        "run",
        &format!("{REPO}/pipelines/filter_balance.toml"),
        "--json",
    ]);
    let balance = &out["stages"][1];
    assert_eq!(
        balance["output"],
        "ae085bf4909fcba944b0c7f0f8cb39950ee874efd3e509ab92ba142ab8fbcd07"
    );
    assert_eq!(
        balance["balance"]["details"],
        "776ea3b7e96653b7215d09aa45635a6b71995be945de69c4af6a00956bb9e430"
    );
    // And an import's shard and fingerprint sidecar.
    let m = env.json(&["show", &out["source"].as_str().unwrap()[..12], "--json"]);
    assert_eq!(
        m["segments"][0]["shard"],
        "54b29118ecd25d4257caa97ea80bf6fb1515684bf0ac13cc16c13a7b7b5fdaa3"
    );
    assert_eq!(
        m["segments"][0]["fingerprints"],
        "37bfdf2fce43228318540b5d384f7408deb129c9ca87713e346ed30325c2f703"
    );
}

#[test]
fn the_bundled_balance_pipeline_caps_every_source() {
    let env = Env::new();
    let out = env.json(&[
        "run",
        &format!("{REPO}/pipelines/filter_balance.toml"),
        "--json",
    ]);
    let classes = &out["stages"][1]["balance"]["classes"];
    let classes = classes.as_object().unwrap();
    assert_eq!(classes.len(), 5, "five sources: {classes:?}");
    for (name, c) in classes {
        let (before, after) = (c["before"].as_u64().unwrap(), c["after"].as_u64().unwrap());
        assert_eq!(after, before.min(50), "{name}");
    }
    let counts = env.ok(&[
        "query",
        "SELECT max(n) FROM (SELECT source, count(*) AS n FROM \"web-balanced\" GROUP BY source)",
        "--format",
        "csv",
    ]);
    assert_eq!(counts.lines().nth(1), Some("50"));
}

#[test]
fn toml_and_yaml_specs_give_one_content_id_and_reruns_use_the_cache() {
    let env = Env::new();
    let toml = env.json(&[
        "run",
        &format!("{REPO}/pipelines/web_quality.toml"),
        "--json",
    ]);
    assert_eq!(toml["stages"][0]["cached"], false);
    let yaml = env.json(&[
        "run",
        &format!("{REPO}/pipelines/web_quality.yaml"),
        "--json",
    ]);
    assert_eq!(toml["content_id"], yaml["content_id"]);
    let again = env.json(&[
        "run",
        &format!("{REPO}/pipelines/web_quality.toml"),
        "--json",
    ]);
    assert_eq!(again["content_id"], toml["content_id"]);
    // An unchanged re-run answers with the version it made before.
    assert_eq!(again["version"], toml["version"]);
    assert_eq!(again["unchanged"], true);
    assert_eq!(
        again["stages"][0]["cached"], true,
        "an unchanged pipeline does no stage work"
    );
    let removed = &toml["stages"][0]["removed"];
    let total: u64 = removed
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total + toml["rows"].as_u64().unwrap(), 400);
}

fn corpus(env: &Env, n: usize) {
    env.write("data/c.jsonl", lines(&jsonl_rows(11, 0, n)));
}

#[test]
fn changing_only_the_last_stage_reruns_only_it() {
    let env = Env::new();
    corpus(&env, 800);
    let spec = |last: &str| {
        format!(
            "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nname = \"long\"\nwhere = \"word_count(text) >= 40\"\n\n[[stage]]\nkind = \"filter\"\nname = \"src\"\nwhere = \"{last}\"\n"
        )
    };
    env.write("p.toml", spec("source <> 'forum'"));
    let a = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(
        (
            a["stages"][0]["cached"].clone(),
            a["stages"][1]["cached"].clone()
        ),
        (false.into(), false.into())
    );
    env.write("p.toml", spec("source <> 'news'"));
    let b = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(b["stages"][0]["cached"], true);
    assert_eq!(b["stages"][1]["cached"], false);
    assert_ne!(a["content_id"], b["content_id"]);
}

#[test]
fn a_run_stores_selections_that_read_back_as_the_kept_rows() {
    let env = Env::new();
    corpus(&env, 3000);
    env.ok(&[
        "import",
        "data/c.jsonl",
        "--tag",
        "raw",
        "--shard-size",
        "32KiB",
    ]);
    env.write(
        "p.toml",
        "[source]\nversion = \"raw\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"source <> 'forum' AND id % 7 <> 0\"\n\n[output]\ntag = \"kept\"\ncompact_below = 0\n",
    );
    let before = env.objects();
    let out = env.json(&["run", "p.toml", "--json"]);
    // Selections, not copies: a handful of small objects.
    let added = env.objects().len() - before.len();
    assert!(out["new_bytes"] == 0, "no shard was rewritten: {out}");
    assert!(out["selections"].as_u64().unwrap() > 5, "{out}");
    assert!(
        added <= out["segments"].as_u64().unwrap() as usize + 4,
        "{added} new objects"
    );
    let direct = env.ok(&[
        "query",
        "SELECT * FROM raw WHERE source <> 'forum' AND id % 7 <> 0 ORDER BY id",
        "--format",
        "jsonl",
    ]);
    let via_version = env.ok(&["cat", "kept"]);
    assert!(
        direct == via_version,
        "the version's rows differ from the query's"
    );

    // Compaction rewrites the selections as shards; rows and content id stay.
    let c = env.ok(&["compact", "kept", "--tag", "kept-c"]);
    assert!(c.contains("content id unchanged"), "{c}");
    let m = env.json(&["show", "kept-c", "--json"]);
    assert_eq!(m["content_id"], out["content_id"]);
    assert!(
        m["segments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.get("selection").is_none())
    );
    assert!(
        env.ok(&["cat", "kept-c"]) == via_version,
        "compaction changed the rows"
    );
    // The compacted rows round-trip through export too.
    env.ok(&["export", "kept-c", "--to", "exp"]);
    assert_eq!(
        env.import("exp/data/train-00000-of-00001.parquet", &[])["content_id"],
        out["content_id"]
    );
}

#[test]
fn automatic_compaction_rewrites_sparse_shards() {
    let env = Env::new();
    corpus(&env, 2000);
    env.write("p.toml", "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"id % 10 = 0\"\n\n[output]\nshard_size = \"16KiB\"\n");
    let out = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(out["rows"], 200);
    assert_eq!(
        out["selections"], 0,
        "every shard kept 10% < 25%, so all were compacted: {out}"
    );
    assert!(out["new_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn explain_names_the_stage_and_rule() {
    let env = Env::new();
    corpus(&env, 300);
    env.write(
        "p.toml",
        "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nname = \"q\"\n[stage.rules]\nno_forum = \"source = 'forum'\"\nshort = \"word_count(text) < 60\"\n\n[output]\ntag = \"x\"\n",
    );
    env.ok(&["run", "p.toml"]);
    let rows: Vec<serde_json::Value> = super::util::jsonl_rows(11, 0, 300)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let words = |r: &serde_json::Value| r["text"].as_str().unwrap().split(' ').count();
    let forum = rows.iter().position(|r| r["source"] == "forum").unwrap();
    let short = rows
        .iter()
        .position(|r| r["source"] != "forum" && words(r) < 60)
        .unwrap();
    let kept = rows
        .iter()
        .position(|r| r["source"] != "forum" && words(r) >= 60)
        .unwrap();

    let e = env.ok(&["explain", "x", &forum.to_string()]);
    assert!(
        e.contains("removed by stage 1 (q, filter): rule `no_forum`"),
        "{e}"
    );
    let e = env.ok(&["explain", "x", &short.to_string()]);
    assert!(e.contains("rule `short`"), "{e}");
    let e = env.json(&["explain", "x", &kept.to_string(), "--json"]);
    assert_eq!(e[0]["kept"], true);
    // By key: the id column.
    let e = env.json(&[
        "explain",
        "x",
        &rows[forum]["id"].to_string(),
        "--key",
        "id",
        "--json",
    ]);
    assert_eq!(e[0]["reason"]["rule"], "no_forum");
    let err = env.fail(&["explain", "x", "99999"]);
    assert!(err.contains("out of range"), "{err}");
    let err = env.fail(&["explain", "x", "1", "--key", "nope"]);
    assert!(err.contains("columns are: id, source, text"), "{err}");
}

/// Runs a failing `check` and `run`, asserting nothing was written.
fn refused(env: &Env, spec: &str) -> String {
    env.write("bad.toml", spec);
    let before = env.objects();
    let err = env.fail(&["check", "bad.toml"]);
    env.fail(&["run", "bad.toml"]);
    assert_eq!(env.objects(), before, "an invalid spec writes nothing");
    err
}

#[test]
fn invalid_specs_are_located_and_write_nothing() {
    let env = Env::new();
    corpus(&env, 20);
    let head = "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"filter\"\n";
    let e = refused(&env, &format!("{head}wher = \"true\"\n"));
    assert!(
        e.contains("bad.toml:6:1") && e.contains("did you mean `where`?"),
        "{e}"
    );
    let e = refused(&env, &format!("{head}where = \"word_count(text) <\"\n"));
    assert!(
        e.contains("bad.toml:6:10") && e.contains("field `where`"),
        "{e}"
    );
    let e = refused(
        &env,
        &format!("{head}[stage.rules]\nshort = \"wordcount < 5\"\n"),
    );
    assert!(
        e.contains("bad.toml:7:10")
            && e.contains("rules.short")
            && e.contains("columns are: id, source, text"),
        "{e}"
    );
    let e = refused(&env, &format!("{head}where = \"word_count(text)\"\n"));
    assert!(e.contains("not a boolean"), "{e}");
    let e = refused(&env, "[source]\npath = \"data/nothing*.jsonl\"\n");
    assert!(e.contains("no file matches"), "{e}");
    let e = refused(&env, "[source]\nversion = \"missing\"\n");
    assert!(e.contains("unknown ref 'missing'"), "{e}");
    let e = refused(&env, "[source]\npath = 5\n");
    assert!(e.contains("bad.toml:2:8"), "{e}");
    let e = refused(
        &env,
        &format!("{head}where = \"true\"\n[output]\ntag = \"../x\"\n"),
    );
    assert!(e.contains("invalid tag name"), "{e}");
}

#[test]
fn rows_whose_expression_is_null_follow_on_error() {
    let env = Env::new();
    env.write(
        "data/n.jsonl",
        "{\"id\": 1, \"score\": 0.9}\n{\"id\": 2, \"score\": null}\n{\"id\": 3, \"score\": 0.1}\n{\"id\": 4, \"score\": 0.7}\n",
    );
    let spec = |on_error: &str| {
        format!(
            "[source]\npath = \"data/n.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nname = \"good\"\nwhere = \"score > 0.5\"\n{on_error}"
        )
    };
    env.write("p.toml", spec(""));
    let err = env.fail(&["run", "p.toml"]);
    assert!(
        err.contains("stage 1 (good): rule `where` = `score > 0.5` failed on source row 1"),
        "{err}"
    );
    assert!(err.contains("on_error"), "{err}");
    env.write("p.toml", spec("on_error = \"drop\"\n"));
    let out = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(out["rows"], 2);
    assert_eq!(out["stages"][0]["removed"]["error:where"], 1);
    env.write("p.toml", spec("on_error = \"keep\"\n"));
    assert_eq!(env.json(&["run", "p.toml", "--json"])["rows"], 3);
}

#[test]
fn a_run_gives_one_content_id_at_one_and_two_threads() {
    let mut ids = Vec::new();
    for threads in ["1", "2"] {
        let env = Env::new();
        corpus(&env, 1500);
        env.write(
            "p.toml",
            "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"filter\"\n[stage.rules]\nshort = \"word_count(text) < 50\"\nforum = \"source = 'forum'\"\n\n[output]\nshard_size = \"24KiB\"\n",
        );
        let out = env.json(&["run", "p.toml", "--threads", threads, "--json"]);
        ids.push((
            out["content_id"].clone(),
            out["stages"][0]["removed"].clone(),
        ));
    }
    assert_eq!(ids[0], ids[1]);
}

#[test]
fn a_busy_store_fails_clearly_with_nothing_written() {
    let env = Env::new();
    corpus(&env, 50);
    env.write(
        "p.toml",
        "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"true\"\n",
    );
    // Another process holds the store's lock.
    let mut holder = std::process::Command::new("flock")
        .arg(env.store().join("LOCK"))
        .args(["sleep", "10"])
        .spawn()
        .expect("flock from util-linux");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let before = env.objects();
    let err = env.fail(&["run", "p.toml", "--wait", "1"]);
    holder.kill().ok();
    holder.wait().ok();
    assert!(
        err.contains("store is busy") && err.contains("--wait"),
        "{err}"
    );
    assert_eq!(env.objects(), before);
}

#[test]
fn an_unchanged_rerun_answers_with_the_version_it_made() {
    let env = Env::new();
    corpus(&env, 40);
    env.write(
        "p.toml",
        "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"id % 2 = 0\"\n\n[output]\ntag = \"even\"\n",
    );
    let first = env.json(&["run", "p.toml", "--json"]);
    let versions = env.json(&["log", "--json"]).as_array().unwrap().len();
    let out = env.ok(&["run", "p.toml", "--tag", "again"]);
    assert!(out.contains("unchanged: version"), "{out}");
    assert_eq!(
        env.json(&["log", "--json"]).as_array().unwrap().len(),
        versions,
        "no new version, no new import"
    );
    // The tag asked for points at the version that holds the result.
    let tags = env.json(&["tags", "--json"]);
    let again = tags
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == "again")
        .unwrap();
    assert_eq!(again["version"], first["version"]);
    // Another message is another version, with the same content.
    let other = env.json(&["run", "p.toml", "-m", "second look", "--json"]);
    assert_ne!(other["version"], first["version"]);
    assert_eq!(other["content_id"], first["content_id"]);
    assert_eq!(other.get("unchanged"), None);
}

#[test]
fn an_empty_result_fails_unless_allowed_and_zero_quotas_are_refused() {
    let env = Env::new();
    corpus(&env, 20);
    let spec = |extra: &str| {
        format!(
            "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nname = \"none\"\nwhere = \"id < 0\"\n{extra}"
        )
    };
    env.write("empty.toml", spec(""));
    let before = env.json(&["log", "--json"]).as_array().unwrap().len();
    let err = env.fail(&["run", "empty.toml"]);
    assert!(
        err.contains("the result is empty: stage none removed the last rows"),
        "{err}"
    );
    assert!(err.contains("allow_empty = true"), "{err}");
    // Only the source's import was committed.
    assert_eq!(
        env.json(&["log", "--json"]).as_array().unwrap().len(),
        before + 1
    );
    env.write("empty.toml", spec("\n[output]\nallow_empty = true\n"));
    assert_eq!(env.json(&["run", "empty.toml", "--json"])["rows"], 0);
    env.write(
        "zero.toml",
        "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"balance\"\nlabel = \"source\"\nstrategy = \"cap\"\nmax_per_class = 0\n",
    );
    let err = env.fail(&["check", "zero.toml"]);
    assert!(
        err.contains("zero.toml:8:17") && err.contains("`max_per_class = 0` keeps no row"),
        "{err}"
    );
}

#[test]
fn a_dry_run_runs_the_stages_on_a_seeded_sample_and_writes_nothing() {
    let env = Env::new();
    corpus(&env, 300);
    env.write(
        "p.toml",
        "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nname = \"q\"\nwhere = \"word_count(text) >= 60\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"exact\"\n",
    );
    let before = env.objects();
    let a = env.json(&["run", "p.toml", "--dry-run", "--sample", "50", "--json"]);
    assert_eq!(env.objects(), before, "a dry run stores nothing");
    assert_eq!(env.json(&["log", "--json"]).as_array().unwrap().len(), 0);
    assert_eq!(env.tmp_files(), 0, "its scratch store is gone");
    assert_eq!(a["sampled"], 50);
    assert_eq!(a["source_rows"], 300);
    assert_eq!(a["stages"][0]["rows_in"], 50);
    assert_eq!(a["stages"].as_array().unwrap().len(), 2);
    // The same seed draws the same sample; the full run keeps a superset.
    let b = env.json(&["run", "p.toml", "--dry-run", "--sample", "50", "--json"]);
    let counts = |v: &serde_json::Value| -> Vec<(serde_json::Value, serde_json::Value)> {
        v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["rows_out"].clone(), s["removed"].clone()))
            .collect()
    };
    assert_eq!(counts(&a), counts(&b));
    let other = env.json(&[
        "run",
        "p.toml",
        "--dry-run",
        "--sample",
        "50",
        "--seed",
        "7",
        "--json",
    ]);
    assert_eq!(other["sampled"], 50);
    let text = env.ok(&["run", "p.toml", "--dry-run", "--sample", "50"]);
    assert!(
        text.contains("dry run on a seeded sample of 50 of 300 source rows (seed 1)")
            && text.contains("nothing was committed"),
        "{text}"
    );
    let err = env.fail(&["run", "p.toml", "--sample", "5"]);
    assert!(err.contains("--dry-run"), "{err}");
}

#[test]
fn an_unknown_field_lists_the_fields_of_its_own_kind() {
    let env = Env::new();
    corpus(&env, 20);
    let e = refused(
        &env,
        "[source]\npath = \"data/c.jsonl\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"exact\"\nthreshhold = 0.7\n",
    );
    assert!(
        e.contains("bad.toml:7:1") && e.contains("stage 1 (dedup-1)"),
        "{e}"
    );
    assert!(e.contains("did you mean `threshold`?"), "{e}");
    assert!(
        e.contains("`num_perm`") && !e.contains("`max_per_class`"),
        "only dedup's fields: {e}"
    );
    // YAML counts stages from 1 too, and a wrong type names its stage.
    env.write(
        "bad.yaml",
        "source:\n  path: data/c.jsonl\nstage:\n  - kind: filter\n    where: \"true\"\n  - kind: balance\n    label: source\n    strategy: cap\n    max_per_class: -1\n",
    );
    let e = env.fail(&["check", "bad.yaml"]);
    assert!(
        e.contains("bad.yaml:9:20") && e.contains("stage 2 (balance-2), field `max_per_class`"),
        "{e}"
    );
}
