"""Kaldi-style data directories: read, write, validate, fix, subset, split, combine.

A data dir holds text files of ``<id> <value>`` lines, sorted by id in byte order
(``LC_ALL=C sort``), ids unique:

- keyed by utterance: ``wav.scp`` (path, or ``"cmd |"`` whose stdout is the audio),
  ``text`` and ``text.*`` (transcripts, translations), ``utt2spk``, ``utt2num_samples``,
  any other ``utt2*`` or ``*.scp``;
- keyed by speaker: ``spk2utt`` (``spk utt1 utt2 ...``), always rebuilt from utt2spk.

CLI (each subcommand exits 1 with the offending file:line and id on bad input)::

    python -m espnet_speechllm.recipe.kaldi_dir validate DIR [--need wav.scp text]
    python -m espnet_speechllm.recipe.kaldi_dir fix DIR
    python -m espnet_speechllm.recipe.kaldi_dir subset SRC DST (--ids FILE | --first N)
    python -m espnet_speechllm.recipe.kaldi_dir split SCP N OUT_PREFIX
    python -m espnet_speechllm.recipe.kaldi_dir combine DST SRC [SRC ...]
"""

import argparse
import filecmp
import logging
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import (
    KaldiFormatError,
    PathLike,
    iter_lines,
    read_map,
    write_map,
)

# (line number, id, value); value is "" when the line holds only an id
Line = Tuple[int, str, str]

_MAX_REPORTED = 50


class DataDirError(KaldiFormatError):
    """A data dir is malformed; the message names the file, line and id."""


def is_utt_file(name: str) -> bool:
    """Whether a data-dir file is keyed by utterance id (spk2* files are not)."""
    return name.startswith(("text", "utt2")) or name.endswith(".scp")


def _read_lines(path: Path) -> List[Line]:
    """All lines of a data-dir file, as (line number, id, value)."""
    return list(iter_lines(path))


def spk2utt_of(utt2spk: Dict[str, str]) -> Dict[str, str]:
    """Invert utt2spk into spk2utt values (``"utt1 utt2"``, sorted)."""
    groups: Dict[str, List[str]] = {}
    for utt in sorted(utt2spk):
        groups.setdefault(utt2spk[utt], []).append(utt)
    return {spk: " ".join(utts) for spk, utts in groups.items()}


def audio_path_missing(value: str) -> bool:
    """Whether a wav.scp value is a plain path (not ``"cmd |"``) that does not exist."""
    if value.endswith("|"):
        return False
    # Kaldi archives are addressed as "file.ark:offset".
    ark = re.fullmatch(r"(.+):\d+", value)
    return not Path(value).exists() and not (ark and Path(ark.group(1)).exists())


def _data_files(data_dir: Path) -> List[Path]:
    return [
        p
        for p in sorted(data_dir.iterdir())
        if p.is_file() and not p.name.startswith(".")
    ]


def _check_file(path: Path, lines: List[Line]) -> List[str]:
    """Report duplicate ids and the first out-of-order id of one file."""
    problems = []
    seen: Dict[str, int] = {}
    prev = None
    order_reported = False
    for n, key, _ in lines:
        if key in seen:
            problems.append(
                f"{path}:{n}: id '{key}' duplicated (first at line {seen[key]})"
            )
        seen.setdefault(key, n)
        if prev is not None and key < prev and not order_reported:
            problems.append(
                f"{path}:{n}: id '{key}' out of order (after '{prev}'); "
                "sort with LC_ALL=C or run fix"
            )
            order_reported = True
        prev = key
    return problems


def validate(data_dir: PathLike, need: Sequence[str] = ("wav.scp", "text")) -> None:
    """Check a data dir; raise DataDirError listing every problem found.

    Args:
        data_dir: The directory.
        need: Files that must exist.
    """
    d = Path(data_dir)
    if not d.is_dir():
        raise DataDirError(f"{d}: not a directory")
    problems = [
        f"{d / name}: required file missing"
        for name in need
        if not (d / name).is_file()
    ]
    files = {
        p.name: _read_lines(p)
        for p in _data_files(d)
        if is_utt_file(p.name) or p.name == "spk2utt"
    }
    for name, lines in files.items():
        problems += _check_file(d / name, lines)

    utt_names = [n for n in files if is_utt_file(n)]
    if utt_names:
        ref = "wav.scp" if "wav.scp" in files else utt_names[0]
        ref_line = {key: n for n, key, _ in files[ref]}
        for name in utt_names:
            keys = {key for _, key, _ in files[name]}
            for n, key, value in files[name]:
                if key not in ref_line:
                    problems.append(f"{d / name}:{n}: utt '{key}' is not in {ref}")
                if name.startswith("text") and not value:
                    problems.append(
                        f"{d / name}:{n}: utt '{key}' has an empty transcript"
                    )
                if name == "wav.scp" and audio_path_missing(value):
                    problems.append(
                        f"{d / name}:{n}: utt '{key}': audio file not found: {value}"
                    )
                if name == "utt2spk" and not value:
                    problems.append(f"{d / name}:{n}: utt '{key}' has no speaker")
            for key in sorted(set(ref_line) - keys):
                problems.append(
                    f"{d / ref}:{ref_line[key]}: utt '{key}' has no entry in {name}"
                )
    problems += _check_speakers(d, files)
    if problems:
        shown = problems[:_MAX_REPORTED]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more")
        raise DataDirError(f"{d}: {len(problems)} problem(s):\n  " + "\n  ".join(shown))


