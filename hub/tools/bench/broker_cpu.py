"""The broker's CPU time over a pipeline's span, from samples of its /proc stat taken on a
thread of the bench: the same way for the pipelines run in the bench's process and for the
peer run in its own. On 2 cores, the broker's work for a pipeline competes with the
pipeline for the machine."""

import bisect
import threading
import time
from collections.abc import Sequence
from types import TracebackType

from pelastus_hub.tools.bench.workers import cpu_seconds

# /proc counts CPU time in clock ticks (10 ms): sampling more often tells no more.
SAMPLE_SECONDS = 0.02

Sample = tuple[float, float]  # time.perf_counter(), the broker's CPU seconds then


class BrokerCpu:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="broker-cpu", daemon=True)

    def __enter__(self) -> "BrokerCpu":
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._take()  # after the span's end, whenever the last sample was taken

    def _take(self) -> None:
        self.samples.append((time.perf_counter(), cpu_seconds(self.pid)))

    def _sample(self) -> None:
        while True:
            self._take()
            if self._stop.wait(SAMPLE_SECONDS):
                return

    def between(self, first: float, last: float) -> float | None:
        """The broker's CPU seconds from `first` to `last` (perf_counter times); None if the
        samples do not cover that span."""
        return cpu_between(self.samples, first, last)


def cpu_between(samples: Sequence[Sample], first: float, last: float) -> float | None:
    """CPU seconds from `first` to `last`, each read between the samples around it."""
    start, end = _cpu_at(samples, first), _cpu_at(samples, last)
    return None if start is None or end is None else end - start


def _cpu_at(samples: Sequence[Sample], when: float) -> float | None:
    index = bisect.bisect_left(samples, (when,))
    if index < len(samples) and samples[index][0] == when:
        return samples[index][1]
    if index == 0 or index == len(samples):
        return None
    (t0, cpu0), (t1, cpu1) = samples[index - 1], samples[index]
    return cpu0 + (cpu1 - cpu0) * (when - t0) / (t1 - t0)
