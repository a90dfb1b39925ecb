"""Webhook listeners and the touchpoint collector (Flask app factory, one blueprint per sender)."""
