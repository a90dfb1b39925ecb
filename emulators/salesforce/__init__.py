"""Salesforce API emulator: REST, SOQL, collections, Bulk 2.0, Tooling, OAuth, Outbound Messages.

``create_emulator(...)`` returns a :class:`SalesforceEmulator` whose Flask ``app`` answers as a
Salesforce org does for simple-salesforce 1.12. See ``docs/emulators-salesforce.md``.
"""

from __future__ import annotations

from closedloop.emulators.salesforce.emulator import (
    EmulatorOptions,
    SalesforceEmulator,
    create_emulator,
)

__all__ = ["EmulatorOptions", "SalesforceEmulator", "create_emulator"]
