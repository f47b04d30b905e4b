"""Test code shared by the suites that start whole homeservers (api, clients, federation,
interop): imported as ``support.<module>``, ``tests/`` being on ``sys.path`` in every run."""
