//! The spine: import, versions, tags, reading, export.

use super::util::{Env, jsonl_rows, lines};

#[test]
fn importing_the_same_file_twice_gives_one_content_id_and_no_new_shards() {
    let env = Env::new();
    env.write("a.jsonl", lines(&jsonl_rows(1, 0, 2000)));
    let first = env.import("a.jsonl", &["--shard-size", "16KiB", "--tag", "raw"]);
    let objects = env.objects();
    let second = env.import("a.jsonl", &["--shard-size", "16KiB"]);
    assert_eq!(first["content_id"], second["content_id"]);
    assert_ne!(
        first["version"], second["version"],
        "a new version (new time) with the same content"
    );
    assert_eq!(second["new_bytes"], 0, "no new shard or sidecar bytes");
    let added: Vec<_> = env.objects().difference(&objects).cloned().collect();
    assert_eq!(added.len(), 1, "only the new manifest is stored: {added:?}");
    assert!(
        first["shards"].as_u64().unwrap() > 5,
        "small shard size gives several shards"
    );
}

#[test]
fn one_and_two_threads_write_identical_bytes() {
    let rows = lines(&jsonl_rows(2, 0, 3000));
    let mut shard_lists = Vec::new();
    let mut object_sets = Vec::new();
    for threads in ["1", "2"] {
        let env = Env::new();
        env.write("a.jsonl", &rows);
        env.ok(&[
            "import",
            "a.jsonl",
            "--shard-size",
            "8KiB",
            "--threads",
            threads,
            "--tag",
            "raw",
        ]);
        shard_lists.push(env.shards("raw"));
        // Everything but the manifest (which records the time) is identical.
        let manifest = env.json(&["show", "raw", "--json"])["id"]
            .as_str()
            .unwrap()
            .to_string();
        object_sets.push(
            env.objects()
                .into_iter()
                .filter(|o| !manifest.ends_with(o.as_str()))
                .collect::<Vec<_>>(),
        );
    }
    assert!(shard_lists[0].len() > 10);
    assert_eq!(shard_lists[0], shard_lists[1]);
    assert_eq!(object_sets[0], object_sets[1]);
}

fn stored(v: &serde_json::Value, key: &str) -> f64 {
    v[key].as_f64().unwrap()
}

#[test]
fn content_defined_shards_keep_reimports_cheap() {
    let env = Env::new();
    let base = jsonl_rows(3, 0, 6000);
    env.write("base.jsonl", lines(&base));
    let b = env.import("base.jsonl", &["--shard-size", "8KiB", "--tag", "base"]);
    let base_stored = stored(&b, "stored_bytes");
    let base_shards = env.shards("base");
    let max_shard = base_shards
        .iter()
        .map(|s| {
            std::fs::metadata(super::util::object_path(&env.store(), s))
                .unwrap()
                .len()
        })
        .max()
        .unwrap() as f64;

    // Append 1%: at most the new rows' bytes plus one shard.
    let extra = jsonl_rows(4, 6000, 60);
    let mut appended = base.clone();
    appended.extend(extra.iter().cloned());
    env.write("appended.jsonl", lines(&appended));
    let a = env.import("appended.jsonl", &["--shard-size", "8KiB"]);
    let new_rows_share = base_stored * 60.0 / 6000.0;
    assert!(
        stored(&a, "new_bytes") <= new_rows_share * 1.5 + max_shard * 1.2,
        "append added {} bytes (new rows ≈ {new_rows_share}, max shard {max_shard})",
        a["new_bytes"]
    );

    // Insert a 1% block in the middle: at most 5% new bytes.
    let mut inserted = base.clone();
    let block = jsonl_rows(5, 7000, 60);
    inserted.splice(3000..3000, block.iter().cloned());
    env.write("inserted.jsonl", lines(&inserted));
    let i = env.import("inserted.jsonl", &["--shard-size", "8KiB"]);
    assert!(
        stored(&i, "new_bytes") <= 0.05 * base_stored,
        "insert added {} of {base_stored}",
        i["new_bytes"]
    );

    // Delete a 1% block from the middle: at most 5% new bytes.
    let mut deleted = base.clone();
    deleted.drain(2000..2060);
    env.write("deleted.jsonl", lines(&deleted));
    let d = env.import("deleted.jsonl", &["--shard-size", "8KiB"]);
    assert!(
        stored(&d, "new_bytes") <= 0.05 * base_stored,
        "delete added {} of {base_stored}",
        d["new_bytes"]
    );
}

