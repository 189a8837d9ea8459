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
function show(n, el) {
  document.querySelectorAll(".node.selected").forEach(e => e.classList.remove("selected"));
  el.classList.add("selected");
  const d = document.getElementById("detail");
  d.replaceChildren();
  d.append(text(document.createElement("h3"), n.id + (n.depth ? " · depth " + n.depth : "")));
  const facts = [["status", why[n.status] || n.status], ["score", n.score == null ? "–" : n.score.toFixed(4)],
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
show(root, document.querySelector('[data-node="' + root.id + '"]') || document.createElement("span"));
document.body.dataset.rendered = "true";
</script>
</body>
</html>
"#;

/// The page for a tree (the output of `tree_json`), with the data embedded as JSON.
pub fn render(tree: &Value) -> String {
    // "</" inside the embedded JSON would end the script element early.
    let json = serde_json::to_string(tree).unwrap_or_else(|_| "{}".into()).replace("</", "<\\/");
    PAGE.replace("__TREE__", &json)
}
