"""A module for tests/test_cold_groups.py to load cold and forget: it brings in one more."""

from tests import cold_fixture_dep

VALUE = cold_fixture_dep.VALUE + 1