#[test]
fn export_then_reimport_keeps_the_content_id_and_the_rows() {
    let env = Env::new();
    let rows = jsonl_rows(6, 0, 1500);
    env.write("a.jsonl", lines(&rows));
    let v = env.import("a.jsonl", &["--tag", "raw", "--shard-size", "16KiB"]);
    let out = env.ok(&["export", "raw", "--to", "out"]);
    assert!(out.contains("train-00000-of-00001.parquet"), "{out}");
    let back = env.import("out/data/train-00000-of-00001.parquet", &[]);
    assert_eq!(v["content_id"], back["content_id"]);

    // The exported Parquet, read with arrow-rs, holds exactly the input rows.
    let file = std::fs::File::open(env.path("out/data/train-00000-of-00001.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
        for b in reader {
            w.write(&b.unwrap()).unwrap();
        }
        w.finish().unwrap();
    }
    let got: Vec<serde_json::Value> = String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want: Vec<serde_json::Value> = rows
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got, want);

    // JSONL export round-trips too.
    env.ok(&["export", "raw", "--to", "outj", "--format", "jsonl"]);
    let j = env.import("outj/data/train-00000-of-00001.jsonl", &[]);
    assert_eq!(v["content_id"], j["content_id"]);
    // An export never overwrites silently.
    let err = env.fail(&["export", "raw", "--to", "out"]);
    assert!(
        err.contains("already holds files") && err.contains("--force"),
        "{err}"
    );
}

