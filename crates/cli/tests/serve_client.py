"""`autobranch serve` through the official `openai` Python client (the version pinned in
scripts/fetch-models.sh), run by crates/cli/tests/serve.rs against real servers on the
default models:

    serve_client.py MAIN_URL MAIN_PID GUARDED_URL KEY

MAIN is a plain server; GUARDED wants KEY, queues at most 2 requests and times requests out
after 2 s. AUTOBRANCH_BIN names the CLI, for the comparisons with `autobranch embed` and
`autobranch select --json`. Every check raises on failure; the last step stops MAIN with
SIGTERM while a request is in flight.
"""

import asyncio
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx2 as httpx  # the HTTP client openai 3.x is built on
import openai

MAIN, MAIN_PID, GUARDED, KEY = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
BIN = os.environ["AUTOBRANCH_BIN"]
REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..")

client = openai.OpenAI(base_url=MAIN + "/v1", api_key="unused", max_retries=0, timeout=120)
models = [m.id for m in client.models.list().data]
GEN, EMB = models[0], models[1]
CHAT = [{"role": "user", "content": "Give a plot twist for a detective story set in a Mars colony."}]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def step(name):
    print(f"serve_client: {name}", flush=True)


step(f"models {models}")
check(GEN.endswith(".gguf") and EMB == "all-minilm-l6-v2", f"unexpected models {models}")

step("chat, n = 4, logprobs")
r = client.chat.completions.create(
    model=GEN, messages=CHAT, n=4, max_tokens=16, seed=7, logprobs=True, top_logprobs=2
)
check([c.index for c in r.choices] == [0, 1, 2, 3], f"choice indices {[c.index for c in r.choices]}")
check(len({c.message.content for c in r.choices}) > 1, "four seeds gave one text")
check(r.usage.completion_tokens <= 4 * 16 and r.usage.prompt_tokens > 0, f"usage {r.usage}")
check(r.usage.prompt_tokens_details.cached_tokens == 0, f"a request alone shares no cells: {r.usage}")
for c in r.choices:
    check(c.finish_reason in ("stop", "length"), c.finish_reason)
    content = c.logprobs.content
    check(0 < len(content) <= 16, f"{len(content)} token logprobs")
    check("".join(t.token for t in content) == c.message.content, "tokens do not add up to the text")
    for t in content:
        check(t.logprob <= 0 and len(t.top_logprobs) == 2, f"token {t}")
        check(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob, "top_logprobs out of order")
        check(t.logprob <= t.top_logprobs[0].logprob + 1e-6, "sampled token above the best")
check(sum(len(c.logprobs.content) for c in r.choices) <= r.usage.completion_tokens, "more tokens than usage")

step("streaming, n = 2, equals the same request unstreamed")
texts, reasons, usage = ["", ""], [None, None], None
for chunk in client.chat.completions.create(
    model=GEN, messages=CHAT, n=2, max_tokens=24, seed=11, stream=True, stream_options={"include_usage": True}
):
    if chunk.usage is not None:
        usage = chunk.usage
    for c in chunk.choices:
        texts[c.index] += c.delta.content or ""
        reasons[c.index] = c.finish_reason or reasons[c.index]
whole = client.chat.completions.create(model=GEN, messages=CHAT, n=2, max_tokens=24, seed=11)
check(texts == [c.message.content for c in whole.choices], f"streamed {texts} vs {whole.choices}")
check(all(reasons) and usage.completion_tokens == whole.usage.completion_tokens, f"{reasons} {usage}")

