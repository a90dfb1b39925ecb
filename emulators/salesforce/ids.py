"""Salesforce record ids: key prefixes, the case-safe 18-character form and a deterministic factory.

A Salesforce id is a 3-character key prefix naming the object, 12 more case-sensitive
characters, and (in the 18-character form the API returns) a 3-character suffix that
encodes which of the first 15 characters are upper case, so the id survives
case-insensitive systems.
"""

from __future__ import annotations

import re
import threading

KEY_PREFIXES: dict[str, str] = {
    "Lead": "00Q",
    "Contact": "003",
    "Account": "001",
    "Opportunity": "006",
    "OpportunityContactRole": "00K",
    "Campaign": "701",
    "CampaignMember": "00v",
    "User": "005",
    "Organization": "00D",
    "OpportunityStage": "01J",
    "LeadStatus": "01J",
    "PermissionSet": "0PS",
    "FieldPermissions": "01k",
    "PermissionSetAssignment": "0Pa",
    "CurrencyType": "02T",
    "DatedConversionRate": "04w",
    "CustomField": "00N",
    "CustomObject": "01I",
    "BulkJob": "750",
    "QueryCursor": "01g",
    "OutboundAction": "04k",
    "OutboundNotification": "04l",
}
"""Key prefix per object; custom objects get ``a00``, ``a01``... when they are created."""

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")


def checksum_suffix(id15: str) -> str:
    """The 3-character case-safe suffix Salesforce appends to a 15-character id.

    Each 5-character chunk becomes one character: bit ``i`` of its index in
    ``A..Z0..5`` is set when character ``i`` of the chunk is an upper-case letter.
    """
    suffix = ""
    for chunk_start in range(0, 15, 5):
        bits = 0
        for position, char in enumerate(id15[chunk_start : chunk_start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def to_18(record_id: str) -> str:
    """The 18-character form of a 15- or 18-character id.

    Raises:
        ValueError: when ``record_id`` is not a well-formed Salesforce id.
    """
    if not is_valid_id(record_id):
        raise ValueError(f"malformed Salesforce id: {record_id!r}")
    id15 = record_id[:15]
    return id15 + checksum_suffix(id15)


def is_valid_id(value: str) -> bool:
    """Whether ``value`` looks like a 15- or 18-character id (with a matching suffix)."""
    if not _ID_PATTERN.match(value):
        return False
    return len(value) == 15 or value[15:].upper() == checksum_suffix(value[:15])


def normalize_id(value: str) -> str | None:
    """The 18-character id for ``value``, or None when it is not an id."""
    return to_18(value) if is_valid_id(value) else None


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return digits.rjust(width, "0")


class IdFactory:
    """Deterministic 18-character ids: the same seed and call order give the same ids.

    Args:
        seed: folded into the two "pod" characters after the key prefix.
    """

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._pod = _base62(seed % (62 * 62), 2)
        self._counter = 0

    def reset(self) -> None:
        """Start counting again (used when the emulator is reset)."""
        with self._lock:
            self._counter = 0

    def new(self, prefix: str) -> str:
        """A fresh id with the given 3-character key prefix."""
        with self._lock:
            self._counter += 1
            serial = self._counter
        # Mix the serial so consecutive ids differ in several (mixed-case) characters.
        mixed = (serial * 2654435761) % (62**6)
        id15 = f"{prefix}{self._pod}{_base62(serial, 4)}{_base62(mixed, 6)}"
        return id15 + checksum_suffix(id15)
