"""The data-dir fixtures of tests/data_dirs.py."""

from data_dirs import make_data_dir, segmented_dir, sine_wav  # noqa: F401
