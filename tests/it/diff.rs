//! `sift diff` against a brute-force diff of the rows `sift cat` prints.

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::Value;

use super::util::{Env, Rng};

/// A row as JSON text: id, a source, and a text drawn from few words (so repeats happen).
fn row(id: u64, rng: &mut Rng) -> String {
    let words = ["alpha", "beta", "gamma", "delta"];
    let n = 1 + rng.below(3) as usize;
    let text: Vec<&str> = (0..n).map(|_| words[rng.below(4) as usize]).collect();
    let source = ["web", "news"][rng.below(2) as usize];
    serde_json::json!({"id": id, "source": source, "text": text.join(" ")}).to_string()
}

/// Random edits: change a text, insert, delete, duplicate.
fn edit(base: &[String], seed: u64, edits: usize) -> Vec<String> {
    let mut rng = Rng(seed | 1);
    let mut out = base.to_vec();
    for k in 0..edits {
        if out.is_empty() {
            out.push(row(10_000 + k as u64, &mut rng));
            continue;
        }
        let at = rng.below(out.len() as u64) as usize;
        match rng.below(4) {
            0 => {
                let mut v: Value = serde_json::from_str(&out[at]).unwrap();
                v["text"] = format!("edited {k}").into();
                out[at] = v.to_string();
            }
            1 => out.insert(at, row(10_000 + k as u64, &mut rng)),
            2 => {
                out.remove(at);
            }
            _ => {
                let r = out[at].clone();
                out.insert(at, r);
            }
        }
    }
    out
}

