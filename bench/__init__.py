"""Speed and memory benchmarks: ``python -m bench.<name>`` or ``bench/run.sh <name>``."""
