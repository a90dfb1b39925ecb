"""An emulator of the HubSpot API that the official ``hubspot-api-client`` accepts unmodified.

``create_emulator(...)`` builds a :class:`HubSpotEmulator` whose Flask ``app`` serves CRM v3
objects, batch and search, associations v4, properties, pipelines, behavioural and timeline
events, OAuth, and signed webhook deliveries, with HubSpot's limits and error bodies.
See ``docs/emulators-hubspot.md``.
"""

from __future__ import annotations

from closedloop.emulators.hubspot.emulator import HubSpotEmulator, create_emulator

__all__ = ["HubSpotEmulator", "create_emulator"]
