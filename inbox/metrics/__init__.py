"""The team lead's figures: working time, service norms, facts, rollups, topics and charts.

docs/metrics.md defines every figure; docs/architecture.md ("Dashboard and metrics") says
where each is computed. Writes go through inbox/services/metrics.py, reads through
inbox/selectors/metrics.py; the modules here are the pure parts both use.
"""
