"""The HTTP service: request checks (size, JSON, fields) that answer 4xx with a message, the API
key check, and the three routes. Texts are never logged: the log holds counts and timings."""

from __future__ import annotations

import hmac
import json
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from eval.detection.detector import Detector
from eval.detection.operators import redact
from piifactory.errors import UsageError
from workflows.serve.batcher import Batcher

MAX_BODY_BYTES = 1_000_000
"""The largest request body accepted (1 MB); a larger one gets 413."""
OPEN_PATHS = frozenset({"/health"})


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def create_app(
    detector: Detector, *, api_key: str | None = None, max_body: int = MAX_BODY_BYTES, wait_s: float = 0.005
) -> FastAPI:
    """The service around ``detector``; with ``api_key`` every route but ``/health`` needs it
    (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``)."""
    batcher = Batcher(detector, max_texts=max(1, detector.options.batch_size * 4), wait_s=wait_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="PII Factory detector", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if api_key is not None and request.url.path not in OPEN_PATHS and not _authorized(request, api_key):
            return _error(401, "missing or wrong API key (Authorization: Bearer KEY or X-API-Key: KEY)")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            return _error(413, f"request body over the {max_body}-byte limit")
        return await call_next(request)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": detector.uses_model, "rules": detector.options.rules}

    @app.post("/analyze")
    async def analyze(request: Request) -> dict[str, Any]:
        body = await _body(request, max_body)
        if "texts" in body:
            texts = body["texts"]
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise BadRequest(422, '"texts" must be a list of strings')
            found = await batcher.analyze(texts)
            return {"entities": [[s.to_dict() for s in spans] for spans in found]}
        (spans,) = await batcher.analyze([_text(body)])
        return {"entities": [s.to_dict() for s in spans]}

    @app.post("/anonymize")
    async def anonymize(request: Request) -> dict[str, Any]:
        body = await _body(request, max_body)
        text = _text(body)
        operators = body.get("operators")
        try:
            redact("", [], operators)  # the operators are checked before the model runs
        except UsageError as exc:
            raise BadRequest(422, f"operators: {exc}") from None
        (spans,) = await batcher.analyze([text])
        result = redact(text, spans, operators)
        return {"text": result.text, "items": result.items, "entities": [s.to_dict() for s in spans]}

    return app


def _authorized(request: Request, key: str) -> bool:
    given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
    return hmac.compare_digest(given.encode(), key.encode())


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request, max_body: int) -> dict[str, Any]:
    """The request's JSON object (the size checked again: a chunked body has no length header)."""
    raw = await request.body()
    if len(raw) > max_body:
        raise BadRequest(413, f"request body over the {max_body}-byte limit")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(400, f"invalid JSON: {getattr(exc, 'msg', type(exc).__name__)}") from None
    if not isinstance(body, dict):
        raise BadRequest(422, 'the body must be a JSON object such as {"text": "..."}')
    return body


def _text(body: dict[str, Any]) -> str:
    if "text" not in body:
        raise BadRequest(422, 'missing "text" (or "texts": [...] for /analyze)')
    if not isinstance(body["text"], str):
        raise BadRequest(422, f'"text" must be a string, not {type(body["text"]).__name__}')
    return body["text"]