step("completions: one prompt with logprobs, two prompts at once")
c = client.completions.create(model=GEN, prompt="Once upon a time", n=2, max_tokens=8, seed=3, logprobs=1)
check(len(c.choices) == 2 and all(ch.text for ch in c.choices), f"{c.choices}")
check(all(len(ch.logprobs.tokens) == len(ch.logprobs.token_logprobs) > 0 for ch in c.choices), "completion logprobs")
c = client.completions.create(model=GEN, prompt=["The sea", "The moon"], n=2, max_tokens=6, seed=3)
check([ch.index for ch in c.choices] == [0, 1, 2, 3], f"{[ch.index for ch in c.choices]}")
parts = []
for chunk in client.completions.create(model=GEN, prompt="The sea", max_tokens=6, seed=3, stream=True):
    parts += [ch.text for ch in chunk.choices]
alone = client.completions.create(model=GEN, prompt="The sea", max_tokens=6, seed=3)
check("".join(parts) == alone.choices[0].text, f"streamed {parts} vs {alone.choices[0].text!r}")

step("embeddings equal `autobranch embed` (float and base64)")
texts = ["A detective on Mars.", "The colony's oxygen ledger was forged.", ""]
cli = subprocess.run([BIN, "embed", "--json", "-"], input="\n".join(texts) + "\n", capture_output=True, text=True)
check(cli.returncode == 0, cli.stderr)
want = json.loads(cli.stdout)["embeddings"]
for fmt in ("float", None):
    got = client.embeddings.create(model=EMB, input=texts, **({"encoding_format": fmt} if fmt else {}))
    for a, b in zip(got.data, want):
        cos = sum(x * y for x, y in zip(a.embedding, b)) / (
            math.sqrt(sum(x * x for x in a.embedding)) * math.sqrt(sum(y * y for y in b))
        )
        check(cos >= 0.9999, f"cosine {cos} ({fmt})")
one = client.embeddings.create(model=EMB, input="A detective on Mars.")
check(len(one.data) == 1 and len(one.data[0].embedding) == len(want[0]), "single-string input")

step("/v1/select equals `autobranch select --json`")
lines = [json.loads(l) for l in open(os.path.join(REPO, "examples", "select.jsonl"))]
parent = next(l for l in lines if l.get("role") == "parent")
config = {
    "beam": {"k": 8},
    "novelty": {"type": "cosine", "threshold": 0.75},
    "entropy": {"type": "shannon", "min_entropy": 0.65, "k_max": 4},
    "budget": {"max_nodes": 32, "max_tokens": 30000, "max_ms": 12000, "mode": "soft"},
}
body = {"parent": parent, "candidates": [l for l in lines if l is not parent], "config": config}
served = httpx.post(MAIN + "/v1/select", json=body, timeout=60)
check(served.status_code == 200, served.text)
cli = subprocess.run(
    [BIN, "select", "--input", os.path.join(REPO, "examples", "select.jsonl"), "--config",
     os.path.join(REPO, "examples", "mars-twist.yaml"), "--json"],
    capture_output=True, text=True,
)
check(cli.returncode == 0, cli.stderr)
a, b = served.json(), json.loads(cli.stdout)
for x in (a, b):
    x["budget"].pop("used_ms", None)
check(a == b, f"served {a}\ncli {b}")
no_vectors = {"parent": {"id": "p", "text": parent["text"]},
              "candidates": [{"id": l["id"], "text": l["text"]} for l in lines if l is not parent]}
served = httpx.post(MAIN + "/v1/select", json=no_vectors, timeout=60)
check(served.status_code == 200 and served.json()["kept"], served.text)

step("/v1/explore, whole and streamed")
tree_config = {"explore": {"n": 3, "max_depth": 1}, "generation": {"max_tokens": 12, "seed": 5}}
whole = httpx.post(MAIN + "/v1/explore", json={"prompt": CHAT[0]["content"], "config": tree_config}, timeout=120)
check(whole.status_code == 200, whole.text)
tree = whole.json()
check(len(tree["nodes"]) == 4 and tree["config"]["explore"]["n"] == 3, f"{len(tree['nodes'])} nodes")
events = []
with httpx.stream("POST", MAIN + "/v1/explore", json={"prompt": CHAT[0]["content"], "config": tree_config,
                                                      "stream": True}, timeout=120) as s:
    kind = None
    for line in s.iter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            events.append((kind, line[6:]))
            kind = None
