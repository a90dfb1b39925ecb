"""Rate budgets, retry policy and error classification, on a manual clock."""

from __future__ import annotations

import random
import threading

import pytest

from closedloop.connectors.budget import BudgetExhaustedError, DailyPolicy, RateBudget, WindowPolicy
from closedloop.connectors.classification import (
    Action,
    classify_hubspot,
    classify_salesforce,
    salesforce_error_code,
)
from closedloop.connectors.retry import (
    RetryCounter,
    RetryPolicy,
    backoff_seconds,
    call_with_reauth,
    call_with_retries,
)
from closedloop.runtime.clock import ManualClock
from closedloop.runtime.errors import ReauthenticateError, RetriableSyncError


def test_window_never_admits_more_than_its_limit() -> None:
    clock = ManualClock()
    budget = RateBudget([WindowPolicy("burst", 190, 10.0)], clock=clock)
    completions: list[float] = []
    for _ in range(1000):
        budget.acquire("burst")
        clock.advance(0.001)  # the call is in flight for a millisecond
        budget.release("burst")
        completions.append(clock.monotonic())
    # In any 10-second window ending at a completion, at most 190 calls completed.
    for i, end in enumerate(completions):
        in_window = [t for t in completions[: i + 1] if t > end - 10.0]
        assert len(in_window) <= 190
    # And it did not idle: 1000 calls need a little more than 5 windows.
    assert clock.monotonic() < 5 * 10.0 + 1.0


def test_in_flight_calls_count_against_the_window() -> None:
    clock = ManualClock()
    budget = RateBudget([WindowPolicy("search", 5, 1.0)], clock=clock)
    for _ in range(5):
        budget.acquire("search")
    assert budget.snapshot().windows["search"] == (5, 5)
    waiter = threading.Thread(target=budget.acquire, args=("search",))
    for _ in range(5):
        budget.release("search")
    waiter.start()
    waiter.join(timeout=5)
    assert not waiter.is_alive()
    assert budget.waited_seconds > 0


def test_daily_share_is_enforced_and_resets_next_day() -> None:
    clock = ManualClock()
    budget = RateBudget([], DailyPolicy("daily", allowance=10, share=0.5), clock=clock)
    for _ in range(5):
        budget.acquire()
    with pytest.raises(BudgetExhaustedError, match="5 of 5"):
        budget.acquire()
    clock.advance(24 * 3600)
    budget.acquire()
    assert budget.snapshot().daily["daily"] == (1, 5)


def test_vendor_reported_zero_remaining_stops_calls() -> None:
    budget = RateBudget([], DailyPolicy("daily", 100, 1.0), clock=ManualClock())
    budget.acquire()
    budget.observe_daily_remaining(0)
    with pytest.raises(BudgetExhaustedError):
        budget.acquire()


def test_backoff_is_full_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_seconds=1.0, max_seconds=8.0, max_retry_after=60.0)
    rng = random.Random(1)
    draws = [backoff_seconds(policy, 5, None, rng) for _ in range(200)]
    assert all(0 <= d <= 8.0 for d in draws)
    assert max(draws) > 4.0
    assert backoff_seconds(policy, 1, 3.0, rng) == 3.0
    assert backoff_seconds(policy, 1, 999.0, rng) == 60.0


def test_retries_stop_after_max_attempts_and_count() -> None:
    clock = ManualClock()
    counter = RetryCounter()
    attempts = []

    def always_busy() -> None:
        attempts.append(1)
        raise RetriableSyncError("busy", retry_after=2.0)

    with pytest.raises(RetriableSyncError):
        call_with_retries(
            always_busy, policy=RetryPolicy(max_attempts=5), clock=clock, counter=counter
        )
    assert len(attempts) == 5
    assert counter.retries == 4
    assert clock.slept == [2.0, 2.0, 2.0, 2.0]


def test_non_retriable_errors_are_not_retried() -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        call_with_retries(broken, clock=ManualClock())
    assert calls == [1]


def test_reauth_replays_exactly_once() -> None:
    tokens = ["expired"]
    counter = RetryCounter()

    def call() -> str:
        if tokens[-1] == "expired":
            raise ReauthenticateError("session expired")
        return tokens[-1]

    assert call_with_reauth(call, lambda: tokens.append("fresh"), counter) == "fresh"
    assert counter.reauthentications == 1
    tokens.append("expired")
    with pytest.raises(ReauthenticateError):
        call_with_reauth(call, lambda: tokens.append("expired"))


@pytest.mark.parametrize(
    ("status", "body", "headers", "action", "wait"),
    [
        (429, '{"policyName":"TEN_SECONDLY_ROLLING"}', {}, Action.RETRY, 10.0),
        (429, '{"policyName":"SECONDLY"}', {}, Action.RETRY, 1.0),
        (429, '{"policyName":"TEN_SECONDLY_ROLLING"}', {"Retry-After": "3"}, Action.RETRY, 3.0),
        (429, '{"policyName":"DAILY"}', {}, Action.PAUSE, None),
        (423, "", {}, Action.RETRY, 2.0),
        (477, "", {"Retry-After": "3600"}, Action.PAUSE, 3600.0),
        (503, "", {}, Action.RETRY, None),
        (401, "", {}, Action.REAUTHENTICATE, None),
        (403, '{"category":"MISSING_SCOPES"}', {}, Action.FATAL, None),
        (400, '{"message":"Property x does not exist"}', {}, Action.SKIP_ROW, None),
        (404, "", {}, Action.IGNORE, None),
        (409, "", {}, Action.SKIP_ROW, None),
    ],
)
def test_hubspot_table(
    status: int, body: str, headers: dict[str, str], action: Action, wait: float | None
) -> None:
    resolution = classify_hubspot(status, body, headers)
    assert resolution.action is action
    assert resolution.retry_after == wait


@pytest.mark.parametrize(
    ("status", "code", "action"),
    [
        (403, "REQUEST_LIMIT_EXCEEDED", Action.PAUSE),
        (401, "INVALID_SESSION_ID", Action.REAUTHENTICATE),
        (400, "UNABLE_TO_LOCK_ROW", Action.RETRY),
        (400, "DUPLICATE_VALUE", Action.SKIP_ROW),
        (400, "INVALID_FIELD", Action.SKIP_ROW),
        (400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", Action.SKIP_ROW),
        (503, None, Action.RETRY),
        (403, "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", Action.FATAL),
        (418, None, Action.FATAL),
    ],
)
def test_salesforce_table(status: int, code: str | None, action: Action) -> None:
    assert classify_salesforce(status, code).action is action


def test_salesforce_error_code_reads_arrays_and_rows() -> None:
    assert salesforce_error_code(b'[{"errorCode":"X","message":"m"}]') == ("X", "m")
    assert salesforce_error_code('{"statusCode":"Y","message":"n"}') == ("Y", "n")
    assert salesforce_error_code(b"not json") == (None, "")
