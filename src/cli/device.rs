use std::process::ExitCode;

use clap::Args;

use super::Global;
use crate::gpu;

pub const EXAMPLES: &str = "\
Examples:
  sift device                       driver, devices, NVRTC, and the GPU `device = \"auto\"` would use
  sift device --compile compute_80  compile the MinHash kernels with NVRTC for an architecture (no GPU needed)";

#[derive(Debug, Args)]
pub struct DeviceArgs {
    /// Compile the kernels with NVRTC for this architecture (`sm_90`, `compute_80`, …) and report.
    #[arg(long, value_name = "ARCH")]
    pub compile: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(_g: &Global, a: DeviceArgs) -> anyhow::Result<ExitCode> {
    if let Some(arch) = &a.compile {
        let ptx = gpu::compile(arch)?;
        let size = ptx.to_src().len();
        if a.json {
            println!("{}", serde_json::json!({"arch": arch, "ptx_bytes": size}));
        } else {
            println!("compiled gpu/minhash.cu for {arch}: {size} bytes of PTX");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let s = gpu::status();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    let yes = |b: bool| if b { "found" } else { "not found" };
    println!("CUDA driver (libcuda)   {}", yes(s.driver));
    if let Some(n) = s.devices {
        println!("devices                 {n}");
    }
    println!("NVRTC (libnvrtc)        {}", yes(s.nvrtc));
    match &s.usable {
        Ok(name) => println!("dedup `device = \"auto\"` uses {name}"),
        Err(why) => println!("dedup `device = \"auto\"` uses the CPU: {why}"),
    }
    Ok(ExitCode::SUCCESS)
}
