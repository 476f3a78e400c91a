"""Load a recipe's local/*.py script as a module (they are scripts, not a package)."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_local_script(recipe: str, name: str) -> ModuleType:
    """``egs2/<recipe>/local/<name>.py``, with local/ importable while it loads
    (the scripts import their neighbours)."""
    local = ROOT / "egs2" / recipe / "local"
    sys.path.insert(0, str(local))
    try:
        spec = importlib.util.spec_from_file_location(
            f"{recipe.replace('/', '_')}_{name}", local / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(local))
    return module
