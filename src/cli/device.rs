use std::process::ExitCode;

use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;

use super::printer::{Printer, say};

use super::Global;
use crate::gpu;

pub const EXAMPLES: &str = "\
Examples:
  # the driver, devices, NVRTC, and the GPU `device = \"auto\"` would use
  sift device
  # compile the MinHash kernels with NVRTC for an architecture (no GPU needed)
  sift device --compile compute_80
  # signatures per second on all CPU cores and on the GPU, and their parity
  sift device --bench --docs 1000000";

#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// Compile the kernels with NVRTC for this architecture (`sm_90`, `compute_80`, …) and report.
    #[arg(long, value_name = "ARCH")]
    pub compile: Option<String>,
    /// Time MinHash (128 permutations, bands for threshold 0.8) on the CPU and, if usable, the GPU.
    #[arg(long)]
    pub bench: bool,
    /// --bench: documents (random shingle hashes).
    #[arg(long, default_value_t = 200_000)]
    pub docs: usize,
    /// --bench: shingles per document.
    #[arg(long, default_value_t = 256)]
    pub shingles: usize,
    /// Print the status or the compile as JSON (--bench always prints JSON).
    #[arg(long)]
    pub json: bool,
}

/// What `sift device --json` prints: the status, a compile, or a benchmark.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum DeviceOutput {
    Status(gpu::Status),
    Compiled(Compiled),
    Bench(Bench),
}

/// `--compile ARCH`: the PTX NVRTC made.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Compiled {
    pub arch: String,
    pub ptx_bytes: usize,
}

/// `--bench`: MinHash throughput on the CPU and, if usable, the GPU.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Bench {
    pub docs: usize,
    pub shingles_per_doc: usize,
    pub permutations: usize,
    pub bands: usize,
    pub rows: usize,
    pub results: Vec<BenchResult>,
    /// Whether the GPU's band hashes equal the CPU's (absent without a GPU).
    pub gpu_bands_identical_to_cpu: Option<bool>,
}

/// One device's throughput.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BenchResult {
    pub device: String,
    pub seconds: f64,
    pub signatures_per_s: f64,
    pub shingles_per_s: f64,
    pub permuted_values_per_s: f64,
    pub hash_input_gb_per_s: f64,
    pub text_gb_per_s_at_6_bytes_per_shingle: f64,
}

pub fn run(g: &Global, a: DeviceArgs) -> anyhow::Result<ExitCode> {
    let pr = Printer::new(a.json);
    if a.bench {
        return bench(g, &a);
    }
    if let Some(arch) = &a.compile {
        let ptx = gpu::compile(arch)?;
        let size = ptx.to_src().len();
        let c = DeviceOutput::Compiled(Compiled {
            arch: arch.clone(),
            ptx_bytes: size,
        });
        pr.emit(&c, |_| {
            format!("compiled gpu/minhash.cu for {arch}: {size} bytes of PTX\n")
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let s = gpu::status();
    if pr.is_json() {
        pr.json(&DeviceOutput::Status(s))?;
        return Ok(ExitCode::SUCCESS);
    }
    let yes = |b: bool| if b { "found" } else { "not found" };
    say!(pr, "CUDA driver (libcuda)   {}", yes(s.driver));
    if let Some(n) = s.devices {
        say!(pr, "devices                 {n}");
    }
    say!(pr, "NVRTC (libnvrtc)        {}", yes(s.nvrtc));
    match &s.usable {
        Ok(name) => say!(pr, "dedup `device = \"auto\"` uses {name}"),
        Err(why) => say!(pr, "dedup `device = \"auto\"` uses the CPU: {why}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Times signatures + band hashes over random shingle hashes, CPU (all threads) then GPU.
fn bench(g: &Global, a: &DeviceArgs) -> anyhow::Result<ExitCode> {
    // The benchmark's report is JSON either way.
    let pr = Printer::new(true);
    use crate::stage::dedup::minhash::{Permutations, band_hashes, optimal_params, splitmix64};
    use std::time::Instant;
    let (k, docs, per) = (128usize, a.docs.max(1), a.shingles.max(1));
    let (bands, rows) = optimal_params(0.8 * crate::stage::dedup::EXACT_VERIFY_LSH_FACTOR, k);
    let perms = Permutations::new(k, 1);
    let mut state = 42u64;
    let hashes: Vec<u64> = (0..docs * per).map(|_| splitmix64(&mut state)).collect();
    let offsets: Vec<u64> = (0..=docs).map(|d| (d * per) as u64).collect();
    let threads = g.threads();
    let start = Instant::now();
    let chunk = docs.div_ceil(threads);
    let cpu: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (hashes, perms) = (&hashes, &perms);
                s.spawn(move || {
                    let mut out = Vec::new();
                    for d in (t * chunk)..((t + 1) * chunk).min(docs) {
                        let sig = perms.signature_of(&hashes[d * per..(d + 1) * per]);
                        band_hashes(&sig, bands, rows, &mut out);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    });
    let cpu_s = start.elapsed().as_secs_f64();
    let report = |name: &str, secs: f64| {
        let shingles = (docs * per) as f64;
        BenchResult {
            device: name.to_string(),
            seconds: secs,
            signatures_per_s: docs as f64 / secs,
            shingles_per_s: shingles / secs,
            permuted_values_per_s: shingles * k as f64 / secs,
            hash_input_gb_per_s: shingles * 8.0 / secs / 1e9,
            text_gb_per_s_at_6_bytes_per_shingle: shingles * 6.0 / secs / 1e9,
        }
    };
    let mut results = vec![report(&format!("cpu ({threads} threads)"), cpu_s)];
    let mut parity = None;
    match gpu::open() {
        Ok(dev) => {
            // Warm up (module load, allocations), then time.
            dev.minhash(
                &hashes[..per],
                &offsets[..2],
                &perms.a,
                &perms.b,
                bands,
                rows,
                false,
            )?;
            let start = Instant::now();
            let out = dev.minhash(&hashes, &offsets, &perms.a, &perms.b, bands, rows, false)?;
            let gpu_s = start.elapsed().as_secs_f64();
            parity = Some(out.bands == cpu);
            results.push(report(&dev.name, gpu_s));
        }
        Err(e) => eprintln!("no GPU: {e}"),
    }
    pr.json(&DeviceOutput::Bench(Bench {
        docs,
        shingles_per_doc: per,
        permutations: k,
        bands,
        rows,
        results,
        gpu_bands_identical_to_cpu: parity,
    }))?;
    Ok(if parity == Some(false) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
