"""Typed data: Python values to and from literals, JSON schemas of task interfaces, File/Dir/DataFrame."""
