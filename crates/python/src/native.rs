//! `autobranch.native`: the whole job in-process. Generators and embedders are loaded by the
//! CLI's own wiring (`autobranch_cli::backends`: the same default models, flags' meanings and
//! errors), configurations by the core's loader, and results leave as the CLI's JSON, turned
//! into plain Python objects. Model work runs with the GIL released.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use autobranch_cli::args::{EmbedderArgs, GeneratorArgs};
use autobranch_cli::backends::{self, Choice};
use autobranch_cli::commands::{explore as explore_cmd, generate as generate_cmd, select as select_cmd};
use autobranch_cli::failure::Failure;
use autobranch_core::explore::Explorer as CoreExplorer;
use autobranch_core::model::{ChatMessage, GenerationRequest, Prompt, Role};
use autobranch_core::{Config, Embedder as CoreEmbedder, Generator as CoreGenerator};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

/// The runtime the backends' async APIs run on (llama.cpp and Burn keep their own threads).
fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the async runtime: {e}")))
}

/// The CLI's failure classes as Python exceptions: bad input is a `ValueError`, a failure
/// while running a `RuntimeError`; the message is the CLI's.
fn failure(f: Failure) -> PyErr {
    match f {
        Failure::BadInput(e) => PyValueError::new_err(format!("{e:#}")),
        Failure::Runtime(e) => PyRuntimeError::new_err(format!("{e:#}")),
    }
}

