"""ONNX Runtime sessions that share the machine's cores between concurrent questions.

One question alone is fastest with every core working on its model runs (ONNX Runtime's
intra-op threads). Several questions at once are served faster when each run gets one core:
intra-op threads split small inputs with overhead or not at all (one short window of the reader
keeps ~1 of 2 cores busy), and two runs with 2 threads each on 2 cores only fight. So a
`CoreSharingSession` holds the model twice (the reader and encoder are small), with all cores
and with one. A caller alone gets every core: a single input on the all-cores session, several
(a question's windows) side by side on the one-core session; callers that overlap run on one
core each. At most `cores` runs go at once, so a burst of requests never oversubscribes the CPU.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def session_options(threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle threads must not spin after a run: they would take the cores from the other
    # session's runs and from Python work (tokenizing, search) between runs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class CoreSharingSession:
    """`run` like an `onnxruntime.InferenceSession`, sharing cores between concurrent callers.

    `threads` caps the cores used (None: all this process may use). With one core there is
    one session and runs take turns."""

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        self.cores = max(1, threads or available_cores())
        providers = ["CPUExecutionProvider"]
        self.narrow = ort.InferenceSession(str(path), session_options(1), providers=providers)
        self.wide = (ort.InferenceSession(str(path), session_options(self.cores),
                                          providers=providers)
                     if self.cores > 1 else self.narrow)
        self._slots = threading.BoundedSemaphore(self.cores)
        self._lock = threading.Lock()
        self._callers = 0  # callers in flight or waiting for a slot
        self._pool: ThreadPoolExecutor | None = None
        self.wide_runs = 0
        self.narrow_runs = 0

    def get_inputs(self) -> Any:
        return self.narrow.get_inputs()

    def run(self, output_names: list[str] | None, feed: dict[str, Any]) -> Any:
        return self.run_each(output_names, [feed])[0]

    def run_each(self, output_names: list[str] | None, feeds: list[dict[str, Any]]) -> list[Any]:
        """`run` of each feed, in order. With no other run in flight or waiting, a single
        feed gets every core, and several feeds (a question's windows) run side by side on
        one core each (intra-op threads barely split one short window); otherwise they run
        one after another on one core."""
        with self._lock:
            alone = self._callers == 0
            self._callers += 1
            if alone:
                self.wide_runs += len(feeds)
            else:
                self.narrow_runs += len(feeds)
        try:
            if alone and len(feeds) > 1 and self.cores > 1:
                return list(self._spread().map(
                    lambda feed: self._run_in_slot(self.narrow, output_names, feed), feeds))
            session = self.wide if alone else self.narrow
            return [self._run_in_slot(session, output_names, feed) for feed in feeds]
        finally:
            with self._lock:
                self._callers -= 1

    def _run_in_slot(self, session: Any, output_names: list[str] | None,
                     feed: dict[str, Any]) -> Any:
        with self._slots:
            return session.run(output_names, feed)

    def _spread(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.cores, thread_name_prefix="onnx")
            return self._pool
