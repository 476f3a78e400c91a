"""The environment in which tests run the recipes' shell scripts."""

import os
import sys
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parents[1]


def recipe_env(**extra: str) -> Dict[str, str]:
    """This interpreter first on PATH and this checkout on PYTHONPATH, as path.sh gives a
    recipe (a recipe copied into tmp_path cannot find the checkout above itself)."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PYTHONPATH"] = str(ROOT)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return {**env, **extra}
