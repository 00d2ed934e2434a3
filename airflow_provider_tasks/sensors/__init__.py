"""Sensors: wait until a remote task/job reaches a terminal status."""
