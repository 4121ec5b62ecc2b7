"""A worker's Prometheus metrics, read off its /metrics and parsed as Prometheus parses them."""

import urllib.request
from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def read_samples(base_url: str, timeout: float = 5.0) -> list[Sample]:
    """Every sample the worker at `base_url` exposes now."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=timeout) as response:
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