check([k for k, _ in events] == ["expansion", "tree", None] and events[-1][1] == "[DONE]", f"{events}")
check(len(json.loads(events[0][1])["nodes"]) == 3, events[0][1])
streamed = json.loads(events[1][1])
check([n["text"] for n in streamed["nodes"]] == [n["text"] for n in tree["nodes"]], "streamed tree differs")

step("errors through the client's exception types")
def raises(kind, call, status=None, param=None, text=None):
    try:
        call()
    except kind as e:
        if status is not None:
            check(e.status_code == status, f"status {e.status_code}, wanted {status}")
        body = e.body if isinstance(e.body, dict) else {}
        if param is not None:
            check(body.get("param") == param, f"param {body.get('param')!r}, wanted {param!r}")
        if text is not None:
            check(text in str(e), f"{text!r} not in {e}")
        return e
    raise AssertionError(f"no {kind.__name__}")

raises(openai.NotFoundError, lambda: client.chat.completions.create(model="gpt-4o", messages=CHAT),
       text=GEN)
raises(openai.BadRequestError, lambda: client.chat.completions.create(model=GEN, messages=CHAT, n=1000), param="n")
raises(openai.BadRequestError,
       lambda: client.chat.completions.create(model=GEN, messages=CHAT, max_tokens=10**6), param="max_tokens")
raises(openai.BadRequestError, lambda: client.chat.completions.create(
    model=GEN, messages=CHAT, tools=[{"type": "function", "function": {"name": "f"}}]), param="tools")
raises(openai.BadRequestError,
       lambda: client.chat.completions.create(model=GEN, messages=CHAT, temperature=-1), text="temperature")
raises(openai.BadRequestError, lambda: client.chat.completions.create(model=GEN, messages=[]), param="messages")
too_large = raises(openai.APIStatusError, lambda: client.chat.completions.create(
    model=GEN, messages=[{"role": "user", "content": "x" * (5 << 20)}]), status=413)
