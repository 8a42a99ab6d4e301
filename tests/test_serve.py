"""``pii-factory serve``: the routes, 4xx (never 500) for bad requests, the API key, batching of
concurrent requests, texts kept out of the log, and one real uvicorn on loopback."""

import asyncio
import json
import logging
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

import workflows.serve.__main__
from eval.detection.detector import Detector
from piifactory.child import python_m
from tests.conftest import REPO, VENV_BIN
from workflows.serve.app import MAX_BODY_BYTES, create_app
from workflows.serve.command import KEY_VARIABLE, main

TEXT = "请联系张伟，手机号码是13812345678，谢谢。"
PHONE = {"type": "PHONE", "start": 11, "end": 22, "value": "13812345678", "source": "rules"}


@pytest.fixture()
def client():
    with TestClient(create_app(Detector.rules_only())) as client:
        yield client


def _without_score(spans: list[dict]) -> list[dict]:
    return [{k: v for k, v in s.items() if k != "score"} for s in spans]


def test_analyze_finds_the_phone_and_anonymize_masks_it(client: TestClient) -> None:
    reply = client.post("/analyze", json={"text": TEXT})
    assert reply.status_code == 200 and _without_score(reply.json()["entities"]) == [PHONE]
    many = client.post("/analyze", json={"texts": [TEXT, "无", TEXT]}).json()["entities"]
    assert [_without_score(spans) for spans in many] == [[PHONE], [], [PHONE]]
    masked = client.post(
        "/anonymize",
        json={"text": TEXT, "operators": {"PHONE": {"type": "mask", "chars_to_mask": 4, "from_end": True}}},
    ).json()
    assert masked["text"] == "请联系张伟，手机号码是1381234****，谢谢。"
    assert _without_score(masked["entities"]) == [PHONE] and masked["items"][0]["operator"] == "mask"
    assert client.post("/anonymize", json={"text": TEXT}).json()["text"] == "请联系张伟，手机号码是<PHONE>，谢谢。"
    assert client.get("/health").json() == {"status": "ok", "model": False, "rules": "union"}


@pytest.mark.parametrize(
    "path,body,status,message",
    [
        ("/analyze", b'{"text": "unterminated', 400, "invalid JSON"),
        ("/analyze", b"\xff\xfe", 400, "invalid JSON"),
        ("/analyze", b"{}", 422, 'missing "text"'),
        ("/analyze", b'{"text": 5}', 422, '"text" must be a string, not int'),
        ("/analyze", b'{"texts": ["a", 5]}', 422, '"texts" must be a list of strings'),
        ("/analyze", b"[1, 2]", 422, "must be a JSON object"),
        ("/anonymize", b'{"text": "a", "operators": {"PHONE": {"type": "shred"}}}', 422, "unknown operator"),
        ("/anonymize", b'{"text": null}', 422, '"text" must be a string'),
        ("/analyze", b"[" * 100000 + b"]" * 100000, 400, "invalid JSON"),
    ],
)
def test_bad_requests_get_4xx_with_a_message(
    client: TestClient, path: str, body: bytes, status: int, message: str
) -> None:
    reply = client.post(path, content=body, headers={"content-type": "application/json"})
    assert reply.status_code == status and message in reply.json()["error"]


def test_a_body_over_the_limit_gets_413_with_or_without_a_length(client: TestClient) -> None:
    big = json.dumps({"text": "x" * (4 * 1024 * 1024)}).encode()
    reply = client.post("/analyze", content=big, headers={"content-type": "application/json"})
    assert reply.status_code == 413 and f"{MAX_BODY_BYTES}-byte limit" in reply.json()["error"]

    def chunks():  # no Content-Length: the body is counted as it is read
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    assert client.post("/analyze", content=chunks()).status_code == 413


def test_with_a_key_requests_without_it_get_401(tmp_path: Path) -> None:
    with TestClient(create_app(Detector.rules_only(), api_key="s3cret")) as client:
        assert client.post("/analyze", json={"text": TEXT}).status_code == 401
        assert client.post("/analyze", json={"text": TEXT}, headers={"X-API-Key": "wrong"}).status_code == 401
        assert "API key" in client.post("/anonymize", json={"text": TEXT}).json()["error"]
        assert client.post("/analyze", json={"text": TEXT}, headers={"X-API-Key": "s3cret"}).status_code == 200
        ok = client.post("/analyze", json={"text": TEXT}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and _without_score(ok.json()["entities"]) == [PHONE]
        assert client.get("/health").status_code == 200


def test_concurrent_requests_are_batched_and_texts_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    detector = Detector.rules_only()
    calls: list[int] = []
    analyze = detector.analyze
    detector.analyze = lambda texts: calls.append(len(texts)) or analyze(texts)  # type: ignore[method-assign]
    app = create_app(detector, wait_s=0.05)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            replies = await asyncio.gather(*(c.post("/analyze", json={"text": f"{TEXT}{i}"}) for i in range(12)))
        return [r.status_code for r in replies]

    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(run()) == [200] * 12
    assert sum(calls) == 12 and len(calls) < 12  # several requests shared a model call
    assert "13812345678" not in caplog.text and "张伟" not in caplog.text and "batch: " in caplog.text


def test_off_loopback_without_a_key_refuses_to_start(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    assert main(["--rules-only", "--host", "0.0.0.0"]) == 2
    assert "--host 0.0.0.0 is reachable from other machines" in capsys.readouterr().err
    empty = tmp_path / "key"
    empty.write_text("\n", encoding="utf-8")
    assert main(["--rules-only", "--host", "0.0.0.0", "--api-key-file", str(empty)]) == 2
    assert "API key file is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--rules-only", "--api-key", "s3cret"])  # never a command-line value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_uvicorn_on_loopback_with_a_key_from_the_environment(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), KEY_VARIABLE: "k3y"}
    command = [str(VENV_BIN / "python"), *python_m(workflows.serve.__main__, "--rules-only", "--port", port)[1:]]
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        headers = {"X-API-Key": "k3y"}
        reply = httpx.post(f"{base}/analyze", json={"text": TEXT}, headers=headers)
        assert _without_score(reply.json()["entities"]) == [PHONE]
        assert httpx.post(f"{base}/analyze", json={"text": TEXT}).status_code == 401
        assert httpx.post(f"{base}/analyze", content=b"{", headers=headers).status_code == 400
        big = b'{"text": "' + b"x" * (4 * 1024 * 1024) + b'"}'
        assert httpx.post(f"{base}/analyze", content=big, headers=headers).status_code == 413
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=30)
    assert "13812345678" not in log and "张伟" not in log and "POST /analyze" in log


@pytest.mark.slow
def test_served_model_detector_with_rules_finds_the_phone(tiny_model: Path, tmp_path: Path) -> None:
    from bench.fixtures import tiny_inference_recipe, write_alpaca_splits
    from eval.detection.detector import Options

    data = write_alpaca_splits(tmp_path, {"train": 2})
    recipe = tiny_inference_recipe(tiny_model, data, dataset="pii_synth_train")
    detector = Detector.from_recipe(recipe, Options(rules="both", max_new_tokens=24, batch_size=4))
    with TestClient(create_app(detector)) as client:
        replies = [client.post("/analyze", json={"text": TEXT}) for _ in range(2)]
        assert client.get("/health").json()["model"] is True
    for reply in replies:
        spans = reply.json()["entities"]
        assert ("PHONE", 11, 22) in {(s["type"], s["start"], s["end"]) for s in spans}
        assert all(TEXT[s["start"] : s["end"]] == s["value"] for s in spans)
