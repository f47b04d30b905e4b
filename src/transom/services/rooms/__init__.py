"""Rooms: the per-room event pipeline, room creation, membership, messages and state."""
