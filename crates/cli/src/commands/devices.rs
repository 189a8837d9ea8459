//! `autobranch devices`: the model backends compiled into this binary, the devices each can
//! see (name, memory, driver), and the one each would run on. `bench --json` records the same
//! report under `machine.devices`.

use serde_json::{Value, json};

use crate::failure::Failure;

/// The report, as JSON: one entry per local backend compiled in, and the server backends.
pub fn report() -> Value {
    json!({
        "llamacpp": llamacpp(),
        "burn": burn(),
        "servers": servers(),
    })
}

#[cfg(feature = "llamacpp")]
fn llamacpp() -> Value {
    let build = autobranch_llamacpp::GPU_BUILD;
    match autobranch_llamacpp::devices() {
        Ok(found) => {
            let gpu = found.iter().find(|d| d.is_gpu());
            let uses = gpu.or_else(|| found.iter().find(|d| d.kind == "cpu")).map(|d| d.name.clone());
            let notice = autobranch_llamacpp::cpu_fallback(&found);
            let mut v = json!({
                "compiled": true,
                "build": build.unwrap_or("CPU"),
                "devices": found,
                "uses": uses,
            });
            if let Some(notice) = notice {
                v["notice"] = json!(notice);
            }
            v
        }
        Err(e) => json!({ "compiled": true, "build": build.unwrap_or("CPU"), "error": e.to_string() }),
    }
}

#[cfg(not(feature = "llamacpp"))]
fn llamacpp() -> Value {
    json!({ "compiled": false, "feature": "llamacpp" })
}

#[cfg(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu"))]
fn burn() -> Value {
    use autobranch_burn::BurnBackend;
    let preferred = BurnBackend::preferred();
    let backends: Vec<Value> = BurnBackend::ALL
        .into_iter()
        .map(|b| {
            let mut v = json!({ "name": b.name(), "compiled": b.is_compiled(), "default": Some(b) == preferred });
            if !b.is_compiled() {
                v["feature"] = json!(format!("burn-{}", b.name()));
            } else if b == BurnBackend::Wgpu {
                match autobranch_burn::wgpu_adapter() {
                    Ok(adapter) => v["device"] = json!(adapter),
                    Err(e) => v["error"] = json!(e.to_string()),
                }
            } else {
                v["device"] = json!("CPU");
            }
            v
        })
        .collect();
    json!({ "compiled": true, "backends": backends })
}

#[cfg(not(any(feature = "burn-flex", feature = "burn-ndarray", feature = "burn-wgpu")))]
fn burn() -> Value {
    json!({ "compiled": false, "feature": "burn-flex" })
}

fn servers() -> Value {
    let compiled: Vec<&str> = [("ollama", cfg!(feature = "ollama")), ("openai", cfg!(feature = "openai"))]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
    json!(compiled)
}

fn gib(bytes: &Value) -> String {
    format!("{:.1} GiB", bytes.as_f64().unwrap_or(0.0) / f64::from(1u32 << 30))
}

/// The report as text, one line per device.
fn text(report: &Value) -> String {
    let mut out = String::new();
    let l = &report["llamacpp"];
    if l["compiled"] == true {
        out.push_str(&format!("llama.cpp ({} build)\n", l["build"].as_str().unwrap_or("CPU")));
        if let Some(e) = l["error"].as_str() {
            out.push_str(&format!("  error: {e}\n"));
        }
        for d in l["devices"].as_array().into_iter().flatten() {
            let name = d["name"].as_str().unwrap_or("");
            let memory = if d["kind"] == "cpu" {
                String::new()
            } else {
                format!(", {} ({} free)", gib(&d["memory_total"]), gib(&d["memory_free"]))
            };
            let used = if l["uses"].as_str() == Some(name) { "  ← runs here" } else { "" };
            out.push_str(&format!(
                "  {name:<8} {} ({}{memory}){used}\n",
                d["description"].as_str().unwrap_or(""),
                d["kind"].as_str().unwrap_or("")
            ));
        }
        if let Some(n) = l["notice"].as_str() {
            out.push_str(&format!("  {n}\n"));
        }
    } else {
        out.push_str("llama.cpp: not compiled in (cargo feature llamacpp)\n");
    }
    let b = &report["burn"];
    if b["compiled"] == true {
        out.push_str("burn\n");
        for backend in b["backends"].as_array().into_iter().flatten() {
            let name = backend["name"].as_str().unwrap_or("");
            let what = if backend["compiled"] != true {
                format!("not compiled in (cargo feature {})", backend["feature"].as_str().unwrap_or(""))
            } else if let Some(e) = backend["error"].as_str() {
                format!("unusable: {e}")
            } else {
                backend["device"].as_str().unwrap_or("").to_owned()
            };
            let default = if backend["default"] == true { "  ← default" } else { "" };
            out.push_str(&format!("  {name:<8} {what}{default}\n"));
        }
    } else {
        out.push_str("burn: not compiled in (cargo feature burn-flex)\n");
    }
    let servers: Vec<&str> = report["servers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if !servers.is_empty() {
        out.push_str(&format!("servers: {} (remote: the server's own devices)\n", servers.join(", ")));
    }
    out
}

/// Runs `autobranch devices`.
pub fn run(json: bool) -> Result<(), Failure> {
    let report = report();
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", text(&report));
    }
    Ok(())
}
