"""Test harness shared by every package: real broker and databases per test session."""
