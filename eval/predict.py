"""``python -m eval.predict RECIPE.yaml [key=value ...] --out preds.jsonl``

Prompts are rendered by LLaMA-Factory's own converter and template (the processor its
``do_predict`` uses), so they are the training prompts token for token. Greedy decoding goes
through :func:`eval.decoding.generation.generate_answers`. Output lines follow LLaMA-Factory's
``generated_predictions.jsonl`` (``prompt``, ``predict``, ``label``) plus ``id``; finished ids are
skipped on a rerun, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from eval.decoding.dial import OperatingPoint, parse_min_score, read_point
from eval.detection.detector import Decision, Detector, Options
from eval.detection.inference_args import load_recipe
from eval.detection.prompts import Prompt, render_prompts
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


def operating_point(path: Path | None, recall_bias: float | None, min_score: str | None) -> OperatingPoint:
    """The point from a calibration file, with ``--recall-bias`` / ``--min-score`` overriding it."""
    point = read_point(path) if path is not None else OperatingPoint()
    if recall_bias is not None:
        point = OperatingPoint(recall_bias, point.min_score, point.per_type)
    if min_score is not None:
        default, per_type = parse_min_score(min_score)
        point = OperatingPoint(point.recall_bias, default, per_type)
    return point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", help="training recipe YAML (model, adapter, template, thinking, cutoff)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. adapter_name_or_path=outputs/x")
    parser.add_argument("--out", required=True, type=Path, help="predictions JSONL (appended to; done ids skipped)")
    parser.add_argument("--dataset", help="dataset name from dataset_info.json or a data file (default: eval_dataset)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument("--limit", type=int, help="first N samples only")
    parser.add_argument(
        "--backend",
        choices=("hf", "vllm", "llamacpp"),
        default="hf",
        help="llamacpp: the --gguf file on CPU through llama.cpp (eval/decoding/llamacpp_backend.py)",
    )
    parser.add_argument(
        "--gguf",
        type=Path,
        help="GGUF model for --backend llamacpp (the recipe still gives the "
        "tokenizer and template: point model_name_or_path at the exported HF model)",
    )
    parser.add_argument(
        "--values",
        choices=("copy", "free"),
        default="copy",
        help="copy: a value can only be text of the input (copy-constrained decoding, hf and "
        "llamacpp backends); "
        "free: plain greedy decoding, the model's raw answer",
    )
    parser.add_argument(
        "--no-structure",
        action="store_true",
        help="copy-constrained values only, without holding the rest of the answer to the format "
        "(structure-safe decoding is on by default with --values copy)",
    )
    parser.add_argument(
        "--operating-point",
        type=Path,
        help="recall bias and score thresholds chosen by python -m eval.calibrate (flags below win)",
    )
    parser.add_argument(
        "--recall-bias",
        type=float,
        help="logit offset against closing the entity list: > 0 makes the model propose more entities",
    )
    parser.add_argument("--min-score", help="keep entities scoring at least S: S, or S,TYPE=S,... per type")
    parser.add_argument(
        "--second-look",
        action="store_true",
        help="predict again with the found values masked and add what that finds (twice the time)",
    )
    parser.add_argument(
        "--rules",
        choices=("off", "union", "verify", "both"),
        default="off",
        help="merge checksum-verified rule hits: union adds missed ones (recall), verify drops "
        "predictions failing their checksum (precision), both does the two",
    )
    parser.add_argument("--no-progress", action="store_true")
    ns = parser.parse_args(argv)
    try:
        recipe = load_recipe(ns.recipe, ns.overrides)
        count = run(
            recipe,
            ns.out,
            dataset=ns.dataset,
            limit=ns.limit,
            progress=not ns.no_progress,
            batch_size=ns.batch_size,
            max_new_tokens=ns.max_new_tokens,
            backend=ns.backend,
            gguf=ns.gguf,
            values=ns.values,
            structure=not ns.no_structure,
            point=operating_point(ns.operating_point, ns.recall_bias, ns.min_score),
            rules=ns.rules,
            second_look=ns.second_look,
        )
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {count} predictions to {ns.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
