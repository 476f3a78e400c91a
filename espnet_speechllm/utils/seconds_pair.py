"""``"<a>_<b>"`` seconds, ESPnet's way of writing a pair in one option (``--noise_db_range 5_20``)."""

from typing import Tuple


def parse_seconds_pair(
    value: str, name: str, form: str = "<a>_<b>", ordered: bool = False
) -> Tuple[float, float]:
    """``"0.0_0.3"`` -> ``(0.0, 0.3)``; a bad value raises ValueError naming ``name``.

    Args:
        value: The option's text.
        name: The option, for the error (e.g. ``--trim_silence_keep``).
        form: What the two numbers are, for the error (e.g. ``<lead>_<trail>``).
        ordered: Also require a <= b (a range).
    """
    try:
        a, b = (float(v) for v in value.split("_"))
    except ValueError:
        raise ValueError(f"{name} {value!r}: expected {form} seconds, e.g. 0.0_0.3") from None
    if a < 0 or b < 0:
        raise ValueError(f"{name} {value!r}: seconds must be >= 0")
    if ordered and a > b:
        raise ValueError(f"{name} {value!r}: needs {form} with min <= max")
    return a, b
