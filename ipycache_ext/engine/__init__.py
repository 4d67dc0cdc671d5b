"""The engine: one call's lookup, run and remembering, for functions and cells alike."""
