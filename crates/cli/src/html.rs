//! `--html`: one self-contained page (no network) that shows an exploration tree: the tree,
//! each node's text on click, scores, why nodes were pruned, and the entropy per depth.

use serde_json::Value;

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>autobranch tree</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); grid-template-rows: auto minmax(0, 1fr); height: 100vh; }
  header { grid-column: 1 / 3; padding: 10px 16px; background: #1d2733; color: #fff; }
  header h1 { font-size: 16px; margin: 0 0 4px; }
  #tree { overflow: auto; padding: 12px 16px; border-right: 1px solid #ddd; }
  #side { overflow: auto; padding: 12px 16px; background: #fafafa; }
  ul { list-style: none; padding-left: 18px; margin: 2px 0; }
  li > .node { cursor: pointer; padding: 2px 6px; border-radius: 4px; display: inline-block; max-width: 100%; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .node:hover, .node.selected { background: #e3ecf7; }
  .score { font-variant-numeric: tabular-nums; color: #555; margin-right: 6px; }
  .tag { font-size: 11px; padding: 0 5px; border-radius: 8px; margin-right: 6px; }
  .root .tag { background: #1d2733; color: #fff; }
  .kept .tag { background: #d4f4dd; color: #14532d; }
  .not_expanded .tag { background: #fef3c7; color: #78350f; }
  .pruned_beam .tag, .pruned_novelty .tag { background: #fde2e2; color: #7f1d1d; }
  .pruned_beam, .pruned_novelty { opacity: .7; }
  pre { white-space: pre-wrap; font: inherit; background: #fff; border: 1px solid #ddd; padding: 8px; }
  table { border-collapse: collapse; margin-top: 8px; }
  td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
</style>
</head>
<body>
<header><h1>autobranch exploration</h1><div id="summary"></div></header>
<section id="tree"></section>
<section id="side"><p>Click a node to read it.</p><div id="detail"></div><h3>Entropy per depth</h3><div id="entropy"></div></section>
<script type="application/json" id="data">__TREE__</script>
<script>
"use strict";
const tree = JSON.parse(document.getElementById("data").textContent);
const why = { root: "the prompt", kept: "kept by every stage", not_expanded: "kept, but exploration stopped before expanding it",
  pruned_beam: "pruned by the beam (not among the best k)", pruned_novelty: "pruned by the novelty filter (too similar to a better kept node)" };
const children = {};
for (const n of tree.nodes) { (children[n.parent] = children[n.parent] || []).push(n); }
function text(el, s) { el.textContent = s; return el; }
function reason(n) {
  const p = n.pruned_by;
  if (!p) return "";
  if (p.stage === "beam") return "rank " + p.rank + " among its siblings, beam keeps k = " + p.k;
  return "duplicates " + p.duplicate_of + " (similarity " + p.similarity.toFixed(3) +
    (p.threshold == null ? "" : " > " + p.threshold) + ")";
}
function show(n, el) {
  document.querySelectorAll(".node.selected").forEach(e => e.classList.remove("selected"));
  el.classList.add("selected");
  const d = document.getElementById("detail");
  d.replaceChildren();
  d.append(text(document.createElement("h3"), n.id + (n.depth ? " · depth " + n.depth : "")));
  const facts = [["status", why[n.status] || n.status], ["why", reason(n) || "–"], ["score", n.score == null ? "–" : n.score.toFixed(4)],
    ["tokens", n.tokens], ["mean logprob", n.logprob_mean == null ? "–" : n.logprob_mean.toFixed(3)],
    ["generation", (n.gen_ms || 0).toFixed(0) + " ms"], ["parent", n.parent || "–"]];
  const t = document.createElement("table");
  for (const [k, v] of facts) { const r = t.insertRow(); text(r.insertCell(), k); text(r.insertCell(), String(v)); }
  d.append(t, text(document.createElement("pre"), n.text));
}
function render(parentId, into) {
  const list = children[parentId] || [];
  if (!list.length) return;
  const ul = document.createElement("ul");
  for (const n of list) {
    const li = document.createElement("li");
    li.className = n.status;
    const span = document.createElement("span");
    span.className = "node";
    span.dataset.node = n.id;
    span.append(text(Object.assign(document.createElement("span"), { className: "tag" }), n.status.replace("_", " ")));
    if (n.score != null) span.append(text(Object.assign(document.createElement("span"), { className: "score" }), n.score.toFixed(3)));
    span.append(document.createTextNode(n.text.replace(/\s+/g, " ").slice(0, 160)));
    if (n.pruned_by) span.title = reason(n);
    span.addEventListener("click", () => show(n, span));
    li.append(span);
    render(n.id, li);
    ul.append(li);
  }
  into.append(ul);
}
const root = tree.nodes[0];
render(null, document.getElementById("tree"));
text(document.getElementById("summary"), tree.nodes.length + " nodes · stopped: " + (tree.stop_reason || "not finished") +
  " · generator " + tree.models.generator + (tree.models.embedder ? " · embedder " + tree.models.embedder : ""));
const byDepth = {};
for (const e of tree.entropy_history) { (byDepth[e.depth] = byDepth[e.depth] || []).push(e.value); }
const et = document.createElement("table");
const head = et.insertRow();
for (const h of ["depth", "expansions", "mean entropy", "min"]) text(head.appendChild(document.createElement("th")), h);
for (const [depth, vals] of Object.entries(byDepth)) {
  const r = et.insertRow();
  r.dataset.depth = depth;
  for (const v of [depth, vals.length, (vals.reduce((a, b) => a + b, 0) / vals.length).toFixed(3), Math.min(...vals).toFixed(3)]) text(r.insertCell(), String(v));
}
document.getElementById("entropy").append(et);
const decisions = document.createElement("table");
decisions.id = "decisions";
const dh = decisions.insertRow();
for (const h of ["children of", "depth", "entropy", "min", "decision"]) text(dh.appendChild(document.createElement("th")), h);
for (const e of tree.entropy_history) {
  const r = decisions.insertRow();
  const verdict = e.reason ? "stop: " + e.reason.replace(/_/g, " ") : "go on";
  for (const v of [e.node, e.depth, e.value.toFixed(3), e.min_entropy, verdict]) text(r.insertCell(), String(v));
}
document.getElementById("entropy").append(decisions);
show(root, document.querySelector('[data-node="' + root.id + '"]') || document.createElement("span"));
document.body.dataset.rendered = "true";
</script>
</body>
</html>
"#;

/// The page for a tree (the output of `tree_json`), with the data embedded as JSON.
pub fn render(tree: &Value) -> String {
    // Inside a script element, "</script" ends it early and "<!--" followed by "<script"
    // switches the parser into a state where the element never ends: escape every "<"
    // (and ">", "&", and the two line separators JavaScript once refused) as a JSON
    // \u escape, which JSON.parse turns back into the same text.
    let json = serde_json::to_string(tree).unwrap_or_else(|_| "{}".into());
    let mut safe = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => safe.push_str("\\u003c"),
            '>' => safe.push_str("\\u003e"),
            '&' => safe.push_str("\\u0026"),
            '\u{2028}' => safe.push_str("\\u2028"),
            '\u{2029}' => safe.push_str("\\u2029"),
            c => safe.push(c),
        }
    }
    PAGE.replace("__TREE__", &safe)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Texts a model can write that would break a naively embedded script: the page must
    /// still run and show every one of them, character for character.
    #[test]
    fn hostile_texts_render_verbatim_in_headless_chromium() {
        let hostile = [
            "<!--<script>",
            "</script><script>document.body.dataset.pwned = 1</script>",
            "a & b <b>bold</b> \u{2028} line \u{2029} para",
            "__TREE__ $& $1",
        ];
        let mut nodes = vec![json!({"id": "n0", "parent": null, "depth": 0, "text": "prompt", "score": null,
                                    "status": "root", "tokens": 0, "gen_ms": 0.0})];
        for (i, text) in hostile.iter().enumerate() {
            nodes.push(json!({"id": format!("n{}", i + 1), "parent": "n0", "depth": 1, "text": text,
                              "score": 0.5, "status": "kept", "tokens": 3, "gen_ms": 1.0}));
        }
        let tree = json!({"nodes": nodes, "stop_reason": "max_depth", "entropy_history": [],
                          "models": {"generator": "g", "embedder": null}});
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("t.html");
        std::fs::write(&page, super::render(&tree)).unwrap();
        // The page sets each text as textContent; the DOM dump escapes it again.
        let dom = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                &format!("--user-data-dir={}", dir.path().join("profile").display()),
                "--virtual-time-budget=3000",
                "--dump-dom",
            ])
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("Debian's chromium is installed (scripts/setup.sh --tests installs it)");
        let dom = String::from_utf8_lossy(&dom.stdout);
        assert!(dom.contains(r#"data-rendered="true""#), "the page's script ran: {}", &dom[..dom.len().min(800)]);
        assert!(!dom.contains("data-pwned"), "no text ran as a script");
        assert_eq!(dom.matches("data-node=\"n").count(), hostile.len() + 1, "every node is drawn");
        let serialised = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        for text in hostile {
            // The tree shows each text on one line, whitespace runs collapsed.
            let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(dom.contains(&serialised(&line)), "{text:?} is shown");
        }
    }
}