#[test]
fn csv_gz_and_zst_inputs_import_with_the_same_content() {
    let env = Env::new();
    let rows = jsonl_rows(7, 0, 300);
    let text = lines(&rows);
    env.write("a.jsonl", &text);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
    env.write("a.jsonl.gz", gz.finish().unwrap());
    env.write("a.jsonl.zst", zstd::encode_all(text.as_bytes(), 3).unwrap());
    let plain = env.import("a.jsonl", &[]);
    assert_eq!(
        env.import("a.jsonl.gz", &[])["content_id"],
        plain["content_id"]
    );
    assert_eq!(
        env.import("a.jsonl.zst", &[])["content_id"],
        plain["content_id"]
    );

    env.write(
        "t.csv",
        "id,name,score\n1,ada,3.5\n2,grace,4.0\n3,\"linus, jr\",2.25\n",
    );
    let c = env.import("t.csv", &["--tag", "t"]);
    assert_eq!(c["rows"], 3);
    let out = env.ok(&["cat", "t", "--format", "jsonl"]);
    assert!(out.contains(r#""name":"linus, jr""#), "{out}");
}

#[test]
fn log_show_tags_cat_and_query() {
    let env = Env::new();
    env.write("a.jsonl", lines(&jsonl_rows(8, 0, 500)));
    env.write("b.jsonl", lines(&jsonl_rows(9, 0, 200)));
    let a = env.import("a.jsonl", &["--tag", "raw", "-m", "first crawl"]);
    let b = env.import("b.jsonl", &["-m", "second"]);
    let log = env.ok(&["log"]);
    let (first, second) = (
        log.find("second").unwrap(),
        log.find("first crawl").unwrap(),
    );
    assert!(first < second, "newest first:\n{log}");
    assert!(log.contains("raw"), "{log}");

    // Tag by id prefix, move, delete.
    let b_id = b["version"].as_str().unwrap();
    env.ok(&["tag", "v2", &b_id[..10]]);
    let tags = env.json(&["tags", "--json"]);
    assert_eq!(tags.as_array().unwrap().len(), 2);
    let moved = env.ok(&["tag", "v2", "raw"]);
    assert!(moved.contains("moved"), "{moved}");
    env.ok(&["tag", "--delete", "v2"]);
    assert!(env.fail(&["show", "v2"]).contains("unknown ref 'v2'"));

    let show = env.json(&["show", "raw", "--json"]);
    assert_eq!(show["content_id"], a["content_id"]);
    assert_eq!(show["stats"]["rows"], 500);
    assert_eq!(show["lineage"]["inputs"][0], "a.jsonl");

    let cat = env.ok(&["cat", "raw", "--limit", "3"]);
    assert_eq!(cat.lines().count(), 3);
    assert!(cat.starts_with(r#"{"id":0,"#), "{cat}");

    let q = env.ok(&["query", "SELECT count(*) AS n FROM raw", "--format", "csv"]);
    assert_eq!(q, "n\n500\n");
    let q = env.ok(&[
        "query",
        "SELECT source, count(*) AS n FROM raw GROUP BY source ORDER BY source",
    ]);
    assert!(q.contains("| forum") && q.contains("| web"), "{q}");
}

#[test]
fn refs_resolve_and_unknown_ones_suggest_tags() {
    let env = Env::new();
    env.write("a.jsonl", lines(&jsonl_rows(10, 0, 50)));
    env.import("a.jsonl", &["--tag", "release-2024"]);
    let err = env.fail(&["show", "release-2042"]);
    assert!(
        err.contains("unknown ref 'release-2042'") && err.contains("did you mean: release-2024"),
        "{err}"
    );
    let err = env.fail(&["tag", "../escape", "release-2024"]);
    assert!(err.contains("invalid tag name"), "{err}");
    let err = env.fail(&["import", "a.jsonl", "--tag", "a/b"]);
    assert!(err.contains("invalid tag name"), "{err}");
}

#[test]
fn a_missing_store_says_so_and_hints_at_init() {
    let env = Env::bare();
    let err = env.fail(&["log"]);
    assert!(
        err.contains("no sift store at") && err.contains("sift init"),
        "{err}"
    );
    env.ok(&["init"]);
    assert!(env.fail(&["init"]).contains("already exists"));
    assert!(env.ok(&["log"]).contains("no versions yet"));
}

#[test]
fn exports_split_by_size_and_carry_their_provenance() {
    let env = Env::new();
    env.write("a.jsonl", lines(&jsonl_rows(21, 0, 3000)));
    let v = env.import("a.jsonl", &["--tag", "raw"]);
    env.ok(&["export", "raw", "--to", "out", "--max-file-size", "64KiB"]);
    let mut files: Vec<_> = std::fs::read_dir(env.path("out/data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 3, "several files: {files:?}");
    let n = files.len();
    let mut rows = 0;
    for (i, f) in files.iter().enumerate() {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(name, format!("train-{i:05}-of-{n:05}.parquet"));
        let reader =
            parquet::file::reader::SerializedFileReader::new(std::fs::File::open(f).unwrap())
                .unwrap();
        use parquet::file::reader::FileReader;
        let meta = reader.metadata().file_metadata();
        rows += meta.num_rows();
        let kv: std::collections::HashMap<String, String> = meta
            .key_value_metadata()
            .unwrap()
            .iter()
            .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
            .collect();
        assert_eq!(kv["sift.version_id"], v["version"].as_str().unwrap());
        assert_eq!(kv["sift.content_id"], v["content_id"].as_str().unwrap());
        assert_eq!(kv["sift.sift_version"], env!("CARGO_PKG_VERSION"));
    }
    assert_eq!(rows, 3000);
    // The files read back as the same version.
    let mut args = vec!["import".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.push("--json".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(env.json(&args)["content_id"], v["content_id"]);
}

#[test]
fn show_counts_nulls_from_the_shard_footers() {
    let env = Env::new();
    env.write(
        "n.jsonl",
        "{\"id\":1,\"a\":null,\"t\":[\"x\"]}\n{\"id\":2,\"a\":\"y\",\"t\":null}\n{\"id\":3,\"a\":null,\"t\":[\"z\"]}\n",
    );
    env.import("n.jsonl", &["--tag", "raw"]);
    let m = env.json(&["show", "raw", "--json"]);
    assert_eq!(m["nulls"]["id"]["nulls"], 0);
    assert_eq!(m["nulls"]["a"]["nulls"], 2);
    assert_eq!(m["nulls"]["a"]["exact"], true);
    assert!(m["nulls"]["t"].is_null(), "a list column is not counted");
    // Under a selection the shard's count bounds the version's.
    env.write(
        "p.toml",
        "[source]\nversion = \"raw\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"id > 1\"\n\n[output]\ntag = \"f\"\ncompact_below = 0\n",
    );
    env.ok(&["run", "p.toml"]);
    let text = env.ok(&["show", "f"]);
    assert!(text.contains("≤ 2"), "{text}");
}

#[test]
fn an_export_carries_a_dataset_card_that_describes_it() {
    let env = Env::new();
    let spec = format!("{}/pipelines/language.toml", env!("CARGO_MANIFEST_DIR"));
    let run = env.json(&["run", &spec, "--json"]);
    env.ok(&["export", "en-de", "--to", "out", "--max-file-size", "1KiB"]);
    let card = std::fs::read_to_string(env.path("out/README.md")).unwrap();
    let front = card
        .strip_prefix("---\n")
        .and_then(|c| c.split_once("\n---\n"))
        .expect("YAML front matter")
        .0;
    let y: serde_json::Value = serde_yaml_ng::from_str(front).unwrap();
    assert_eq!(y["configs"][0]["data_files"][0]["split"], "train");
    assert_eq!(
        y["configs"][0]["data_files"][0]["path"],
        "data/train-*.parquet"
    );
    let info = &y["dataset_info"];
    assert_eq!(info["splits"][0]["num_examples"], run["rows"]);
    let features: Vec<(String, String)> = info["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().into(),
                f["dtype"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        features,
        [
            ("id".to_string(), "int64".to_string()),
            ("lang".into(), "string".into()),
            ("text".into(), "string".into())
        ]
    );
    let files: u64 = std::fs::read_dir(env.path("out/data"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(info["download_size"], files);
    // The languages the language stage kept, and the lineage below.
    assert_eq!(y["language"], serde_json::json!(["de", "en"]));
    assert!(card.contains(run["content_id"].as_str().unwrap()), "{card}");
    assert!(
        card.contains("| en-de | language | 40 | 9 | other_language 30, low_score 1 |"),
        "{card}"
    );
    // A README.md that sift did not write is left alone.
    env.write("mine/README.md", "# my notes\n");
    let err = env.fail(&["export", "en-de", "--to", "mine"]);
    assert!(
        err.contains("was not written by sift") && err.contains("--no-card"),
        "{err}"
    );
    env.ok(&["export", "en-de", "--to", "mine", "--no-card"]);
    assert_eq!(
        std::fs::read_to_string(env.path("mine/README.md")).unwrap(),
        "# my notes\n"
    );
    // Its own card it replaces.
    env.ok(&["export", "en-de", "--to", "out", "--force"]);
}
