"""A worker's Prometheus metrics, read off its /metrics and parsed as Prometheus parses them."""

import urllib.request
from collections.abc import Iterable, Mapping

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def read_samples(
    base_url: str, timeout: float = 5.0, headers: Mapping[str, str] | None = None
) -> list[Sample]:
    """Every sample the worker at `base_url` exposes now; headers: its metrics token's."""
    request = urllib.request.Request(f"{base_url}/metrics", headers=dict(headers or {}))
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read().decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def totals(
    samples: Iterable[Sample], name: str, by: tuple[str, ...] = ()
) -> dict[tuple[str, ...], float]:
    """The values of the samples called `name`, summed by the labels named in `by`."""
    summed: dict[tuple[str, ...], float] = {}
    for sample in samples:
        if sample.name == name:
            key = tuple(sample.labels[label] for label in by)
            summed[key] = summed.get(key, 0.0) + sample.value
    return summed
