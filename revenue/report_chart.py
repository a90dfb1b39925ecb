"""The chart of ``closedloop report --chart FILE``: revenue by channel under every model.

One group of bars per channel, one bar per model, so a marketer sees at a glance which
channels a model favours (first touch rewards discovery, last touch rewards closing). The
format follows the file's suffix (``.png`` or ``.svg``); the figure is drawn without pyplot, so
no display or global state is involved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from matplotlib.figure import Figure

from closedloop.runtime.errors import ClosedLoopError

SUFFIXES = (".png", ".svg")


class ChartError(ClosedLoopError):
    """The chart cannot be written where asked."""

    exit_code = 2


def write_revenue_chart(
    path: Path,
    by_model: Mapping[str, Mapping[str, Decimal]],
    *,
    currency: str,
    channels: Sequence[str] | None = None,
) -> Path:
    """Draw revenue per channel (groups) and model (bars) into ``path``.

    Args:
        path: a ``.png`` or ``.svg`` file to create or replace.
        by_model: ``{model: {channel: revenue}}``.
        currency: the home currency, for the axis label.
        channels: the channels in display order (default: by revenue under the first model).

    Raises:
        ChartError: an unsupported suffix or an unwritable path.
    """
    if path.suffix.lower() not in SUFFIXES:
        raise ChartError(f"{path}: the chart must be a .png or .svg file")
    models = list(by_model)
    if channels is None:
        first = by_model[models[0]] if models else {}
        everything = {c for values in by_model.values() for c in values}
        channels = sorted(everything, key=lambda c: (-first.get(c, Decimal(0)), c))
    figure = Figure(figsize=(max(8.0, 1.1 * len(channels) + 3), 5.0))
    axes = figure.subplots()
    try:
        width = 0.8 / max(len(models), 1)
        for index, model in enumerate(models):
            offsets = [c + (index - (len(models) - 1) / 2) * width for c in range(len(channels))]
            values = [float(by_model[model].get(channel, 0)) for channel in channels]
            axes.bar(offsets, values, width, label=model)
        axes.set_xticks(range(len(channels)), list(channels), rotation=30, ha="right")
        axes.set_ylabel(f"won revenue ({currency})")
        axes.set_title("Revenue by channel, per attribution model")
        axes.legend(fontsize="small", ncols=min(len(models), 4))
        axes.grid(axis="y", alpha=0.3)
        figure.tight_layout()
        figure.savefig(path)
    except OSError as exc:
        raise ChartError(f"{path}: cannot write the chart ({exc.strerror or exc})") from exc
    return path
