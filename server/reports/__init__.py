"""The reports: indicators, coverage, exports (routes.py thin; the work in service.py)."""
