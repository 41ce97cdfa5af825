"""Speed and memory benchmarks: `python -m benchmarks.NAME [--quick]` prints one JSON line."""
