"""The roost server: a long-lived control plane over the run store (docs/server.md)."""
