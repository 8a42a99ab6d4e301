"""The ``pii-factory`` subcommands: for each, the module whose ``main(argv)`` runs it and one line
of help. The one place in the pack that names modules in strings (the layer test reads it), so the
command line can list every command without importing any of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    module: str
    summary: str
    # arguments put before the user's (a subcommand of a module that serves several)
    prefix: tuple[str, ...] = ()


COMMANDS: dict[str, Command] = {
    "synth": Command("piifactory.synth.command", "write synthetic Chinese PII samples in the users' JSONL format"),
    "convert": Command(
        "converters.cli", "PII data (JSONL, CoNLL, ...) -> checked, split LLaMA-Factory datasets", ("convert",)
    ),
    "stats": Command(
        "converters.cli", "lengths and label counts of a dataset; the cutoff_len that truncates no answer", ("stats",)
    ),
    "audit": Command(
        "converters.cli", "labels missing in one record that the same corpus labels elsewhere", ("audit",)
    ),
    "conformance": Command(
        "converters.cli", "convert every corpus of a real-data folder with its label preset", ("conformance",)
    ),
    "preflight": Command("plugins.preflight.__main__", "will a recipe fit in GPU memory, and is it consistent?"),
    "predict": Command("eval.predict", "predict a dataset with the prompts and decoding the model was trained with"),
    "score": Command("eval.score", "span-level precision, recall and F1 of predictions against gold"),
    "compare": Command("eval.compare", "paired-bootstrap differences between two runs on the same gold"),
    "calibrate": Command("eval.calibrate", "the recall dial: a P/R curve on validation and an operating point"),
    "rules-vs-model": Command(
        "eval.rules_vs_model", "rules alone, model alone and model + rules on the same predictions"
    ),
    "export": Command(
        "workflows.export.__main__", "GGUF files, an ollama Modelfile and a model card, verified by llama.cpp"
    ),
    "experiments": Command(
        "workflows.experiments.__main__", "A/B runs and sweeps on Ray Tune, resumable, with a report"
    ),
    "demo": Command("workflows.demo.plan", "synthetic data -> tiny Qwen3 -> train -> predict -> score, on CPU"),
    "board": Command("workflows.board.__main__", "LLaMA-Board with the pack's datasets and recipes"),
    "scan": Command(
        "workflows.scan.__main__", "find (and redact) PII in JSONL/CSV/Parquet/text files; resumable, on Ray Data"
    ),
    "serve": Command("workflows.serve.__main__", "an HTTP service: /analyze and /anonymize with the trained detector"),
    "tiny-model": Command("piifactory.models.tiny_model", "build the tiny local Qwen3 the tests and the demo train"),
}
