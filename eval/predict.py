"""Predict a dataset with the prompts and decoding the model was trained with: copy-constrained
values, structure-safe decoding, the recall dial and the rules; resumes by id.

Prompts are rendered by LLaMA-Factory's own converter and template (the processor its
``do_predict`` uses), so they are the training prompts token for token. Decoding, the operating
point and the rules merge are the detector's (:mod:`eval.detection.detector`). Output lines follow LLaMA-Factory's
``generated_predictions.jsonl`` (``prompt``, ``predict``, ``label``) plus ``id``; finished ids are
skipped on a rerun, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from eval.detection.arguments import add_arguments, operating_point, options
from eval.detection.detector import Decision, Detector, Options
from eval.detection.inference_args import load_recipe
from eval.detection.prompts import Prompt, render_prompts
from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError
from piifactory.io import iter_jsonl
from piifactory.iterate import batched

__all__ = ["Prompt", "done_ids", "main", "operating_point", "predict", "record", "render_prompts", "run"]


def done_ids(path: Path) -> set[str]:
    """Ids already written; a half-written last line (a crash mid-write) is cut off first."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
    return {str(row["id"]) for _, row in iter_jsonl(path) if isinstance(row, dict) and "id" in row}


def run(
    recipe: dict,
    out: Path,
    *,
    dataset: str | None = None,
    limit: int | None = None,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
    **options: object,
) -> int:
    """Predict every not-yet-done sample of the recipe's eval dataset (or ``dataset``) into
    ``out`` with a detector built from ``recipe`` and :class:`~eval.detection.detector.Options`
    (``options``); returns how many were written now."""
    detector = Detector.from_recipe(recipe, Options(**options))  # type: ignore[arg-type]
    return predict(detector, out, dataset=dataset, limit=limit, progress=progress, report=report)


def predict(
    detector: Detector,
    out: Path,
    *,
    dataset: str | None = None,
    limit: int | None = None,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
) -> int:
    """The detector's decisions on the dataset's not-yet-done samples, appended to ``out`` whole
    lines at a time (fsynced); the model loads only when something is left to do."""
    finished = done_ids(out)
    todo = [p for p in detector.dataset_prompts(dataset, limit) if p.id not in finished]
    if not todo:
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with (
        open(out, "a", encoding="utf-8") as handle,
        tqdm(total=len(todo), desc="predict", unit="sample", disable=not progress) as bar,
    ):
        for chunk in batched(todo, detector.options.batch_size * 4):
            decisions = detector.decide(chunk)
            lines = [json.dumps(record(detector, d), ensure_ascii=False) + "\n" for d in decisions]
            handle.write("".join(lines))  # whole lines per write; done_ids cuts a torn tail
            handle.flush()
            os.fsync(handle.fileno())
            written += len(chunk)
            bar.update(len(chunk))
    detector.report(report)
    return written


def record(detector: Detector, decision: Decision) -> dict:
    """One output line: the served answer in ``predict``; the model's own in ``raw_predict`` when
    score thresholds or rules apply; each entity's score under ``scores``; with rules, which
    source won each served entity under ``sources`` (:mod:`piifactory.rules.hybrid`)."""
    options, prompt = detector.options, decision.prompt
    line = {
        "id": prompt.id,
        "prompt": detector.render.tokenizer.decode(prompt.input_ids, skip_special_tokens=True),  # type: ignore[union-attr]
        "predict": decision.answer.text,
        "label": prompt.label,
    }
    if decision.scores is not None:
        line["recall_bias"] = options.point.recall_bias
        line["scores"] = decision.scores
    if options.rules != "off":
        line["sources"] = [{"type": d.type, "value": d.value, "source": d.source} for d in decision.merged]
    if options.rules != "off" or options.point.filters:
        line["predict"], line["raw_predict"] = decision.served, decision.answer.text
    if decision.second_look is not None:
        line["second_look"] = decision.second_look
    return line


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(
        __name__,
        __doc__,
        "llamafactory_configs/qwen4b_lora.yaml adapter_name_or_path=saves/qwen3-4b/pii --dataset pii_test --out preds.jsonl",
    )
    parser.add_argument("recipe", help="training recipe YAML (model, adapter, template, thinking, cutoff)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. adapter_name_or_path=outputs/x")
    parser.add_argument("--out", required=True, type=Path, help="predictions JSONL (appended to; done ids skipped)")
    parser.add_argument("--dataset", help="dataset name from dataset_info.json or a data file (default: eval_dataset)")
    parser.add_argument("--limit", type=int, help="first N samples only")
    add_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    ns = parser.parse_args(argv)
    try:
        recipe = load_recipe(ns.recipe, ns.overrides)
        detector = Detector.from_recipe(recipe, options(ns))
        count = predict(detector, ns.out, dataset=ns.dataset, limit=ns.limit, progress=not ns.no_progress)
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {count} predictions to {ns.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
