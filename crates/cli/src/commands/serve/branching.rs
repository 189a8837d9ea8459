//! autobranch's own endpoints: `/v1/select` (one selection step, the JSON of `autobranch
//! select --json`) and `/v1/explore` (a whole tree, the JSON of `explore --json`, or
//! server-sent events as each node is expanded). A request's `config` is laid over the
//! server's configuration section by section; it may not choose models or server settings,
//! so no request names a file.

use std::convert::Infallible;
use std::sync::Arc;

use autobranch_core::Config;
use autobranch_core::explore::{Exploration, Explorer};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::error::{ApiError, ApiJson};
use super::{AppState, EventStream, Flight};
use crate::commands::{explore as explore_cmd, select as select_cmd};
use crate::failure::Failure;

/// Sections a request may not set.
const SERVER_ONLY: [&str; 3] = ["generator", "embedding", "server"];

fn failure(f: Failure) -> ApiError {
    match f {
        Failure::BadInput(e) => ApiError::invalid(None, format!("{e:#}")),
        Failure::Runtime(e) => ApiError::status(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

/// The server's configuration with the request's sections laid over it.
fn request_config(state: &AppState, overrides: Option<&Map<String, Value>>) -> Result<Config, ApiError> {
    let mut merged = state.config.to_file_value();
    if let Value::Object(m) = &mut merged {
        for key in SERVER_ONLY {
            m.remove(key);
        }
        for (key, value) in overrides.into_iter().flatten() {
            if SERVER_ONLY.contains(&key.as_str()) {
                return Err(ApiError::invalid(
                    Some(format!("config.{key}")),
                    format!(
                        "config.{key} is the server's to choose; a request may set the selection, generation and explore sections"
                    ),
                ));
            }
            m.insert(key.clone(), value.clone());
        }
    }
    let mut config =
        Config::from_value(&merged).map_err(|e| ApiError::invalid(Some("config".into()), e.to_string()))?;
    config.server = state.config.server.clone();
    Ok(config)
}

/// `POST /v1/select`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectRequest {
    parent: select_cmd::Line,
    candidates: Vec<select_cmd::Line>,
    config: Option<Map<String, Value>>,
}

/// `POST /v1/select`: one selection step.
pub async fn select(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<SelectRequest>,
) -> Result<Response, ApiError> {
    let config = request_config(&state, body.config.as_ref())?;
    // Numbered as lines of a file: the parent is line 1.
    let lines: Vec<(usize, select_cmd::Line)> = std::iter::once(body.parent.into_parent())
        .chain(body.candidates)
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    let input =
        select_cmd::input_from_lines(lines, "request").map_err(|e| ApiError::invalid(None, format!("{e:#}")))?;
    let flight = Flight::start(&state)?;
    let embedder = state.embedder.as_deref();
    let result = select_cmd::step(&config, input, embedder, "the request").await;
    drop(flight);
    Ok(Json(select_cmd::to_json(&result.map_err(failure)?)).into_response())
}

/// `POST /v1/explore`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExploreRequest {
    prompt: String,
    config: Option<Map<String, Value>>,
    #[serde(default)]
    stream: bool,
}

/// Nodes an exploration may generate: n children per expansion, 1 + k + … + k^(depth−1)
/// expansions.
fn planned_nodes(config: &Config) -> u64 {
    let (n, k) = (config.explore.n as u64, config.beam_k as u64);
    let expansions = (0..config.explore.max_depth)
        .fold((0u64, 1u64), |(sum, term), _| (sum.saturating_add(term), term.saturating_mul(k)))
        .0;
    expansions.saturating_mul(n)
}

fn check_explore(state: &AppState, config: &Config) -> Result<(), ApiError> {
    let limits = &config.server;
    if config.explore.n > limits.max_n {
        return Err(ApiError::invalid(
            Some("config.explore.n".into()),
            format!("explore.n = {} is out of range; allowed: 1 to {} (server.max_n)", config.explore.n, limits.max_n),
        ));
    }
    if config.generation.max_tokens > limits.max_tokens {
        return Err(ApiError::invalid(
            Some("config.generation.max_tokens".into()),
            format!(
                "generation.max_tokens = {} is out of range; allowed: 1 to {} (server.max_tokens)",
                config.generation.max_tokens, limits.max_tokens
            ),
        ));
    }
    let planned = planned_nodes(config);
    if planned > limits.max_explore_nodes as u64 {
        return Err(ApiError::invalid(
            Some("config.explore".into()),
            format!(
                "this tree may generate {planned} nodes (n {} × expansions of beam k {} to depth {}), more than \
                 server.max_explore_nodes = {}; lower explore.n, beam.k or explore.max_depth",
                config.explore.n, config.beam_k, config.explore.max_depth, limits.max_explore_nodes
            ),
        ));
    }
    if config.build_selector().needs_embeddings() && state.embedder.is_none() {
        return Err(ApiError::invalid(
            Some("config".into()),
            "this configuration's novelty or entropy stage needs embeddings, and the server runs no embedder; \
             turn them off (novelty: null, entropy: null)",
        ));
    }
    Ok(())
}

/// Expands the whole tree, calling `on_expansion` with the nodes each expansion added.
async fn grow(
    state: &AppState,
    config: Config,
    prompt: &str,
    mut on_expansion: impl FnMut(&Exploration, usize),
) -> Result<Value, ApiError> {
    let mut explorer = Explorer::new(state.generator.as_ref(), state.embedder.as_deref(), config);
    let mut tree = explorer.start(prompt);
    loop {
        let before = tree.nodes.len();
        let more = explorer.expand_next(&mut tree).await.map_err(|e| failure(explore_cmd::classify(e)))?;
        on_expansion(&tree, before);
        if !more {
            break;
        }
    }
    explore_cmd::tree_json(&tree, explorer.config()).map_err(failure)
}

/// `POST /v1/explore`: the tree as `explore --json` prints it; with `stream`, an `expansion`
/// event per expanded node (the nodes it added), then a `tree` event and `[DONE]`.
pub async fn explore(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<ExploreRequest>,
) -> Result<Response, ApiError> {
    if body.prompt.trim().is_empty() {
        return Err(ApiError::invalid(Some("prompt".into()), "prompt is empty"));
    }
    let config = request_config(&state, body.config.as_ref())?;
    check_explore(&state, &config)?;
    let flight = Flight::start(&state)?;
    if !body.stream {
        let tree = flight.run(async { Ok(grow(&state, config, &body.prompt, |_, _| {}).await) }).await??;
        return Ok(Json(tree).into_response());
    }
    let (tx, rx) = mpsc::unbounded_channel::<Result<Event, Infallible>>();
    let task = tokio::spawn(async move {
        let events = tx.clone();
        let on_expansion = move |tree: &Exploration, before: usize| {
            let added = &tree.nodes[before..];
            if let Some(parent) = added.first().and_then(|n| n.parent.clone()) {
                let data = json!({"expanded": parent, "nodes": added});
                let _ = events.send(Ok(Event::default().event("expansion").data(data.to_string())));
            }
        };
        let outcome = flight.run(async { Ok(grow(&state, config, &body.prompt, on_expansion).await) }).await;
        match outcome.and_then(|r| r) {
            Ok(tree) => {
                let _ = tx.send(Ok(Event::default().event("tree").data(tree.to_string())));
            }
            Err(e) => {
                let error = json!({"error": {"message": e.message, "type": e.kind, "param": e.param, "code": e.code}});
                let _ = tx.send(Ok(Event::default().event("error").data(error.to_string())));
            }
        }
        let _ = tx.send(Ok(Event::default().data("[DONE]")));
    });
    Ok(Sse::new(EventStream::new(rx, task)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_nodes_count_every_expansion() {
        let mut c = Config::default();
        (c.explore.n, c.beam_k, c.explore.max_depth) = (8, 5, 2);
        assert_eq!(planned_nodes(&c), 8 * (1 + 5));
        c.explore.max_depth = 3;
        assert_eq!(planned_nodes(&c), 8 * (1 + 5 + 25));
        (c.beam_k, c.explore.max_depth) = (1_000_000, 60);
        assert_eq!(planned_nodes(&c), u64::MAX);
    }
}
