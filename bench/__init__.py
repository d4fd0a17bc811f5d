"""The benchmark. Run its scripts as modules from the project's root: python -m bench.run (bench/README.md)."""
