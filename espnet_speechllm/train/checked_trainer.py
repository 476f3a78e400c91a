"""CheckedTrainer: ESPnet's Trainer that fails where it would stop quietly, and resumes
past a checkpoint torn by a crash.

ESPnet's ``Trainer.run``

- stops when every step of an epoch had a non-finite gradient ("The gradients at all
  steps are invalid in this epoch"), then averages the epochs it has and exits 0: a
  recipe goes on to decode a model that never learnt. Here that epoch raises
  ``AllStepsInvalidError`` instead: the run exits non-zero, no model is averaged, and
  the checkpoints of the epochs before are kept.
- writes ``checkpoint.pth`` in place at the end of each epoch; a crash during that save
  leaves a torn zip that ``--resume true`` cannot read. Here each epoch first copies the
  good ``checkpoint.pth`` to ``checkpoint.prev.pth`` (atomically), and a resume that
  finds ``checkpoint.pth`` torn sets it aside as ``checkpoint.pth.torn`` and continues
  from ``checkpoint.prev.pth``: the end of the epoch before, the state of its
  ``{N}epoch.pth`` with the optimizer, scheduler and reporter states too. A torn
  ``{N}epoch.pth`` of the checkpoint's epoch is rewritten from the checkpoint.

Its base, ``ResumeTrainer``, names the experiment when the checkpoint holds another model.
"""

import logging
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any, List, Optional

import torch

from espnet2.train.trainer import Trainer
from espnet_speechllm.train.resume_trainer import ResumeTrainer
from espnet_speechllm.utils.atomic_file import atomic_path

PREV = "checkpoint.prev.pth"


class AllStepsInvalidError(RuntimeError):
    """No step of a training epoch had finite gradients; nothing was learnt."""


class TornCheckpointError(RuntimeError):
    """checkpoint.pth is unreadable and there is no good one to fall back to."""


def torn(path: Path) -> Optional[str]:
    """Why a torch.save file cannot be read (None if it looks whole).

    torch.save writes a zip whose directory comes last, so a file cut short by a crash
    has none; only that directory is read, not the tensors.
    """
    try:
        with zipfile.ZipFile(path) as z:
            if not any(n.endswith("data.pkl") for n in z.namelist()):
                return "no data.pkl in the archive"
    except (zipfile.BadZipFile, OSError) as e:
        return str(e)
    return None


def backup_checkpoint(output_dir: Path) -> None:
    """Copy a good checkpoint.pth to checkpoint.prev.pth, before the epoch overwrites it."""
    ckpt = output_dir / "checkpoint.pth"
    if ckpt.is_file() and torn(ckpt) is None:
        with atomic_path(output_dir / PREV) as tmp:
            shutil.copyfile(ckpt, tmp)


def epoch_files(output_dir: Path) -> List[Path]:
    """``{N}epoch.pth`` files, by N."""
    files = [p for p in output_dir.glob("*epoch.pth") if re.fullmatch(r"\d+epoch\.pth", p.name)]
    return sorted(files, key=lambda p: int(p.name[: -len("epoch.pth")]))


def _rewrite_torn_epoch_file(output_dir: Path) -> None:
    """The crash may come after checkpoint.pth, during ``{N}epoch.pth``: rewrite it."""
    files = epoch_files(output_dir)
    if not files or torn(files[-1]) is None:
        return
    states = torch.load(output_dir / "checkpoint.pth", map_location="cpu", weights_only=False)
    if files[-1].name != f"{states['reporter']['epoch']}epoch.pth":
        return  # not the checkpoint's epoch: ESPnet will remove or overwrite it
    with atomic_path(files[-1]) as tmp:
        torch.save(states["model"], tmp)
    logging.warning(
        f"{files[-1]} was torn (a crash while saving it?): rewritten from checkpoint.pth"
    )


def prepare_resume(output_dir: Path) -> None:
    """Make ``output_dir/checkpoint.pth`` one that ESPnet's resume can read, and say so.

    Raises:
        TornCheckpointError: it is torn and checkpoint.prev.pth is missing or torn.
    """
    ckpt = output_dir / "checkpoint.pth"
    if not ckpt.exists():
        return
    why = torn(ckpt)
    if why is None:
        _rewrite_torn_epoch_file(output_dir)
        return
    prev = output_dir / PREV
    if not prev.is_file() or torn(prev) is not None:
        epochs = epoch_files(output_dir)
        last = f"; the newest epoch model is {epochs[-1]}" if epochs else ""
        raise TornCheckpointError(
            f"{ckpt} is torn ({why}; a crash while saving it?) and there is no good {prev} "
            f"to resume from{last}. Move {ckpt} away to train from scratch, or start a "
            "new exp dir with --init_param <that model> to keep its weights"
        )
    ckpt.rename(output_dir / "checkpoint.pth.torn")
    prev.rename(ckpt)
    logging.warning(
        f"{ckpt} was torn ({why}; a crash while saving it?): kept as checkpoint.pth.torn; "
        f"resuming from {PREV}, the end of the epoch before"
    )


class CheckedTrainer(ResumeTrainer):
    """ESPnet's Trainer (see the module docstring for what differs)."""

    @classmethod
    def run(cls, **kwargs: Any) -> None:
        """``Trainer.run``; a resume first checks checkpoint.pth (prepare_resume)."""
        options, dist = kwargs["trainer_options"], kwargs["distributed_option"]
        if options.resume and (not dist.distributed or dist.dist_rank == 0):
            prepare_resume(Path(options.output_dir))
        if dist.distributed:
            torch.distributed.barrier()  # the others read checkpoint.pth after rank 0
        super().run(**kwargs)

    @classmethod
    def train_one_epoch(cls, **kwargs: Any) -> bool:
        """``Trainer.train_one_epoch``, after a backup of the checkpoint it will replace.

        Raises:
            AllStepsInvalidError: no step of the epoch had finite gradients.
        """
        options, dist = kwargs["options"], kwargs["distributed_option"]
        if not dist.distributed or dist.dist_rank == 0:
            backup_checkpoint(Path(options.output_dir))
        all_steps_are_invalid = super().train_one_epoch(**kwargs)
        if all_steps_are_invalid:
            raise AllStepsInvalidError(
                f"every step of epoch {kwargs['reporter'].epoch} had a non-finite (NaN/inf) "
                "loss or gradient, so the model was never updated (ESPnet would stop, "
                "average the epochs and report success). Check the data (non-finite "
                "audio: stage 3 drops it; a NaN feats_stats.npz: rerun stage 10), the "
                "learning rate and grad_clip"
            )
        return all_steps_are_invalid
