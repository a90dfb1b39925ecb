"""Echoes: records an incremental read returns only because closedloop itself wrote them.

After a run writes its stamps, the next incremental read finds every record it wrote: their
last-modified times moved. Reading HubSpot property history for those (50 records a call) and
planning them again would cost calls and time and change nothing. A record is an **echo** when
every field a run reads of it still holds what closedloop last knew there:

* each mapped field equals its shadow (what closedloop last wrote or read, compared as
  :func:`~closedloop.sync.transforms.same_value` does, so ``"5"`` equals ``5``);
* each other field a run reads (touch sources, lifecycle dates, merge and conversion fields,
  see :func:`snapshot_fields`) equals the snapshot the last applied run remembered next to the
  shadow (blank, ``False`` and missing count as the same).

A field with no shadow and a value is a change, as in :mod:`closedloop.sync.rules`, so a record
closedloop never read is never an echo. Fields that never change once set (creation times, ids)
and the last-modified cursor itself are left out. A new visit rewrites HubSpot's latest-source
properties and their timestamps, so it is never mistaken for an echo; nor is a Salesforce
lead conversion (``IsConverted``), a merge (``hs_merged_object_ids``) or any edit of a mapped
field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from closedloop.connectors.contract import Record
from closedloop.mappings.field_types import FieldMappings, SystemField
from closedloop.sync.transforms import same_value
from closedloop.sync.views import mapped_fields, read_fields

__all__ = ["ECHO_CACHE_MAX", "EchoCheck", "snapshot_fields"]

ECHO_CACHE_MAX = 10_000
"""Echo records one run keeps in memory to complete people without reading them again."""
NEVER_CHANGE = frozenset(
    {
        "createdate",
        "CreatedDate",
        "hs_object_id",
        "Id",
        "IsDeleted",
        "lastmodifieddate",
        "hs_lastmodifieddate",
        "SystemModstamp",
        "LastModifiedDate",
    }
)


def snapshot_fields(mappings: FieldMappings, system: str, object_type: str) -> list[str]:
    """Fields a run reads that no mapping covers: remembered so the next run spots echoes."""
    mapped = set(mapped_fields(mappings, system, object_type))
    return [
        name
        for name in read_fields(mappings, system, object_type)
        if name not in mapped and name not in NEVER_CHANGE
    ]


def _blank(value: Any) -> bool:
    return value is None or value == "" or value is False


class EchoCheck:
    """Tells echoes from real changes for one system's records of one object type.

    Args:
        mappings: the field mappings (which fields are mapped, and how they compare).
        system: the system the records come from.
        object_type: their object type.
    """

    def __init__(self, mappings: FieldMappings, system: str, object_type: str) -> None:
        self._mapped: dict[str, SystemField] = {}
        for mapping in mappings.for_system(system, object_type):
            if mapping.entity == "person":
                target = mapping.targets[system]
                self._mapped.setdefault(target.field, target)
        self._snapshot = snapshot_fields(mappings, system, object_type)

    def snapshot(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The unmapped fields of a record as read, to remember next to its shadow."""
        return {name: fields.get(name) for name in self._snapshot}

    def is_echo(self, record: Record, shadow: Mapping[str, Any] | None) -> bool:
        """Whether ``record`` holds nothing closedloop did not already know (see the module)."""
        if shadow is None or record.archived:
            return False
        for name, target in self._mapped.items():
            value = record.fields.get(name)
            if name in shadow:
                if not same_value(target, value, shadow[name]):
                    return False
            elif not _blank(value):
                return False
        for name in self._snapshot:
            value, known = record.fields.get(name), shadow.get(name)
            if not (value == known or (_blank(value) and _blank(known))):
                return False
        return True
