"""``make demo``: synthetic data -> tiny Qwen3 -> ``llamafactory-cli train`` -> predict -> score."""
