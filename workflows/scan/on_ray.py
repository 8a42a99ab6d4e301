"""``scan --ray``: the same parts written from a Ray Data actor pool (``map_batches`` with a
callable class: one detector, so one model, per actor; ``--gpus-per-actor`` places each on its
GPUs). The driver reads the input, hands Ray the texts of the parts still to do, and writes each
part once all its rows are back, so resuming and the output are those of a scan in one process."""

from __future__ import annotations

import json
from typing import Iterable

import numpy as np
from tqdm.auto import tqdm

from eval.detection.detector import Detector, Options
from eval.detection.spans import Span
from piifactory.iterate import batched
from workflows.scan.inputs import Record
from workflows.scan.output import output_line
from workflows.scan.parts import Parts


class DetectorActor:
    """One detector per Ray actor, built once; each batch of texts comes back as span JSON."""

    def __init__(self, recipe: dict | None, options: Options) -> None:
        self.detector = Detector.build(recipe, options)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        spans = self.detector.analyze([str(text) for text in batch["text"]])
        entities = [json.dumps([s.to_dict() for s in found], ensure_ascii=False) for found in spans]
        return {"part": batch["part"], "position": batch["position"], "entities": np.array(entities, dtype=object)}


def connect(address: str, actors: int) -> None:
    """``local``: a Ray started here with a CPU per actor (and one for the driver's tasks);
    ``auto`` or ``HOST:PORT``: a running cluster."""
    import ray

    if address == "local":
        ray.init(num_cpus=actors + 1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    else:
        ray.init(address=address, log_to_driver=False, ignore_reinit_error=True)


def scan_on_ray(
    records: Iterable[Record],
    parts: Parts,
    recipe: dict | None,
    options: Options,
    operators: dict | None,
    address: str,
    actors: int,
    gpus_per_actor: float,
    progress: bool,
) -> tuple[int, int]:
    """Scan the parts not yet written on Ray; returns (rows in the input, rows scanned now)."""
    import ray
    import ray.data

    if actors < 1:
        raise ValueError(f"--actors must be at least 1, got {actors}")
    pending: dict[int, list[Record]] = {}
    count = 0
    for index, chunk in enumerate(batched(records, parts.part_size)):
        count += len(chunk)
        if not parts.done(index):
            pending[index] = chunk
    if not pending:
        return count, 0
    connect(address, actors)
    try:
        items = [
            {"part": index, "position": position, "text": record.text}
            for index, chunk in pending.items()
            for position, record in enumerate(chunk)
        ]
        dataset = ray.data.from_items(items).map_batches(
            DetectorActor,
            fn_constructor_args=(recipe, options),
            concurrency=actors,
            **({"num_gpus": gpus_per_actor} if gpus_per_actor else {}),
            batch_size=max(1, options.batch_size * 4),
            batch_format="numpy",
        )
        found: dict[int, dict[int, list[Span]]] = {index: {} for index in pending}
        with tqdm(total=len(items), desc="scan (ray)", unit="doc", disable=not progress) as bar:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                for index, position, entities in zip(batch["part"], batch["position"], batch["entities"]):
                    found[int(index)][int(position)] = [Span(**s) for s in json.loads(entities)]
                    if len(found[int(index)]) == len(pending[int(index)]):
                        chunk, spans = pending.pop(int(index)), found.pop(int(index))
                        parts.write(int(index), (output_line(r, spans[i], operators) for i, r in enumerate(chunk)))
                bar.update(len(batch["part"]))
    finally:
        ray.shutdown()
    return count, len(items)