def _check_speakers(d: Path, files: Dict[str, List[Line]]) -> List[str]:
    """utt2spk and spk2utt must exist together and describe the same grouping."""
    if ("utt2spk" in files) != ("spk2utt" in files):
        have, lack = (
            ("utt2spk", "spk2utt") if "utt2spk" in files else ("spk2utt", "utt2spk")
        )
        return [f"{d / lack}: missing while {have} exists (run fix)"]
    if "utt2spk" not in files:
        return []
    expected = spk2utt_of({key: value for _, key, value in files["utt2spk"]})
    problems = []
    for n, spk, value in files["spk2utt"]:
        want = expected.pop(spk, None)
        if want is None:
            problems.append(f"{d / 'spk2utt'}:{n}: speaker '{spk}' is not in utt2spk")
        elif set(value.split()) != set(want.split()):
            extra = sorted(set(value.split()) ^ set(want.split()))
            problems.append(
                f"{d / 'spk2utt'}:{n}: speaker '{spk}' disagrees with utt2spk "
                f"on utt(s) {' '.join(extra[:5])}"
            )
    for spk in sorted(expected):
        problems.append(f"{d / 'spk2utt'}: speaker '{spk}' of utt2spk is missing")
    return problems


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
    names = [p.name for p in _data_files(d) if is_utt_file(p.name)]
    if not names:
        raise DataDirError(f"{d}: no utterance files (wav.scp, text*, utt2*) to fix")
    maps: Dict[str, Dict[str, str]] = {}
    log_lines = []
    for name in names:
        maps[name] = {}
        for n, key, value in _read_lines(d / name):
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
    write_map(d / "spk2utt", spk2utt_of({k: maps["utt2spk"][k] for k in kept}))
    with open(backup_dir / "dropped.txt", "a", encoding="utf-8") as f:
        f.write(f"# fix {time.strftime('%Y-%m-%d %H:%M:%S')}: kept {len(kept)}\n")
        f.writelines(f"{line}\n" for line in log_lines)
        f.writelines(f"{utt} {reason}\n" for utt, reason in dropped)
    return dropped


