"""Benchmarks: Kiroku against MLflow and against raw SQL. See bench/README.md."""
