# Corpus locations. Override by exporting the variable before running.
# mini_an4 lives in the shared dir beside the project root (<root>/../shared/data/mini_an4).
MINI_AN4=${MINI_AN4:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../../../shared/data/mini_an4}
