//! Transform stages (pii, lines, normalize): rewritten rows as new shards,
//! read by later stages, diffed as modified, explained before and after.

use super::util::Env;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn count(env: &Env, sql: &str) -> u64 {
    let out = env.ok(&["query", sql, "--format", "csv"]);
    out.lines().nth(1).unwrap().parse().unwrap()
}

#[test]
fn pii_redacts_and_the_dedup_after_it_reads_the_redacted_text() {
    let env = Env::new();
    let spec = format!("{REPO}/pipelines/pii.toml");
    let out = env.json(&["run", &spec, "--json"]);
    let pii = &out["stages"][0];
    let t = &pii["transform"];
    assert_eq!(t["edits"]["email"], 40, "{t}");
    assert_eq!(t["rows_changed"], 152, "{t}");
    assert!(t["edits"]["phone"].as_u64().unwrap() > 0, "{t}");
    // Twelve pairs of posts differ only by who signed them: one row each once redacted.
    assert_eq!(out["stages"][1]["removed"]["exact_duplicate"], 12);
    assert_eq!(out["rows"], 412);
    // No email, public address or test card is left; private addresses are.
    let q = |sql: &str| count(&env, sql);
    assert_eq!(
        q(
            "SELECT count(*) FROM \"forum-redacted\" WHERE text LIKE '%@example%' OR text LIKE '%8.8.8.8%' OR text LIKE '%4111 1111%'"
        ),
        0
    );
    assert!(q("SELECT count(*) FROM \"forum-redacted\" WHERE text LIKE '%<EMAIL>%'") > 0);
    assert!(q("SELECT count(*) FROM \"forum-redacted\" WHERE text LIKE '% 10.0.%'") > 0);
    // The unchanged rows stay segments of the source's shard; only the
    // rewritten ones are new.
    let source = out["source"].as_str().unwrap();
    let src_shards = env.shards(source);
    let shards = env.shards("forum-redacted");
    assert_eq!(shards[0], src_shards[0]);
    assert!(shards.len() > 1 && !src_shards.contains(&shards[1]));
    // diff pairs the rewritten rows by key as modified.
    let d = env.json(&["diff", source, "forum-redacted", "--key", "id", "--json"]);
    assert_eq!(d["keys"]["modified"], 140, "{}", d["keys"]);
    assert_eq!(d["keys"]["removed"], 12);
    assert_eq!(d["keys"]["changed_columns"]["text"], 140);
    // explain shows the redaction, and the dedup decision on the redacted text.
    let e = env.json(&["explain", "forum-redacted", "--key", "id", "450", "--json"]);
    let e = &e[0];
    assert_eq!(e["kept"], false);
    assert_eq!(e["stage"], 2);
    assert_eq!(e["changes"][0]["stage_name"], "redact");
    assert_eq!(e["changes"][0]["edits"][0]["rule"], "email");
    assert_eq!(e["changes"][0]["edits"][0]["after"], "<EMAIL>");
    let text = env.ok(&["explain", "forum-redacted", "--key", "id", "450"]);
    assert!(
        text.contains("rewritten by stage 1 (redact, pii)") && text.contains("→ \"<EMAIL>\""),
        "{text}"
    );
    // Its kept twin is named by its source row (id 400 is source row 400).
    assert!(text.contains("of source row 400, which was kept"), "{text}");
    // Unchanged, everything is cached and the same version answers.
    let again = env.json(&["run", &spec, "--json"]);
    assert_eq!(again["unchanged"], true);
    assert_eq!(again["version"], out["version"]);
}

