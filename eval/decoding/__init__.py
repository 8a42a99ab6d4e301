"""How an answer is generated: the generator, structure-safe and copy-constrained decoding, the
recall dial, the second look, and the llama.cpp and vLLM backends."""
