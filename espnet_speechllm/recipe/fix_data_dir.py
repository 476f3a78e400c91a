"""Make a Kaldi-style data dir valid in place (Kaldi's ``fix_data_dir.sh``, our own code).

``python -m espnet_speechllm.recipe.kaldi_dir fix DIR`` (and ``utils/fix_data_dir.sh DIR``)
call ``fix``; the originals are kept in ``DIR/.backup/``.
"""

import filecmp
import shutil
import time
from pathlib import Path
from typing import Dict, List, Tuple

from espnet_speechllm.recipe.kaldi_dir import (
    DataDirError,
    audio_path_missing,
    data_files,
    read_lines,
    spk2utt_of,
    utt_files,
)
from espnet_speechllm.recipe.segments import SEGMENTS, is_recording_file
from espnet_speechllm.utils.kaldi_io import PathLike, read_map, write_map


def _backup(path: Path, backup_dir: Path) -> None:
    """Copy path into backup_dir unless an identical copy is there; never overwrite."""
    dst = backup_dir / path.name
    n = 0
    while dst.exists():
        if filecmp.cmp(dst, path, shallow=False):
            return
        n += 1
        dst = backup_dir / f"{path.name}.{n}"
    shutil.copy2(path, dst)


def fix(data_dir: PathLike) -> List[Tuple[str, str]]:
    """Make a data dir valid in place; originals are kept in ``<dir>/.backup/``.

    Keeps the utterances present in every utterance file, with a non-empty transcript
    and (for plain paths) an existing audio file; keeps the first of duplicate lines;
    sorts; writes utt2spk (utt -> utt when missing) and rebuilds spk2utt. Dropped ids
    and reasons are appended to ``<dir>/.backup/dropped.txt``.

    Returns:
        (utt, reason) of each dropped utterance.
    """
    d = Path(data_dir)
    names = [p.name for p in utt_files(d)]
    recordings = {  # a segmented dir: recording -> wav.scp value
        name: read_map(d / name) for name in ("wav.scp",) if is_recording_file(d, name)
    }.get("wav.scp")
    if not names:
        raise DataDirError(f"{d}: no utterance files (wav.scp, text*, utt2*) to fix")
    maps: Dict[str, Dict[str, str]] = {}
    log_lines = []
    for name in names:
        maps[name] = {}
        for n, key, value in read_lines(d / name):
            if key in maps[name]:
                log_lines.append(
                    f"{key} duplicate line {n} of {name} removed (first kept)"
                )
            else:
                maps[name][key] = value

    dropped = []
    for utt in sorted(set().union(*maps.values())):
        reasons = []
        missing = [name for name in names if utt not in maps[name]]
        if missing:
            reasons.append("missing in " + ",".join(missing))
        reasons += [
            f"empty transcript in {name}"
            for name in names
            if name.startswith("text") and maps[name].get(utt) == ""
        ]
        if utt in maps.get("wav.scp", {}) and audio_path_missing(maps["wav.scp"][utt]):
            reasons.append(f"audio file not found: {maps['wav.scp'][utt]}")
        if recordings is not None and utt in maps[SEGMENTS]:
            rec = maps[SEGMENTS][utt].split()[0] if maps[SEGMENTS][utt] else ""
            if rec not in recordings:
                reasons.append(f"recording '{rec}' of segments not in wav.scp")
            elif audio_path_missing(recordings[rec]):
                reasons.append(f"audio file not found: {recordings[rec]}")
        if "utt2spk" in maps and maps["utt2spk"].get(utt) == "":
            reasons.append("no speaker in utt2spk")
        if reasons:
            dropped.append((utt, "; ".join(reasons)))
    drop_ids = {utt for utt, _ in dropped}
    kept = set(maps[names[0]]) - drop_ids
    if not kept:
        raise DataDirError(
            f"{d}: fix would drop every utterance "
            f"(e.g. '{dropped[0][0]}': {dropped[0][1]}); "
            "nothing changed"
        )

    backup_dir = d / ".backup"
    backup_dir.mkdir(exist_ok=True)
    for name in names + ["spk2utt"]:
        if (d / name).is_file():
            _backup(d / name, backup_dir)
    maps.setdefault("utt2spk", {utt: utt for utt in kept})
    for name, mapping in maps.items():
        write_map(d / name, {k: v for k, v in mapping.items() if k in kept})
    if recordings is not None:  # keep the recordings that segments still use
        used = {maps[SEGMENTS][utt].split()[0] for utt in kept}
        for p in data_files(d):
            if is_recording_file(d, p.name):
                _backup(p, backup_dir)
                write_map(p, {k: v for k, v in read_map(p).items() if k in used})
    write_map(d / "spk2utt", spk2utt_of({k: maps["utt2spk"][k] for k in kept}))
    with open(backup_dir / "dropped.txt", "a", encoding="utf-8") as f:
        f.write(f"# fix {time.strftime('%Y-%m-%d %H:%M:%S')}: kept {len(kept)}\n")
        f.writelines(f"{line}\n" for line in log_lines)
        f.writelines(f"{utt} {reason}\n" for utt, reason in dropped)
    return dropped
