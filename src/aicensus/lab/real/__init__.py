"""Launchers for the real PyPI products the lab runs (`aicensus lab up --all`).

Each runs as its own process on a private loopback port behind the recording relay
(`aicensus.lab.relay`), like llama-server, so every request it receives is logged.
"""
