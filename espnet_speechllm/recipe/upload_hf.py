"""Stage 15: upload a packed model (stage 14) to the Hugging Face Hub.

::

    python -m espnet_speechllm.recipe.upload_hf --packed_model exp/X/X_valid.acc.ave.zip \\
        --hf_repo user/X [--private true]

The archive is extracted into a temporary directory (``meta.yaml``, ``README.md``,
``exp/...``, as ESPnet model repos hold it) and pushed with ``huggingface_hub``
(``create_repo(exist_ok=True)`` + ``upload_folder``); espnet_model_zoo's
``ModelDownloader`` and espnet2's ``unpack`` both read that layout.

Offline is not an error: with ``HF_HUB_OFFLINE=1``, without a token (``HF_TOKEN`` or
``hf auth login``) or without a connection to the Hub, the upload is skipped with a
message, nothing is written, and the exit status is 0.
"""

import argparse
import os
import socket
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import urlparse

from espnet_speechllm.utils.cli import parse_args

_TRUE = {"1", "ON", "YES", "TRUE"}


def hub_reachable(endpoint: str, timeout: float = 5.0) -> bool:
    """Whether a TCP connection to the Hub endpoint opens."""
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def offline_reason() -> Optional[str]:
    """Why an upload cannot happen here, or None when it can be tried."""
    from huggingface_hub import constants, get_token

    if os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE or constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    if not get_token():
        return "no Hugging Face token (set HF_TOKEN or run `hf auth login`)"
    if not hub_reachable(constants.ENDPOINT):
        return f"cannot reach {constants.ENDPOINT}"
    return None


def upload(packed_model: Path, hf_repo: str, private: bool = False) -> str:
    """Extract the archive and push it to ``hf_repo``; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    with tempfile.TemporaryDirectory(prefix="upload_hf_") as tmp:
        with zipfile.ZipFile(packed_model) as zf:
            zf.extractall(tmp)
        if not (Path(tmp) / "meta.yaml").is_file():
            raise ValueError(f"{packed_model}: no meta.yaml; not an ESPnet packed model")
        api.create_repo(hf_repo, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=hf_repo,
            folder_path=tmp,
            repo_type="model",
            commit_message=f"Upload {packed_model.name} (espnet_speechllm)",
        )
    return str(getattr(info, "commit_url", info))


def get_parser() -> argparse.ArgumentParser:
    from espnet2.utils.types import str2bool

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packed_model", type=Path, required=True, help="stage 14's .zip")
    parser.add_argument("--hf_repo", required=True, help="Hub repo id, e.g. user/model")
    parser.add_argument("--private", type=str2bool, default=False, help="private repo")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    if not args.hf_repo:
        sys.exit("upload_hf: --hf_repo is empty: give the Hub repo id (user/model)")
    if not args.packed_model.is_file():
        sys.exit(f"upload_hf: --packed_model {args.packed_model}: no such file")
    if not zipfile.is_zipfile(args.packed_model):
        sys.exit(f"upload_hf: --packed_model {args.packed_model}: not a zip archive")
    reason = offline_reason()
    if reason is not None:
        print(
            f"upload_hf: offline ({reason}): skipped uploading {args.packed_model} "
            f"to {args.hf_repo}"
        )
        return
    try:
        url = upload(args.packed_model, args.hf_repo, args.private)
    except Exception as e:  # the Hub's HTTP / auth errors, bad archives
        sys.exit(f"upload_hf: upload of {args.packed_model} to {args.hf_repo} failed: {e}")
    print(f"upload_hf: uploaded {args.packed_model} to {args.hf_repo}: {url}")


if __name__ == "__main__":
    main()
