"""Declarative, backend-free prior specifications and per-model defaults (issue 3)."""
