"""Reading query strings and JSON bodies the way HubSpot accepts them.

The official client repeats multi-valued parameters (``properties=a&properties=b``), other
callers comma-join them; booleans arrive as ``true``/``false`` or Python's ``True``/``False``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from closedloop.emulators.hubspot.errors import validation_error

TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no", ""})


def flag(name: str, default: bool = False) -> bool:
    """A boolean query parameter.

    Raises:
        HubSpotApiError: 400 for a value that is not a boolean.
    """
    raw = request.args.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise validation_error(f"Invalid boolean value for {name}: {raw}")


def multi(name: str) -> list[str] | None:
    """A multi-valued query parameter, repeated or comma-joined; ``None`` when absent."""
    if name not in request.args:
        return None
    values: list[str] = []
    for raw in request.args.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def bounded_int(name: str, default: int, maximum: int) -> int:
    """An integer query parameter between 1 and ``maximum``.

    Raises:
        HubSpotApiError: 400 when it is not a number or out of range.
    """
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(f"Invalid value for {name}: {raw}") from None
    if not 1 <= value <= maximum:
        raise validation_error(f"{name} must be between 1 and {maximum}; got {value}")
    return value


def json_body() -> Any:
    """The request body parsed as JSON (``{}`` when empty).

    Raises:
        HubSpotApiError: 400 when the body is not valid JSON.
    """
    raw = request.get_data(as_text=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise validation_error(
            f"Invalid input JSON on line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None


def json_object() -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        HubSpotApiError: 400 when it is not an object.
    """
    body = json_body()
    if not isinstance(body, dict):
        raise validation_error("Expected a JSON object as the request body.")
    return body


def batch_inputs(body: dict[str, Any], maximum: int) -> list[dict[str, Any]]:
    """The ``inputs`` of a batch body, at most ``maximum`` of them.

    Raises:
        HubSpotApiError: 400 when inputs are missing, not objects, or too many.
    """
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise validation_error("Batch requests need an inputs array of objects.")
    if len(inputs) > maximum:
        raise validation_error(
            f"Too many inputs: {len(inputs)}. The maximum is {maximum}.",
            context={"maxInputs": [str(maximum)]},
        )
    return inputs
