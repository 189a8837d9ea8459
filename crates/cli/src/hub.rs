//! Models from the Hugging Face Hub: `hf:ORG/REPO[@REVISION][/FILE]`, through the `hf-hub`
//! crate, into the hub's standard cache (`snapshots/COMMIT/FILE` → `blobs/ETAG`), where
//! `huggingface_hub`, sentence-transformers and llama.cpp find the same files.
//!
//! The environment is read as `huggingface_hub` reads it: `HF_HUB_CACHE` (else
//! `HF_HOME/hub`, else `~/.cache/huggingface/hub`), `HF_ENDPOINT`, `HF_TOKEN` (else the token
//! file `huggingface-cli login` writes), `HF_HUB_OFFLINE=1` (the cache only). A model flag
//! uses the cache when it holds the file, without asking the hub; `autobranch models fetch`
//! always asks it for the revision's newest commit. Every download is checked against the
//! checksum the hub gives (SHA-256 for large files, the git blob SHA-1 for small ones) and
//! resumes from the `.part` file an interrupted one left.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use hf_hub::api::sync::{Api, ApiBuilder, ApiError, ApiRepo};
use hf_hub::{Cache, CacheRepo, Repo, RepoType};
use sha2::Digest;

use crate::failure::Failure;

/// The prefix that marks a model as the hub's.
pub const PREFIX: &str = "hf:";

/// The hub's address when `HF_ENDPOINT` is not set.
const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// A model on the hub: a repository at a revision, and a file in it (a GGUF) or not (a
/// sentence-transformers folder).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// `ORG/REPO`.
    pub repo: String,
    /// A branch, tag or commit; `main` when not given.
    pub revision: String,
    /// A file's path in the repository.
    pub file: Option<String>,
}

/// What a model flag needs from the hub.
#[derive(Clone, Copy, PartialEq)]
pub enum Want {
    /// One file, such as a GGUF.
    File,
    /// A sentence-transformers folder: its weights, configuration and tokenizer.
    Folder,
}

impl Spec {
    /// Reads `hf:ORG/REPO[@REVISION][/FILE]`; `None` when `text` does not start with `hf:`.
    pub fn parse(text: &str) -> Option<Result<Spec, Failure>> {
        let rest = text.strip_prefix(PREFIX)?;
        Some(Self::parse_rest(rest).map_err(|why| {
            Failure::BadInput(anyhow!("model {text:?}: {why}; write hf:ORG/REPO[@REVISION][/FILE], as hf:sentence-transformers/all-MiniLM-L6-v2 or hf:ORG/REPO/model.Q4_K_M.gguf"))
        }))
    }

    fn parse_rest(rest: &str) -> Result<Spec, String> {
        let mut parts = rest.splitn(3, '/');
        let org = parts.next().unwrap_or_default();
        let name_rev = parts.next().ok_or("no repository name after the owner")?;
        let file = parts.next();
        let (name, revision) = match name_rev.split_once('@') {
            Some((name, revision)) => (name, revision),
            None => (name_rev, "main"),
        };
        for (what, part) in [("owner", org), ("repository name", name)] {
            check_name(part).map_err(|why| format!("the {what} {part:?} {why}"))?;
        }
        if revision.is_empty() || !revision.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(format!(
                "the revision {revision:?} is not a branch, tag or commit (letters, digits, '-', '_', '.')"
            ));
        }
        let file = match file {
            None | Some("") => None,
            Some(file) => Some(check_file(file).map_err(|why| format!("the file {file:?} {why}"))?.to_owned()),
        };
        Ok(Spec { repo: format!("{org}/{name}"), revision: revision.to_owned(), file })
    }

    /// The spec as a user writes it.
    pub fn shown(&self) -> String {
        let revision = if self.revision == "main" { String::new() } else { format!("@{}", self.revision) };
        let file = self.file.as_deref().map(|f| format!("/{f}")).unwrap_or_default();
        format!("{PREFIX}{}{revision}{file}", self.repo)
    }

    fn hub_repo(&self) -> Repo {
        Repo::with_revision(self.repo.clone(), RepoType::Model, self.revision.clone())
    }
}

