//! The classifier stage, with lid.176.ftz used as a generic supervised
//! classifier: the score is p(`__label__en` | text).

use super::language::lid176;
use super::util::Env;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn env_with_model(model: &[u8]) -> Env {
    let env = Env::new();
    env.write(
        "data/multilingual.jsonl",
        std::fs::read(format!("{REPO}/pipelines/data/multilingual.jsonl")).unwrap(),
    );
    env.write("models/lid.176.ftz", model);
    env
}

fn spec(keep: &str) -> String {
    format!(
        "[source]\npath = \"data/multilingual.jsonl\"\n\n[[stage]]\nkind = \"classifier\"\nname = \"english\"\nmodel = {{ fasttext = \"models/lid.176.ftz\" }}\nlabel = \"__label__en\"\n{keep}\n"
    )
}

#[test]
fn a_classifier_keeps_rows_by_one_labels_score_and_explains_the_rest() {
    let Some(model) = lid176() else { return };
    let env = env_with_model(&model);
    env.write("p.toml", spec("keep_above = 0.5"));
    let check = env.ok(&["check", "p.toml"]);
    assert!(
        check.contains("whose score for `en` is ≥ 0.5 (model fastText lid.176.ftz (blake3 "),
        "{check}"
    );
    let out = env.json(&["run", "p.toml", "--tag", "en", "--json"]);
    let stage = &out["stages"][0];
    // Python fastText scores the five English rows 0.94–1.00 and every other row under 0.1.
    assert_eq!(out["rows"], 5);
    assert_eq!(stage["removed"]["low_score"], 35);
    let c = &stage["classifier"];
    assert_eq!(c["label"], "en");
    let hist = c["histogram"].as_object().unwrap();
    assert_eq!(hist.len(), 10);
    assert_eq!(hist["0.9-1.0"]["before"], 5);
    assert_eq!(hist["0.9-1.0"]["after"], 5);
    assert_eq!(hist["0.0-0.1"]["before"], 35);
    assert_eq!(hist["0.0-0.1"]["after"], 0);
    let before = c["mean_before"].as_f64().unwrap();
    let after = c["mean_after"].as_f64().unwrap();
    assert!(after > 0.9 && before < 0.2, "{before} → {after}");
    let left = env.ok(&[
        "query",
        "SELECT count(*) AS n FROM en WHERE lang <> 'en'",
        "--format",
        "csv",
    ]);
    assert_eq!(left.lines().nth(1), Some("0"));
    // Row 28 (Italian) scores 0.095 for `en` in Python fastText.
    let e = env.ok(&["explain", "en", "28"]);
    assert!(
        e.contains("removed by stage 1 (english, classifier): scored 0.10 for `en`; wanted ≥ 0.5"),
        "{e}"
    );
    let j = env.json(&["explain", "en", "28", "--json"]);
    let score = j[0]["reason"]["score"].as_f64().unwrap();
    assert!((score - 0.095433).abs() < 1e-4, "{score}");
    // The run table says how the scores moved.
    let table = env.ok(&["run", "p.toml"]);
    assert!(
        table.contains("english: by fastText lid.176.ftz (blake3 ")
            && table.contains("mean score for `en`"),
        "{table}"
    );
}

#[test]
fn keep_below_and_a_band_keep_the_low_scores() {
    let Some(model) = lid176() else { return };
    let env = env_with_model(&model);
    env.write("low.toml", spec("keep_below = 0.5"));
    let out = env.json(&["run", "low.toml", "--json"]);
    assert_eq!(out["rows"], 35);
    assert_eq!(out["stages"][0]["removed"]["high_score"], 5);
    // Only the Italian row 28 scores in [0.05, 0.5).
    env.write("band.toml", spec("keep_above = 0.05\nkeep_below = 0.5"));
    env.ok(&["run", "band.toml", "--tag", "band"]);
    let ids = env.ok(&["query", "SELECT id FROM band", "--format", "csv"]);
    assert_eq!(ids.lines().skip(1).collect::<Vec<_>>(), ["28"]);
}

#[test]
fn a_label_the_model_lacks_and_bad_bounds_are_refused_at_check() {
    let Some(model) = lid176() else { return };
    let env = env_with_model(&model);
    for (keep, label, want) in [
        (
            "keep_above = 0.5",
            "__label__hq",
            "has no label `__label__hq`",
        ),
        (
            "keep_above = 1.5",
            "__label__en",
            "keep_above must be in [0, 1], got 1.5",
        ),
        (
            "keep_above = 0.6\nkeep_below = 0.4",
            "__label__en",
            "no score is both ≥ 0.6 and < 0.4",
        ),
        (
            "keep_above = 0.6\nmin_score = 0.4",
            "__label__en",
            "min_score is another name for keep_above",
        ),
    ] {
        env.write("bad.toml", spec(keep).replace("__label__en", label));
        let err = env.fail(&["check", "bad.toml"]);
        assert!(err.contains(want), "{keep} {label}: {err}");
        assert!(err.contains("stage 1 (english)"), "{err}");
    }
    assert_eq!(env.json(&["log", "--json"]).as_array().unwrap().len(), 0);
}

#[test]
fn the_score_column_lets_dedup_keep_the_best_scoring_duplicate() {
    let Some(model) = lid176() else { return };
    let env = env_with_model(&model);
    // Exact dedup on `lang` leaves one row per language: of the five English
    // rows, the one lid.176 is surest of (row 16, 0.9958 in Python fastText).
    env.write(
        "p.toml",
        spec("keep_above = 0.01\nscore_column = \"en_score\"") + "\n[[stage]]\nkind = \"dedup\"\nmethod = \"exact\"\ncolumn = \"lang\"\nkeep = { by = \"en_score\", order = \"desc\" }\n",
    );
    let check = env.ok(&["check", "p.toml"]);
    assert!(
        check.contains("add     en_score = the score (Float64)"),
        "{check}"
    );
    let out = env.json(&["run", "p.toml", "--tag", "best", "--json"]);
    let c = &out["stages"][0]["classifier"];
    let kept = out["stages"][0]["rows_out"].as_u64().unwrap();
    assert_eq!(
        c["written"]["rows_changed"], kept,
        "every kept row has a score"
    );
    let rows = env.ok(&[
        "query",
        "SELECT id, round(en_score, 4) AS s FROM best WHERE lang = 'en'",
        "--format",
        "csv",
    ]);
    assert_eq!(rows.lines().skip(1).collect::<Vec<_>>(), ["16,0.9958"]);
    // Row 28 (Italian, 0.0954) kept its score too; the column is in the version's schema.
    let it = env.ok(&[
        "query",
        "SELECT round(en_score, 4) FROM best WHERE id = 28",
        "--format",
        "csv",
    ]);
    assert_eq!(it.lines().nth(1), Some("0.0954"), "{it}");
    let e = env.ok(&["explain", "best", "0"]);
    assert!(
        e.contains("removed by stage 2")
            && e.contains("duplicate (after normalization) of source row 16")
            && e.contains("en_score           \"\" → \"0.96"),
        "{e}"
    );
    // The same spec again is all cache; the score column cannot shadow a column.
    assert_eq!(
        env.json(&["run", "p.toml", "--json"])["stages"][0]["cached"],
        true
    );
    env.write("bad.toml", spec("score_column = \"lang\""));
    let err = env.fail(&["check", "bad.toml"]);
    assert!(
        err.contains("the rows already have a column `lang`"),
        "{err}"
    );
}
