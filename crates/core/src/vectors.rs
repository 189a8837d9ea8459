//! The vectors of one selector step: each distinct text embedded once, plus the
//! similarity matrices the stages share.

use std::collections::HashMap;

use crate::candidate::Candidate;
use crate::error::{InputError, StepError};
use crate::model::{Embedder, Embeddings, ModelError, dot};

/// Vectors for the parent, the candidates and any intent texts of one step.
#[derive(Clone, Debug)]
pub struct StepVectors {
    matrix: Embeddings,
    parent: usize,
    candidates: Vec<usize>,
    intents: HashMap<String, usize>,
}

impl StepVectors {
    /// Uses vectors the caller already has (parent first, then one per candidate, in order).
    /// Vectors are L2-normalised here; ids only serve error messages.
    pub fn precomputed(parent: (&str, &[f32]), candidates: &[(&str, &[f32])]) -> Result<Self, InputError> {
        let dim = parent.1.len();
        let mut flat = Vec::with_capacity(dim * (candidates.len() + 1));
        for (id, v) in std::iter::once(&parent).chain(candidates) {
            check_vector(id, v, dim)?;
            flat.extend_from_slice(v);
        }
        // Every vector was checked above, so this cannot fail; map it all the same.
        let matrix =
            Embeddings::from_flat(dim, flat).map_err(|_| InputError::EmptyEmbedding { id: parent.0.into() })?;
        Ok(Self { matrix, parent: 0, candidates: (1..=candidates.len()).collect(), intents: HashMap::new() })
    }

    /// Embeds the parent, the candidates and `intents` with one call, each distinct text once.
    /// A backend failure is [`StepError::Embedding`]; a vector holding NaN or an infinity is
    /// [`InputError::NonFiniteEmbedding`] naming the parent or candidate whose text it is.
    pub async fn embed(
        embedder: &dyn Embedder,
        parent: &Candidate,
        candidates: &[Candidate],
        intents: &[&str],
    ) -> Result<Self, StepError> {
        let mut distinct = DistinctTexts::default();
        let parent_row = distinct.slot(&parent.text);
        let candidate_rows: Vec<usize> = candidates.iter().map(|c| distinct.slot(&c.text)).collect();
        let intent_rows: HashMap<String, usize> = intents.iter().map(|t| ((*t).to_owned(), distinct.slot(t))).collect();
        let texts = distinct.texts;
        let matrix = match embedder.embed(&texts).await {
            Ok(m) => m,
            Err(ModelError::NonFiniteEmbedding { row, index }) => {
                let id = if row == parent_row {
                    parent.id.clone()
                } else if let Some(c) = candidate_rows.iter().position(|&r| r == row) {
                    candidates[c].id.clone()
                } else {
                    let text = texts.get(row).map_or("", String::as_str);
                    format!("intent {:?}", text.chars().take(60).collect::<String>())
                };
                return Err(InputError::NonFiniteEmbedding { id, index }.into());
            }
            Err(e) => return Err(StepError::Embedding(e)),
        };
        if matrix.len() != texts.len() {
            return Err(StepError::Embedding(ModelError::MismatchedCount {
                expected: texts.len(),
                actual: matrix.len(),
            }));
        }
        Ok(Self { matrix, parent: parent_row, candidates: candidate_rows, intents: intent_rows })
    }

    /// Number of distinct texts that were embedded.
    pub fn distinct_texts(&self) -> usize {
        self.matrix.len()
    }

    /// The parent's vector.
    pub fn parent(&self) -> &[f32] {
        self.matrix.row(self.parent)
    }

    /// Candidate `i`'s vector.
    pub fn candidate(&self, i: usize) -> &[f32] {
        self.matrix.row(self.candidates[i])
    }

    /// The vector of an intent text, when it was embedded.
    pub fn intent(&self, text: &str) -> Option<&[f32]> {
        self.intents.get(text).map(|&r| self.matrix.row(r))
    }

    /// Cosine similarity of the parent to every candidate, as one matrix-vector product.
    pub fn parent_similarities(&self) -> Vec<f32> {
        let p = self.parent();
        (0..self.candidates.len()).map(|i| dot(p, self.candidate(i))).collect()
    }
}

/// Checks one vector's dimension and values, naming its owner.
pub fn check_vector(id: &str, v: &[f32], dim: usize) -> Result<(), InputError> {
    if v.is_empty() {
        return Err(InputError::EmptyEmbedding { id: id.to_owned() });
    }
    if v.len() != dim {
        return Err(InputError::MismatchedDimensions { id: id.to_owned(), expected: dim, actual: v.len() });
    }
    // A branch-free scan first (it vectorises); look for the position only on failure.
    if !v.iter().fold(true, |ok, x| ok & x.is_finite()) {
        let index = v.iter().position(|x| !x.is_finite()).unwrap_or(0);
        return Err(InputError::NonFiniteEmbedding { id: id.to_owned(), index });
    }
    Ok(())
}

/// Pairwise cosine similarities of a few vectors, computed once and shared by the stages.
#[derive(Clone, Debug, PartialEq)]
pub struct SimilarityMatrix {
    n: usize,
    values: Vec<f32>,
}

impl SimilarityMatrix {
    /// Builds the symmetric matrix of `rows` (unit or zero vectors).
    pub fn new(rows: &[&[f32]]) -> Self {
        let n = rows.len();
        let mut values = vec![0.0; n * n];
        for i in 0..n {
            values[i * n + i] = dot(rows[i], rows[i]);
            for j in i + 1..n {
                let s = dot(rows[i], rows[j]);
                values[i * n + j] = s;
                values[j * n + i] = s;
            }
        }
        Self { n, values }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the matrix is empty.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Similarity of vectors `i` and `j`.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.values[i * self.n + j]
    }
}

/// Assigns each distinct text one row, in first-seen order.
#[derive(Default)]
struct DistinctTexts<'a> {
    rows: HashMap<&'a str, usize>,
    texts: Vec<String>,
}

impl<'a> DistinctTexts<'a> {
    fn slot(&mut self, text: &'a str) -> usize {
        let texts = &mut self.texts;
        *self.rows.entry(text).or_insert_with(|| {
            texts.push(text.to_owned());
            texts.len() - 1
        })
    }
}
