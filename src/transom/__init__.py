"""Transom: a Matrix homeserver in which room knocking is first-class."""

__version__ = "0.1.0"
