"""The load benchmark: seeded databases, the portal and a Fortunes baseline under wrk.

`uv run python -m bench.run --db sqlite --size demo` is the one command; see bench/README.md.
"""
