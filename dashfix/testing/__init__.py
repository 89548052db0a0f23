"""Fixture builders used by tests, the demo folder and benchmarks."""
