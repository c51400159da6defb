//! The GPU path of MinHash, on cudarc.
//!
//! ```text
//! host: normalize, shingle, xxh3 each shingle ─▶ flat hashes + offsets ─▶ pinned buffer
//!   └▶ per-thread stream: upload ─▶ minhash_signatures ─▶ minhash_bands ─▶ download
//! ```
//!
//! The CUDA driver and NVRTC are loaded at run time (cudarc's dynamic
//! loading), so sift builds and runs where neither is installed. cudarc
//! panics when a library is missing, so every entry point first checks that
//! both libraries load, and the calls run under `catch_unwind` besides. The
//! kernels (`gpu/minhash.cu`, embedded) are compiled once per process by
//! NVRTC for the device's own architecture. Worker threads each submit on
//! their own stream, so one thread's transfers overlap another's kernels.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use cudarc::driver::{CudaContext, CudaFunction, LaunchConfig, PinnedHostSlice, PushKernelArg};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kernels' source, compiled at run time.
pub const KERNELS: &str = include_str!("../../gpu/minhash.cu");

/// Where a dedup stage computes MinHash.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A GPU when the driver, a device and NVRTC are present; else the CPU.
    #[default]
    Auto,
    Cpu,
    /// A GPU, or fail saying what is missing.
    Gpu,
}

/// Why the GPU cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GpuError {
    #[error("no CUDA driver library (libcuda.so) could be loaded")]
    NoDriver,
    #[error("the CUDA driver reports no GPU")]
    NoDevice,
    #[error(
        "no NVRTC library (libnvrtc.so) could be loaded; sift compiles its kernels with it at run time"
    )]
    NoNvrtc,
    #[error("CUDA error: {0}")]
    Driver(String),
    #[error("the MinHash kernels did not compile for {arch}:\n{log}")]
    Compile { arch: String, log: String },
}

impl GpuError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            GpuError::NoDriver | GpuError::NoDevice => {
                "install the NVIDIA driver, or run on the CPU: `--device cpu` or device = \"cpu\"".into()
            }
            GpuError::NoNvrtc => "install the CUDA runtime compiler (e.g. `pip install nvidia-cuda-nvrtc-cu12`) and put its lib/ folder on LD_LIBRARY_PATH, or use `--device cpu`".into(),
            _ => return None,
        })
    }
}

fn driver_err(e: impl std::fmt::Debug) -> GpuError {
    GpuError::Driver(format!("{e:?}"))
}

/// Runs `f`, turning a panic inside cudarc into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, GpuError>) -> Result<T, GpuError> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(GpuError::Driver("the CUDA bindings panicked".into())))
}

/// Does the CUDA driver library load?
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the library by its usual names.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// Does the NVRTC library load?
pub fn nvrtc_present() -> bool {
    // SAFETY: as above.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Compiles the kernels for `arch` (`sm_90`, `compute_80`, …) and returns the PTX's size.
pub fn compile(arch: &str) -> Result<cudarc::nvrtc::Ptx, GpuError> {
    if !nvrtc_present() {
        return Err(GpuError::NoNvrtc);
    }
    let arch_static: &'static str = Box::leak(arch.to_string().into_boxed_str());
    guarded(|| {
        cudarc::nvrtc::compile_ptx_with_opts(
            KERNELS,
            cudarc::nvrtc::CompileOptions {
                arch: Some(arch_static),
                name: Some("minhash.cu".into()),
                ..Default::default()
            },
        )
        .map_err(|e| GpuError::Compile {
            arch: arch.to_string(),
            log: match e {
                cudarc::nvrtc::CompileError::CompileError { log, .. } => {
                    log.to_string_lossy().into_owned()
                }
                other => format!("{other:?}"),
            },
        })
    })
}

/// An opened GPU with the kernels loaded.
pub struct Gpu {
    ctx: Arc<CudaContext>,
    signatures: CudaFunction,
    bands: CudaFunction,
    /// `NVIDIA H100 80GB HBM3 (sm_90)`.
    pub name: String,
}

/// The process's GPU, opened on first use.
pub fn open() -> Result<&'static Gpu, GpuError> {
    static GPU: OnceLock<Result<Gpu, GpuError>> = OnceLock::new();
    GPU.get_or_init(|| guarded(open_device))
        .as_ref()
        .map_err(Clone::clone)
}

fn open_device() -> Result<Gpu, GpuError> {
    if !driver_present() {
        return Err(GpuError::NoDriver);
    }
    let count = CudaContext::device_count().map_err(driver_err)?;
    if count < 1 {
        return Err(GpuError::NoDevice);
    }
    if !nvrtc_present() {
        return Err(GpuError::NoNvrtc);
    }
    let ctx = CudaContext::new(0).map_err(driver_err)?;
    let (major, minor) = ctx.compute_capability().map_err(driver_err)?;
    let arch = format!("sm_{major}{minor}");
    let ptx = compile(&arch)?;
    let module = ctx.load_module(ptx).map_err(driver_err)?;
    let name = format!("{} ({arch})", ctx.name().map_err(driver_err)?);
    Ok(Gpu {
        signatures: module
            .load_function("minhash_signatures")
            .map_err(driver_err)?,
        bands: module.load_function("minhash_bands").map_err(driver_err)?,
        ctx,
        name,
    })
}

thread_local! {
    /// Each worker thread's pinned upload buffer, grown as needed.
    static PINNED: RefCell<Option<PinnedHostSlice<u64>>> = const { RefCell::new(None) };
}

/// Signatures and band hashes of one batch of documents.
pub struct Batch {
    /// `docs × K` signature values (empty unless asked for).
    pub signatures: Vec<u32>,
    /// `docs × bands` band hashes.
    pub bands: Vec<u64>,
}

