"""The serving load test's harness: a real loopback server, a fixed number of requests, errors counted."""

from bench.serve_load import load, loopback_server
from eval.detection.detector import Detector
from workflows.serve.app import create_app


def test_load_test_sends_every_request_and_counts_errors() -> None:
    texts = ["请联系张伟，手机号码是13812345678，谢谢。"] * 40
    with loopback_server(create_app(Detector.rules_only())) as base:
        assert base.startswith("http://127.0.0.1:")
        latencies, errors, wall = load(base, texts, concurrency=16)
        assert len(latencies) == 40 and errors == 0 and wall > 0
        bad, errors, _ = load(base, [5] * 3)  # type: ignore[list-item]  (not strings: 422 each)
        assert len(bad) == 3 and errors == 3
    with loopback_server(create_app(Detector.rules_only(), api_key="k")) as base:
        assert load(base, texts[:4])[1] == 4  # no key: 401 each
