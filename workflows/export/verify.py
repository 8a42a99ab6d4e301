"""The exported files answer like the trained model: HF and each GGUF predict the same samples
with ``eval.predict`` (the same prompts, greedy, the same scorer), side by side in one run.

Used by the export (``--verify N``: the model card's table) and by ``make bench`` (tokens/s).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from eval.inputs import load
from eval.predict import run as predict
from eval.scoring.scorer import report_dict, score_samples
from piifactory.io import InputError


@dataclass(frozen=True)
class Measured:
    label: str  # "hf" or the quantisation
    size_bytes: int  # model file(s) on disk
    precision: float | None  # None: the labels are not PII answers (a domain Q&A model)
    recall: float | None
    f1: float | None
    seconds: float  # wall time of the whole predict run (prompt processing included)
    new_tokens: int  # tokens of all answers, counted with the training tokenizer
    same_as_hf: int  # answers identical to HF's, character for character
    samples: int
    tokenizer_note: str = ""

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


def _answers(path: Path) -> dict[str, str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {str(row["id"]): row["predict"] for row in rows}


def _micro(path: Path) -> dict:
    """Entity micro P/R/F1 of a predictions file, or {} when its labels are not PII answers."""
    try:
        samples = load(path)
    except InputError:
        return {}
    return report_dict(score_samples(samples.texts, samples.gold, samples.predictions))["micro"]


def _hf_size(model: Path) -> int:
    return sum(p.stat().st_size for p in model.glob("*.safetensors"))


def measure(
    recipe: dict,
    hf_dir: Path,
    ggufs: dict[str, Path],
    out_dir: Path,
    *,
    dataset: str | None = None,
    limit: int = 64,
    values: str = "copy",
    max_new_tokens: int = 256,
    batch_size: int = 8,
) -> list[Measured]:
    """Predict ``limit`` samples with HF, then with each GGUF; score and time each run."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    recipe = {**recipe, "model_name_or_path": str(hf_dir)}
    recipe.pop("adapter_name_or_path", None)  # hf_dir is the merged model
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = [("hf", None), *ggufs.items()]
    rows: list[Measured] = []
    reference: dict[str, str] = {}
    for label, gguf in runs:
        path = out_dir / f"predictions-{label}.jsonl"
        path.unlink(missing_ok=True)
        notes: list[str] = []
        started = time.perf_counter()
        predict(
            recipe,
            path,
            dataset=dataset,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            limit=limit,
            backend="llamacpp" if gguf else "hf",
            gguf=gguf,
            values=values,
            progress=False,
            report=notes.append,
        )
        seconds = time.perf_counter() - started
        answers = _answers(path)
        reference = reference or answers
        micro = _micro(path)
        rows.append(
            Measured(
                label=label,
                size_bytes=gguf.stat().st_size if gguf else _hf_size(hf_dir),
                precision=micro.get("precision"),
                recall=micro.get("recall"),
                f1=micro.get("f1"),
                seconds=seconds,
                new_tokens=sum(len(tokenizer.encode(a, add_special_tokens=False)) for a in answers.values()),
                same_as_hf=sum(answers[k] == reference.get(k) for k in answers),
                samples=len(answers),
                tokenizer_note="; ".join(notes),
            )
        )
    return rows


def as_json(rows: list[Measured]) -> list[dict]:
    return [{**asdict(row), "tokens_per_second": row.tokens_per_second} for row in rows]
