"""``pii-factory serve``: the detector over HTTP (FastAPI + uvicorn): ``POST /analyze``,
``POST /anonymize``, ``GET /health``; concurrent requests batched for the model (docs/detector.md)."""
