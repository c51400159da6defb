//! The GPU path: its kernels' math against the CPU reference, NVRTC
//! compilation, and device selection. Tests that need a GPU, NVRTC or a C++
//! compiler say clearly when they skip; with `SIFT_REQUIRE_GPU=1` (on a GPU
//! machine) a test that would skip for want of a GPU or NVRTC fails instead.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use sift::stage::dedup::minhash::{Permutations, band_hashes};

use super::util::{Env, Rng};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Says why a GPU test skips, or fails when `SIFT_REQUIRE_GPU=1` asks that it run.
fn skip_without_gpu(why: &str) {
    if std::env::var("SIFT_REQUIRE_GPU").is_ok_and(|v| v == "1") {
        panic!("SIFT_REQUIRE_GPU=1, but {why}");
    }
    eprintln!("skipped: {why}");
}

/// `gpu/minhash.cu` built as host C++ (its `SIFT_HOST` harness), or None without a compiler.
fn host_harness(name: &str) -> Option<PathBuf> {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let out = std::env::temp_dir().join(format!("sift-{name}-{}", std::process::id()));
    let status = Command::new(&cxx)
        .args(["-std=c++17", "-O2", "-DSIFT_HOST", "-x", "c++"])
        .arg(format!("{REPO}/gpu/minhash.cu"))
        .arg("-o")
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => Some(out),
        Ok(s) => panic!("gpu/minhash.cu does not build as host C++ ({s})"),
        Err(_) => {
            eprintln!("skipped: no C++ compiler ({cxx}) to build the kernels' host harness");
            None
        }
    }
}

fn run_harness(bin: &PathBuf, input: &str) -> Vec<String> {
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "harness failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn kernel_xxh3_matches_the_cpu_at_every_length_and_seed() {
    let Some(bin) = host_harness("xxh3") else {
        return;
    };
    let mut rng = Rng(99);
    let mut cases: Vec<(u64, Vec<u8>)> = Vec::new();
    for len in (0..=260).chain([511, 512, 1023, 1024, 1025, 2048, 4100, 16384]) {
        for seed in [0, 1, 7, rng.next()] {
            cases.push((seed, (0..len).map(|_| rng.next() as u8).collect()));
        }
    }
    let input: String = cases
        .iter()
        .map(|(seed, bytes)| {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                "x {seed} {}\n",
                if hex.is_empty() { "-".into() } else { hex }
            )
        })
        .collect();
    let got = run_harness(&bin, &input);
    assert_eq!(got.len(), cases.len());
    for ((seed, bytes), line) in cases.iter().zip(got) {
        let want = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, *seed);
        assert_eq!(line, want.to_string(), "len {} seed {seed}", bytes.len());
    }
    let _ = std::fs::remove_file(bin);
}

#[test]
fn kernel_signatures_and_bands_match_the_cpu() {
    let Some(bin) = host_harness("minhash") else {
        return;
    };
    let mut rng = Rng(7);
    for round in 0..12 {
        let k = 1 + rng.below(300) as usize;
        let rows = 1 + rng.below(k as u64) as usize;
        let bands = k / rows;
        let seed = rng.next();
        let docs: Vec<Vec<u64>> = (0..20)
            .map(|d| {
                // Empty and one-shingle documents included.
                let n = match d {
                    0 => 0,
                    1 => 1,
                    _ => rng.below(200) as usize,
                };
                (0..n).map(|_| rng.next()).collect()
            })
            .collect();
        let mut input = format!("m {k} {bands} {rows} {seed} {}\n", docs.len());
        for d in &docs {
            input.push_str(&d.len().to_string());
            for h in d {
                input.push_str(&format!(" {h}"));
            }
            input.push('\n');
        }
        let got = run_harness(&bin, &input);
        let perms = Permutations::new(k, seed);
        for (d, line) in docs.iter().zip(got) {
            let sig = perms.signature(d.iter().copied());
            let mut b = Vec::new();
            band_hashes(&sig, bands, rows, &mut b);
            let want: String = sig
                .iter()
                .map(|v| format!("{v} "))
                .chain(b.iter().map(|v| format!("{v} ")))
                .collect();
            assert_eq!(
                line.trim_end(),
                want.trim_end(),
                "round {round}: k {k}, {bands}×{rows}"
            );
        }
    }
    let _ = std::fs::remove_file(bin);
}

/// The folder holding libnvrtc.so.12: $SIFT_NVRTC_LIB_DIR, or the wheel `.ci/run` installs.
fn nvrtc_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SIFT_NVRTC_LIB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("{REPO}/.ci/nvrtc/nvidia/cuda_nvrtc/lib")));
    dir.join("libnvrtc.so.12").exists().then_some(dir)
}

