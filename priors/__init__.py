"""Declarative, backend-free prior specifications and per-model defaults (see `spec`)."""
