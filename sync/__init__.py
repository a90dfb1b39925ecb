"""The sync engine: canonical model, identity, mappings, diff, echo suppression, inbox/outbox."""
