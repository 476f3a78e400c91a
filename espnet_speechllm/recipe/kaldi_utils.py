"""Kaldi's data-dir scripts, with Kaldi's command lines, on our own data-dir code.

The recipes' ``utils/`` holds wrappers named as in Kaldi (``utils/utt2spk_to_spk2utt.pl``,
``utils/subset_data_dir.sh``, ...) that run ``python -m espnet_speechllm.recipe.kaldi_utils
<name> ARGS``; the work is done by ``kaldi_dir`` / ``fix_data_dir`` (no Kaldi code)::

    utt2spk_to_spk2utt.pl [utt2spk] > spk2utt
    spk2utt_to_utt2spk.pl [spk2utt] > utt2spk
    filter_scp.pl [--exclude] [-f N] id_list [in.scp] > out.scp
    copy_data_dir.sh [--utt-prefix P] [--utt-suffix S] [--spk-prefix P] [--spk-suffix S]
        [--validate-opts "..."] SRC DST
    subset_data_dir.sh [--first|--last|--shortest|--per-spk] SRC N DST
    subset_data_dir.sh (--utt-list|--spk-list) LIST SRC DST
    combine_data.sh [--extra-files "f ..."] [--skip-fix true] DST SRC1 SRC2 ...
    validate_data_dir.sh [--no-feats] [--no-text] [--no-wav] [--non-print] [--no-spk-sort] DIR
    fix_data_dir.sh [--utt-extra-files "f ..."] [--spk-extra-files "f ..."] DIR

Every error names the file (and line / id) and exits 1, as ``kaldi_dir``'s do.
"""

import argparse
import shlex
import shutil
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from espnet_speechllm.recipe import kaldi_dir
from espnet_speechllm.recipe.fix_data_dir import fix
from espnet_speechllm.recipe.segments import SEGMENTS, is_recording_file
from espnet_speechllm.utils.kaldi_io import KaldiFormatError, read_map, write_map

_SPK_FILES = ("cmvn.scp",)  # *.scp keyed by speaker, not utterance


def _open_in(path: Optional[str]) -> TextIO:
    return open(path, encoding="utf-8") if path and path != "-" else sys.stdin


def _pairs(stream: TextIO, name: str) -> List[List[str]]:
    rows = []
    for n, line in enumerate(stream, 1):
        fields = line.split()
        if len(fields) < 2:
            raise KaldiFormatError(f"{name}:{n}: expected '<id> <value>...', got {line!r}")
        rows.append(fields)
    return rows


def utt2spk_to_spk2utt(args: argparse.Namespace) -> None:
    with _open_in(args.file) as f:
        rows = _pairs(f, args.file or "stdin")
    spk2utt = kaldi_dir.spk2utt_of({utt: spk for utt, spk, *_ in rows})
    sys.stdout.writelines(f"{spk} {utts}\n" for spk, utts in sorted(spk2utt.items()))


def spk2utt_to_utt2spk(args: argparse.Namespace) -> None:
    with _open_in(args.file) as f:
        rows = _pairs(f, args.file or "stdin")
    utt2spk = {utt: spk for spk, *utts in rows for utt in utts}
    sys.stdout.writelines(f"{utt} {utt2spk[utt]}\n" for utt in sorted(utt2spk))


def filter_scp(args: argparse.Namespace) -> None:
    with open(args.id_list, encoding="utf-8") as f:
        ids = {line.split()[0] for line in f if line.strip()}
    with _open_in(args.scp) as f:
        for n, line in enumerate(f, 1):
            fields = line.split()
            if len(fields) < args.f:
                raise KaldiFormatError(f"{args.scp or 'stdin'}:{n}: no field {args.f}")
            if (fields[args.f - 1] in ids) != args.exclude:
                sys.stdout.write(line)


