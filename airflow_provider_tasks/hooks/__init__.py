"""Hooks: one per remote API."""