impl Gpu {
    /// MinHash of documents whose shingle hashes are `hashes[offsets[d]..offsets[d + 1]]`.
    // Plain buffers and sizes, as the kernel launch takes them.
    #[allow(clippy::too_many_arguments)]
    pub fn minhash(
        &self,
        hashes: &[u64],
        offsets: &[u64],
        a: &[u64],
        b: &[u64],
        bands: usize,
        rows: usize,
        want_signatures: bool,
    ) -> Result<Batch, GpuError> {
        guarded(|| self.minhash_inner(hashes, offsets, a, b, bands, rows, want_signatures))
    }

    #[allow(clippy::too_many_arguments)]
    fn minhash_inner(
        &self,
        hashes: &[u64],
        offsets: &[u64],
        a: &[u64],
        b: &[u64],
        bands: usize,
        rows: usize,
        want_signatures: bool,
    ) -> Result<Batch, GpuError> {
        let docs = offsets.len().saturating_sub(1);
        let k = a.len();
        if docs == 0 {
            return Ok(Batch {
                signatures: vec![],
                bands: vec![],
            });
        }
        // Launches sized to a share of the free memory (several threads submit at once).
        let (free, _) = self.ctx.mem_get_info().map_err(driver_err)?;
        let budget = (free / 8).max(64 << 20) as u64;
        let per_doc = (k * 4 + bands * 8 + 8) as u64;
        let mut out = Batch {
            signatures: Vec::with_capacity(if want_signatures { docs * k } else { 0 }),
            bands: Vec::with_capacity(docs * bands),
        };
        let stream = self.ctx.per_thread_stream();
        let d_a = stream.clone_htod(a).map_err(driver_err)?;
        let d_b = stream.clone_htod(b).map_err(driver_err)?;
        let mut start = 0;
        while start < docs {
            // As many documents as fit the budget (at least one).
            let mut end = start + 1;
            while end < docs
                && (offsets[end + 1] - offsets[start]) * 8 + (end + 1 - start) as u64 * per_doc
                    <= budget
            {
                end += 1;
            }
            let (lo, hi) = (offsets[start] as usize, offsets[end] as usize);
            let n = end - start;
            let local: Vec<u64> = offsets[start..=end]
                .iter()
                .map(|o| o - offsets[start])
                .collect();
            let mut d_hashes = stream
                .alloc_zeros::<u64>((hi - lo).max(1))
                .map_err(driver_err)?;
            PINNED.with(|cell| -> Result<(), GpuError> {
                let mut slot = cell.borrow_mut();
                if slot.as_ref().is_none_or(|p| p.len() < hi - lo) {
                    // SAFETY: the buffer is written before it is read.
                    *slot = Some(
                        unsafe { self.ctx.alloc_pinned::<u64>((hi - lo).max(1 << 16)) }
                            .map_err(driver_err)?,
                    );
                }
                let pinned = slot.as_mut().expect("just allocated");
                pinned.as_mut_slice().map_err(driver_err)?[..hi - lo]
                    .copy_from_slice(&hashes[lo..hi]);
                stream
                    .memcpy_htod(pinned, &mut d_hashes)
                    .map_err(driver_err)
            })?;
            let d_offsets = stream.clone_htod(&local).map_err(driver_err)?;
            let mut d_sigs = stream.alloc_zeros::<u32>(n * k).map_err(driver_err)?;
            let mut d_bands = stream
                .alloc_zeros::<u64>((n * bands).max(1))
                .map_err(driver_err)?;
            let (n32, k32) = (n as u32, k as u32);
            let threads = (k32.div_ceil(32) * 32).min(256);
            let mut launch = stream.launch_builder(&self.signatures);
            launch
                .arg(&d_hashes)
                .arg(&d_offsets)
                .arg(&n32)
                .arg(&d_a)
                .arg(&d_b)
                .arg(&k32)
                .arg(&mut d_sigs);
            // SAFETY: argument types and order match `minhash_signatures`.
            unsafe {
                launch.launch(LaunchConfig {
                    grid_dim: (n32, 1, 1),
                    block_dim: (threads, 1, 1),
                    shared_mem_bytes: 0,
                })
            }
            .map_err(driver_err)?;
            let (b32, r32) = (bands as u32, rows as u32);
            let total = n32 * b32;
            let mut launch = stream.launch_builder(&self.bands);
            launch
                .arg(&d_sigs)
                .arg(&n32)
                .arg(&k32)
                .arg(&b32)
                .arg(&r32)
                .arg(&mut d_bands);
            // SAFETY: argument types and order match `minhash_bands`.
            unsafe {
                launch.launch(LaunchConfig {
                    grid_dim: (total.div_ceil(256).max(1), 1, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                })
            }
            .map_err(driver_err)?;
            if want_signatures {
                out.signatures
                    .extend(stream.clone_dtoh(&d_sigs).map_err(driver_err)?);
            }
            let b = stream.clone_dtoh(&d_bands).map_err(driver_err)?;
            stream.synchronize().map_err(driver_err)?;
            out.bands.extend_from_slice(&b[..n * bands]);
            start = end;
        }
        Ok(out)
    }
}

/// What `sift device` reports.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Status {
    pub driver: bool,
    pub devices: Option<i32>,
    pub nvrtc: bool,
    /// The device `auto` would use, or why none.
    pub usable: Result<String, String>,
}

/// Probes the machine without panicking.
pub fn status() -> Status {
    let driver = driver_present();
    let devices = if driver {
        guarded(|| CudaContext::device_count().map_err(driver_err)).ok()
    } else {
        None
    };
    Status {
        driver,
        devices,
        nvrtc: nvrtc_present(),
        usable: open().map(|g| g.name.clone()).map_err(|e| e.to_string()),
    }
}
