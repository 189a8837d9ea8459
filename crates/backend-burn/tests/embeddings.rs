//! all-MiniLM-L6-v2 (BERT) and all-mpnet-base-v2 (MPNet) on every compiled Burn backend
//! embed like sentence-transformers, and bad model folders are clear errors.

use std::path::{Path, PathBuf};

use autobranch_burn::{BurnBackend, BurnEmbedder, BurnEmbedderOptions};
use autobranch_core::model::Embedder;
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    texts: Vec<String>,
    embeddings: Vec<Vec<f32>>,
}

/// A model folder of the test set and its reference vectors from sentence-transformers.
#[derive(Clone, Copy)]
struct Model {
    folder: &'static str,
    fixture: &'static str,
    dim: usize,
}

const MINILM: Model = Model { folder: "all-minilm-l6-v2", fixture: "minilm_reference.json", dim: 384 };
const MPNET: Model = Model { folder: "all-mpnet-base-v2", fixture: "mpnet_reference.json", dim: 768 };

impl Model {
    fn dir(self) -> PathBuf {
        let models = std::env::var_os("AUTOBRANCH_MODELS").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/autobranch/models")
        });
        let dir = models.join(self.folder);
        assert!(dir.is_dir(), "missing {}; run scripts/fetch-models.sh --tests", dir.display());
        dir
    }

    fn reference(self) -> Reference {
        let path = format!("{}/../../fixtures/{}", env!("CARGO_MANIFEST_DIR"), self.fixture);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn load(self, backend: BurnBackend, batch_size: usize) -> BurnEmbedder {
        let options = BurnEmbedderOptions { backend: Some(backend), batch_size, ..Default::default() };
        BurnEmbedder::load(&self.dir(), options).unwrap_or_else(|e| panic!("{} on {backend}: {e}", self.folder))
    }
}

fn minilm() -> PathBuf {
    MINILM.dir()
}

/// The goal of the issue: cosine ≥ 0.9999 on CPU backends, ≥ 0.999 on wgpu.
fn goal(backend: BurnBackend) -> f32 {
    if backend == BurnBackend::Wgpu { 0.999 } else { 0.9999 }
}

/// Every fixture text against sentence-transformers on each compiled backend; on wgpu
/// (Mesa's lavapipe where the tests run: a CPU emulating a GPU, about 30 s per 384-token text
/// of MPNet on two cores) only every `wgpu_every`-th text, the long ones left to the CPU
/// backends, which run the same model code.
async fn matches_sentence_transformers(model: Model, batch_size: usize, wgpu_every: usize) {
    let reference = model.reference();
    assert!(reference.texts.len() >= 50);
    for backend in BurnBackend::compiled() {
        let every = if backend == BurnBackend::Wgpu { wgpu_every } else { 1 };
        let (texts, wants): (Vec<String>, Vec<&Vec<f32>>) = reference
            .texts
            .iter()
            .zip(&reference.embeddings)
            .enumerate()
            .filter(|(i, (text, _))| every == 1 || (i % every == 0 && text.len() < 1000))
            .map(|(_, (text, want))| (text.clone(), want))
            .unzip();
        let embedder = model.load(backend, batch_size);
        assert_eq!(embedder.dim(), model.dim);
        let got = embedder.embed(&texts).await.unwrap();
        assert_eq!(got.len(), texts.len());
        let mut worst = (1.0f32, String::new());
        for (i, (text, want)) in texts.iter().zip(wants).enumerate() {
            let cos: f32 = got.row(i).iter().zip(want).map(|(a, b)| a * b).sum();
            if cos < worst.0 {
                worst = (cos, text.chars().take(40).collect());
            }
        }
        eprintln!(
            "{} on {backend}: lowest cosine to sentence-transformers {:.7} ({:?}) over {} texts",
            model.folder,
            worst.0,
            worst.1,
            texts.len()
        );
        assert!(worst.0 >= goal(backend), "{} on {backend}: lowest cosine {} for {:?}", model.folder, worst.0, worst.1);
    }
}

#[tokio::test]
async fn minilm_on_every_backend_matches_sentence_transformers() {
    matches_sentence_transformers(MINILM, 8, 1).await;
}