def copy_data_dir(args: argparse.Namespace) -> None:
    src, dst = Path(args.src), Path(args.dst)
    if src.resolve() == dst.resolve():
        raise kaldi_dir.DataDirError(f"copy_data_dir: {src} and {dst} are the same dir")
    utt = lambda u: f"{args.utt_prefix}{u}{args.utt_suffix}"  # noqa: E731
    spk = lambda s: f"{args.spk_prefix}{s}{args.spk_suffix}"  # noqa: E731
    dst.mkdir(parents=True, exist_ok=True)
    for p in kaldi_dir.data_files(src):
        if p.name == "spk2utt":
            continue  # rebuilt from utt2spk
        if p.name.startswith("spk2") or p.name in _SPK_FILES:
            mapping = {spk(k): v for k, v in read_map(p).items()}
        elif p.name == "utt2spk":
            mapping = {utt(k): spk(v) for k, v in read_map(p).items()}
        elif kaldi_dir.is_utt_file(p.name) and not is_recording_file(src, p.name):
            mapping = {utt(k): v for k, v in read_map(p).items()}
        else:  # recording files, feats_type, ...
            shutil.copyfile(p, dst / p.name)
            continue
        write_map(dst / p.name, mapping)
    if (dst / "utt2spk").is_file():
        write_map(dst / "spk2utt", kaldi_dir.spk2utt_of(read_map(dst / "utt2spk")))
    validate_data_dir(_VALIDATE.parse_args([*shlex.split(args.validate_opts), str(dst)]))
    print(f"copy_data_dir: copied {src} to {dst}")


def _durations(d: Path) -> Dict[str, float]:
    """utt -> its length (for ordering only): utt2dur, utt2num_samples, segments or the
    audio headers."""
    if (d / "utt2dur").is_file():
        return {k: float(v) for k, v in read_map(d / "utt2dur").items()}
    if (d / "utt2num_samples").is_file():
        return {k: float(v) for k, v in read_map(d / "utt2num_samples").items()}
    if (d / SEGMENTS).is_file():
        segs = {k: v.split() for k, v in read_map(d / SEGMENTS).items()}
        return {k: float(v[2]) - float(v[1]) for k, v in segs.items()}
    import soundfile

    out = {}
    for key, value in read_map(d / "wav.scp").items():
        if value.endswith("|"):
            raise kaldi_dir.DataDirError(
                f"{d}/wav.scp: utt '{key}' is a command; --shortest needs utt2dur or "
                "utt2num_samples (stage 3 writes utt2num_samples)"
            )
        out[key] = soundfile.info(value).duration
    return out


