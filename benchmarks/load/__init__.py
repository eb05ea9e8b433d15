"""The load test (`make load`): simulated agents working the inbox while ingest runs."""
