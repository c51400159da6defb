//! Hostile input: arbitrary bytes into the spec parser, the readers and the
//! object decoders give an error, never a panic.

use std::path::Path;

use proptest::prelude::*;
use sift::store::ObjectId;

const SPEC: &str = "[source]\npath = \"data/*.jsonl\"\n\n[[stage]]\nkind = \"filter\"\nwhere = \"word_count(text) > 3\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"minhash\"\nthreshold = 0.8\n\n[[stage]]\nkind = \"balance\"\nlabel = \"source\"\nstrategy = \"cap\"\nmax_per_class = 5\n\n[output]\ntag = \"x\"\n";

const JSONL: &str = "{\"id\": 1, \"text\": \"a b c\", \"tags\": [\"x\"], \"meta\": {\"k\": 1.5}}\n{\"id\": 2, \"text\": null, \"tags\": [], \"meta\": {\"k\": null}}\n";

/// `base` with a few bytes overwritten, inserted or removed.
fn mutate(base: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut out = base.to_vec();
    for &(at, op, byte) in edits {
        let at = if out.is_empty() { 0 } else { at % out.len() };
        match op % 3 {
            0 if !out.is_empty() => out[at] = byte,
            1 => out.insert(at, byte),
            _ if !out.is_empty() => {
                out.remove(at);
            }
            _ => {}
        }
    }
    out
}

fn read_all(path: &Path) {
    if let Ok(src) = sift::source::Source::open(&[path.to_path_buf()], None, None) {
        for b in src.batches() {
            if b.is_err() {
                break;
            }
        }
    }
}

fn decode_everything(bytes: &[u8]) {
    let id = ObjectId::of(bytes);
    let _ = sift::version::decode_selection(&id, bytes);
    let _ = sift::version::decode_repeats(&id, bytes);
    let _ = sift::store::shard::decode_sidecar(&id, bytes);
    let _ = sift::version::selection::SelectionSet::decode(&id, bytes);
    let _ = sift::stage::dedup::decode_details(&id, bytes);
    let _ = sift::stage::balance::decode_details(&id, bytes);
    if let Ok(m) = serde_json::from_slice::<sift::version::Manifest>(bytes) {
        let _ = m.arrow_schema();
        let _ = m.objects();
    }
}

/// Cases per property: 64 in CI; `SIFT_FUZZ_CASES=100000 cargo test fuzz` for a long run.
fn cases() -> u32 {
    std::env::var("SIFT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn spec_parser_survives_mutations(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..8)) {
        let text = String::from_utf8_lossy(&mutate(SPEC.as_bytes(), &edits)).into_owned();
        for name in ["p.toml", "p.yaml"] {
            let _ = sift::spec::parse_str(Path::new(name), text.clone());
        }
    }

    #[test]
    fn spec_parser_survives_arbitrary_text(text in ".{0,300}") {
        for name in ["p.toml", "p.yaml"] {
            let _ = sift::spec::parse_str(Path::new(name), text.clone());
        }
    }

    #[test]
    fn readers_survive_arbitrary_and_mutated_files(
        raw in prop::collection::vec(any::<u8>(), 0..400),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mutated = mutate(JSONL.as_bytes(), &edits);
        let csv = mutate(b"id,text,score\n1,hello,0.5\n2,\"quoted, text\",\n", &edits);
        for (name, bytes) in [
            ("a.jsonl", &raw),
            ("b.jsonl", &mutated),
            ("c.csv", &raw),
            ("d.csv", &csv),
            ("e.parquet", &raw),
            ("f.jsonl.gz", &raw),
            ("g.jsonl.zst", &raw),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            read_all(&path);
        }
    }

    #[test]
    fn object_decoders_survive_arbitrary_bytes(raw in prop::collection::vec(any::<u8>(), 0..300)) {
        decode_everything(&raw);
        for magic in [&b"SIFTSEL1"[..], b"SIFTREP1", b"SIFTFP01", b"SIFTSET1", b"SIFTDUP1", b"SIFTBAL1"] {
            let mut b = magic.to_vec();
            b.extend_from_slice(&raw);
            decode_everything(&b);
        }
    }
}

#[test]
fn mutated_manifests_are_refused_or_read_without_panic() {
    let env = super::util::Env::new();
    env.write("a.jsonl", JSONL);
    let v = env.import("a.jsonl", &[]);
    let id = v["version"].as_str().unwrap().to_string();
    let manifest = std::fs::read(super::util::object_path(&env.store(), &id)).unwrap();
    let mut rng = super::util::Rng(5);
    for _ in 0..cases() * 4 {
        let edits: Vec<(usize, u8, u8)> = (0..1 + rng.below(4))
            .map(|_| (rng.next() as usize, rng.next() as u8, rng.next() as u8))
            .collect();
        decode_everything(&mutate(&manifest, &edits));
    }
}
