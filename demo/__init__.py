"""The demo of the whole loop on the built-in emulators (``closedloop demo``)."""
