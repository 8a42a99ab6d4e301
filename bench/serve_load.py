"""``pii-factory serve`` under a bounded loopback load: a fixed number of ``POST /analyze``
requests, 16 at a time, against a real uvicorn on 127.0.0.1 (an ephemeral port) in this process;
it stops by itself. Reports errors (the goal is 0), p50 and p99 latency and requests/s, for the
rules-only detector and the tiny model (untrained: the time of decoding, with batching)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.common import Row, scaled
from bench.fixtures import tiny_inference_recipe, write_alpaca_splits

CONCURRENCY = 16
RULES_REQUESTS = 2000
MODEL_REQUESTS = 160
MAX_NEW_TOKENS = 24


@contextlib.contextmanager
def loopback_server(app):
    """uvicorn serving ``app`` on 127.0.0.1 with a port the system picks; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def load(base: str, texts: list[str], concurrency: int = CONCURRENCY) -> tuple[list[float], int, float]:
    """(latency of each request in seconds, errors, wall seconds) of one request per text."""
    import httpx

    async def run() -> tuple[list[float], int]:
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

            async def one(text: str) -> None:
                nonlocal errors
                async with gate:
                    started = time.perf_counter()
                    try:
                        reply = await client.post("/analyze", json={"text": text})
                        errors += reply.status_code != 200
                    except httpx.HTTPError:
                        errors += 1
                    latencies.append(time.perf_counter() - started)

            await asyncio.gather(*(one(text) for text in texts))
        return latencies, errors

    started = time.perf_counter()
    latencies, errors = asyncio.run(run())
    return latencies, errors, time.perf_counter() - started


def _rows(label: str, latencies: list[float], errors: int, wall: float, note: str) -> list[Row]:
    p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
    return [
        Row("serve-load", f"{label}: errors", errors, f"of {len(latencies)} requests", note),
        Row("serve-load", f"{label}: p50 latency", float(p50), "ms", note),
        Row("serve-load", f"{label}: p99 latency", float(p99), "ms", note),
        Row("serve-load", f"{label}: throughput", len(latencies) / wall, "requests/s", note),
    ]


def run(scale: float) -> list[Row]:
    from eval.detection.detector import Detector, Options
    from piifactory.models.tiny_model import build
    from piifactory.synth import generate
    from workflows.serve.app import create_app

    rows: list[Row] = []
    n_rules, n_model = scaled(RULES_REQUESTS, scale, 64), scaled(MODEL_REQUESTS, scale, 32)
    texts = [s.text for s in generate(max(n_rules, n_model), seed=11)]
    with loopback_server(create_app(Detector.rules_only())) as base:
        note = f"{n_rules} synthetic texts, {CONCURRENCY} concurrent, loopback, rules-only detector"
        rows += _rows("rules only", *load(base, texts[:n_rules]), note)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp, contextlib.redirect_stdout(sys.stderr):
        data = write_alpaca_splits(Path(tmp), {"train": 2})
        recipe = tiny_inference_recipe(build(Path(tmp) / "tiny-qwen3"), data, dataset="pii_synth_train")
        detector = Detector.from_recipe(recipe, Options(rules="both", max_new_tokens=MAX_NEW_TOKENS, batch_size=16))
        detector.analyze(texts[:2])  # the model loads before the clock starts
        with loopback_server(create_app(detector)) as base:
            note = (
                f"{n_model} synthetic texts, {CONCURRENCY} concurrent, loopback, tiny Qwen3 (untrained) + rules, "
                f"max {MAX_NEW_TOKENS} new tokens, CPU"
            )
            rows += _rows("tiny model + rules", *load(base, texts[:n_model]), note)
    return rows
