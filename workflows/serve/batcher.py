"""Concurrent requests batched for the model: each request's texts wait in a queue for a few
milliseconds, the texts of every request waiting then go to ``detector.analyze`` as one batch
(in one worker thread, so the model runs one batch at a time), and each request gets its share."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from eval.detection.detector import Detector
from eval.detection.spans import Span

log = logging.getLogger("pii_factory.serve")


class Batcher:
    def __init__(self, detector: Detector, *, max_texts: int = 64, wait_s: float = 0.005) -> None:
        self.detector, self.max_texts, self.wait_s = detector, max_texts, wait_s
        self._queue: asyncio.Queue[tuple[list[str], asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def analyze(self, texts: Sequence[str]) -> list[list[Span]]:
        """The spans of ``texts``, decoded together with whatever other requests are waiting."""
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((list(texts), future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            waiting = [await self._queue.get()]
            deadline = loop.time() + self.wait_s
            count = len(waiting[0][0])
            while count < self.max_texts:
                try:
                    item = await asyncio.wait_for(self._queue.get(), max(0.0, deadline - loop.time()))
                except asyncio.TimeoutError:
                    break
                waiting.append(item)
                count += len(item[0])
            texts = [text for request, _ in waiting for text in request]
            started = time.perf_counter()
            try:
                spans = await loop.run_in_executor(self._pool, self.detector.analyze, texts)
            except Exception as exc:  # every waiting request gets the failure, the loop goes on
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(exc)
                continue
            log.info("batch: %d requests, %d texts, %.3f s", len(waiting), len(texts), time.perf_counter() - started)
            offset = 0
            for request, future in waiting:
                if not future.done():
                    future.set_result(spans[offset : offset + len(request)])
                offset += len(request)
