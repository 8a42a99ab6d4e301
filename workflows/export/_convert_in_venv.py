"""Runs llama.cpp's ``convert_hf_to_gguf.py`` inside the converter venv (imports nothing of the pack).

``python _convert_in_venv.py LLAMA_CPP_TREE PRE_TOKENIZER -- CONVERTER_ARGS...``

PRE_TOKENIZER ``-`` runs the converter untouched. A name (``qwen2``) is used only when the converter
does not recognise the tokenizer's pre-tokenizer hash, for test models with a tokenizer of their
own; the GGUF's text tokenization then differs from training (eval's llama.cpp backend reports it).
"""

import runpy
import sys


def main() -> None:
    tree, pre_tokenizer, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: _convert_in_venv.py TREE PRE_TOKENIZER -- ARGS..."
    sys.path.insert(0, tree)
    if pre_tokenizer != "-":
        from conversion import base, logger

        recognised = base.TextModel.get_vocab_base_pre

        def get_vocab_base_pre(self, tokenizer) -> str:
            try:
                return recognised(self, tokenizer)
            except NotImplementedError:
                logger.warning("pre-tokenizer not recognised: writing %r as asked (--pre-tokenizer)", pre_tokenizer)
                return pre_tokenizer

        base.TextModel.get_vocab_base_pre = get_vocab_base_pre
    script = f"{tree}/convert_hf_to_gguf.py"
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
