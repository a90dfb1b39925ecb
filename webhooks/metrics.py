"""The listener's metrics, rendered in the Prometheus text exposition format (version 0.0.4).

One :class:`Metrics` object per app (no global registry, so tests can build many apps):

=========================================  =========  =============================================
``closedloop_webhook_requests_total``      counter    requests by ``endpoint`` and ``status``
``closedloop_webhook_request_seconds``     histogram  time to answer, by ``endpoint``
``closedloop_webhook_events_total``        counter    events by ``source`` and ``outcome``
                                                      (``accepted``, ``duplicate``, ``rejected``)
``closedloop_inbox_events_processed_total`` counter   settled events by ``outcome`` (``done``,
                                                      ``retry``, ``dead``)
``closedloop_inbox_processing_seconds``    histogram  from receipt to done, per event
``closedloop_inbox_events``                gauge      inbox events by ``state`` (read at scrape)
``closedloop_store_up``                    gauge      1 when the store answered the scrape
=========================================  =========  =============================================
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Mapping

__all__ = ["LATENCY_BUCKETS", "Labels", "Metrics"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
Labels = tuple[tuple[str, str], ...]

_HELP = {
    "closedloop_webhook_requests_total": ("counter", "HTTP requests answered, by endpoint/status."),
    "closedloop_webhook_request_seconds": ("histogram", "Seconds to answer a request."),
    "closedloop_webhook_events_total": ("counter", "Webhook events received, by outcome."),
    "closedloop_inbox_events_processed_total": ("counter", "Inbox events settled, by outcome."),
    "closedloop_inbox_processing_seconds": ("histogram", "Seconds from receipt to processed."),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    pairs = [*labels, extra] if extra else list(labels)
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Histogram:
    def __init__(self) -> None:
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.total += value
        for i, bound in enumerate(LATENCY_BUCKETS):
            if value <= bound:
                self.buckets[i] += 1


class Metrics:
    """Thread-safe counters and histograms of one listener process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._histograms: dict[str, dict[Labels, _Histogram]] = defaultdict(dict)

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` to the counter ``name`` with ``labels``."""
        if amount <= 0:
            return
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0) + amount

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """Record one observation in the histogram ``name``."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._histograms[name].setdefault(key, _Histogram()).observe(max(0.0, seconds))

    def counter(self, name: str, **labels: str) -> float:
        """The current value of one counter series (0 when never incremented)."""
        with self._lock:
            return self._counters[name].get(tuple(sorted(labels.items())), 0)

    def render(self, gauges: Mapping[str, Mapping[Labels, float]] | None = None) -> str:
        """Every series in the text exposition format, ``gauges`` (read by the caller) last."""
        lines: list[str] = []
        with self._lock:
            for name in sorted(self._counters):
                kind, text = _HELP.get(name, ("counter", name))
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                for labels, value in sorted(self._counters[name].items()):
                    lines.append(f"{name}{_labels(labels)} {_number(value)}")
            for name in sorted(self._histograms):
                kind, text = _HELP.get(name, ("histogram", name))
                lines += [f"# HELP {name} {text}", f"# TYPE {name} histogram"]
                for labels, hist in sorted(self._histograms[name].items()):
                    for bound, n in zip(LATENCY_BUCKETS, hist.buckets, strict=True):
                        extra = ("le", _number(bound))
                        lines.append(f"{name}_bucket{_labels(labels, extra)} {n}")
                    inf = ("le", "+Inf")
                    lines.append(f"{name}_bucket{_labels(labels, inf)} {hist.count}")
                    lines.append(f"{name}_sum{_labels(labels)} {_number(hist.total)}")
                    lines.append(f"{name}_count{_labels(labels)} {hist.count}")
        for name, series in (gauges or {}).items():
            lines += [f"# HELP {name} {name.replace('_', ' ')}", f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels(k)} {_number(v)}" for k, v in sorted(series.items())]
        return "\n".join(lines) + "\n"
