"""Models the pack builds locally: the tiny Qwen3 for tests and the demo, and Qwen's real
tokenizer from dashscope's vocabulary file."""