/// MPNet's relative position bias and offset positions, and its truncation at 384 tokens
/// (the fixture's two long texts differ only after it). The default batch of 32 at 384
/// tokens would not fit one wgpu buffer: there the embedder splits it (`rows_per_batch`'s
/// unit test; on lavapipe this test embeds a sixth of the short texts).
#[tokio::test]
async fn mpnet_on_every_backend_matches_sentence_transformers() {
    matches_sentence_transformers(MPNET, 32, 6).await;
}

/// Batch 1, batch 32 and a reversed order in batches of 3 give the same vectors (within
/// 1e-5 per component): padding is masked out of attention, positions and pooling.
async fn batching_and_order_do_not_change_vectors(model: Model) {
    // Eight texts of different lengths: batch 1 compiles a kernel set per length on a GPU
    // backend (lavapipe's JIT is slow), and eight cover every batching path.
    let texts: Vec<String> = model.reference().texts.into_iter().take(8).collect();
    for backend in BurnBackend::compiled() {
        let whole = model.load(backend, 32).embed(&texts).await.unwrap();
        let single = model.load(backend, 1).embed(&texts).await.unwrap();
        let reversed: Vec<String> = texts.iter().rev().cloned().collect();
        let rev = model.load(backend, 3).embed(&reversed).await.unwrap();
        for i in 0..texts.len() {
            assert!(whole.cosine(i, i) > 0.99, "row {i} is not unit length");
            let apart = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            let (a, b) = (apart(whole.row(i), single.row(i)), apart(whole.row(i), rev.row(texts.len() - 1 - i)));
            assert!(a <= 1e-5 && b <= 1e-5, "{} on {backend}: text {i} moved with batching ({a}, {b})", model.folder);
        }
    }
}

#[tokio::test]
async fn minilm_batching_and_order_do_not_change_vectors() {
    batching_and_order_do_not_change_vectors(MINILM).await;
}

#[tokio::test]
async fn mpnet_batching_and_order_do_not_change_vectors() {
    batching_and_order_do_not_change_vectors(MPNET).await;
}

/// An MPNet `config.json` over BERT weights: the first tensor that disagrees is named with
/// both shapes, from the header, before anything is built.
#[test]
fn an_mpnet_config_over_bert_weights_names_the_tensor() {
    let dir = editable_copy();
    let mpnet = std::fs::read_to_string(MPNET.dir().join("config.json")).unwrap();
    // MiniLM has six layers: the layer count agrees, so the check reaches the shapes.
    let six = mpnet.replace("\"num_hidden_layers\": 12", "\"num_hidden_layers\": 6");
    assert_ne!(six, mpnet);
    std::fs::write(dir.path().join("config.json"), six).unwrap();
    std::fs::write(dir.path().join("sentence_bert_config.json"), r#"{"max_seq_length": 384}"#).unwrap();
    let e = load_error(dir.path());
    assert!(e.contains("has shape [") && e.contains("but config.json implies ["), "{e}");
}

#[tokio::test]
async fn no_texts_is_an_empty_matrix() {
    let embedder = MINILM.load(BurnBackend::preferred().unwrap(), 32);
    let got = embedder.embed(&[]).await.unwrap();
    assert_eq!((got.len(), got.dim()), (0, 384));
}

/// A copy of the MiniLM folder whose big files are links, for editing the small ones.
fn editable_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = minilm();
    for name in ["config.json", "tokenizer.json", "sentence_bert_config.json"] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    std::os::unix::fs::symlink(src.join("model.safetensors"), dir.path().join("model.safetensors")).unwrap();
    dir
}

fn load_error(dir: &Path) -> String {
    match BurnEmbedder::load(dir, BurnEmbedderOptions::default()) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn each_missing_file_is_named() {
    for name in ["config.json", "tokenizer.json", "model.safetensors"] {
        let dir = editable_copy();
        std::fs::remove_file(dir.path().join(name)).unwrap();
        let e = load_error(dir.path());
        assert!(e.contains(name) && e.contains("is missing"), "{e}");
    }
    let e = load_error(Path::new("/nonexistent/model"));
    assert!(e.contains("/nonexistent/model is missing"), "{e}");
}

#[test]
fn another_architecture_is_refused_by_name() {
    let dir = editable_copy();
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 576}"#,
    )
    .unwrap();
    let e = load_error(dir.path());
    assert!(e.contains("config.json") && e.contains("\"llama\" (LlamaForCausalLM)"), "{e}");
}

