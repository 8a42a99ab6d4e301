"""``pii-factory scan``: the detector over files (JSONL, CSV, Parquet, plain text or a folder of
them), streamed in resumable parts, in one process or on Ray Data (docs/detector.md)."""