/// A configuration: `None` (defaults and `AUTOBRANCH_*` overrides), a file path, or a dict in
/// a configuration file's shape.
fn load_config(config: Option<&Bound<'_, PyAny>>) -> PyResult<Config> {
    let Some(config) = config.filter(|c| !c.is_none()) else {
        return Config::load(None).map_err(|e| PyValueError::new_err(e.to_string()));
    };
    if config.is_instance_of::<PyDict>() {
        return Config::from_value(&from_python(config)?).map_err(|e| PyValueError::new_err(e.to_string()));
    }
    let path: PathBuf = config.extract().map_err(|_| {
        PyValueError::new_err(
            "config must be None, a dict of configuration sections, or a path to a YAML, JSON or TOML file",
        )
    })?;
    Config::load(Some(&path)).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Python objects from JSON.
fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// JSON from Python objects (dicts, lists, strings, numbers, booleans, None).
fn from_python(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let text: String = obj.py().import("json")?.call_method1("dumps", (obj,))?.extract()?;
    serde_json::from_str(&text).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// An embedding model: `embed(texts)` returns one unit vector (a list of floats) per text, so
/// it is an `EmbeddingProvider` for the compatibility layer as well.
#[pyclass(name = "Embedder", module = "autobranch.native", frozen)]
pub struct Embedder {
    inner: Arc<dyn CoreEmbedder>,
}

#[pymethods]
impl Embedder {
    /// `backend`: burn (default where compiled in), llamacpp, ollama or openai; `model`: a
    /// path for local backends (default: the fetched all-MiniLM-L6-v2), a name for servers;
    /// `device`: flex, ndarray or wgpu for burn; `config`: its `embedding` section is used.
    #[new]
    #[pyo3(signature = (backend=None, model=None, device=None, config=None))]
    fn new(
        py: Python<'_>,
        backend: Option<String>,
        model: Option<String>,
        device: Option<String>,
        config: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let config = load_config(config)?;
        let args = EmbedderArgs { embedder: backend, embed_model: model, embed_device: device };
        let rt = runtime()?;
        let inner = py.detach(|| {
            let choice = Choice::embedder(&args, config.embedding.as_ref());
            rt.block_on(backends::embedder(&choice))
        });
        Ok(Self { inner: Arc::from(inner.map_err(failure)?) })
    }

    /// One vector per text.
    fn embed(&self, py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<Vec<f32>>> {
        let rt = runtime()?;
        let inner = Arc::clone(&self.inner);
        let vectors = py.detach(|| rt.block_on(inner.embed(&texts)));
        Ok(vectors.map_err(|e| failure(autobranch_cli::failure::model_failure(e)))?.to_rows())
    }

    /// The model's path or name.
    #[getter]
    fn model_id(&self) -> String {
        self.inner.model_id().to_owned()
    }

    /// Vector length.
    #[getter]
    fn dimension(&self) -> usize {
        self.inner.dim()
    }

    fn __repr__(&self) -> String {
        format!("Embedder(model_id={:?}, dimension={})", self.inner.model_id(), self.inner.dim())
    }
}

/// A generation model: `generate(prompt, n=...)` returns `n` candidates.
#[pyclass(name = "Generator", module = "autobranch.native", frozen)]
pub struct Generator {
    inner: Arc<dyn CoreGenerator>,
    config: Config,
}

#[pymethods]
impl Generator {
    /// `backend`: llamacpp (default), burn, ollama or openai; `model`: a GGUF path for local
    /// backends (default: the fetched SmolLM2-135M-Instruct), a name for servers; `device`:
    /// flex, ndarray or wgpu for burn; `config`: its `generator` and `generation` sections.
    #[new]
    #[pyo3(signature = (backend=None, model=None, device=None, config=None))]
    fn new(
        py: Python<'_>,
        backend: Option<String>,
        model: Option<String>,
        device: Option<String>,
        config: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let config = load_config(config)?;
        let args = GeneratorArgs { generator: backend, model, device, ..GeneratorArgs::default() };
        let choice = Choice::generator(&args, config.generator.as_ref());
        let inner = py.detach(|| backends::generator(&choice, false, config.explore.n)).map_err(failure)?;
        Ok(Self { inner: Arc::from(inner), config })
    }

    /// `n` candidates of `prompt` (a chat turn, or raw text with `raw=True`), each a dict:
    /// id, text, tokens, logprob_mean, finish_reason. Unset sampling values come from the
    /// configuration's `generation` section.
    #[pyo3(signature = (prompt, n=4, *, max_tokens=None, temperature=None, top_p=None, seed=None, stop=None, system=None, raw=false))]
    #[allow(clippy::too_many_arguments)]
    fn generate<'py>(
        &self,
        py: Python<'py>,
        prompt: String,
        n: usize,
        max_tokens: Option<u32>,
        temperature: Option<f32>,
        top_p: Option<f32>,
        seed: Option<u64>,
        stop: Option<Vec<String>>,
        system: Option<String>,
        raw: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        if n == 0 {
            return Err(PyValueError::new_err("n = 0 is out of range; allowed: an integer ≥ 1"));
        }
        let mut sampling = self.config.generation.clone();
        if let Some(v) = max_tokens {
            sampling.max_tokens = v;
        }
        if let Some(v) = temperature {
            sampling.temperature = v;
        }
        if let Some(v) = top_p {
            sampling.top_p = v;
        }
        if let Some(v) = seed {
            sampling.seed = v;
        }
        if let Some(s) = stop {
            sampling.stop = s;
        }
        sampling.validate().map_err(|e| PyValueError::new_err(e.to_string()))?;
        let prompt = if raw {
            Prompt::Text(prompt)
        } else {
            let mut messages = Vec::new();
            if let Some(s) = system.or_else(|| self.config.system.clone()) {
                messages.push(ChatMessage::new(Role::System, s));
            }
            messages.push(ChatMessage::new(Role::User, prompt));
            Prompt::Chat(messages)
        };
        let request = GenerationRequest { prompt, n, sampling };
        let rt = runtime()?;
        let inner = Arc::clone(&self.inner);
        let generation = py
            .detach(|| rt.block_on(inner.generate(&request)))
            .map_err(|e| failure(autobranch_cli::failure::model_failure(e)))?;
        to_python(py, &generate_cmd::candidates_json(&generation))
    }

    /// The model's path or name.
    #[getter]
    fn model_id(&self) -> String {
        self.inner.model_id().to_owned()
    }

    fn __repr__(&self) -> String {
        format!("Generator(model_id={:?})", self.inner.model_id())
    }
}

/// The main job: a branching tree from a prompt, as `autobranch explore --json` prints it.
#[pyclass(name = "Explorer", module = "autobranch.native", frozen)]
pub struct Explorer {
    generator: Arc<dyn CoreGenerator>,
    embedder: Option<Arc<dyn CoreEmbedder>>,
    config: Config,
}

#[pymethods]
impl Explorer {
    /// `config`: None, a dict or a file path (explore.n, explore.max_depth, beam.k, novelty,
    /// entropy, budget, generation, …); `generator`, `embedder`: loaded ones, else those the
    /// configuration names (else the defaults, the embedder only when a stage needs one).
    #[new]
    #[pyo3(signature = (config=None, generator=None, embedder=None))]
    fn new(
        py: Python<'_>,
        config: Option<&Bound<'_, PyAny>>,
        generator: Option<PyRef<'_, Generator>>,
        embedder: Option<PyRef<'_, Embedder>>,
    ) -> PyResult<Self> {
        let config = load_config(config)?;
        // What was not given is loaded as `autobranch explore` loads it.
        let generator = match generator {
            Some(g) => Arc::clone(&g.inner),
            None => {
                let choice = Choice::generator(&GeneratorArgs::default(), config.generator.as_ref());
                Arc::from(py.detach(|| backends::generator(&choice, false, config.explore.n)).map_err(failure)?)
            }
        };
        let embedder = match embedder {
            Some(e) => Some(Arc::clone(&e.inner)),
            None => {
                let rt = runtime()?;
                let loaded = py.detach(|| rt.block_on(backends::embedder_if_needed(&config, &EmbedderArgs::default())));
                loaded.map_err(failure)?.map(Arc::from)
            }
        };
        Ok(Self { generator, embedder, config })
    }

    /// Explores from `prompt` and returns the tree (nodes, stop reason, stats, config).
    fn explore<'py>(&self, py: Python<'py>, prompt: String) -> PyResult<Bound<'py, PyAny>> {
        let rt = runtime()?;
        let tree = py.detach(|| {
            rt.block_on(async {
                let mut explorer =
                    CoreExplorer::new(self.generator.as_ref(), self.embedder.as_deref(), self.config.clone());
                let mut state = explorer.start(&prompt);
                explorer.run(&mut state, None).await.map_err(explore_cmd::classify)?;
                explore_cmd::tree_json(&state, explorer.config())
            })
        });
        to_python(py, &tree.map_err(failure)?)
    }
}

