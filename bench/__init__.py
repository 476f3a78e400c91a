"""Speed and memory benchmarks: ``python -m bench.<name>`` or ``bench/run.sh <name>``."""

import espnet_speechllm  # noqa: F401,E402  (first: keeps importing ESPnet offline, see utils/offline_imports)
