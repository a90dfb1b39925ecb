"""Connectors: one plug-in per vendor behind one small contract (see docs/architecture.md)."""