/// One selection step, as `autobranch select --json` prints it. `parent` and each candidate
/// are dicts: id, text, and optionally meta and embedding (all or none of them); without
/// embeddings, `embedder` embeds the texts when a stage needs vectors.
#[pyfunction]
#[pyo3(signature = (parent, candidates, config=None, embedder=None))]
pub fn select<'py>(
    py: Python<'py>,
    parent: &Bound<'py, PyAny>,
    candidates: &Bound<'py, PyAny>,
    config: Option<&Bound<'py, PyAny>>,
    embedder: Option<PyRef<'py, Embedder>>,
) -> PyResult<Bound<'py, PyAny>> {
    let config = load_config(config)?;
    let parent_line: select_cmd::Line =
        serde_json::from_value(from_python(parent)?).map_err(|e| PyValueError::new_err(format!("parent: {e}")))?;
    let mut lines = vec![(1, parent_line.into_parent())];
    for (i, c) in candidates.try_iter()?.enumerate() {
        let line: select_cmd::Line = serde_json::from_value(from_python(&c?)?)
            .map_err(|e| PyValueError::new_err(format!("candidates[{i}]: {e}")))?;
        lines.push((i + 2, line));
    }
    let input = select_cmd::input_from_lines(lines, "select").map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
    let embedder = embedder.map(|e| Arc::clone(&e.inner));
    let rt = runtime()?;
    let result = py.detach(|| rt.block_on(select_cmd::step(&config, input, embedder.as_deref(), "select")));
    to_python(py, &select_cmd::to_json(&result.map_err(failure)?))
}

/// Branch points of `text` (lists, "or" choices, if/then/else), each a dict in the shape of
/// `autobranch detect --json`.
#[pyfunction]
pub fn extract_branch_points<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let points = autobranch_core::detect::BranchExtractor.extract(text);
    to_python(py, &serde_json::to_value(points).map_err(|e| PyRuntimeError::new_err(e.to_string()))?)
}
