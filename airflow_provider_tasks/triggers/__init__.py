"""Triggers: the deferrable side of the waits, one per service."""
