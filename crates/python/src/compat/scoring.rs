//! The original `CompositeScorer`'s arithmetic in f64, candidate by candidate, with its
//! defaults and its Python comparisons (so NaN and out-of-range inputs land where they land
//! there), and the `ScoredCandidate` objects it returns.

use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyType};

use super::vectors::{cosine, norm, py_max2, py_min2, vector};

/// confidence = exp(clamp(logprobs, −10, 0)), 0.5 without `logprobs`.
fn confidence(meta: &Bound<'_, PyDict>) -> PyResult<f64> {
    let Some(value) = meta.get_item("logprobs")? else { return Ok(0.5) };
    let logprob: f64 = value.extract().map_err(|_| {
        let type_name = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        PyTypeError::new_err(format!("'<' not supported between instances of 'int' and '{type_name}'"))
    })?;
    Ok(py_max2(py_min2(logprob, 0.0), -10.0).exp())
}

/// Builds `cls` instances without running `__init__`: the fields are already valid, and
/// `__post_init__` would only re-check a clamped, finite score.
struct Builder<'py> {
    new: Bound<'py, PyAny>,
    cls: Bound<'py, PyType>,
}

impl<'py> Builder<'py> {
    fn new(cls: &Bound<'py, PyType>) -> PyResult<Self> {
        let object = cls.py().import("builtins")?.getattr("object")?;
        Ok(Self { new: object.getattr("__new__")?, cls: cls.clone() })
    }

    fn scored(
        &self,
        id: &Bound<'py, PyAny>,
        text: &Bound<'py, PyAny>,
        meta: &Bound<'py, PyDict>,
        score: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let obj = self.new.call1((&self.cls,))?;
        let fields = PyDict::new(obj.py());
        fields.set_item("id", id)?;
        fields.set_item("text", text)?;
        fields.set_item("meta", meta.copy()?)?;
        fields.set_item("score", score)?;
        obj.setattr("__dict__", fields)?;
        Ok(obj)
    }
}

/// `cls` instances (a `ScoredCandidate` dataclass) for `candidates[i]` with `scores[i]`, for
/// each i of `indices` (default: all, in order).
#[pyfunction]
#[pyo3(signature = (cls, candidates, scores, indices=None))]
pub fn scored_candidates<'py>(
    cls: &Bound<'py, PyType>,
    candidates: &Bound<'py, PyList>,
    scores: Vec<f64>,
    indices: Option<Vec<usize>>,
) -> PyResult<Bound<'py, PyList>> {
    let py = cls.py();
    let builder = Builder::new(cls)?;
    let (id_key, text_key, meta_key) =
        (PyString::intern(py, "id"), PyString::intern(py, "text"), PyString::intern(py, "meta"));
    let out = PyList::empty(py);
    let indices = indices.unwrap_or_else(|| (0..scores.len()).collect());
    for i in indices {
        let c = candidates.get_item(i)?;
        let meta = c.getattr(&meta_key)?;
        out.append(builder.scored(&c.getattr(&id_key)?, &c.getattr(&text_key)?, meta.cast::<PyDict>()?, scores[i])?)?;
    }
    Ok(out)
}

/// The original composite score of each candidate against the parent's vector. `weights`
/// are the normalised weights in their order; `rewards` and `intents` hold the per-candidate
/// historical reward and intent alignment where the caller computed them.
#[pyfunction]
#[pyo3(signature = (weights, candidates, parent_vec, candidate_vecs, rewards, intents))]
pub fn composite_score<'py>(
    weights: Vec<(String, f64)>,
    candidates: &Bound<'py, PyList>,
    parent_vec: Option<&Bound<'py, PyAny>>,
    candidate_vecs: Option<&Bound<'py, PyAny>>,
    rewards: Option<Vec<f64>>,
    intents: Option<Vec<f64>>,
) -> PyResult<Vec<f64>> {
    let py = candidates.py();
    let parent = parent_vec.map(vector).transpose()?;
    let parent_norm = parent.as_deref().map(norm);
    // Indexed per candidate as the original indexes it; a list (what providers return) is
    // used as it is, any other sequence listed once.
    let vectors: Option<Bound<'py, PyList>> = match candidate_vecs {
        Some(v) => match v.cast::<PyList>() {
            Ok(list) => Some(list.clone()),
            Err(_) => Some(PyList::new(py, v.try_iter()?.collect::<PyResult<Vec<_>>>()?)?),
        },
        None => None,
    };
    let meta_key = PyString::intern(py, "meta");
    let mut out = Vec::with_capacity(candidates.len());
    for (i, candidate) in candidates.iter().enumerate() {
        let meta_obj = candidate.getattr(&meta_key)?;
        let meta = meta_obj.cast::<PyDict>()?;
        let conf = confidence(meta)?;
        let (mut relevance, mut novelty) = (0.5, 0.5);
        if let (Some(p), Some(pn), Some(list)) = (&parent, parent_norm, &vectors) {
            let item = list.get_item(i).map_err(|_| PyIndexError::new_err("list index out of range"))?;
            if !item.is_none() {
                let c = vector(&item)?;
                let cn = norm(&c);
                // The original's test is `norm > 0`, which NaN fails.
                if pn > 0.0 && cn > 0.0 {
                    let cos = cosine(p, pn, &c, cn)?;
                    relevance = (cos + 1.0) / 2.0;
                    novelty = py_max2(0.0, py_min2(1.0, 1.0 - cos));
                } else {
                    super::vectors::dot(p, &c)?;
                }
            }
        }
        let intent = intents.as_ref().map_or(0.5, |v| v[i]);
        let reward = rewards.as_ref().map(|r| r[i]);
        let mut score = 0.0;
        for (name, weight) in &weights {
            let value = match name.as_str() {
                "confidence" => conf,
                "relevance" => relevance,
                "novelty_parent" => novelty,
                "intent_alignment" => intent,
                "historical_reward" => match reward {
                    Some(r) => r,
                    None => continue,
                },
                _ => continue,
            };
            if *weight > 0.0 {
                score += weight * if value.is_finite() { value } else { 0.0 };
            }
        }
        out.push(py_max2(0.0, py_min2(1.0, score)));
    }
    Ok(out)
}

/// The beam's order: indices sorted by (score descending, id ascending), stable, the first
/// `k`. Ids compare as Python strings (by code point, which UTF-8 bytes preserve).
#[pyfunction]
pub fn beam_order(scores: Vec<f64>, ids: Vec<String>, k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Python compares the key tuples; `-score` of equal scores ties, then the ids decide.
    order.sort_by(|&a, &b| {
        scores[b].partial_cmp(&scores[a]).unwrap_or(std::cmp::Ordering::Equal).then_with(|| ids[a].cmp(&ids[b]))
    });
    order.truncate(k);
    order
}
