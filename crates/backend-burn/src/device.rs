//! The Burn backend a model runs on, chosen at run time among those compiled in.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::LoadError;

/// A Burn execution backend. Each is a cargo feature of this crate of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BurnBackend {
    /// Burn's pure-Rust CPU backend (`flex`), the one Burn 0.22 recommends.
    Flex,
    /// The ndarray CPU backend (`ndarray`), deprecated upstream in favour of flex.
    NdArray,
    /// The GPU through wgpu (`wgpu`): Vulkan, Metal or DX12; Mesa's lavapipe on GPU-less Linux.
    Wgpu,
}

impl BurnBackend {
    /// Every backend, compiled in or not.
    pub const ALL: [BurnBackend; 3] = [BurnBackend::Flex, BurnBackend::NdArray, BurnBackend::Wgpu];

    /// The name used on the command line and in configuration; also the cargo feature.
    pub fn name(self) -> &'static str {
        match self {
            BurnBackend::Flex => "flex",
            BurnBackend::NdArray => "ndarray",
            BurnBackend::Wgpu => "wgpu",
        }
    }

    /// Whether this build carries the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            BurnBackend::Flex => cfg!(feature = "flex"),
            BurnBackend::NdArray => cfg!(feature = "ndarray"),
            BurnBackend::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// The backends compiled into this build.
    pub fn compiled() -> Vec<BurnBackend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The default: the first compiled CPU backend (flex, then ndarray), else wgpu
    /// ([`ALL`](Self::ALL) is in that order).
    pub fn preferred() -> Option<BurnBackend> {
        Self::ALL.into_iter().find(|b| b.is_compiled())
    }

    /// `choice`, or the [preferred](Self::preferred) backend when there is none.
    pub fn chosen(choice: Option<BurnBackend>) -> Result<BurnBackend, LoadError> {
        choice
            .or_else(Self::preferred)
            .ok_or_else(|| LoadError::Backend("no Burn backend is compiled in; enable flex, ndarray or wgpu".into()))
    }

    /// Opens the device. For wgpu this acquires an adapter now, so a machine without one
    /// is an error here rather than a panic at the first tensor.
    pub fn device(self) -> Result<Device, LoadError> {
        if !self.is_compiled() {
            return Err(LoadError::Backend(format!(
                "the Burn backend {:?} is not compiled into this build; enable the cargo feature \"{}\" of \
                 autobranch-burn (compiled in: {})",
                self.name(),
                self.name(),
                names(&Self::compiled())
            )));
        }
        match self {
            #[cfg(feature = "flex")]
            BurnBackend::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)] // kept on purpose, for users who named it and for comparison
            BurnBackend::NdArray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            BurnBackend::Wgpu => wgpu_device(),
            #[allow(unreachable_patterns)]
            _ => unreachable!("is_compiled checked above"),
        }
    }
}

/// The device and a description of its adapter, from the first (and only) initialisation
/// of the wgpu runtime in this process.
#[cfg(feature = "wgpu")]
fn wgpu_runtime() -> Result<&'static (Device, String), LoadError> {
    use std::sync::OnceLock;
    static RUNTIME: OnceLock<Result<(Device, String), String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let (device, setup) = Device::wgpu_options().init_with_setup().map_err(|e| e.to_string())?;
            let info = setup.adapter.get_info();
            let driver = [info.driver.as_str(), info.driver_info.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let driver = if driver.is_empty() { String::new() } else { format!(", driver {driver}") };
            Ok((device, format!("{} ({:?}, {:?}{driver})", info.name, info.backend, info.device_type)))
        })
        .as_ref()
        .map_err(|e| {
            let cpu = [BurnBackend::Flex, BurnBackend::NdArray]
                .into_iter()
                .filter(|b| b.is_compiled())
                .map(|b| b.name())
                .collect::<Vec<_>>();
            let hint = if cpu.is_empty() {
                "build with the cargo feature \"flex\" for the CPU".to_owned()
            } else {
                format!("use a CPU backend instead ({})", cpu.join(", "))
            };
            LoadError::Backend(format!(
                "no usable GPU adapter for the Burn wgpu backend ({e}); {hint}. On Linux without a GPU, Mesa's \
                 lavapipe (Debian package mesa-vulkan-drivers) provides one"
            ))
        })
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, LoadError> {
    wgpu_runtime().map(|(device, _)| device.clone())
}

/// The adapter the wgpu backend runs on, as "name (graphics API, device type, driver …)",
/// e.g. "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, Cpu, driver llvmpipe Mesa 22.3.6)".
/// Initialises the wgpu runtime if nothing has yet; an error when there is no adapter.
#[cfg(feature = "wgpu")]
pub fn wgpu_adapter() -> Result<String, LoadError> {
    wgpu_runtime().map(|(_, adapter)| adapter.clone())
}

/// Without the `wgpu` feature: the error that names it.
#[cfg(not(feature = "wgpu"))]
pub fn wgpu_adapter() -> Result<String, LoadError> {
    BurnBackend::Wgpu.device().map(|_| String::new())
}

fn names(backends: &[BurnBackend]) -> String {
    if backends.is_empty() { "none".into() } else { backends.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ") }
}

impl fmt::Display for BurnBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BurnBackend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            format!(
                "unknown Burn backend {s:?}; allowed: flex, ndarray, wgpu (compiled in: {})",
                names(&Self::compiled())
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in BurnBackend::ALL {
            assert_eq!(b.name().parse::<BurnBackend>().unwrap(), b);
        }
        let e = "cuda".parse::<BurnBackend>().unwrap_err();
        assert!(e.contains("allowed: flex, ndarray, wgpu"), "{e}");
    }

    #[cfg(feature = "wgpu")]
    #[test]
    fn the_wgpu_adapter_is_described() {
        // Lavapipe ("llvmpipe") on a machine without a GPU.
        let adapter = wgpu_adapter().unwrap();
        let (name, rest) = adapter.split_once(" (").unwrap();
        assert!(!name.is_empty() && rest.ends_with(')'), "{adapter}");
        assert_eq!(wgpu_adapter().unwrap(), adapter, "one runtime per process");
    }

    #[test]
    fn a_backend_not_compiled_names_its_feature() {
        for b in BurnBackend::ALL.into_iter().filter(|b| !b.is_compiled()) {
            let e = b.device().unwrap_err().to_string();
            assert!(e.contains(&format!("cargo feature \"{}\"", b.name())), "{e}");
        }
    }
}
