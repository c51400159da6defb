//! Python's view of an export: `datasets.load_dataset(DIR)` reads it with
//! the split its dataset card names. Needs `datasets` in `.ci/venv` (which
//! `.ci/run` installs); skips, saying so, without it.

use super::util::Env;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn python() -> Option<String> {
    let py = format!("{REPO}/.ci/venv/bin/python");
    let ok = std::process::Command::new(&py)
        .args(["-c", "import datasets"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

#[test]
fn load_dataset_reads_an_export_with_its_card() {
    let Some(py) = python() else {
        eprintln!("skipped: no `datasets` in .ci/venv (run .ci/run to install it)");
        return;
    };
    let env = Env::new();
    let run = env.json(&["run", &format!("{REPO}/pipelines/pii.toml"), "--json"]);
    for format in ["parquet", "jsonl"] {
        let dir = format!("out-{format}");
        env.ok(&[
            "export",
            "forum-redacted",
            "--to",
            &dir,
            "--format",
            format,
            "--max-file-size",
            "64KiB",
        ]);
        let script = "import datasets, json, sys\n\
            d = datasets.load_dataset(sys.argv[1])\n\
            b = datasets.load_dataset_builder(sys.argv[1])\n\
            t = d['train']\n\
            print(json.dumps({'splits': list(d), 'rows': t.num_rows, 'card_rows': b.info.splits['train'].num_examples, \
            'features': {k: str(v) for k, v in t.features.items()}, 'redacted': sum('<EMAIL>' in x for x in t['text'])}))";
        let out = std::process::Command::new(&py)
            .args(["-c", script, &env.path(&dir).display().to_string()])
            .env("HF_DATASETS_OFFLINE", "1")
            .env("HF_HOME", env.path("hf"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(v["splits"], serde_json::json!(["train"]), "{format}");
        assert_eq!(v["rows"], run["rows"], "{format}");
        assert_eq!(v["card_rows"], run["rows"], "{format}");
        assert_eq!(v["features"]["id"], "Value('int64')", "{format}: {v}");
        assert!(v["redacted"].as_u64().unwrap() > 0, "{format}");
    }
    // Several files: pandas reads the directory, datasets a glob, and both see every row once.
    let files = std::fs::read_dir(env.path("out-parquet/data"))
        .unwrap()
        .count();
    assert!(files > 2, "{files} files");
    let script = "import datasets, pandas, sys\n\
        d = sys.argv[1]\n\
        p = pandas.read_parquet(d + '/data')\n\
        g = datasets.load_dataset('parquet', data_files=d + '/data/train-*.parquet')['train']\n\
        print(len(p), p['id'].nunique(), g.num_rows, sorted(p['id']) == sorted(g['id']))";
    let out = std::process::Command::new(&py)
        .args(["-c", script, &env.path("out-parquet").display().to_string()])
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HOME", env.path("hf"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = run["rows"].as_u64().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().last().unwrap(),
        format!("{rows} {rows} {rows} True")
    );
}