/// The hub's rule for owner and repository names.
fn check_name(name: &str) -> Result<(), &'static str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || name.len() > 96 {
        Err("must be 1 to 96 characters")
    } else if !name.chars().all(allowed) {
        Err("may hold only letters, digits, '-', '_' and '.'")
    } else if name.starts_with(['-', '.']) || name.ends_with(['-', '.']) || name.contains("--") || name.contains("..") {
        Err("may not start or end with '-' or '.', nor hold '--' or '..'")
    } else {
        Ok(())
    }
}

/// A path in a repository, as the cache will hold it under `snapshots/COMMIT/`: relative,
/// without `.` or `..` parts (the hub's own listings are checked the same way).
fn check_file(file: &str) -> Result<&str, &'static str> {
    let parts_ok = file.split('/').all(|p| !p.is_empty() && p != "." && p != "..");
    if !parts_ok || file.contains(['\\', '\0']) {
        Err("is not a relative path in the repository (no empty, '.' or '..' parts, no '\\')")
    } else {
        Ok(file)
    }
}

/// The cache, the hub's address and credentials, from the environment.
pub struct Hub {
    cache: PathBuf,
    endpoint: String,
    token: Option<String>,
    offline: bool,
}

impl Hub {
    /// Reads `HF_HUB_CACHE`, `HF_HOME`, `HF_ENDPOINT`, `HF_TOKEN`, `HF_TOKEN_PATH` and
    /// `HF_HUB_OFFLINE` as `huggingface_hub` does.
    pub fn from_env() -> Result<Hub, Failure> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HF_HOME").unwrap_or_else(|| {
            let cache = var("XDG_CACHE_HOME")
                .unwrap_or_else(|| var("HOME").unwrap_or_else(|| PathBuf::from(".")).join(".cache"));
            cache.join("huggingface")
        });
        let cache = var("HF_HUB_CACHE").unwrap_or_else(|| home.join("hub"));
        // hf-hub links blobs by relative paths computed from absolute ones.
        let cache = std::path::absolute(&cache)
            .map_err(|e| Failure::BadInput(anyhow!("the hub cache {} is not a usable path: {e}", cache.display())))?;
        let token = match std::env::var("HF_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
            Some(token) => Some(token.trim().to_owned()),
            None => {
                let path = var("HF_TOKEN_PATH").unwrap_or_else(|| home.join("token"));
                std::fs::read_to_string(path).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
            }
        };
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned())
            .trim_end_matches('/')
            .to_owned();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(Failure::BadInput(anyhow!("HF_ENDPOINT {endpoint:?} is not an http:// or https:// address")));
        }
        let offline = std::env::var("HF_HUB_OFFLINE")
            .is_ok_and(|v| ["1", "on", "yes", "true"].contains(&v.trim().to_ascii_lowercase().as_str()));
        Ok(Hub { cache, endpoint, token, offline })
    }

    /// The cache folder (`HF_HUB_CACHE`).
    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    /// The local path of a model flag's `spec`: from the cache when it holds the model, else
    /// downloaded (unless offline). `flag` names the flag in errors.
    pub fn resolve(&self, flag: &str, spec: &Spec, want: Want) -> Result<PathBuf, Failure> {
        check_want(flag, spec, want)?;
        if let Some(path) = self.cached(spec) {
            return Ok(path);
        }
        if self.offline {
            return Err(Failure::BadInput(anyhow!(
                "{flag} {}: not in the hub cache {} and HF_HUB_OFFLINE is set, so the hub is not asked; \
                 fetch it where the hub is reachable with `autobranch models fetch {}`",
                spec.shown(),
                self.cache.display(),
                spec.shown()
            )));
        }
        self.download(spec)
    }

    /// `autobranch models fetch hf:…`: asks the hub for the revision's newest commit and
    /// downloads what the cache lacks; offline, the cached model. Returns its local path.
    pub fn fetch(&self, spec: &Spec) -> Result<PathBuf, Failure> {
        if self.offline {
            return self.cached(spec).ok_or_else(|| {
                Failure::BadInput(anyhow!(
                    "{}: not in the hub cache {} and HF_HUB_OFFLINE is set; unset it to download",
                    spec.shown(),
                    self.cache.display()
                ))
            });
        }
        self.download(spec)
    }

    /// The cached file, or the cached folder when its weights are there (a folder's
    /// weights are downloaded last, so they mean the rest is there too); the hub is not asked.
    pub fn cached(&self, spec: &Spec) -> Option<PathBuf> {
        let repo = self.cache_repo(spec);
        let commit = if is_hex(&spec.revision, 40) {
            spec.revision.clone()
        } else {
            let refs = self.cache.join(spec.hub_repo().folder_name()).join("refs").join(&spec.revision);
            std::fs::read_to_string(refs).ok()?.trim().to_owned()
        };
        let snapshot = repo.pointer_path(&commit);
        let path = match &spec.file {
            Some(file) => snapshot.join(file),
            None => snapshot.join(FOLDER_WEIGHTS),
        };
        // `is_file` follows the link to the blob: a dangling link is not a cached model.
        path.is_file().then(|| if spec.file.is_some() { path } else { snapshot })
    }

    fn cache_repo(&self, spec: &Spec) -> CacheRepo {
        Cache::new(self.cache.clone()).repo(spec.hub_repo())
    }

    fn api(&self) -> Result<Api, Failure> {
        ApiBuilder::from_cache(Cache::new(self.cache.clone()))
            .with_endpoint(self.endpoint.clone())
            .with_token(self.token.clone())
            .with_progress(false)
            .with_retries(3)
            .with_user_agent("autobranch", env!("CARGO_PKG_VERSION"))
            .build()
            .map_err(|e| Failure::Runtime(anyhow!("cannot set up the hub client: {e}")))
    }

    /// Downloads the file, or the folder's files (listed by the hub), into the cache.
    fn download(&self, spec: &Spec) -> Result<PathBuf, Failure> {
        let api = self.api()?;
        let remote = api.repo(spec.hub_repo());
        let cache = self.cache_repo(spec);
        if let Some(file) = &spec.file {
            return self.download_file(&api, &remote, &cache, spec, file, None);
        }
        let info = remote.info().map_err(|e| self.failure(spec, None, e))?;
        let listed: Vec<&str> = info.siblings.iter().map(|s| s.rfilename.as_str()).collect();
        let mut files: Vec<&str> = listed.iter().copied().filter(|f| folder_file(f)).collect();
        if !files.contains(&FOLDER_WEIGHTS) {
            let weights: Vec<&str> =
                listed.iter().copied().filter(|f| f.ends_with(".bin") || f.ends_with(".gguf")).collect();
            let hint = match weights.as_slice() {
                [] => String::new(),
                names => format!(" (it has {})", names.join(", ")),
            };
            return Err(Failure::BadInput(anyhow!(
                "{} has no {FOLDER_WEIGHTS}{hint}; the burn embedder reads a sentence-transformers folder with safetensors weights",
                spec.shown()
            )));
        }
        // The weights come last: the cache holding them means the folder is complete.
        files.sort_by_key(|f| *f == FOLDER_WEIGHTS);
        let mut weights = PathBuf::new();
        for file in files {
            weights = self.download_file(&api, &remote, &cache, spec, file, Some(&info.sha))?;
        }
        Ok(weights.parent().map(Path::to_path_buf).unwrap_or(weights))
    }

    /// One file into the cache: a blob the cache already holds is linked, not fetched
    /// again; a new one is checked against the hub's checksum. `commit`, when given, is the
    /// commit the folder's listing came from, which every file must come from too.
    fn download_file(
        &self,
        api: &Api,
        remote: &ApiRepo,
        cache: &CacheRepo,
        spec: &Spec,
        file: &str,
        commit: Option<&str>,
    ) -> Result<PathBuf, Failure> {
        let shown = format!("{}{}", spec.shown(), if spec.file.is_some() { String::new() } else { format!("/{file}") });
        let metadata =
            self.guarded(&shown, || api.metadata(&remote.url(file))).map_err(|e| self.failure(spec, Some(file), e))?;
        let bad_answer =
            |what: String| Failure::Runtime(anyhow!("the hub at {} answered {shown} with {what}", self.endpoint));
        let etag = metadata.etag();
        let checksum = Checksum::from_etag(etag).ok_or_else(|| {
            bad_answer(format!(
                "an ETag that is no checksum ({etag:?}); autobranch keeps only files it can check (SHA-256 or git SHA-1)"
            ))
        })?;
        let found = metadata.commit_hash();
        if !is_hex(found, 40) {
            return Err(bad_answer(format!("a commit that is no git hash ({found:?})")));
        }
        if commit.is_some_and(|c| c != found) {
            return Err(Failure::Runtime(anyhow!(
                "{} changed on the hub while it was being fetched (commit {} then {found}); fetch it again",
                spec.shown(),
                commit.unwrap_or_default()
            )));
        }
        let blob = cache.blob_path(etag);
        let pointer = cache.pointer_path(found).join(file);
        if blob.is_file() {
            link(&blob, &pointer).map_err(|e| self.io_failure(&pointer, e))?;
            cache.create_ref(found).map_err(|e| self.io_failure(&self.cache, e))?;
            return Ok(pointer);
        }
        let downloaded = if std::io::stderr().is_terminal() {
            self.guarded(&shown, || remote.download_with_progress(file, indicatif::ProgressBar::new(0)))
        } else {
            self.guarded(&shown, || remote.download_with_progress(file, ()))
        };
        let pointer = downloaded.map_err(|e| self.failure(spec, Some(file), e))?;
        if let Err(failure) = checksum.verify(&blob) {
            // A blob that fails its check is never left for a later run to trust.
            let _ = std::fs::remove_file(&pointer);
            let _ = std::fs::remove_file(&blob);
            return Err(Failure::Runtime(anyhow!("{shown}: {failure}; the download was removed, fetch it again")));
        }
        Ok(pointer)
    }

    /// Runs an hf-hub call, turning the panics it keeps for a server that breaks HTTP (a
    /// redirect without a location) into an error.
    fn guarded<T>(&self, shown: &str, call: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_or_else(|_| {
            Err(ApiError::IoError(std::io::Error::other(format!(
                "the hub at {} broke HTTP answering {shown}",
                self.endpoint
            ))))
        })
    }

    fn io_failure(&self, path: &Path, e: std::io::Error) -> Failure {
        Failure::Runtime(anyhow!("cannot write the hub cache at {}: {e}", path.display()))
    }

    /// An hf-hub error, said in terms of the spec: what is missing or refused is bad
    /// input; a hub that cannot be reached is a runtime failure that points to the cache.
    fn failure(&self, spec: &Spec, file: Option<&str>, e: ApiError) -> Failure {
        let shown = match (file, &spec.file) {
            (Some(file), None) => format!("{}/{file}", spec.shown()),
            _ => spec.shown(),
        };
        let status = match &e {
            ApiError::RequestError(request) => match request.as_ref() {
                ureq::Error::StatusCode(code) => Some(*code),
                _ => None,
            },
            _ => None,
        };
        match status {
            Some(code @ (401 | 403)) => {
                let why = if self.token.is_some() {
                    "the token (HF_TOKEN or the token file) cannot read it"
                } else {
                    "it is private or gated; set HF_TOKEN to a token that can read it"
                };
                Failure::BadInput(anyhow!("{shown}: the hub at {} refused access (HTTP {code}): {why}", self.endpoint))
            }
            Some(404) => Failure::BadInput(anyhow!(
                "{shown}: not found on the hub at {} (HTTP 404): check the repository, revision and file names",
                self.endpoint
            )),
            Some(code) => Failure::Runtime(anyhow!("{shown}: the hub at {} answered HTTP {code}", self.endpoint)),
            None => match e {
                ApiError::RequestError(request) => Failure::Runtime(anyhow!(
                    "{shown}: cannot reach the hub at {}: {request}; a model already in the cache ({}) is used without it, \
                     and HF_HUB_OFFLINE=1 never asks it",
                    self.endpoint,
                    self.cache.display()
                )),
                e => Failure::Runtime(anyhow!("{shown}: {e}")),
            },
        }
    }
}

