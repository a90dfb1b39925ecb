"""The injectable clock and the redacting log formatters."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import pytest

from closedloop.runtime.clock import SYSTEM_CLOCK, ManualClock
from closedloop.runtime.logging import configure_logging, redact, register_secret


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    before = clock.now()
    clock.sleep(1800)
    assert (clock.now() - before).total_seconds() == 1800
    assert clock.monotonic() == 1800
    assert clock.slept == [1800]


def test_manual_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 3, 1))  # noqa: DTZ001


def test_system_clock_is_aware() -> None:
    assert SYSTEM_CLOCK.now().tzinfo is not None


def test_redact_masks_registered_and_shaped_secrets() -> None:
    register_secret("sentinel-registered-9f3a")
    text = (
        "token sentinel-registered-9f3a; Authorization: Bearer abc.def; "
        'postgresql://u:pw-123@h/db; client_secret=xyz&x=1; {"access_token": "tok9"}'
    )
    masked = redact(text)
    for secret in ("sentinel-registered-9f3a", "abc.def", "pw-123", "xyz", "tok9"):
        assert secret not in masked


def test_json_logs_on_a_pipe_redact_messages_and_tracebacks() -> None:
    register_secret("sentinel-in-trace-77")
    stream = io.StringIO()
    configure_logging(stream=stream)
    log = logging.getLogger("closedloop.test")
    try:
        raise RuntimeError("failed with sentinel-in-trace-77")
    except RuntimeError:
        log.exception("call failed for %s", "sentinel-in-trace-77", extra={"fields": {"n": 1}})
    line = stream.getvalue().strip()
    record = json.loads(line)
    assert record["level"] == "error"
    assert record["n"] == 1
    assert "sentinel-in-trace-77" not in line
    assert "***" in record["message"]


def test_readable_logs_on_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, json_lines=False, verbose=True)
    logging.getLogger("closedloop.test").debug("hello %s", "world")
    assert "debug" in stream.getvalue()
    assert "hello world" in stream.getvalue()