/// Rows of a version as parsed JSON values.
fn cat(env: &Env, tag: &str) -> Vec<Value> {
    env.ok(&["cat", tag])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Multiset difference by canonical JSON text: (removed, added).
fn brute(a: &[Value], b: &[Value]) -> (Vec<Value>, Vec<Value>) {
    let mut counts: HashMap<String, (i64, Value)> = HashMap::new();
    for v in a {
        counts.entry(v.to_string()).or_insert((0, v.clone())).0 -= 1;
    }
    for v in b {
        counts.entry(v.to_string()).or_insert((0, v.clone())).0 += 1;
    }
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for (n, v) in counts.into_values() {
        let into = if n < 0 { &mut removed } else { &mut added };
        for _ in 0..n.abs() {
            into.push(v.clone());
        }
    }
    (removed, added)
}

fn sorted(mut v: Vec<Value>) -> Vec<String> {
    let mut s: Vec<String> = v.drain(..).map(|v| v.to_string()).collect();
    s.sort();
    s
}

fn import(env: &Env, name: &str, rows: &[String]) {
    env.write(&format!("{name}.jsonl"), rows.join("\n") + "\n");
    env.ok(&[
        "import",
        &format!("{name}.jsonl"),
        "--tag",
        name,
        "--shard-size",
        "1KiB",
    ]);
}

fn check_against_brute_force(base: &[String], edited: &[String]) {
    let env = Env::new();
    import(&env, "a", base);
    import(&env, "b", edited);
    let (a, b) = (cat(&env, "a"), cat(&env, "b"));
    let (removed, added) = brute(&a, &b);
    let d = env.json(&["diff", "a", "b", "--json", "--rows", "100000"]);
    assert_eq!(d["rows"]["added"], added.len() as u64);
    assert_eq!(d["rows"]["removed"], removed.len() as u64);
    assert_eq!(d["rows"]["unchanged"], (a.len() - removed.len()) as u64);
    let samples = |k: &str| d["samples"][k].as_array().unwrap().clone();
    assert_eq!(sorted(samples("added")), sorted(added.clone()));
    assert_eq!(sorted(samples("removed")), sorted(removed.clone()));
    // --stat reads no rows and gives the same counts.
    let s = env.json(&["diff", "a", "b", "--json", "--stat"]);
    assert_eq!(s["rows"], d["rows"]);
    assert!(s["samples"]["added"].as_array().unwrap().is_empty());

    // With a key: modified = per key, min(removed, added) rows.
    let mut per_key: HashMap<String, (u64, u64)> = HashMap::new();
    for v in &removed {
        per_key.entry(v["id"].to_string()).or_default().0 += 1;
    }
    for v in &added {
        per_key.entry(v["id"].to_string()).or_default().1 += 1;
    }
    let modified: u64 = per_key.values().map(|(r, a)| r.min(a)).sum();
    let k = env.json(&[
        "diff", "a", "b", "--json", "--key", "id", "--rows", "100000",
    ]);
    assert_eq!(k["keys"]["modified"], modified);
    assert_eq!(k["keys"]["added"], added.len() as u64 - modified);
    assert_eq!(k["keys"]["removed"], removed.len() as u64 - modified);
    let dup = |rows: &[Value]| {
        let mut c: HashMap<String, u64> = HashMap::new();
        for r in rows {
            *c.entry(r["id"].to_string()).or_default() += 1;
        }
        c.values().filter(|n| **n > 1).count() as u64
    };
    assert_eq!(k["keys"]["duplicate_keys_a"], dup(&a));
    assert_eq!(k["keys"]["duplicate_keys_b"], dup(&b));
    for m in k["samples"]["modified"].as_array().unwrap() {
        let changes = m["changes"].as_object().unwrap();
        assert!(!changes.is_empty(), "a modified row names what changed");
        assert!(!changes.contains_key("id"), "the key does not change");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]
    #[test]
    fn diff_matches_a_brute_force_multiset_diff(seed in 1u64..u64::MAX, n in 1usize..60, edits in 0usize..12) {
        let mut rng = Rng(seed);
        let base: Vec<String> = (0..n as u64).map(|i| row(i, &mut rng)).collect();
        let mut edited = edit(&base, seed ^ 0x5eed, edits);
        if edited.is_empty() {
            // An import needs a row.
            edited.push(row(20_000, &mut rng));
        }
        check_against_brute_force(&base, &edited);
    }
}

#[test]
fn identical_versions_skip_every_segment() {
    let env = Env::new();
    let mut rng = Rng(7);
    let rows: Vec<String> = (0..200).map(|i| row(i, &mut rng)).collect();
    import(&env, "a", &rows);
    env.write("p.toml", "[source]\nversion = \"a\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"id >= 0\"\n\n[output]\ntag = \"b\"\n");
    env.ok(&["run", "p.toml"]);
    let d = env.json(&["diff", "a", "b", "--json"]);
    assert_eq!(d["same_content"], true);
    assert_eq!(d["rows"]["segments_compared"], 0);
    assert!(d["rows"]["segments_skipped"].as_u64().unwrap() > 2);
    assert_eq!(d["lineage"]["b_from_a"], true);
    let text = env.ok(&["diff", "a", "b"]);
    assert!(text.contains("same content"), "{text}");
    assert!(text.contains("b was made from a"), "{text}");
}

#[test]
fn versions_with_selections_and_repeats_diff_as_multisets() {
    let env = Env::new();
    let mut rng = Rng(11);
    let rows: Vec<String> = (0..120).map(|i| row(i, &mut rng)).collect();
    import(&env, "a", &rows);
    let spec = |stage: &str, tag: &str| {
        format!(
            "[source]\nversion = \"a\"\n\n{stage}\n[output]\ntag = \"{tag}\"\ncompact_below = 0\n"
        )
    };
    env.write(
        "f.toml",
        spec(
            "[[stage]]\nkind = \"filter\"\nwhere = \"id % 3 = 0\"\n",
            "f",
        ),
    );
    env.ok(&["run", "f.toml"]);
    env.write(
        "o.toml",
        spec(
            "[[stage]]\nkind = \"balance\"\nlabel = \"source\"\nstrategy = \"oversample\"\nper_class = 100\n",
            "o",
        ),
    );
    env.ok(&["run", "o.toml"]);
    for (x, y) in [("a", "f"), ("f", "a"), ("a", "o"), ("o", "f")] {
        let (va, vb) = (cat(&env, x), cat(&env, y));
        let (removed, added) = brute(&va, &vb);
        let d = env.json(&["diff", x, y, "--json", "--rows", "100000"]);
        assert_eq!(d["rows"]["added"], added.len() as u64, "{x} → {y}");
        assert_eq!(d["rows"]["removed"], removed.len() as u64, "{x} → {y}");
        assert_eq!(
            sorted(d["samples"]["added"].as_array().unwrap().clone()),
            sorted(added),
            "{x} → {y}"
        );
    }
    // Labels default to the balance stage's label; the spec diff shows the two stages.
    let d = env.json(&["diff", "f", "o", "--json"]);
    assert_eq!(d["labels"]["column"], "source");
    let classes = d["labels"]["classes"].as_object().unwrap();
    assert_eq!(classes["web"]["b"], 100);
    assert_eq!(classes["news"]["b"], 100);
    let spec_diff: Vec<String> = d["lineage"]["spec_diff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert!(
        spec_diff
            .iter()
            .any(|l| l.starts_with("- ") && l.contains("id % 3 = 0")),
        "{spec_diff:?}"
    );
    assert!(
        spec_diff
            .iter()
            .any(|l| l.starts_with("+ ") && l.contains("oversample")),
        "{spec_diff:?}"
    );
}

#[test]
fn schema_changes_are_named() {
    let env = Env::new();
    env.write("a.jsonl", "{\"id\": 1, \"text\": \"x\", \"url\": \"u\"}\n");
    env.write(
        "b.jsonl",
        "{\"id\": \"1\", \"text\": \"x\", \"lang\": \"en\"}\n",
    );
    env.ok(&["import", "a.jsonl", "--tag", "a"]);
    env.ok(&["import", "b.jsonl", "--tag", "b"]);
    let d = env.json(&["diff", "a", "b", "--json", "--key", "text"]);
    let s = &d["schema"];
    assert_eq!(s["added"][0]["name"], "lang");
    assert_eq!(s["removed"][0]["name"], "url");
    assert_eq!(s["retyped"][0]["name"], "id");
    assert_eq!(s["retyped"][0]["from"], "int");
    assert_eq!(s["retyped"][0]["to"], "string");
    assert_eq!(d["keys"]["modified"], 1);
    let changed = d["keys"]["changed_columns"].as_object().unwrap();
    for c in ["id", "url", "lang"] {
        assert_eq!(changed[c], 1, "{c}: {changed:?}");
    }
    let text = env.ok(&["diff", "a", "b"]);
    assert!(
        text.contains("+lang (string)")
            && text.contains("-url (string)")
            && text.contains("~id (int → string)"),
        "{text}"
    );
    let err = env.fail(&["diff", "a", "b", "--key", "url"]);
    assert!(
        err.contains("B") && err.contains("has no column 'url'"),
        "{err}"
    );
    let out = env.sift(&["diff", "a", "b", "--stat", "--exit-code"]);
    assert_eq!(out.status.code(), Some(1));
    let out = env.sift(&["diff", "a", "a", "--stat", "--exit-code"]);
    assert_eq!(out.status.code(), Some(0));
}