#[test]
fn a_config_that_disagrees_with_the_weights_names_the_tensor_and_both_shapes() {
    let dir = editable_copy();
    let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        config.replace("\"intermediate_size\": 1536", "\"intermediate_size\": 1024"),
    )
    .unwrap();
    let e = load_error(dir.path());
    assert!(
        e.contains(
            "encoder.layer.0.intermediate.dense.weight has shape [1536, 384], but config.json implies [1024, 384]"
        ),
        "{e}"
    );
}

#[test]
fn a_corrupt_tokenizer_is_named() {
    let dir = editable_copy();
    std::fs::write(dir.path().join("tokenizer.json"), "{\"version\": ").unwrap();
    let e = load_error(dir.path());
    assert!(e.contains("tokenizer.json") && e.contains("not a tokenizer.json"), "{e}");
}

#[test]
fn truncated_weights_are_refused() {
    let dir = editable_copy();
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(minilm().join("model.safetensors")).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_error(dir.path());
    assert!(e.contains("model.safetensors") && e.contains("truncated"), "{e}");
}

#[test]
fn absurd_sizes_in_config_json_are_refused_from_the_safetensors_header() {
    let cases = [
        (
            "\"num_hidden_layers\": 6",
            "\"num_hidden_layers\": 10000000",
            "config.json has num_hidden_layers = 10000000, but the file holds 6: encoder.layer.0 to encoder.layer.5",
        ),
        (
            "\"hidden_size\": 384",
            "\"hidden_size\": 1200000000",
            "tensor embeddings.word_embeddings.weight has shape [30522, 384], but config.json implies [30522, 1200000000]",
        ),
        (
            "\"intermediate_size\": 1536",
            "\"intermediate_size\": 1000000000",
            "tensor encoder.layer.0.intermediate.dense.weight has shape [1536, 384], but config.json implies [1000000000, 384]",
        ),
        (
            "\"vocab_size\": 30522",
            "\"vocab_size\": 1000000000000",
            "tensor embeddings.word_embeddings.weight has shape [30522, 384], but config.json implies [1000000000000, 384]",
        ),
        (
            "\"max_position_embeddings\": 512",
            "\"max_position_embeddings\": 1000000000000",
            "tensor embeddings.position_embeddings.weight has shape [512, 384], but config.json implies [1000000000000, 384]",
        ),
    ];
    for (from, to, expected) in cases {
        let dir = editable_copy();
        let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        assert!(config.contains(from), "{from}");
        std::fs::write(dir.path().join("config.json"), config.replace(from, to)).unwrap();
        let started = std::time::Instant::now();
        let e = load_error(dir.path());
        assert!(e.contains("model.safetensors: ") && e.ends_with(expected), "{to}: {e}");
        assert!(started.elapsed().as_secs() < 5, "{to}: refused only after {:?}", started.elapsed());
    }
}

#[test]
fn a_negative_layer_norm_eps_is_refused() {
    let dir = editable_copy();
    let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        config.replace("\"layer_norm_eps\": 1e-12", "\"layer_norm_eps\": -1"),
    )
    .unwrap();
    let e = load_error(dir.path());
    assert!(e.ends_with("config.json: layer_norm_eps = -1 is out of range; allowed: a finite number > 0"), "{e}");
}

#[tokio::test]
async fn nan_weights_fail_embedding_naming_the_folder() {
    let dir = editable_copy();
    let weights = dir.path().join("model.safetensors");
    std::fs::remove_file(&weights).unwrap();
    let mut bytes = std::fs::read(minilm().join("model.safetensors")).unwrap();
    // The data of embeddings.LayerNorm.weight (F32), located through the JSON header.
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let entry = &header["embeddings.LayerNorm.weight"];
    assert_eq!(entry["dtype"], "F32");
    let [start, end] = [0, 1].map(|i| 8 + len + entry["data_offsets"][i].as_u64().unwrap() as usize);
    bytes[start..end].chunks_exact_mut(4).for_each(|x| x.copy_from_slice(&f32::NAN.to_le_bytes()));
    std::fs::write(&weights, bytes).unwrap();
    let embedder = BurnEmbedder::load(dir.path(), BurnEmbedderOptions::default()).unwrap();
    let err = embedder.embed(&["a red fox".into()]).await.unwrap_err();
    let expected = format!("{}: the model computed an embedding containing NaN (text 0)", dir.path().display());
    assert!(err.to_string().contains(&expected), "{err}");
}
