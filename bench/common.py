"""Shared parts of the benchmarks: machine line, tables, JSON results, real audio, timers."""

import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from espnet_speechllm.utils.kaldi_io import read_map

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "egs2" / "espeak_en" / "speechllm1"
MINI_AN4 = ROOT.parent / "shared" / "data" / "mini_an4"
RESULTS = ROOT / "bench" / "results"
SCHEMA_KEYS = ("bench", "command", "machine", "rows")
MACHINE_KEYS = ("cpu", "cores", "torch_threads", "torch", "device")


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (platform.processor() is often empty)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str = "cpu") -> Dict[str, Any]:
    """What a figure was measured on (the JSON ``machine`` block)."""
    info = dict(
        cpu=cpu_model(),
        cores=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        device=device,
    )
    if device.startswith("cuda") and torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(torch.device(device))
    return info


def machine_line(info: Dict[str, Any]) -> str:
    """``# machine: <cpu>, <n> cores, <t> torch threads, torch <v>, device <d>``"""
    return (
        f"# machine: {info['cpu']}, {info['cores']} cores, {info['torch_threads']} torch "
        f"threads, torch {info['torch']}, device {info['device']}"
    )


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; floats get 4 significant digits, text is left aligned.

    >>> print(format_table(["a", "b"], [["x", 1.23456]]))
    | a | b |
    |---|---:|
    | x | 1.235 |
    """
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {list(row)} has {len(row)} cells, expected {len(headers)}")

    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    numeric = [
        all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows)
        for i in range(len(headers))
    ]
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---:" if n and rows else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def result(bench: str, machine: Dict[str, Any], rows: List[Dict[str, Any]], **meta) -> dict:
    """The JSON record every benchmark writes (see `check_result`)."""
    command = " ".join([f"python -m bench.{bench}", *sys.argv[1:]])
    return dict(bench=bench, command=command, machine=machine, rows=rows, **meta)


def check_result(res: dict) -> None:
    """Raise ValueError naming the first missing key of a benchmark record."""
    for key in SCHEMA_KEYS:
        if key not in res:
            raise ValueError(f"benchmark JSON lacks key {key!r}")
    for key in MACHINE_KEYS:
        if key not in res["machine"]:
            raise ValueError(f"benchmark JSON machine block lacks key {key!r}")
    if not isinstance(res["rows"], list) or not all(isinstance(r, dict) for r in res["rows"]):
        raise ValueError("benchmark JSON rows must be a list of objects")


def write_result(res: dict, out: Optional[str]) -> Optional[Path]:
    """Check and write the record as JSON (``out`` None: do not write)."""
    check_result(res)
    if out is None:
        return None
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1, default=str) + "\n")
    print(f"# wrote {path}")
    return path


def cuda_or_skip(device: str, bench: str) -> bool:
    """True to go on; prints a SKIP line when CUDA is asked for but absent (exit 0)."""
    if not device.startswith("cuda"):
        return True
    if torch.cuda.is_available():
        return True
    print(
        f"SKIP {bench}: --device {device} asked for, but torch {torch.__version__} sees no "
        "CUDA device; GPU figures not measured"
    )
    return False


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str, repeats: int, warmup: int = 1) -> List[float]:
    """Wall seconds of each of `repeats` calls of fn, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Peak memory growth inside a ``with`` block, in MiB (``.mib``).

    CUDA: ``torch.cuda.max_memory_allocated`` (reset on entry, absolute peak).
    CPU: resident set size sampled every 2 ms by a thread, minus the RSS on entry;
    freed memory that the allocator keeps is not seen again, so measure from
    small to large.
    """

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.mib = 0.0

    def __enter__(self) -> "PeakMemory":
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
            return self
        self._base = self._peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, _rss_bytes())

    def __exit__(self, *exc) -> None:
        if self.device.startswith("cuda"):
            self.mib = torch.cuda.max_memory_allocated() / 2**20
            return
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, _rss_bytes())
        self.mib = (self._peak - self._base) / 2**20


def load_utterances(n: int, data: Optional[Path] = None) -> List[Tuple[str, torch.Tensor, str]]:
    """The first n (utt_id, 16 kHz waveform, transcript) of a Kaldi dir.

    Default: the espeak_en recipe's dump/raw/test, else mini_an4's wavs.
    """
    import soundfile

    if data is None:
        data = RECIPE / "dump" / "raw" / "test"
    if (data / "wav.scp").exists():
        texts = read_map(data / "text")
        items = read_map(data / "wav.scp").items()
        base = data.parents[2] if data.parts[-3:-1] == ("dump", "raw") else Path.cwd()
        pairs = [(k, p if Path(p).is_absolute() else str(base / p), texts.get(k, "")) for k, p in items]
    elif (MINI_AN4 / "utterances.tsv").exists():
        import csv

        with open(MINI_AN4 / "utterances.tsv", encoding="utf-8") as f:
            rows = sorted(csv.DictReader(f, delimiter="\t"), key=lambda r: r["utt_id"])
        pairs = [(r["utt_id"], str(MINI_AN4 / r["wav"]), r["text"]) for r in rows]
    else:
        raise FileNotFoundError(f"no audio: neither {data}/wav.scp nor {MINI_AN4} exists")
    out = []
    for key, path, text in pairs[:n]:
        try:
            x, fs = soundfile.read(path, dtype="float32")
        except Exception as e:  # soundfile raises its own error types
            raise RuntimeError(f"{key}: cannot read {path}: {e}") from e
        if fs != 16000:
            raise ValueError(f"{key}: {path} is {fs} Hz, the benchmarks expect 16000 Hz")
        out.append((key, torch.from_numpy(x), text))
    return out