/// The weights of a sentence-transformers folder.
const FOLDER_WEIGHTS: &str = "model.safetensors";

/// The files of a sentence-transformers folder the embedders read: the weights and the JSON
/// files at the top (configuration, tokenizer, modules) and in its module folders
/// (`1_Pooling/config.json`); not the ONNX, OpenVINO, PyTorch or TensorFlow copies.
fn folder_file(file: &str) -> bool {
    if check_file(file).is_err() {
        return false;
    }
    match file.split_once('/') {
        None => file == FOLDER_WEIGHTS || file.ends_with(".json"),
        Some((dir, rest)) => {
            let module =
                dir.split_once('_').is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            module && !rest.contains('/') && rest.ends_with(".json")
        }
    }
}

/// A spec that names what the flag reads: a file for `--model`, a repository for a folder.
fn check_want(flag: &str, spec: &Spec, want: Want) -> Result<(), Failure> {
    match (want, &spec.file) {
        (Want::File, None) => Err(Failure::BadInput(anyhow!(
            "{flag} {}: names a repository; give the model file in it, as {}/MODEL.gguf",
            spec.shown(),
            spec.shown()
        ))),
        (Want::Folder, Some(file)) => {
            let hint = if file.ends_with(".gguf") {
                "; for a GGUF embedding model use --embedder llamacpp"
            } else {
                "; the burn embedder reads a whole sentence-transformers repository: give hf:ORG/REPO"
            };
            Err(Failure::BadInput(anyhow!("{flag} {}: names a file{hint}", spec.shown())))
        }
        _ => Ok(()),
    }
}

