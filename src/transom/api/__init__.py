"""Thin HTTP adapters: ``client/`` (client-server API), ``federation/`` (server-server API) and
``admin/`` (Synapse-compatible admin API). Errors become Matrix error JSON in ``errors``."""