/// 5,000 rows of random words over several shards, 2% of them with an email.
fn contacts(env: &Env) {
    let rows: Vec<String> = super::util::jsonl_rows(11, 0, 5000)
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            if i % 50 == 7 {
                r.replace(
                    "\"text\": \"",
                    &format!("\"text\": \"person{i}@mail.example.com "),
                )
                .replace(
                    "\"text\":\"",
                    &format!("\"text\":\"person{i}@mail.example.com "),
                )
            } else {
                r
            }
        })
        .collect();
    env.write("data/contacts.jsonl", super::util::lines(&rows));
    env.write(
        "p.toml",
        "[source]\npath = \"data/contacts.jsonl\"\n\n[[stage]]\nkind = \"pii\"\nentities = [\"email\"]\n\n[output]\ntag = \"r\"\nshard_size = \"256KiB\"\n",
    );
}

#[test]
fn a_transform_stores_only_the_rows_it_changed_and_its_result_does_not_depend_on_threads() {
    let a = Env::new();
    contacts(&a);
    let one = a.json(&["run", "p.toml", "--json", "--threads", "1"]);
    assert_eq!(one["stages"][0]["transform"]["rows_changed"], 100);
    let source = a.json(&["show", one["source"].as_str().unwrap(), "--json"]);
    let stored = source["stats"]["stored_bytes"].as_u64().unwrap();
    let new = one["new_bytes"].as_u64().unwrap();
    // 2% of the rows changed: the run stored a few percent of the source's bytes.
    assert!(new * 20 < stored, "new {new} of {stored}");
    let b = Env::new();
    contacts(&b);
    let three = b.json(&["run", "p.toml", "--json", "--threads", "3"]);
    assert_eq!(one["content_id"], three["content_id"]);
    // The same new shards, byte for byte.
    assert_eq!(a.shards("r"), b.shards("r"));
    // gc keeps what the run's explain needs; fsck finds nothing amiss, and
    // the manifest of the stage's rows is not a version of its own.
    a.ok(&["gc", "--grace", "0", "--keep-untagged", "0"]);
    let f = a.json(&["fsck", "--json"]);
    assert_eq!(f["findings"], serde_json::json!([]), "{f}");
    let log = a.json(&["log", "--json"]);
    assert_eq!(log.as_array().unwrap().len(), 2, "{log}");
    let e = a.json(&["explain", "r", "57", "--json"]);
    assert_eq!(e[0]["changes"][0]["edits"][0]["rule"], "email");
    // A later stage sees the redacted text.
    a.write(
        "q.toml",
        "[source]\npath = \"data/contacts.jsonl\"\n\n[[stage]]\nkind = \"pii\"\nentities = [\"email\"]\n\n[[stage]]\nkind = \"filter\"\nwhere = \"text NOT LIKE '%@%'\"\n\n[output]\ntag = \"s\"\nshard_size = \"256KiB\"\n",
    );
    let s = a.json(&["run", "q.toml", "--json"]);
    assert_eq!(s["rows"], 5000);
    assert!(s["stages"][0]["cached"].as_bool().unwrap());
    // A lost shard of the stage's rows is not taken from the cache: the
    // stage runs again and writes it back.
    let new_shard = a
        .shards("r")
        .into_iter()
        .find(|s| !a.shards(one["source"].as_str().unwrap()).contains(s))
        .unwrap();
    std::fs::remove_file(super::util::object_path(&a.store(), &new_shard)).unwrap();
    let again = a.json(&["run", "p.toml", "--json"]);
    assert_eq!(again["stages"][0]["cached"], false);
    assert_eq!(again["content_id"], one["content_id"]);
    let f = a.json(&["fsck", "--json"]);
    assert_eq!(f["findings"], serde_json::json!([]), "{f}");
}

