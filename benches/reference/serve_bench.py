"""Batching across requests: `autobranch serve` next to llama-cpp-python's server
(`llama_cpp.server`) on the same GGUF and threads, measured in the same run.

    python benches/reference/serve_bench.py --autobranch target/release/autobranch \\
        --model ~/.cache/autobranch/models/SmolLM2-135M-Instruct.Q4_1.gguf --threads 2

Needs `llama-cpp-python[server]==0.3.36` and `openai==3.51.0` in the running Python (the
peer builds llama.cpp from source: about 10 minutes here). Each server gets the same
workload: single-candidate chat requests (max_tokens 64, temperature 0.8, distinct seeds),
sent by 1, 4, 8 and 16 concurrent clients, and 8 requests one after another against 8 at
once. Reported: generated tokens per second of wall time, and the 8-concurrent speed-up.
Every request asks the same question by default, as many clients of one app do; with
`--prompts distinct` each begins with its own number, so requests share only the chat
template's system prompt and the first word.
Both servers run with a 4096-token context; the peer is started the way its docs say
(`python -m llama_cpp.server --model … --n_threads …`).
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import openai

PROMPT = "Give a plot twist for a detective story set in a Mars colony. Answer in one or two sentences."


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, limit=180):
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=5)
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server at {url} exited with {proc.returncode}")
        try:
            return client.models.list().data[0].id
        except Exception:
            time.sleep(0.5)
    raise SystemExit(f"the server at {url} did not come up in {limit} s")


def prompt_for(seed, distinct):
    return f"Request {seed}: {PROMPT}" if distinct else PROMPT


async def burst(url, model, clients, max_tokens, seed0, distinct):
    """`clients` concurrent requests; returns (wall seconds, generated tokens)."""
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600) as client:

        async def one(i):
            r = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": prompt_for(seed0 + i, distinct)}],
                max_tokens=max_tokens,
                temperature=0.8, seed=seed0 + i,
            )
            return r.usage.completion_tokens

        t0 = time.perf_counter()
        tokens = await asyncio.gather(*(one(i) for i in range(clients)))
        return time.perf_counter() - t0, sum(tokens)


async def one_after_another(url, model, count, max_tokens, seed0, distinct):
    wall, tokens = 0.0, 0
    for i in range(count):
        w, t = await burst(url, model, 1, max_tokens, seed0 + i, distinct)
        wall, tokens = wall + w, tokens + t
    return wall, tokens


def measure(name, url, model, max_tokens, reps, distinct):
    rows = {}
    asyncio.run(burst(url, model, 2, 8, 0, distinct))  # warm-up
    for clients in (1, 4, 8, 16):
        best = None
        for r in range(reps):
            wall, tokens = asyncio.run(burst(url, model, clients, max_tokens, 1000 * r, distinct))
            if best is None or tokens / wall > best[1] / best[0]:
                best = (wall, tokens)
        rows[clients] = best
    seq = asyncio.run(one_after_another(url, model, 8, max_tokens, 500, distinct))
    con = asyncio.run(burst(url, model, 8, max_tokens, 500, distinct))
    return {"name": name, "rows": rows, "sequential_8": seq, "concurrent_8": con}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--autobranch", required=True, help="the autobranch binary (a release build)")
    p.add_argument("--model", required=True, help="the GGUF both servers load")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--prompts", choices=["same", "distinct"], default="same",
                   help="every request the same question, or each its own (numbered) one")
    p.add_argument("--skip-peer", action="store_true", help="measure autobranch serve only")
    p.add_argument("--json", help="also write the numbers to this file")
    args = p.parse_args()

    servers = []
    port = free_port()
    servers.append(("autobranch serve", port, [
        args.autobranch, "serve", "--port", str(port), "--model", args.model, "--threads", str(args.threads),
        "--no-embedder",
    ]))
    if not args.skip_peer:
        port = free_port()
        servers.append(("llama_cpp.server", port, [
            sys.executable, "-m", "llama_cpp.server", "--model", args.model, "--port", str(port),
            "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads), "--n_ctx", "4096",
        ]))
    results = []
    for name, port, cmd in servers:
        env = dict(os.environ, AUTOBRANCH_SERVER__MAX_QUEUE="64")
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            model = wait_ready(url, proc)
            results.append(measure(name, url, model, args.max_tokens, args.reps, args.prompts == "distinct"))
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    print(f"chat, max_tokens {args.max_tokens}, {args.threads} threads, {os.path.basename(args.model)}, "
          f"{args.prompts} prompts\n")
    print("| server | 1 client tok/s | 4 clients | 8 clients | 16 clients | 8 one after another (s) | 8 at once (s) | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        rate = {c: t / w for c, (w, t) in r["rows"].items()}
        seq, con = r["sequential_8"], r["concurrent_8"]
        # Per token, so runs that stop early (EOS) compare fairly.
        speedup = (seq[0] / seq[1]) / (con[0] / con[1])
        print(f"| {r['name']} | {rate[1]:.1f} | {rate[4]:.1f} | {rate[8]:.1f} | {rate[16]:.1f} | "
              f"{seq[0]:.2f} ({seq[1]} tok) | {con[0]:.2f} ({con[1]} tok) | {speedup:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
