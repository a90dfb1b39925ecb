"""Evaluating CRM search filters, the free-text query and the sort rule against records.

Filters in one group are ANDed, groups are ORed. Matching is case-insensitive except for
enumeration values. ``associations.<type>`` pseudo-properties match associated record ids.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from closedloop.emulators.hubspot.errors import validation_error
from closedloop.emulators.hubspot.object_types import ObjectType, find_object_type
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.store import Record
from closedloop.emulators.hubspot.values import ms_from_text, number_from_text

OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
TOKEN_SPLIT = re.compile(r"[\s,;]+")
Comparable = tuple[int, Any]


class FilterSet:
    """Checked filter groups of one search request, ready to test records.

    Raises:
        HubSpotApiError: 400 for an unknown operator or property, or a missing value.
    """

    def __init__(self, portal: Portal, object_type: ObjectType, groups: list[Any]) -> None:
        self._portal = portal
        self._object_type = object_type
        self._groups: list[list[dict[str, Any]]] = []
        for group in groups:
            filters = (group or {}).get("filters") or []
            self._groups.append([self._checked(raw) for raw in filters])

    def matches(self, record: Record, values: dict[str, str]) -> bool:
        """Whether a record (seen through its search view ``values``) passes."""
        if not self._groups:
            return True
        return any(all(self._test(record, values, f) for f in group) for group in self._groups)

    def _checked(self, raw: dict[str, Any]) -> dict[str, Any]:
        operator = raw.get("operator")
        name = raw.get("propertyName")
        if operator not in OPERATORS:
            raise validation_error(f"Unknown filter operator: {operator}")
        if not isinstance(name, str) or not name:
            raise validation_error("Every filter needs a propertyName.")
        if name.startswith("associations."):
            target = find_object_type(name.split(".", 1)[1])
            if target is None:
                raise validation_error(f"Unknown association filter: {name}")
            return {**raw, "_kind": "association", "_target": target.name}
        definition = self._portal.catalog.get(self._object_type.name, name)
        if definition is None:
            raise validation_error(
                f'Property "{name}" does not exist',
                errors=[
                    {
                        "message": f'Property "{name}" does not exist',
                        "code": "PROPERTY_DOESNT_EXIST",
                        "context": {"propertyName": [name]},
                    }
                ],
            )
        needs = {"BETWEEN": ("value", "highValue"), "IN": ("values",), "NOT_IN": ("values",)}
        for key in needs.get(operator, () if "PROPERTY" in operator else ("value",)):
            if raw.get(key) in (None, ""):
                raise validation_error(f"Filter {operator} on {name} needs {key}.")
        checked = {**raw, "_kind": definition.type, "_field": definition.field_type}
        if "value" in raw:
            checked["_low"] = comparable(definition.type, str(raw["value"]))
        if "highValue" in raw:
            checked["_high"] = comparable(definition.type, str(raw["highValue"]))
        return checked

    def _test(self, record: Record, values: dict[str, str], rule: dict[str, Any]) -> bool:
        operator = rule["operator"]
        if rule["_kind"] == "association":
            linked = self._portal.associations.targets(
                self._object_type.name, record.id, rule["_target"]
            )
            hit = str(rule.get("value")) in linked
            return hit if operator != "NEQ" else not hit
        present = values.get(rule["propertyName"], "")
        if operator == "HAS_PROPERTY":
            return bool(present)
        if operator == "NOT_HAS_PROPERTY":
            return not present
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            pattern = str(rule["value"]).lower()
            candidates = [present.lower(), *TOKEN_SPLIT.split(present.lower())]
            hit = bool(present) and any(fnmatchcase(c, pattern) for c in candidates if c)
            return hit if operator == "CONTAINS_TOKEN" else not hit
        if operator in ("IN", "NOT_IN"):
            options = {comparable(rule["_kind"], str(v)) for v in rule["values"]}
            mine = {comparable(rule["_kind"], p) for p in _split(present, rule["_field"])}
            hit = bool(present) and bool(options & mine)
            return hit if operator == "IN" else not hit
        if operator == "NEQ":
            return comparable(rule["_kind"], present) != comparable(rule["_kind"], rule["value"])
        if not present:
            return False
        mine_value = comparable(rule["_kind"], present)
        low = rule["_low"]
        if operator == "BETWEEN":
            return bool(low <= mine_value <= rule["_high"])
        return _COMPARE[operator](mine_value, low)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": operator.eq,
    "LT": operator.lt,
    "LTE": operator.le,
    "GT": operator.gt,
    "GTE": operator.ge,
}


def comparable(kind: str, text: Any) -> Comparable:
    """A sortable key for a value of a property type (numbers first, then text)."""
    return _comparable(kind, "" if text is None else str(text))


@lru_cache(maxsize=1 << 20)
def _comparable(kind: str, raw: str) -> Comparable:
    """:func:`comparable` of a string, cached: searches compare the same stored values again."""
    if kind == "number":
        number = number_from_text(raw)
        if number is not None:
            return (0, number)
    if kind in ("date", "datetime"):
        epoch_ms = ms_from_text(raw)
        if epoch_ms is not None:
            return (0, float(epoch_ms))
    if kind == "enumeration":
        return (1, raw)
    return (1, raw.lower())


def _split(value: str, field_type: str) -> list[str]:
    return value.split(";") if field_type == "checkbox" else [value]


def query_matches(object_type: ObjectType, values: dict[str, str], query: str) -> bool:
    """Free-text ``query``: every word must appear in one of the type's text properties."""
    words = [w for w in query.lower().split() if w]
    haystack = " ".join(values.get(n, "") for n in object_type.query_properties).lower()
    return all(word.strip("*") in haystack for word in words)