# The unread body ends the connection, and the response says so (no reuse, no race).
check(too_large.response.headers.get("connection") == "close", f"{too_large.response.headers}")
raises(openai.BadRequestError, lambda: client.embeddings.create(model=EMB, input=[]), param="input")
bad = httpx.post(MAIN + "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
check(bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error", bad.text)
bad = httpx.post(MAIN + "/v1/explore", json={"prompt": "x", "config": {"generator": {"model": "/etc/passwd"}}})
check(bad.status_code == 400 and bad.json()["error"]["param"] == "config.generator", bad.text)
bad = httpx.post(MAIN + "/v1/explore", json={"prompt": "x", "config": {"explore": {"n": 64, "max_depth": 4}}})
check(bad.status_code == 400 and "max_explore_nodes" in bad.text, bad.text)

step("a client that goes away cancels its sequences")
def cancelled():
    m = httpx.get(MAIN + "/metrics").text
    return int(next(l.split()[1] for l in m.splitlines() if l.startswith("autobranch_cancelled_total")))
before = cancelled()
with httpx.stream("POST", MAIN + "/v1/chat/completions", json={
        "model": GEN, "messages": CHAT, "max_tokens": 3000, "stream": True, "n": 2}, timeout=60) as s:
    for i, _ in enumerate(s.iter_lines()):
        if i > 6:
            break
deadline = time.time() + 10
while cancelled() == before and time.time() < deadline:
    time.sleep(0.1)
check(cancelled() > before, "the dropped stream was not cancelled")
t0 = time.time()
client.chat.completions.create(model=GEN, messages=CHAT, max_tokens=4)
check(time.time() - t0 < 10, "the server was still busy with the cancelled request")

step("the guarded server: key, queue bound, timeout")
guarded = openai.OpenAI(base_url=GUARDED + "/v1", api_key=KEY, max_retries=0, timeout=60)
raises(openai.AuthenticationError, lambda: openai.OpenAI(base_url=GUARDED + "/v1", api_key="wrong", max_retries=0)
       .models.list(), status=401)
check(httpx.get(GUARDED + "/health").status_code == 200, "/health needs no key")
check(guarded.models.list().data[0].id == GEN, "keyed request")
# About 1500 prompt tokens: seconds of prompt decoding on two cores, past the 2 s timeout.
LONG = [{"role": "user", "content": "word " * 1500}]
raises(openai.InternalServerError, lambda: guarded.chat.completions.create(
    model=GEN, messages=LONG, max_tokens=8), status=504)
results = []
def long_request():
    try:
        guarded.chat.completions.create(model=GEN, messages=LONG, max_tokens=8)
        results.append("ok")
    except openai.APIStatusError as e:
        results.append(e.status_code)
threads = [threading.Thread(target=long_request) for _ in range(2)]
for t in threads:
    t.start()
time.sleep(0.5)
busy = httpx.post(GUARDED + "/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                  json={"model": GEN, "messages": CHAT, "max_tokens": 4})
check(busy.status_code == 429 and busy.headers.get("retry-after") == "1", f"{busy.status_code} {busy.headers}")
raises(openai.RateLimitError, lambda: guarded.chat.completions.create(model=GEN, messages=CHAT, max_tokens=4))
for t in threads:
    t.join()
check(results == [504, 504], f"{results}")

step("load: 32 concurrent clients x 2 requests, each answered as if alone")
prompts = [f"Item {i}: the colony's {w}" for i, w in enumerate(["dome", "rover", "ledger", "garden"] * 8)]
solo = {}
for p in prompts[:8]:
    solo[p] = client.completions.create(model=GEN, prompt=p, max_tokens=8, temperature=0, seed=1).choices[0].text

async def load():
    aclient = openai.AsyncOpenAI(base_url=MAIN + "/v1", api_key="unused", max_retries=0, timeout=300)
    latencies, answers = [], []

    async def one_client(i):
        for j in range(2):
            p = prompts[i]
            t0 = time.perf_counter()
            r = await aclient.completions.create(model=GEN, prompt=p, max_tokens=8, temperature=0, seed=1,
                                                 n=1 + (i + j) % 3)
            latencies.append(time.perf_counter() - t0)
            answers.append((p, 1 + (i + j) % 3, r))

    await asyncio.gather(*(one_client(i) for i in range(32)))
    return latencies, answers

latencies, answers = asyncio.run(load())
check(len(answers) == 64, f"{len(answers)} answers")
check(len({r.id for _, _, r in answers}) == 64, "repeated response ids")
for p, n, r in answers:
    check(len(r.choices) == n, f"{p}: {len(r.choices)} choices, asked {n}")
    check(r.usage.completion_tokens <= 8 * n, f"{p}: usage {r.usage}")
    if p in solo:
        check(all(c.text == solo[p] for c in r.choices), f"{p}: {[c.text for c in r.choices]} vs {solo[p]!r}")
# Concurrent prompts that begin alike ("Item …") share those cells.
cached = sum(r.usage.prompt_tokens_details.cached_tokens for _, _, r in answers)
check(0 < cached < sum(r.usage.prompt_tokens for _, _, r in answers), f"{cached} cached prompt tokens")
latencies.sort()
p99 = latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)]
print(f"serve_client: load latency p50 {statistics.median(latencies):.2f} s, p99 {p99:.2f} s", flush=True)

step("SIGTERM finishes the request in flight, then the server exits")
done = []
def in_flight():
    done.append(client.chat.completions.create(model=GEN, messages=CHAT, max_tokens=48).choices[0].finish_reason)
t = threading.Thread(target=in_flight)
t.start()
time.sleep(0.5)
os.kill(MAIN_PID, signal.SIGTERM)
t.join()
check(done and done[0] in ("stop", "length"), f"{done}")
print("serve_client: all checks passed", flush=True)
