//! Bad input and damaged objects: clear errors, nothing half-written.

use super::util::{Env, flip_byte, jsonl_rows, lines, object_path};

/// Runs a failing import and checks that the store gained nothing.
fn failed_import(env: &Env, args: &[&str]) -> String {
    let before = env.objects();
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    let err = env.fail(&all);
    assert_eq!(
        env.objects(),
        before,
        "a failed import must not add objects"
    );
    // The next command cleans any tmp/ leftovers.
    env.ok(&["log"]);
    assert_eq!(env.tmp_files(), 0);
    err
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let env = Env::new();
    env.write("bad.jsonl", "{\"id\": 1, \"text\": \"a\"}\n{\"id\": 2, \"text\": \"b\"}\n{\"id\": 3, \"text\": \"c\",}\n");
    let err = failed_import(&env, &["bad.jsonl"]);
    assert!(err.contains("bad.jsonl:3:"), "{err}");
    assert!(err.contains("invalid JSON"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn malformed_json_after_the_inferred_prefix_is_located() {
    let env = Env::new();
    let mut rows = jsonl_rows(1, 0, 12_000);
    rows[11_500] = r#"{"id": 11500, "source": "web", "text": "unterminated}"#.into();
    env.write("late.jsonl", lines(&rows));
    let err = failed_import(&env, &["late.jsonl"]);
    assert!(err.contains("late.jsonl:11501:"), "{err}");
}

#[test]
fn invalid_utf8_names_the_line() {
    let env = Env::new();
    let mut bytes = b"{\"id\": 1, \"text\": \"ok\"}\n{\"id\": 2, \"text\": \"".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"\"}\n");
    env.write("bin.jsonl", bytes);
    let err = failed_import(&env, &["bin.jsonl"]);
    assert!(err.contains("bin.jsonl:2: invalid UTF-8"), "{err}");
}

#[test]
fn a_type_conflict_past_inference_names_the_row_and_hints_at_schema() {
    let env = Env::new();
    let mut rows = jsonl_rows(2, 0, 10_050);
    rows[10_020] = r#"{"id": "not a number", "source": "web", "text": "x"}"#.into();
    env.write("conflict.jsonl", lines(&rows));
    let err = failed_import(&env, &["conflict.jsonl"]);
    assert!(err.contains("conflict.jsonl:10021:"), "{err}");
    assert!(err.contains("--schema"), "{err}");

    // An explicit schema that fits the data imports it.
    env.write(
        "schema.json",
        r#"[{"name": "id", "type": "string"}, {"name": "source", "type": "string"}, {"name": "text", "type": "string"}]"#,
    );
    let mut fixed = jsonl_rows(2, 0, 3);
    fixed.push(r#"{"id": "x-1", "source": "web", "text": "x"}"#.into());
    env.write("fixed.jsonl", lines(&fixed));
    let out = env.ok(&["import", "fixed.jsonl", "--schema", "schema.json", "--json"]);
    assert!(out.contains(r#""rows":4"#), "{out}");
}

#[test]
fn a_field_unseen_during_inference_is_not_silently_dropped() {
    let env = Env::new();
    let mut rows = jsonl_rows(3, 0, 10_010);
    rows[10_005] = r#"{"id": 10005, "source": "web", "text": "x", "extra": 1}"#.into();
    env.write("extra.jsonl", lines(&rows));
    let err = failed_import(&env, &["extra.jsonl"]);
    assert!(
        err.contains("extra.jsonl:10006:") && err.contains("'extra'"),
        "{err}"
    );
}

#[test]
fn files_with_conflicting_schemas_are_refused() {
    let env = Env::new();
    env.write("a.jsonl", "{\"id\": 1}\n");
    env.write("b.jsonl", "{\"id\": \"one\"}\n");
    let err = failed_import(&env, &["a.jsonl", "b.jsonl"]);
    assert!(err.contains("b.jsonl") && err.contains("--schema"), "{err}");
}

#[test]
fn csv_rows_with_the_wrong_field_count_are_located() {
    let env = Env::new();
    env.write("t.csv", "id,name\n1,ada\n2,grace,extra\n3,linus\n");
    let err = failed_import(&env, &["t.csv"]);
    assert!(err.contains("t.csv") && err.contains("line"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn empty_and_missing_inputs_are_refused() {
    let env = Env::new();
    env.write("empty.jsonl", "");
    let err = failed_import(&env, &["empty.jsonl"]);
    assert!(err.contains("holds no rows"), "{err}");
    env.write("blank.jsonl", "\n\n");
    assert!(failed_import(&env, &["blank.jsonl"]).contains("holds no rows"));
    let err = failed_import(&env, &["nope.jsonl"]);
    assert!(err.contains("nope.jsonl: no such file"), "{err}");
    env.write("data.txt", "x");
    assert!(failed_import(&env, &["data.txt"]).contains("--format"));
}

#[test]
fn a_flipped_byte_in_any_object_is_reported_with_its_id() {
    let env = Env::new();
    env.write("a.jsonl", lines(&jsonl_rows(4, 0, 400)));
    env.import("a.jsonl", &["--tag", "raw"]);
    let m = env.json(&["show", "raw", "--json"]);
    let shard = m["segments"][0]["shard"].as_str().unwrap().to_string();
    let sidecar = m["segments"][0]["fingerprints"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest = m["id"].as_str().unwrap().to_string();

    flip_byte(&object_path(&env.store(), &shard), 100);
    let err = env.fail(&["cat", "raw"]);
    assert!(err.contains(&shard) && err.contains("corrupt"), "{err}");
    assert!(err.contains("sift fsck"), "{err}");
    let err = env.fail(&["export", "raw", "--to", "out"]);
    assert!(err.contains(&shard), "{err}");

    flip_byte(&object_path(&env.store(), &manifest), 10);
    let err = env.fail(&["show", "raw"]);
    assert!(err.contains(&manifest) && err.contains("corrupt"), "{err}");
    let _ = sidecar;
}

#[test]
fn a_missing_object_is_reported_with_its_id() {
    let env = Env::new();
    env.write("a.jsonl", lines(&jsonl_rows(5, 0, 100)));
    env.import("a.jsonl", &["--tag", "raw"]);
    let shard = env.shards("raw")[0].clone();
    std::fs::remove_file(object_path(&env.store(), &shard)).unwrap();
    let err = env.fail(&["cat", "raw"]);
    assert!(err.contains(&shard) && err.contains("missing"), "{err}");
}

#[test]
fn sql_errors_read_as_sentences_with_a_hint() {
    let env = Env::new();
    env.write("a.jsonl", lines(&jsonl_rows(6, 0, 20)));
    env.import("a.jsonl", &["--tag", "raw"]);
    let err = env.fail(&["query", "SELECT count(* FROM raw"]);
    assert!(
        err.contains("SQL syntax error: expected `)`, found `FROM` (line 1, column 16)"),
        "{err}"
    );
    assert!(!err.contains("ParserError"), "{err}");
    assert!(
        !err.contains("caused by"),
        "no cause repeats the error: {err}"
    );
    let err = env.fail(&["query", "SELECT wordcount(text) FROM raw"]);
    assert!(
        err.contains("unknown function `wordcount`") && err.contains("did you mean `word_count`?"),
        "{err}"
    );
    let err = env.fail(&["query", "SELECT * FROM my-tag"]);
    assert!(err.contains("must be quoted"), "{err}");
    // An untagged version is a table by its id prefix; an unknown name says what a table is.
    let untagged = env.json(&["import", "a.jsonl", "--json"]);
    let prefix = &untagged["version"].as_str().unwrap()[..10];
    let out = env.ok(&[
        "query",
        &format!("SELECT count(*) AS n FROM \"{prefix}\""),
        "--format",
        "csv",
    ]);
    assert_eq!(out.lines().nth(1), Some("20"), "{out}");
    let err = env.fail(&["query", "SELECT * FROM rawx"]);
    assert!(
        err.contains("no table `rawx`") && err.contains("id prefix"),
        "{err}"
    );
    // An empty result still prints its header.
    let out = env.ok(&["query", "SELECT id, text FROM raw WHERE id < 0"]);
    assert!(out.contains("| id | text |"), "{out}");
    // The same sentences in a spec, at the field.
    env.write(
        "p.toml",
        "[source]\nversion = \"raw\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"(word_cont(text) > 3\"\n",
    );
    let err = env.fail(&["check", "p.toml"]);
    assert!(
        err.contains("p.toml:6:10")
            && err.contains("SQL syntax error: expected `)`, but the text ended"),
        "{err}"
    );
}

#[test]
fn an_import_that_fails_late_takes_back_the_shards_it_wrote() {
    let env = Env::new();
    let mut rows = jsonl_rows(7, 0, 12_000);
    rows[11_500] = r#"{"id": 11500, "source": "web", "text": "unterminated}"#.into();
    env.write("late.jsonl", lines(&rows));
    // Small shards, so that many are written before the bad line is reached.
    let err = failed_import(&env, &["late.jsonl", "--shard-size", "4KiB"]);
    assert!(err.contains("late.jsonl:11501:"), "{err}");
    let fsck = env.ok(&["fsck"]);
    assert!(!fsck.contains("named by no version"), "no orphans: {fsck}");
}

#[test]
fn bad_rows_can_be_skipped_into_a_quarantine() {
    let env = Env::new();
    let mut rows = jsonl_rows(8, 0, 12_000);
    let good: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| ![2, 11_500].contains(i))
        .map(|(_, r)| r.clone())
        .collect();
    rows[2] = r#"{"id": 2, "source": "web", "text": "unterminated}"#.into();
    rows[11_500] = r#"{"id": "not a number", "source": "web", "text": "x"}"#.into();
    env.write("bad.jsonl", lines(&rows));
    env.write("good.jsonl", lines(&good));
    // By default the import fails and writes nothing.
    failed_import(&env, &["bad.jsonl"]);
    let v = env.json(&[
        "import",
        "bad.jsonl",
        "--on-bad-row",
        "skip",
        "--tag",
        "raw",
        "--json",
    ]);
    assert_eq!(v["rows"], 11_998);
    assert_eq!(v["skipped"], 2);
    // The kept rows are the good ones: the same content id as the file without the bad lines.
    let clean = env.json(&["import", "good.jsonl", "--json"]);
    assert_eq!(v["content_id"], clean["content_id"]);
    let q = env.ok(&["cat", "raw", "--quarantine"]);
    let q: Vec<serde_json::Value> = q
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(q.len(), 2);
    assert_eq!(q[0]["line"], 3);
    assert!(
        q[0]["reason"].as_str().unwrap().contains("invalid JSON"),
        "{q:?}"
    );
    assert_eq!(q[1]["line"], 11_501);
    assert!(q[1]["text"].as_str().unwrap().contains("not a number"));
    assert!(env.ok(&["show", "raw"]).contains("skipped   2 bad rows"));
    assert!(env.ok(&["fsck"]).contains("no errors"));
    // The same from a pipeline's source; CSV cannot skip.
    env.write(
        "p.toml",
        "[source]\npath = \"bad.jsonl\"\non_bad_row = \"skip\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"id >= 0\"\n",
    );
    assert_eq!(env.json(&["run", "p.toml", "--json"])["rows"], 11_998);
    env.write("t.csv", "id,name\n1,ada\n");
    let err = env.fail(&["import", "t.csv", "--on-bad-row", "skip"]);
    assert!(err.contains("JSONL files only"), "{err}");
}
