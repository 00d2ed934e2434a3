"""Operators: cancel jobs and fetch task results into XCom."""