#[test]
fn lines_drop_boilerplate_and_a_row_left_empty_is_removed_with_its_reason() {
    let env = Env::new();
    env.write(
        "data/pages.jsonl",
        concat!(
            "{\"id\": 1, \"text\": \"Home | About\\nThe river rose two metres overnight.\\nPlease enable JavaScript.\"}\n",
            "{\"id\": 2, \"text\": \"Reply\\n----\"}\n",
            "{\"id\": 3, \"text\": \"The council met on Tuesday and voted.\"}\n",
        ),
    );
    env.write(
        "p.toml",
        "[source]\npath = \"data/pages.jsonl\"\n\n[[stage]]\nkind = \"lines\"\nname = \"clean\"\ndrop = [\"javascript\", \"symbols_only\"]\n[stage.drop_if]\nshort = \"word_count(line) < 3\"\n\n[output]\ntag = \"c\"\n",
    );
    let out = env.json(&["run", "p.toml", "--json"]);
    let st = &out["stages"][0];
    assert_eq!(st["removed"]["empty"], 1, "{st}");
    assert_eq!(st["transform"]["edits"]["short"], 2);
    assert_eq!(st["transform"]["edits"]["javascript"], 1);
    assert_eq!(st["transform"]["edits"]["symbols_only"], 1);
    let csv = env.ok(&[
        "query",
        "SELECT id, text FROM c ORDER BY id",
        "--format",
        "csv",
    ]);
    assert_eq!(
        csv,
        "id,text\n1,The river rose two metres overnight.\n3,The council met on Tuesday and voted.\n"
    );
    let e = env.ok(&["explain", "c", "--key", "id", "2"]);
    assert!(
        e.contains(
            "removed by stage 1 (clean, lines): every line was dropped (short 1, symbols_only 1)"
        ),
        "{e}"
    );
    let e = env.ok(&["explain", "c", "--key", "id", "1"]);
    assert!(
        e.contains("short") && e.contains("\"Home | About\" → (removed)"),
        "{e}"
    );
    // A predicate that fails on a line names the rule and the row.
    env.write(
        "bad.toml",
        "[source]\npath = \"data/pages.jsonl\"\n\n[[stage]]\nkind = \"lines\"\n[stage.drop_if]\nnumber = \"CAST(line AS INT) > 3\"\n",
    );
    let err = env.fail(&["run", "bad.toml"]);
    assert!(
        err.contains("rule `number` = `CAST(line AS INT) > 3` failed on source row 0")
            && err.contains("on_error"),
        "{err}"
    );
}

#[test]
fn the_c4_preset_rewrites_pages_as_datatrove_does() {
    let env = Env::new();
    let body = "It was big.[1] Yes it was. We went home. Then we slept. It rained all night.";
    env.write(
        "data/c4.jsonl",
        format!(
            "{{\"id\": 1, \"text\": \"Welcome to our site\\n{body}\\nThis site uses cookies for ads.\"}}\n{{\"id\": 2, \"text\": \"Ok then.\"}}\n{{\"id\": 3, \"text\": \"{body}\\nSome lorem ipsum text here.\"}}\n"
        ),
    );
    env.write(
        "p.toml",
        "[source]\npath = \"data/c4.jsonl\"\n\n[[stage]]\nkind = \"lines\"\npreset = \"c4\"\n\n[output]\ntag = \"c4\"\n",
    );
    let out = env.json(&["run", "p.toml", "--json"]);
    let st = &out["stages"][0];
    assert_eq!(st["removed"]["too_few_sentences"], 1, "{st}");
    assert_eq!(st["removed"]["lorem_ipsum"], 1, "{st}");
    let csv = env.ok(&["query", "SELECT text FROM c4", "--format", "csv"]);
    assert_eq!(
        csv,
        "text\nIt was big. Yes it was. We went home. Then we slept. It rained all night.\n"
    );
    // c4_paragraph is a filter function like the other rule sets.
    assert_eq!(
        count(&env, "SELECT count(*) FROM c4 WHERE c4_paragraph(text)"),
        0
    );
}

