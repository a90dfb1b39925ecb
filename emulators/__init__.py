"""Local emulators of the HubSpot and Salesforce APIs.

Each vendor sub-package exposes ``create_emulator(...)`` returning an object with ``app`` (a
Flask app), ``clock``, ``stats``, ``faults``, ``reset()`` and ``seed(options)``. The shared
pieces live here: :mod:`closedloop.emulators.clock`, :mod:`closedloop.emulators.admin`
(statistics, fault plans, the ``/__emulator__/`` admin API) and
:mod:`closedloop.emulators.server` (threaded loopback server for tests).
"""
