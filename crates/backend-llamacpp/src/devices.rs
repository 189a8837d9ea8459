//! The devices llama.cpp runs on in this build, and how many of a model's layers go to the GPU.

use autobranch_core::ModelError;
use llama_cpp_2::{LlamaBackendDeviceType, list_llama_ggml_backend_devices};
use serde::Serialize;

/// The GPU backend compiled into this build of llama.cpp, if any (cargo features `cuda`,
/// `vulkan`).
pub const GPU_BUILD: Option<&str> = if cfg!(feature = "cuda") {
    Some("CUDA")
} else if cfg!(feature = "vulkan") {
    Some("Vulkan")
} else {
    None
};

/// "Every layer": llama.cpp offloads at most the model's layers (and its output layer).
const ALL_LAYERS: u32 = 999;

/// A device llama.cpp can run on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Device {
    /// llama.cpp's name for it, e.g. "CUDA0" or "CPU".
    pub name: String,
    /// What it is, e.g. "NVIDIA H200".
    pub description: String,
    /// The ggml backend that drives it: "CUDA", "Vulkan", "CPU".
    pub backend: String,
    /// `cpu`, `gpu`, `igpu`, `accel` or `unknown`.
    pub kind: &'static str,
    /// Memory in bytes, in all and free now.
    pub memory_total: u64,
    pub memory_free: u64,
}

impl Device {
    /// A GPU, discrete or integrated.
    pub fn is_gpu(&self) -> bool {
        matches!(self.kind, "gpu" | "igpu")
    }
}

/// Every device llama.cpp finds (initialising it if nothing has yet): the CPU, and the GPUs
/// when this is a GPU build on a machine that has them and a driver for them.
pub fn devices() -> Result<Vec<Device>, ModelError> {
    crate::engine::backend()?;
    Ok(list_llama_ggml_backend_devices()
        .into_iter()
        .map(|d| Device {
            name: d.name,
            description: d.description,
            backend: d.backend,
            kind: match d.device_type {
                LlamaBackendDeviceType::Cpu => "cpu",
                LlamaBackendDeviceType::Gpu => "gpu",
                LlamaBackendDeviceType::IntegratedGpu => "igpu",
                LlamaBackendDeviceType::Accelerator => "accel",
                LlamaBackendDeviceType::Unknown => "unknown",
            },
            memory_total: d.memory_total as u64,
            memory_free: d.memory_free as u64,
        })
        .collect())
}

/// Where a model's layers go.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Offload {
    /// Layers given to the GPU (0: all on the CPU).
    pub layers: u32,
    /// Set when this is a GPU build but the machine offers no GPU, so the model runs on the
    /// CPU: a one-line notice to show the user.
    pub cpu_fallback: Option<String>,
}

/// The offload for `requested` layers (`None`: all when there is a GPU) on the devices found.
/// Asking a CPU-only build for GPU layers is an error that says how to get a GPU build.
pub(crate) fn offload(requested: Option<u32>, found: &[Device]) -> Result<Offload, ModelError> {
    let has_gpu = found.iter().any(Device::is_gpu);
    match (GPU_BUILD, requested) {
        (None, Some(n)) if n > 0 => Err(ModelError::InvalidRequest(format!(
            "gpu_layers {n} needs a GPU build of llama.cpp, and this one runs on the CPU only; build one with \
             `eval \"$(scripts/cuda-toolkit.sh)\" && cargo build --release -p autobranch-cli --features cuda`, or set \
             0 layers"
        ))),
        (None, _) => Ok(Offload { layers: 0, cpu_fallback: None }),
        (Some(_), requested) if has_gpu => Ok(Offload { layers: requested.unwrap_or(ALL_LAYERS), cpu_fallback: None }),
        (Some(_), requested) => {
            Ok(Offload { layers: 0, cpu_fallback: cpu_fallback(found).filter(|_| requested != Some(0)) })
        }
    }
}

/// The one-line notice for a GPU build that finds no GPU among `found` (models then run on
/// the CPU); `None` for a CPU build or when there is a GPU.
pub fn cpu_fallback(found: &[Device]) -> Option<String> {
    let gpu = GPU_BUILD.filter(|_| !found.iter().any(Device::is_gpu))?;
    Some(format!(
        "llama.cpp ({gpu} build) finds no GPU (no NVIDIA driver, or no device it can use); running on the CPU"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(kind: &'static str) -> Device {
        Device {
            name: "X0".into(),
            description: "x".into(),
            backend: "X".into(),
            kind,
            memory_total: 1 << 30,
            memory_free: 1 << 29,
        }
    }

    #[test]
    fn layers_follow_the_build_and_the_devices_found() {
        let cpu_only = [device("cpu")];
        let with_gpu = [device("cpu"), device("gpu")];
        match GPU_BUILD {
            None => {
                assert_eq!(offload(None, &cpu_only).unwrap(), Offload { layers: 0, cpu_fallback: None });
                assert_eq!(offload(Some(0), &cpu_only).unwrap().layers, 0);
                let e = offload(Some(12), &cpu_only).unwrap_err().to_string();
                assert!(e.contains("gpu_layers 12 needs a GPU build") && e.contains("--features cuda"), "{e}");
            }
            Some(gpu) => {
                assert_eq!(offload(None, &with_gpu).unwrap().layers, ALL_LAYERS);
                assert_eq!(offload(Some(7), &with_gpu).unwrap().layers, 7);
                let fallback = offload(None, &cpu_only).unwrap();
                assert_eq!(fallback.layers, 0);
                let notice = fallback.cpu_fallback.unwrap();
                assert!(notice.contains(&format!("({gpu} build) finds no GPU")) && !notice.contains('\n'), "{notice}");
                assert_eq!(offload(Some(0), &cpu_only).unwrap().cpu_fallback, None, "0 layers asked for the CPU");
            }
        }
    }

    #[test]
    fn this_machine_lists_the_cpu() {
        let found = devices().unwrap();
        assert!(found.iter().any(|d| d.kind == "cpu"), "{found:?}");
        if GPU_BUILD.is_none() {
            assert!(!found.iter().any(Device::is_gpu), "a CPU build lists no GPU: {found:?}");
        }
    }
}
