"""Brought in only by tests/cold_fixture.py."""

VALUE = 41
