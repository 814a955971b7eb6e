"""Many labs at once: how many small labs this machine starts together, how fast, at what memory."""
