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