def subset(src: PathLike, dst: PathLike, ids: Iterable[str]) -> List[str]:
    """Copy data dir src to dst keeping only the given utterance ids.

    Utterance files are filtered, spk2utt is rebuilt, other files are copied as they
    are; stale utterance files of an earlier run in dst are removed.

    Returns:
        The kept ids, sorted.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and src.resolve() == dst.resolve():
        raise DataDirError(f"subset: source and destination are the same dir {src}")
    files = _data_files(src)
    utt_files = [p for p in files if is_utt_file(p.name)]
    if not utt_files:
        raise DataDirError(f"{src}: no utterance files (wav.scp, text*, utt2*)")
    wanted = set(ids)
    ref = src / "wav.scp" if (src / "wav.scp").is_file() else utt_files[0]
    kept = sorted(wanted.intersection(read_map(ref)))
    if len(kept) < len(wanted):
        absent = sorted(wanted - set(kept))
        logging.warning(f"subset: {len(absent)} id(s) not in {ref}, e.g. '{absent[0]}'")
    dst.mkdir(parents=True, exist_ok=True)
    for p in _data_files(dst):
        if (is_utt_file(p.name) or p.name == "spk2utt") and not (
            src / p.name
        ).is_file():
            logging.info(f"subset: removing stale {p}")
            p.unlink()
    keep = set(kept)
    for p in files:
        if is_utt_file(p.name):
            write_map(dst / p.name, {k: v for k, v in read_map(p).items() if k in keep})
        elif p.name != "spk2utt":
            shutil.copyfile(p, dst / p.name)
    if (dst / "utt2spk").is_file():
        write_map(dst / "spk2utt", spk2utt_of(read_map(dst / "utt2spk")))
    return kept


def split(scp: PathLike, n: int, out_prefix: PathLike) -> List[Path]:
    """Split a file into n contiguous parts ``<out_prefix>.1 .. <out_prefix>.n``.

    Part sizes differ by at most one line; order is kept.
    """
    with open(scp, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    if not 1 <= n <= len(lines):
        raise DataDirError(f"{scp}: cannot split {len(lines)} line(s) into {n} part(s)")
    base, extra = divmod(len(lines), n)
    outs = []
    start = 0
    for i in range(1, n + 1):
        size = base + (1 if i <= extra else 0)
        out = Path(f"{out_prefix}.{i}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(lines[start : start + size]), encoding="utf-8")
        outs.append(out)
        start += size
    return outs


def combine(dst: PathLike, srcs: Sequence[PathLike]) -> int:
    """Merge data dirs into dst; returns the number of utterances.

    An utterance file missing from some source is left out (with a warning), except
    utt2spk, which defaults to utt -> utt. Ids must be unique across sources. Other
    files are copied when every source has the same content.
    """
    dst, srcs = Path(dst), [Path(s) for s in srcs]
    if not srcs:
        raise DataDirError("combine: no source dirs given")
    per_src = [{p.name: p for p in _data_files(s)} for s in srcs]
    names = sorted(set().union(*per_src) - {"spk2utt"})
    merged: Dict[str, Dict[str, str]] = {}
    origin: Dict[str, Path] = {}
    for src, files in zip(srcs, per_src):
        utt_names = [n for n in files if is_utt_file(n)]
        if not utt_names:
            raise DataDirError(f"{src}: no utterance files (wav.scp, text*, utt2*)")
        ids = read_map(files["wav.scp"] if "wav.scp" in files else files[utt_names[0]])
        for utt in ids:
            if utt in origin:
                raise DataDirError(
                    f"combine: utt '{utt}' is in both {origin[utt]} and {src}"
                )
            origin[utt] = src
        if "utt2spk" not in files:
            merged.setdefault("utt2spk", {}).update({utt: utt for utt in ids})
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        lacking = [s for s, files in zip(srcs, per_src) if name not in files]
        if is_utt_file(name):
            if lacking and name != "utt2spk":
                logging.warning(f"combine: {name} left out: missing in {lacking[0]}")
                continue
            for files in per_src:
                if name in files:
                    merged.setdefault(name, {}).update(read_map(files[name]))
        else:
            contents = {files[name].read_bytes() for files in per_src if name in files}
            if lacking or len(contents) > 1:
                logging.warning(f"combine: {name} left out: differs between sources")
            else:
                (dst / name).write_bytes(contents.pop())
    for name, mapping in merged.items():
        write_map(dst / name, mapping)
    write_map(dst / "spk2utt", spk2utt_of(merged["utt2spk"]))
    return len(origin)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Kaldi-style data dir tools",
        formatter_class=argparse.RawTextHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("validate", help="check a data dir; exit 1 listing problems")
    p.add_argument("dir")
    p.add_argument(
        "--need", nargs="+", default=["wav.scp", "text"], help="required files"
    )
    p = sub.add_parser("fix", help="keep ids present everywhere, sort, rebuild spk2utt")
    p.add_argument("dir")
    p = sub.add_parser("subset", help="copy a data dir keeping some utterances")
    p.add_argument("src")
    p.add_argument("dst")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--ids", help="file whose first column lists the ids to keep")
    group.add_argument("--first", type=int, help="keep the first N utterances")
    p = sub.add_parser("split", help="split a file into N parts OUT_PREFIX.1..N")
    p.add_argument("scp")
    p.add_argument("n", type=int)
    p.add_argument("out_prefix")
    p = sub.add_parser("combine", help="merge data dirs")
    p.add_argument("dst")
    p.add_argument("srcs", nargs="+")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    try:
        if args.cmd == "validate":
            validate(args.dir, need=args.need)
            print(f"validate: {args.dir} is OK")
        elif args.cmd == "fix":
            dropped = fix(args.dir)
            n_kept = len(read_map(Path(args.dir) / "utt2spk"))
            print(
                f"fix: {args.dir}: kept {n_kept}, dropped {len(dropped)}"
                + (
                    f" (see {Path(args.dir) / '.backup' / 'dropped.txt'})"
                    if dropped
                    else ""
                )
            )
        elif args.cmd == "subset":
            if args.ids:
                ids = list(read_map(args.ids))
            else:
                ids = sorted(read_map(Path(args.src) / "wav.scp"))[: args.first]
            kept = subset(args.src, args.dst, ids)
            print(f"subset: {args.dst}: {len(kept)} utterances")
        elif args.cmd == "split":
            split(args.scp, args.n, args.out_prefix)
        else:
            n = combine(args.dst, args.srcs)
            print(f"combine: {args.dst}: {n} utterances")
    except (KaldiFormatError, FileNotFoundError) as e:
        sys.exit(f"kaldi_dir {args.cmd}: {e}")


if __name__ == "__main__":
    main()
