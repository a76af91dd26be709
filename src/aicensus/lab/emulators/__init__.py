"""Emulators of AI model servers for the lab and the tests (loopback only)."""