#[test]
fn normalize_repairs_mojibake_line_endings_and_invisible_characters() {
    let env = Env::new();
    env.write(
        "data/n.jsonl",
        concat!(
            "{\"id\": 1, \"text\": \"The cafÃ© doesnâ€™t open\\r\\nuntil nine.\"}\n",
            "{\"id\": 2, \"text\": \"\\ufeffzero\\u200bwidth and e\\u0301\"}\n",
            "{\"id\": 3, \"text\": \"Nothing to fix here.\"}\n",
        ),
    );
    env.write(
        "p.toml",
        "[source]\npath = \"data/n.jsonl\"\n\n[[stage]]\nkind = \"normalize\"\nname = \"fix\"\n\n[output]\ntag = \"n\"\n",
    );
    let out = env.json(&["run", "p.toml", "--json"]);
    let t = &out["stages"][0]["transform"];
    assert_eq!(t["rows_changed"], 2, "{t}");
    assert_eq!(t["edits"]["mojibake"], 1);
    assert_eq!(t["edits"]["line_endings"], 1);
    assert_eq!(t["edits"]["zero_width"], 1);
    assert_eq!(t["edits"]["nfc"], 1);
    let rows = env.ok(&["cat", "n", "--format", "jsonl"]);
    assert!(
        rows.contains("The café doesn’t open\\nuntil nine."),
        "{rows}"
    );
    assert!(rows.contains("\"zerowidth and é\""), "{rows}");
    let e = env.json(&["explain", "n", "--key", "id", "1", "--json"]);
    let rules: Vec<&str> = e[0]["changes"][0]["edits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["mojibake", "line_endings"]);
}

#[test]
fn bad_transform_specs_are_refused_at_check_with_the_field() {
    let env = Env::new();
    env.write("data/t.jsonl", "{\"id\": 1, \"text\": \"a b c\"}\n");
    let head = "[source]\npath = \"data/t.jsonl\"\n\n[[stage]]\n";
    for (stage, want) in [
        (
            "kind = \"pii\"\nentities = [\"ssn\"]\n",
            "unknown variant `ssn`",
        ),
        (
            "kind = \"pii\"\nentities = [\"email\"]\n[stage.replace]\nphone = \"<P>\"\n",
            "field `replace.phone`: a placeholder for `phone`, which `entities` does not name",
        ),
        (
            "kind = \"pii\"\ncolumn = \"id\"\n",
            "column 'id' is Int64, not text",
        ),
        (
            "kind = \"lines\"\n",
            "name a preset, line rules or `drop_if`",
        ),
        (
            "kind = \"lines\"\npreset = \"c4\"\ndrop = [\"short\"]\n",
            "a preset is a whole line filter",
        ),
        (
            "kind = \"lines\"\n[stage.drop_if]\nx = \"word_count(text) < 3\"\n",
            "field `drop_if.x`",
        ),
        (
            "kind = \"normalize\"\nform = \"none\"\nmojibake = false\nline_endings = false\ncontrols = false\nzero_width = false\n",
            "every fix is switched off",
        ),
    ] {
        env.write("p.toml", format!("{head}{stage}"));
        let err = env.fail(&["check", "p.toml"]);
        assert!(err.contains(want), "{stage}: {err}");
    }
}

#[test]
fn map_computes_rewrites_drops_and_renames_columns_and_later_stages_see_them() {
    let env = Env::new();
    env.write(
        "data/m.jsonl",
        concat!(
            "{\"id\": 1, \"url\": \"https://a.example/x\", \"text\": \"  Hello there world.  \", \"n\": \"4\"}\n",
            "{\"id\": 2, \"url\": \"https://a.example/y\", \"text\": \"Already trimmed text.\", \"n\": \"x\"}\n",
            "{\"id\": 3, \"url\": \"https://a.example/z\", \"text\": \"Short.\", \"n\": \"5\"}\n",
        ),
    );
    let spec = |on_error: &str| {
        format!(
            "[source]\npath = \"data/m.jsonl\"\n\n[[stage]]\nkind = \"map\"\nname = \"shape\"\ndrop = [\"url\"]\non_error = \"{on_error}\"\n[stage.columns]\ntext = \"trim(text)\"\nn_words = \"word_count(text)\"\nn = \"CAST(n AS INT)\"\n[stage.rename]\nid = \"doc_id\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"n_words >= 2\"\n\n[output]\ntag = \"m\"\n"
        )
    };
    env.write("fail.toml", spec("fail"));
    let err = env.fail(&["run", "fail.toml"]);
    assert!(
        err.contains("stage 1 (shape): rule `n` = `CAST(n AS INT)` failed on source row 1"),
        "{err}"
    );
    env.write("p.toml", spec("drop"));
    let out = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(out["stages"][0]["removed"]["error:n"], 1, "{out}");
    assert_eq!(out["stages"][1]["removed"]["where"], 1, "{out}");
    let rows = env.ok(&["cat", "m"]);
    assert_eq!(
        rows,
        "{\"doc_id\":1,\"text\":\"Hello there world.\",\"n\":4,\"n_words\":3}\n"
    );
    // The schema change is the version's, and diff says so.
    let source = out["source"].as_str().unwrap();
    let d = env.json(&["diff", source, "m", "--json"]);
    let names = |k: &str| -> Vec<String> {
        d["schema"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("added"), ["doc_id", "n_words"]);
    assert_eq!(names("removed"), ["id", "url"]);
    let e = env.json(&["explain", "m", "1", "--json"]);
    assert_eq!(e[0]["stage_name"], "shape");
    assert_eq!(e[0]["reason"]["rule"], "error:n");
    let e = env.json(&["explain", "m", "0", "--json"]);
    assert_eq!(e[0]["changes"][0]["edits"][0]["rule"], "text");
    // A later stage is checked against the new columns.
    env.write(
        "bad.toml",
        "[source]\npath = \"data/m.jsonl\"\n\n[[stage]]\nkind = \"map\"\ndrop = [\"url\"]\n\n[[stage]]\nkind = \"filter\"\nwhere = \"url <> ''\"\n",
    );
    let err = env.fail(&["check", "bad.toml"]);
    assert!(err.contains("stage 2") && err.contains("url"), "{err}");
    for (stage, want) in [
        ("drop = [\"body\"]\n", "there is no column 'body' to drop"),
        (
            "[stage.rename]\nid = \"text\"\n",
            "would make two columns 'text'",
        ),
        ("", "a map needs `columns`, `drop` or `rename`"),
    ] {
        env.write(
            "x.toml",
            format!("[source]\npath = \"data/m.jsonl\"\n\n[[stage]]\nkind = \"map\"\n{stage}"),
        );
        let err = env.fail(&["check", "x.toml"]);
        assert!(err.contains(want), "{stage}: {err}");
    }
}

#[test]
fn a_map_that_keeps_the_columns_rewrites_only_the_rows_it_changes() {
    let env = Env::new();
    env.write(
        "data/t.jsonl",
        "{\"id\": 1, \"text\": \" padded \"}\n{\"id\": 2, \"text\": \"clean\"}\n{\"id\": 3, \"text\": \"tidy\"}\n",
    );
    env.write(
        "p.toml",
        "[source]\npath = \"data/t.jsonl\"\n\n[[stage]]\nkind = \"map\"\n[stage.columns]\ntext = \"trim(text)\"\n\n[output]\ntag = \"t\"\n",
    );
    let out = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(out["stages"][0]["transform"]["rows_changed"], 1);
    let source = out["source"].as_str().unwrap();
    assert_eq!(env.shards("t")[0], env.shards(source)[0]);
    let d = env.json(&["diff", source, "t", "--key", "id", "--json"]);
    assert_eq!(d["keys"]["modified"], 1);
}

#[test]
fn pii_with_email_and_ipv4_gives_what_datatrove_pii_formatter_gives() {
    // tests/data/pii_datatrove.jsonl is datatrove's PIIFormatter output on
    // tests/data/pii_cases.jsonl (bench/pii_parity.py makes both).
    let env = Env::new();
    let cases = format!("{REPO}/tests/data/pii_cases.jsonl");
    env.write(
        "p.toml",
        format!(
            "[source]\npath = \"{cases}\"\n\n[[stage]]\nkind = \"pii\"\nentities = [\"email\", \"ipv4\"]\n\n[output]\ntag = \"r\"\n"
        ),
    );
    env.ok(&["run", "p.toml"]);
    let ours = env.ok(&[
        "query",
        "SELECT id, text FROM r ORDER BY id",
        "--format",
        "jsonl",
    ]);
    let ours: Vec<serde_json::Value> = ours
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let theirs = std::fs::read_to_string(format!("{REPO}/tests/data/pii_datatrove.jsonl")).unwrap();
    let theirs: Vec<serde_json::Value> = theirs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a["id"], b["id"]);
        assert_eq!(a["text"], b["text"], "case {}", a["id"]);
    }
}

