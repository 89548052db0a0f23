"""Benchmarks: each module has ``main(argv)`` and prints ratios against a baseline
measured in the same run. Run ``python -m benchmarks [NAME ...]``."""
