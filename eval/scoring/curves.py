"""Training loss and entity metrics over steps of a training output folder, as one PNG.

Reads the log history LLaMA-Factory/transformers keep in ``trainer_state.json`` (the entity
metrics of the pack's plugin are logged there), so the plot shows what picked the checkpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eval.scoring.markdown_report import save_png
from piifactory.command_line import command_parser
from piifactory.io import InputError


def log_history(output_dir: str | Path) -> list[dict]:
    """The run's log history, from the final ``trainer_state.json`` or the newest checkpoint's."""
    root = Path(output_dir)
    candidates = [root / "trainer_state.json"]
    checkpoints = sorted(root.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    candidates += checkpoints[::-1]
    for path in candidates:
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))["log_history"]
            except (json.JSONDecodeError, KeyError) as exc:
                raise InputError(path, None, f"not a trainer_state.json ({exc})") from None
    raise InputError(root, None, "no trainer_state.json here or in a checkpoint")


def series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(entry["step"], float(entry[key])) for entry in history if key in entry and "step" in entry]
    return [s for s, _ in points], [v for _, v in points]


def plot_curves(history: list[dict], path: str | Path) -> Path:
    """Loss on the left axis, entity precision/recall/F1 on the right (0-1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, loss_ax = plt.subplots(figsize=(8, 4.5))
    for key, style in (("loss", "-"), ("eval_loss", "--")):
        steps, values = series(history, key)
        if steps:
            loss_ax.plot(steps, values, style, color="tab:gray" if key == "loss" else "black", label=key)
    loss_ax.set_xlabel("step")
    loss_ax.set_ylabel("loss")
    metric_ax = loss_ax.twinx()
    for key, color in (
        ("eval_entity_f1", "tab:red"),
        ("eval_entity_recall", "tab:blue"),
        ("eval_entity_precision", "tab:green"),
    ):
        steps, values = series(history, key)
        if steps:
            metric_ax.plot(steps, values, "o-", color=color, label=key.removeprefix("eval_"))
    metric_ax.set_ylim(0, 1.02)
    metric_ax.set_ylabel("entity metric")
    handles = loss_ax.get_legend_handles_labels()[0] + metric_ax.get_legend_handles_labels()[0]
    labels = loss_ax.get_legend_handles_labels()[1] + metric_ax.get_legend_handles_labels()[1]
    loss_ax.legend(handles, labels, loc="center right", fontsize=8)
    loss_ax.set_title("training loss and entity metrics over steps")
    return save_png(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(__name__, __doc__, "outputs/run1 --out report/training_curves.png")
    parser.add_argument("output_dir", help="a training output_dir")
    parser.add_argument("--out", help="PNG path (default: OUTPUT_DIR/training_curves.png)")
    ns = parser.parse_args(argv)
    try:
        history = log_history(ns.output_dir)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = plot_curves(history, ns.out or Path(ns.output_dir) / "training_curves.png")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
