"""Helpers shared by the tests: loopback servers, builders of observations, stores and model
files, hypothesis strategies, the hostile-server farm. Not tests themselves (pytest collects
nothing here). The rule, checked by tests/boundaries/test_test_layout.py: a test module
imports other test code only from this package or as fixtures from a conftest.py, never from
another test module."""