def subset_ids(args: argparse.Namespace) -> List[str]:
    """The utterances subset_data_dir.sh keeps, in Kaldi's forms."""
    src = Path(args.src)
    utts = sorted(read_map(kaldi_dir.utt_ref(src)))
    if args.utt_list:
        return list(read_map(args.utt_list))
    if args.spk_list:
        spks = set(read_map(args.spk_list))
        return [u for u, s in read_map(src / "utt2spk").items() if s in spks]
    n = args.num
    if n < 0:
        raise ValueError(f"subset_data_dir: number of utterances {n} < 0")
    if args.per_spk:
        spk2utt = kaldi_dir.spk2utt_of(read_map(src / "utt2spk"))
        return [u for utts_of in spk2utt.values() for u in utts_of.split()[:n]]
    if args.first:
        return utts[:n]
    if args.last:
        return utts[-n:] if n else []
    if args.shortest:
        dur = _durations(src)
        return sorted(utts, key=lambda u: (dur[u], u))[:n]
    if n >= len(utts):
        return utts
    return [utts[i * len(utts) // n] for i in range(n)]  # evenly spaced, as Kaldi's default


def subset_data_dir(args: argparse.Namespace) -> None:
    lists = args.utt_list or args.spk_list
    if lists:  # (--utt-list|--spk-list) LIST SRC DST: the positionals shift by one
        args.src, args.dst = args.positional[0], args.positional[1]
        if len(args.positional) != 2:
            raise ValueError("subset_data_dir: with --utt-list/--spk-list give SRC DST")
    else:
        if len(args.positional) != 3:
            raise ValueError("subset_data_dir: give SRC NUM DST")
        args.src, args.num, args.dst = args.positional[0], int(args.positional[1]), args.positional[2]
    kept = kaldi_dir.subset(args.src, args.dst, subset_ids(args))
    print(f"subset_data_dir: {args.dst}: {len(kept)} utterances")


def combine_data(args: argparse.Namespace) -> None:
    for name in args.extra_files.split():
        lacking = [s for s in args.srcs if not (Path(s) / name).is_file()]
        if lacking:
            raise kaldi_dir.DataDirError(f"combine_data: --extra-files {name}: missing in {lacking[0]}")
    n = kaldi_dir.combine(args.dst, args.srcs)
    if args.skip_fix != "true":
        fix(args.dst)
    print(f"combine_data: {args.dst}: {n} utterances")


def validate_data_dir(args: argparse.Namespace) -> None:
    need = ["wav.scp", "text"]
    if args.no_text:
        need.remove("text")
    if args.no_wav:
        need.remove("wav.scp")
    # --no-feats, --non-print, --no-spk-sort: nothing to relax (we need no feats.scp, take
    # any UTF-8 text and check the order of every file).
    kaldi_dir.validate(args.dir, need=args.need or need)
    print(f"validate_data_dir: {args.dir} is OK")


def fix_data_dir(args: argparse.Namespace) -> None:
    # --utt-extra-files / --spk-extra-files: every utterance file is filtered anyway.
    dropped = fix(args.dir)
    kept = len(read_map(kaldi_dir.utt_ref(Path(args.dir))))
    where = f" (reasons in {Path(args.dir) / '.backup' / 'dropped.txt'})" if dropped else ""
    print(f"fix_data_dir: {args.dir}: kept {kept}, dropped {len(dropped)}{where}")


def _parser(name: str, *args: str, **kwargs) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"utils/{name}", *args, **kwargs)


_VALIDATE = _parser("validate_data_dir.sh")
for _flag in ("--no-feats", "--no-text", "--no-wav", "--non-print", "--no-spk-sort"):
    _VALIDATE.add_argument(_flag, action="store_true")
_VALIDATE.add_argument("--need", nargs="+", help="files DIR must hold (ours; default wav.scp text)")
_VALIDATE.add_argument("dir")


def get_parsers() -> Dict[str, Tuple[argparse.ArgumentParser, Callable]]:
    """Each tool's name (without .sh/.pl) -> its parser and function."""
    p: Dict[str, Tuple[argparse.ArgumentParser, Callable]] = {}
    for name, fn in (("utt2spk_to_spk2utt.pl", utt2spk_to_spk2utt),
                     ("spk2utt_to_utt2spk.pl", spk2utt_to_utt2spk)):  # fmt: skip
        q = _parser(name)
        q.add_argument("file", nargs="?", help="input file (default: stdin)")
        p[name.split(".")[0]] = (q, fn)
    q = _parser("filter_scp.pl", description="keep lines whose field N is in id_list")
    q.add_argument("--exclude", action="store_true", help="keep the lines NOT in id_list")
    q.add_argument("-f", type=int, default=1, help="field to filter on (1-based)")
    q.add_argument("id_list")
    q.add_argument("scp", nargs="?")
    p["filter_scp"] = (q, filter_scp)
    q = _parser("copy_data_dir.sh")
    for flag in ("--utt-prefix", "--utt-suffix", "--spk-prefix", "--spk-suffix"):
        q.add_argument(flag, default="")
    q.add_argument("--validate-opts", default="", help="options of validate_data_dir.sh")
    q.add_argument("src")
    q.add_argument("dst")
    p["copy_data_dir"] = (q, copy_data_dir)
    q = _parser("subset_data_dir.sh")
    g = q.add_mutually_exclusive_group()
    for flag in ("--first", "--last", "--shortest", "--per-spk"):
        g.add_argument(flag, action="store_true")
    g.add_argument("--utt-list", help="keep the utterances listed (first column)")
    g.add_argument("--spk-list", help="keep the utterances of the speakers listed")
    q.add_argument("positional", nargs="+", metavar="SRC [NUM] DST")
    p["subset_data_dir"] = (q, subset_data_dir)
    q = _parser("combine_data.sh")
    q.add_argument("--extra-files", default="", help="files every SRC must have")
    q.add_argument("--skip-fix", default="false", choices=("true", "false"))
    q.add_argument("dst")
    q.add_argument("srcs", nargs="+")
    p["combine_data"] = (q, combine_data)
    p["validate_data_dir"] = (_VALIDATE, validate_data_dir)
    q = _parser("fix_data_dir.sh")
    q.add_argument("--utt-extra-files", default="")
    q.add_argument("--spk-extra-files", default="")
    q.add_argument("dir")
    p["fix_data_dir"] = (q, fix_data_dir)
    return p


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parsers = get_parsers()
    if not argv or argv[0] not in parsers:
        sys.exit(f"kaldi_utils: first argument is one of {', '.join(parsers)}")
    parser, fn = parsers[argv[0]]
    args = parser.parse_args(argv[1:])
    try:
        fn(args)
    except (KaldiFormatError, FileNotFoundError, ValueError, KeyError) as e:
        print(f"{parser.prog}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