/// The links of a snapshot point into `blobs/` by relative paths, as the hub's own
/// clients make them, so the cache can move.
fn link(blob: &Path, pointer: &Path) -> std::io::Result<()> {
    if pointer.is_file() {
        return Ok(());
    }
    let _ = std::fs::remove_file(pointer);
    let parent = pointer.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    // snapshots/COMMIT/a/b/FILE → ../../../../blobs/ETAG: up from the file's folder to the
    // repository's folder, which holds both `snapshots` and `blobs`.
    let repo = blob.parent().and_then(Path::parent).unwrap_or(Path::new("."));
    let depth = parent.strip_prefix(repo).map(|p| p.components().count()).unwrap_or(0);
    let mut target: PathBuf = std::iter::repeat_n("..", depth).collect();
    target.push("blobs");
    target.push(blob.file_name().unwrap_or_default());
    #[cfg(unix)]
    return std::os::unix::fs::symlink(target, pointer);
    #[cfg(not(unix))]
    return std::fs::copy(blob, pointer).map(|_| ());
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The checksum an ETag carries: the hub names a large (LFS) file by its SHA-256 and a
/// small one by its git blob id.
enum Checksum {
    Sha256(String),
    GitSha1(String),
}

impl Checksum {
    fn from_etag(etag: &str) -> Option<Checksum> {
        let etag = etag.to_ascii_lowercase();
        if is_hex(&etag, 64) {
            Some(Checksum::Sha256(etag))
        } else if is_hex(&etag, 40) {
            Some(Checksum::GitSha1(etag))
        } else {
            None
        }
    }

    fn verify(&self, path: &Path) -> Result<(), anyhow::Error> {
        let mut file = std::fs::File::open(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
        let (expected, found, kind) = match self {
            Checksum::Sha256(expected) => (expected, hash_file::<sha2::Sha256>(&mut file, None)?, "SHA-256"),
            Checksum::GitSha1(expected) => {
                let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                (expected, hash_file::<sha1::Sha1>(&mut file, Some(format!("blob {len}\0")))?, "git SHA-1")
            }
        };
        if &found == expected {
            Ok(())
        } else {
            Err(anyhow!("the downloaded file's {kind} is {found}, the hub's is {expected}"))
        }
    }
}

fn hash_file<D: Digest>(file: &mut std::fs::File, header: Option<String>) -> Result<String, anyhow::Error> {
    let mut digest = D::new();
    if let Some(header) = header {
        digest.update(header.as_bytes());
    }
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
    }
    Ok(digest.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec, String> {
        match Spec::parse(text) {
            Some(Ok(spec)) => Ok(spec),
            Some(Err(Failure::BadInput(e) | Failure::Runtime(e))) => Err(format!("{e:#}")),
            None => Err("not a hub spec".into()),
        }
    }

    #[test]
    fn specs() {
        let s = parse("hf:sentence-transformers/all-MiniLM-L6-v2").unwrap();
        assert_eq!(
            (s.repo.as_str(), s.revision.as_str(), s.file),
            ("sentence-transformers/all-MiniLM-L6-v2", "main", None)
        );
        let s = parse("hf:bartowski/SmolLM2-135M-Instruct-GGUF@v1.0/sub/m.Q4_1.gguf").unwrap();
        assert_eq!((s.revision.as_str(), s.file.as_deref()), ("v1.0", Some("sub/m.Q4_1.gguf")));
        assert_eq!(s.shown(), "hf:bartowski/SmolLM2-135M-Instruct-GGUF@v1.0/sub/m.Q4_1.gguf");
        assert!(Spec::parse("models/x.gguf").is_none());
        for (bad, says) in [
            ("hf:gpt2", "no repository name"),
            ("hf:/x", "owner \"\""),
            ("hf:a/b@/f", "revision \"\""),
            ("hf:a/b@x y/f", "revision"),
            ("hf:a/../x", "repository name \"..\""),
            ("hf:a/b/../../etc/passwd", "not a relative path"),
            ("hf:a/b/x//y", "not a relative path"),
            ("hf:-a/b", "may not start"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says) && e.contains("hf:ORG/REPO"), "{bad}: {e}");
        }
    }

    #[test]
    fn folder_files() {
        for f in ["model.safetensors", "config.json", "tokenizer.json", "1_Pooling/config.json", "2_Normalize/x.json"] {
            assert!(folder_file(f), "{f}");
        }
        for f in [
            "pytorch_model.bin",
            "onnx/model.onnx",
            "onnx/config.json",
            "openvino/x.json",
            "vocab.txt",
            "1_Pooling/a/b.json",
            "../x.json",
            "_x/y.json",
        ] {
            assert!(!folder_file(f), "{f}");
        }
    }

    #[test]
    fn checksums() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello\n").unwrap();
        // `git hash-object` and `sha256sum` of "hello\n".
        Checksum::from_etag("ce013625030ba8dba906f756967f9e9ca394464a").unwrap().verify(&path).unwrap();
        Checksum::from_etag("5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03")
            .unwrap()
            .verify(&path)
            .unwrap();
        let e = Checksum::from_etag(&"0".repeat(64)).unwrap().verify(&path).unwrap_err().to_string();
        assert!(e.contains("SHA-256 is 5891b5b5"), "{e}");
        assert!(Checksum::from_etag("W/\"abc\"").is_none());
    }

    #[test]
    fn links_are_relative() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("models--a--b");
        std::fs::create_dir_all(repo.join("blobs")).unwrap();
        let blob = repo.join("blobs/abc");
        std::fs::write(&blob, b"x").unwrap();
        let pointer = repo.join("snapshots/c0/1_Pooling/config.json");
        link(&blob, &pointer).unwrap();
        assert_eq!(std::fs::read_link(&pointer).unwrap(), Path::new("../../../blobs/abc"));
        assert_eq!(std::fs::read(&pointer).unwrap(), b"x");
    }
}
