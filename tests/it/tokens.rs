//! The tokens stage and `tokens(text, path)`, with tokenizers trained by
//! Python `tokenizers` (bench/tokenizer_expected.py) and its counts.

use super::util::Env;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The fixed texts as rows (`id` = line), and the Python counts per row.
fn setup() -> (Env, Vec<(u64, u64)>) {
    let env = Env::new();
    let expected =
        std::fs::read_to_string(format!("{REPO}/tests/data/tokenizer_counts.jsonl")).unwrap();
    let mut rows = String::new();
    let mut counts = Vec::new();
    for (i, line) in expected.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        rows += &serde_json::json!({"id": i, "text": v["text"]}).to_string();
        rows.push('\n');
        counts.push((
            v["bpe"].as_u64().unwrap(),
            v["wordpiece_special"].as_u64().unwrap(),
        ));
    }
    env.write("data/texts.jsonl", rows);
    for (name, from) in [
        ("tokenizer_bpe.json", "pipelines/data/tokenizer.json"),
        (
            "tokenizer_wordpiece.json",
            "tests/data/tokenizer_wordpiece.json",
        ),
    ] {
        env.write(
            &format!("tok/{name}"),
            std::fs::read(format!("{REPO}/{from}")).unwrap(),
        );
    }
    (env, counts)
}

fn spec(extra: &str) -> String {
    format!(
        "[source]\npath = \"data/texts.jsonl\"\n\n[[stage]]\nkind = \"tokens\"\nname = \"length\"\ntokenizer = \"tok/tokenizer_bpe.json\"\n{extra}\n"
    )
}

#[test]
fn the_tokens_stage_filters_by_count_and_records_the_total_under_the_tokenizers_hash() {
    let (env, counts) = setup();
    env.write("p.toml", spec("min = 5\nmax = 60"));
    let check = env.ok(&["check", "p.toml"]);
    assert!(
        check.contains("count `text` tokens under tokenizer_bpe.json (blake3 ")
            && check.contains("keep rows with 5 to 60"),
        "{check}"
    );
    let out = env.json(&["run", "p.toml", "--tag", "short", "--json"]);
    let stage = &out["stages"][0];
    let kept: Vec<usize> = (0..counts.len())
        .filter(|&i| (5..=60).contains(&counts[i].0))
        .collect();
    let few = counts.iter().filter(|c| c.0 < 5).count() as u64;
    let many = counts.iter().filter(|c| c.0 > 60).count() as u64;
    assert!(few > 0 && many > 0, "the texts reach both bounds");
    assert_eq!(out["rows"], kept.len() as u64);
    assert_eq!(stage["removed"]["too_few_tokens"], few);
    assert_eq!(stage["removed"]["too_many_tokens"], many);
    let t = &stage["tokens"];
    let all: u64 = counts.iter().map(|c| c.0).sum();
    let left: u64 = kept.iter().map(|&i| counts[i].0).sum();
    assert_eq!(t["tokens_before"], all, "Python's counts, summed");
    assert_eq!(t["tokens_after"], left);
    let blake3 = blake3::hash(&std::fs::read(env.path("tok/tokenizer_bpe.json")).unwrap())
        .to_hex()
        .to_string();
    assert_eq!(t["tokenizer_id"], blake3.as_str());
    assert_eq!(t["special_tokens"], false);
    // `sift show` prints the version's token total and the tokenizer.
    let show = env.ok(&["show", "short"]);
    assert!(
        show.contains(&format!(
            "tokens    {left} under tokenizer_bpe.json (blake3 {}), counted by stage 1 (length)",
            &blake3[..12]
        )),
        "{show}"
    );
    // The same counts from the UDF, in SQL.
    let sql = env.ok(&[
        "query",
        "SELECT sum(tokens(text, 'tok/tokenizer_bpe.json')) AS n FROM short",
        "--format",
        "csv",
    ]);
    assert_eq!(sql.lines().nth(1), Some(left.to_string().as_str()), "{sql}");
    // Row 0 is empty: no tokens.
    let e = env.ok(&["explain", "short", "0"]);
    assert!(
        e.contains(
            "removed by stage 1 (length, tokens): has 0 tokens under tokenizer_bpe.json (blake3 "
        ) && e.contains("; wanted 5 to 60"),
        "{e}"
    );
    // A retrained tokenizer under the same name is another stage: not a cache hit.
    assert_eq!(
        env.json(&["run", "p.toml", "--json"])["stages"][0]["cached"],
        true
    );
    env.write(
        "tok/tokenizer_bpe.json",
        std::fs::read(format!("{REPO}/tests/data/tokenizer_wordpiece.json")).unwrap(),
    );
    let again = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(again["stages"][0]["cached"], false);
    assert_ne!(
        again["stages"][0]["tokens"]["tokenizer_id"],
        blake3.as_str()
    );
    // The first version still explains with its own tokenizer, from the store.
    std::fs::remove_file(env.path("tok/tokenizer_bpe.json")).unwrap();
    let e = env.ok(&["explain", "short", "0"]);
    assert!(e.contains(&blake3[..12]), "{e}");
}

#[test]
fn special_tokens_are_counted_when_asked() {
    let (env, counts) = setup();
    env.write(
        "p.toml",
        spec("add_special_tokens = true").replace("tokenizer_bpe", "tokenizer_wordpiece"),
    );
    let out = env.json(&["run", "p.toml", "--json"]);
    let t = &out["stages"][0]["tokens"];
    assert_eq!(t["special_tokens"], true);
    let all: u64 = counts.iter().map(|c| c.1).sum();
    assert_eq!(t["tokens_before"], all);
    assert_eq!(t["tokens_after"], all, "no bounds: every row kept");
    assert_eq!(out["rows"], counts.len() as u64);
}

#[test]
fn a_bad_tokenizer_or_bounds_are_refused_at_check_and_nothing_is_written() {
    let (env, _) = setup();
    env.write("tok/broken.json", "{\"version\": \"1.0\", \"model\": ");
    env.write("bad.toml", spec("min = 10\nmax = 5"));
    let err = env.fail(&["check", "bad.toml"]);
    assert!(
        err.contains("field `max`: no row has at least 10 and at most 5 tokens"),
        "{err}"
    );
    for (file, want) in [
        ("tok/none.json", "cannot read the tokenizer file"),
        ("tok/broken.json", "is not a tokenizer.json sift can read"),
    ] {
        env.write("bad.toml", spec("").replace("tok/tokenizer_bpe.json", file));
        for cmd in ["check", "run"] {
            let err = env.fail(&[cmd, "bad.toml"]);
            assert!(err.contains(want), "{file}: {err}");
            assert!(
                err.contains("stage 1 (length), field `tokenizer`") && err.contains(file),
                "names the stage, field and path: {err}"
            );
        }
    }
    assert_eq!(env.json(&["log", "--json"]).as_array().unwrap().len(), 0);
    // The UDF says what is wrong with its file.
    env.ok(&["import", "data/texts.jsonl", "--tag", "t"]);
    let err = env.fail(&["query", "SELECT tokens(text, 'tok/none.json') FROM t"]);
    assert!(
        err.contains("cannot read the tokenizer tok/none.json"),
        "{err}"
    );
}
