"""Cross-cutting runtime pieces: the error hierarchy, the injectable clock and logging."""