#[test]
fn kernels_compile_with_nvrtc() {
    let Some(dir) = nvrtc_dir() else {
        skip_without_gpu(
            "NVRTC not found (run .ci/run, which installs the nvidia-cuda-nvrtc-cu12 wheel, or set SIFT_NVRTC_LIB_DIR)",
        );
        return;
    };
    let env = Env::bare();
    for arch in ["compute_80", "sm_90"] {
        let out = Command::new(env!("CARGO_BIN_EXE_sift"))
            .args(["device", "--compile", arch, "--json"])
            .current_dir(env.dir.path())
            .env("LD_LIBRARY_PATH", &dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gpu/minhash.cu does not compile for {arch}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["ptx_bytes"].as_u64().unwrap() > 1000, "{v}");
    }
    // A kernel that does not compile fails with NVRTC's log.
    let out = Command::new(env!("CARGO_BIN_EXE_sift"))
        .args(["device", "--compile", "sm_1"])
        .current_dir(env.dir.path())
        .env("LD_LIBRARY_PATH", &dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not compile"));
}

fn gpu_usable(env: &Env) -> bool {
    let out = env.json(&["device", "--json"]);
    out["usable"].get("Ok").is_some()
}

const DEDUP: &str = "[source]\npath = \"data/d.jsonl\"\n\n[[stage]]\nkind = \"dedup\"\nmethod = \"minhash\"\nverify = \"signature\"\n";

fn corpus(env: &Env) {
    let mut rng = Rng(3);
    let words = [
        "river",
        "stone",
        "light",
        "market",
        "winter",
        "garden",
        "ünïcödé",
        "信号",
        "ß",
    ];
    let mut rows = Vec::new();
    for i in 0..400 {
        let n = rng.below(60) as usize;
        let mut text: Vec<&str> = (0..n).map(|_| words[rng.below(9) as usize]).collect();
        if i % 5 == 0 && !rows.is_empty() {
            text.push("again");
        }
        rows.push(serde_json::json!({"id": i, "text": text.join(" ")}).to_string());
    }
    // Planted near duplicates.
    for i in 0..40 {
        let mut v: serde_json::Value = serde_json::from_str(&rows[i * 3]).unwrap();
        v["id"] = (1000 + i).into();
        rows.push(v.to_string());
    }
    env.write("data/d.jsonl", rows.join("\n") + "\n");
}

#[test]
fn auto_and_cpu_give_one_content_id() {
    let env = Env::new();
    corpus(&env);
    let mut ids = Vec::new();
    for device in ["auto", "cpu", "gpu"] {
        if device == "gpu" && !gpu_usable(&env) {
            skip_without_gpu("no GPU for device = \"gpu\" (parity of auto and cpu still checked)");
            // Without a GPU, `gpu` fails and says what is missing.
            env.write("p.toml", format!("{DEDUP}device = \"gpu\"\n"));
            let err = env.fail(&["run", "p.toml"]);
            assert!(err.contains("the GPU cannot be used"), "{err}");
            assert!(err.contains("caused by:") && err.contains("hint:"), "{err}");
            continue;
        }
        env.write("p.toml", format!("{DEDUP}device = \"{device}\"\n"));
        let out = env.json(&["run", "p.toml", "--json"]);
        let used = out["stages"][0]["dedup"]["device"]
            .as_str()
            .unwrap()
            .to_string();
        if device == "cpu" {
            assert_eq!(used, "cpu");
        }
        ids.push((device, used, out["content_id"].clone()));
    }
    for w in ids.windows(2) {
        assert_eq!(w[0].2, w[1].2, "{:?} vs {:?}", w[0], w[1]);
    }
    // `--device` overrides the spec, and the device is not part of the cache key.
    let again = env.json(&["run", "p.toml", "--device", "cpu", "--json"]);
    assert_eq!(again["stages"][0]["cached"], true);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Random texts (Unicode, empty, shorter than a shingle) and parameters:
    /// GPU signatures and band hashes equal the CPU's, bit for bit.
    #[test]
    fn gpu_signatures_match_the_cpu_bit_for_bit(
        texts in proptest::collection::vec("\\PC{0,120}", 0..60),
        k in 1usize..300,
        rows_frac in 0.0f64..1.0,
        seed in proptest::prelude::any::<u64>(),
        ngram in 1usize..6,
        char_shingles in proptest::prelude::any::<bool>(),
    ) {
        let gpu = match sift::gpu::open() {
            Ok(g) => g,
            Err(e) => {
                skip_without_gpu(&format!("no GPU ({e})"));
                return Ok(());
            }
        };
        use sift::stage::dedup::{Shingle, normalize, shingles};
        let rows = 1 + ((k - 1) as f64 * rows_frac) as usize;
        let bands = k / rows;
        let perms = Permutations::new(k, seed);
        let kind = if char_shingles { Shingle::Char } else { Shingle::Word };
        let mut hashes = Vec::new();
        let mut offsets = vec![0u64];
        let mut docs = Vec::new();
        let mut sh = Vec::new();
        for t in &texts {
            shingles(&normalize(t), kind, ngram, &mut sh);
            hashes.extend_from_slice(&sh);
            offsets.push(hashes.len() as u64);
            docs.push(sh.clone());
        }
        let got = gpu.minhash(&hashes, &offsets, &perms.a, &perms.b, bands, rows, true).unwrap();
        for (i, d) in docs.iter().enumerate() {
            let sig = perms.signature(d.iter().copied());
            let mut b = Vec::new();
            band_hashes(&sig, bands, rows, &mut b);
            proptest::prop_assert_eq!(&got.signatures[i * k..(i + 1) * k], &sig[..]);
            proptest::prop_assert_eq!(&got.bands[i * bands..(i + 1) * bands], &b[..]);
        }
    }
}
