"""The load test (`make load`): simulated agents working the inbox while ingest runs.

runner.py starts everything and reports, seed.py fills the load test's own database,
agents.py is the locustfile, pages.py reads Webcare's HTML, report.py computes the figures,
settings.py is production's settings with the static files in the run's directory.
"""
