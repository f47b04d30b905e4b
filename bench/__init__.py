"""Benchmarks of Transom against Synapse over the Client-Server API; see bench/README.md.

Run ``python -m bench --help`` from the repository root.
"""
