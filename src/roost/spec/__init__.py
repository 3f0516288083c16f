"""Definitions: what a user declares, validated on construction. No I/O, no execution."""
