"""PII Factory core: the one schema, checksums, synthetic data and the tiny local model."""
