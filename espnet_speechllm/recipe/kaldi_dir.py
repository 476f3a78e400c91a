"""Kaldi-style data directories: read, write, validate, fix, subset, split, combine.

A data dir holds text files of ``<id> <value>`` lines, sorted by id in byte order
(``LC_ALL=C sort``), ids unique:

keyed by utterance ``wav.scp`` (path or ``"cmd |"``), ``text``, ``text.*``, ``utt2*``,
``*.scp``, the prompt fields ``instruction`` and ``history``; by speaker ``spk2utt``,
always rebuilt from utt2spk; with ``segments`` (``utt recording start end``) ``wav.scp``
is keyed by recording and ``segments`` lists the utterances
(``espnet_speechllm.recipe.segments``).

CLI (bad input: exit 1 naming file:line and id): ``python -m
espnet_speechllm.recipe.kaldi_dir validate DIR [--need F ...] | fix DIR | subset SRC DST
(--ids FILE | --first N) | split SCP N OUT_PREFIX | combine DST SRC [SRC ...]``.
"""

import argparse
import logging
import re
import shutil
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from espnet_speechllm.recipe.segments import SEGMENTS, is_recording_file, read_segments, segment_problems
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import KaldiFormatError, PathLike, iter_lines, read_map, write_map

# (line number, id, value); value is "" when the line holds only an id
Line = Tuple[int, str, str]

_MAX_REPORTED = 50


class DataDirError(KaldiFormatError):
    """A data dir is malformed; the message names the file, line and id."""


# The chat layout's per-utterance prompt fields (asr/prompt_fields.py; utt2lang is a utt2*).
PROMPT_FILES = ("instruction", "history")


def is_utt_file(name: str) -> bool:
    """Whether a data-dir file is keyed by utterance id (spk2* files are not; nor is
    wav.scp where the dir has segments: see ``utt_files``)."""
    named = (SEGMENTS, *PROMPT_FILES)
    return name.startswith(("text", "utt2")) or name.endswith(".scp") or name in named


def utt_files(data_dir: Path) -> List[Path]:
    """The files of a data dir keyed by utterance (segments, not wav.scp, when it has one)."""
    return [
        p
        for p in data_files(data_dir)
        if is_utt_file(p.name) and not is_recording_file(data_dir, p.name)
    ]


def utt_ref(data_dir: Path) -> Optional[Path]:
    """The file whose ids are the utterances: segments, wav.scp, else the first."""
    for name in (SEGMENTS, "wav.scp"):
        if (data_dir / name).is_file():
            return data_dir / name
    files = utt_files(data_dir)
    return files[0] if files else None


def read_lines(path: Path) -> List[Line]:
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


def data_files(data_dir: Path) -> List[Path]:
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
        p.name: read_lines(p)
        for p in data_files(d)
        if is_utt_file(p.name) or p.name == "spk2utt"
    }
    for name, lines in files.items():
        problems += _check_file(d / name, lines)
    if SEGMENTS in files:
        try:
            segments = read_segments(d / SEGMENTS)
            recs = {key for _, key, _ in files.get("wav.scp", [])}
            problems += segment_problems(d / SEGMENTS, segments, recs)
        except KaldiFormatError as e:
            problems.append(str(e))

    utt_names = [p.name for p in utt_files(d) if p.name in files]
    if utt_names:
        ref = utt_ref(d).name
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
    if is_recording_file(d, "wav.scp"):
        for n, key, value in files.get("wav.scp", []):
            if audio_path_missing(value):
                problems.append(
                    f"{d / 'wav.scp'}:{n}: recording '{key}': audio file not found: {value}"
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
    files = data_files(src)
    ref = utt_ref(src)
    if ref is None:
        raise DataDirError(f"{src}: no utterance files (wav.scp, text*, utt2*)")
    wanted = set(ids)
    kept = sorted(wanted.intersection(read_map(ref)))
    if len(kept) < len(wanted):
        absent = sorted(wanted - set(kept))
        logging.warning(f"subset: {len(absent)} id(s) not in {ref}, e.g. '{absent[0]}'")
    dst.mkdir(parents=True, exist_ok=True)
    for p in data_files(dst):
        if (is_utt_file(p.name) or p.name == "spk2utt") and not (
            src / p.name
        ).is_file():
            logging.info(f"subset: removing stale {p}")
            p.unlink()
    keep = set(kept)
    if ref.name == SEGMENTS:  # recording files keep the recordings still used
        segments = read_segments(ref)
        recordings = {segments[utt].recording for utt in kept}
    for p in files:
        if is_recording_file(src, p.name):
            write_map(dst / p.name, {k: v for k, v in read_map(p).items() if k in recordings})
        elif is_utt_file(p.name):
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
    outs, start = [], 0
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
    per_src = [{p.name: p for p in data_files(s)} for s in srcs]
    segmented = [SEGMENTS in files for files in per_src]
    if any(segmented) and not all(segmented):
        raise DataDirError(
            f"combine: {srcs[segmented.index(True)]} has segments but "
            f"{srcs[segmented.index(False)]} has none (wav.scp keyed by recording vs "
            "utterance): cut the segments first (format_wav_scp) or add a segments file"
        )
    names = sorted(set().union(*per_src) - {"spk2utt"})
    merged: Dict[str, Dict[str, str]] = {}
    origin: Dict[str, Path] = {}
    for src, files in zip(srcs, per_src):
        utt_names = [n for n in files if is_utt_file(n)]
        if not utt_names:
            raise DataDirError(f"{src}: no utterance files (wav.scp, text*, utt2*)")
        ids = read_map(utt_ref(src))
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
            from espnet_speechllm.recipe.fix_data_dir import fix  # (it imports this module)

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