/// Runs one stage over a fixture and returns its rows' text by id (`None` for removed rows).
fn run_on_fixture(env: &Env, fixture: &str, stage: &str) -> Vec<(u64, Option<String>)> {
    let path = format!("{REPO}/tests/data/{fixture}");
    env.write(
        "f.toml",
        format!("[source]\npath = \"{path}\"\n\n[[stage]]\n{stage}\n[output]\ntag = \"f\"\n"),
    );
    env.ok(&["run", "f.toml"]);
    let out = env.ok(&[
        "query",
        "SELECT id, text FROM f ORDER BY id",
        "--format",
        "jsonl",
    ]);
    let kept: std::collections::HashMap<u64, String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| {
            (
                r["id"].as_u64().unwrap(),
                r["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let all = std::fs::read_to_string(&path).unwrap();
    all.lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .map(|id| (id, kept.get(&id).cloned()))
        .collect()
}

fn fixture(name: &str, field: &str) -> Vec<Option<String>> {
    std::fs::read_to_string(format!("{REPO}/tests/data/{name}"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()[field]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn the_c4_preset_agrees_with_datatrove_c4_quality_filter_on_the_samples() {
    // tests/data/c4_datatrove.jsonl: datatrove's own output (bench/transform_parity.py).
    let env = Env::new();
    let ours = run_on_fixture(
        &env,
        "c4_datatrove.jsonl",
        "kind = \"lines\"\npreset = \"c4\"\n",
    );
    let theirs = fixture("c4_datatrove.jsonl", "c4");
    let differ: Vec<u64> = ours
        .iter()
        .zip(&theirs)
        .filter(|((_, a), b)| a != *b)
        .map(|((id, _), _)| *id)
        .collect();
    // The same text for every document, and the same verdict ("etc." is
    // two tokens, `etc` and `.`, as spaCy has it, so it ends a sentence).
    assert_eq!(differ, Vec::<u64>::new(), "{} documents", ours.len());
    assert_eq!(ours.len(), 824);
}

#[test]
fn the_mojibake_fix_agrees_with_ftfy_fix_encoding() {
    // tests/data/mojibake_ftfy.jsonl: ftfy.fix_encoding on mojibake made by
    // decoding UTF-8 as Windows-1252 or Latin-1, once and twice.
    let env = Env::new();
    let ours = run_on_fixture(
        &env,
        "mojibake_cases.jsonl",
        "kind = \"normalize\"\nform = \"none\"\nline_endings = false\ncontrols = false\nzero_width = false\n",
    );
    let theirs = fixture("mojibake_ftfy.jsonl", "text");
    let cases = fixture("mojibake_cases.jsonl", "text");
    let mut repaired = 0;
    for (((id, a), b), c) in ours.iter().zip(&theirs).zip(&cases) {
        assert_eq!(a, b, "case {id}: {c:?}");
        repaired += usize::from(a != c);
    }
    assert!(repaired > 80, "{repaired} of {} cases repaired", ours.len());
}

#[test]
fn explain_removed_samples_the_removed_rows_with_a_seed() {
    let env = Env::new();
    env.ok(&["run", &format!("{REPO}/pipelines/forum_clean.toml")]);
    let a = env.json(&[
        "explain",
        "forum-clean",
        "--removed",
        "--limit",
        "5",
        "--json",
    ]);
    let a = a.as_array().unwrap();
    assert_eq!(a.len(), 5);
    for e in a {
        assert_eq!(e["kept"], false, "{e}");
        assert_eq!(e["stage"], 3, "{e}");
        assert_eq!(e["reason"]["rule"], "exact_duplicate", "{e}");
    }
    let rows = |v: &serde_json::Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["row"].as_u64().unwrap())
            .collect()
    };
    let again = env.json(&[
        "explain",
        "forum-clean",
        "--removed",
        "--limit",
        "5",
        "--json",
    ]);
    assert_eq!(
        rows(&again),
        a.iter()
            .map(|e| e["row"].as_u64().unwrap())
            .collect::<Vec<_>>()
    );
    let all = env.json(&[
        "explain",
        "forum-clean",
        "--removed",
        "--limit",
        "100",
        "--json",
    ]);
    assert_eq!(all.as_array().unwrap().len(), 14, "every removed row");
    let other = env.json(&[
        "explain",
        "forum-clean",
        "--removed",
        "--limit",
        "5",
        "--seed",
        "7",
        "--json",
    ]);
    assert_ne!(rows(&other), rows(&again));
    assert!(rows(&other).iter().all(|r| rows(&all).contains(r)));
    let none = env.ok(&["explain", "forum-clean", "--removed", "--stage", "1"]);
    assert!(
        none.contains("stage 1 of") && none.contains("removed no row"),
        "{none}"
    );
    let err = env.fail(&["explain", "forum-clean", "--removed", "--stage", "4"]);
    assert!(err.contains("there is no stage 4"), "{err}");
}

#[test]
fn query_removed_lists_every_removed_row_with_its_stage_rule_and_reason() {
    let env = Env::new();
    let run = env.json(&["run", &format!("{REPO}/pipelines/recipe.toml"), "--json"]);
    let q = env.ok(&[
        "query",
        "SELECT stage, rule, count(*) AS n FROM removed('forum-recipe') GROUP BY 1, 2 ORDER BY 1, 2",
        "--format",
        "jsonl",
    ]);
    let mut want = Vec::new();
    for (k, st) in run["stages"].as_array().unwrap().iter().enumerate() {
        for (rule, n) in st["removed"].as_object().unwrap() {
            if n.as_u64().unwrap() > 0 {
                want.push(format!(
                    "{{\"stage\":{},\"rule\":\"{rule}\",\"n\":{n}}}",
                    k + 1
                ));
            }
        }
    }
    want.sort();
    let mut got: Vec<String> = q.lines().map(str::to_owned).collect();
    got.sort();
    assert_eq!(got, want);
    // Every source column is there, with the source's values (the text before any transform).
    let source = &run["source"].as_str().unwrap()[..12];
    let total: u64 = run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["removed"].as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    let same = count(
        &env,
        &format!(
            "SELECT count(*) FROM removed('forum-recipe') r JOIN \"{source}\" s ON r.id = s.id AND r.text = s.text AND r.forum = s.forum"
        ),
    );
    assert_eq!(same, total);
    let dup = env.ok(&[
        "query",
        "SELECT id, forum, reason FROM removed('forum-recipe', 5) ORDER BY id LIMIT 1",
        "--format",
        "jsonl",
    ]);
    assert!(dup.contains("a near duplicate of source row"), "{dup}");
    // The explanations agree with explain, row by row.
    let one: serde_json::Value = serde_json::from_str(dup.lines().next().unwrap()).unwrap();
    let e = env.json(&[
        "explain",
        "forum-recipe",
        "--key",
        "id",
        &one["id"].to_string(),
        "--json",
    ]);
    assert_eq!(e[0]["reason"]["because"], one["reason"]);
    let err = env.fail(&["query", "SELECT * FROM removed('forum-recipe', 9)"]);
    assert!(err.contains("there is no stage 9"), "{err}");
    let err = env.fail(&["query", "SELECT * FROM removed(1)"]);
    assert!(err.contains("removed('clean', 2)"), "{err}");
}
