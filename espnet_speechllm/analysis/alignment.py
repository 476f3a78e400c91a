"""Audio/text alignment in the LLM's embedding space (arXiv 2307.11795, Sec. 5).

The paper's finding: after training, the audio embeddings the LLM reads line up
with the LLM's own embeddings of the transcript, monotonically in time, which makes
recognition a "repeat what you read" task. These functions measure that on one
utterance: the cosine similarity of every audio position with every text token,
and how monotonic the best-matching audio position is along the text.
"""

from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch


def cosine_matrix(audio: torch.Tensor, text: torch.Tensor) -> np.ndarray:
    """Cosine similarity of each audio position with each text token.  ``(T, D), (L, D) -> (T, L)``"""
    a = torch.nn.functional.normalize(audio.float(), dim=-1)
    t = torch.nn.functional.normalize(text.float(), dim=-1)
    return (a @ t.T).cpu().numpy()


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (Spearman's convention).  ``(N,) -> (N,)``"""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def monotonicity(sim: np.ndarray) -> Dict[str, float]:
    """How monotonic the alignment of text tokens to audio positions is.

    Each text token j is aligned to its most similar audio position
    ``a_j = argmax_t sim[t, j]``. Returns:

    - ``nondecreasing``: fraction of consecutive tokens with ``a_{j+1} >= a_j``
      (1.0: the path never goes back in time);
    - ``spearman``: rank correlation of ``j`` with ``a_j`` (1.0: monotonic,
      0: unrelated, -1: reversed; NaN when all ``a_j`` are equal);
    - ``mean_max_cos``: mean over tokens of the best cosine similarity.

    Args:
        sim: (T, L) similarities, T audio positions and L >= 2 text tokens.
    """
    if sim.ndim != 2 or sim.shape[1] < 2 or sim.shape[0] < 1:
        raise ValueError(f"need (T >= 1, L >= 2) similarities, got shape {sim.shape}")
    path = sim.argmax(axis=0)
    steps = np.diff(path)
    ra, rj = _ranks(path.astype(float)), np.arange(len(path), dtype=float)
    if np.all(ra == ra[0]):
        rho = float("nan")
    else:
        rho = float(np.corrcoef(rj, ra)[0, 1])
    return {
        "nondecreasing": float(np.mean(steps >= 0)),
        "spearman": rho,
        "mean_max_cos": float(sim.max(axis=0).mean()),
    }


def plot_alignment(
    sim: np.ndarray,
    tokens: Sequence[str],
    path: Path,
    title: str = "",
    stats: Optional[Dict[str, float]] = None,
) -> None:
    """Heatmap PNG: audio positions (x) against text tokens (y), best position marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_audio, n_text = sim.shape
    fig, ax = plt.subplots(
        figsize=(min(2 + 0.12 * n_audio, 20), min(1.5 + 0.22 * n_text, 20)), dpi=100
    )
    im = ax.imshow(sim.T, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest")
    ax.plot(sim.argmax(axis=0), np.arange(n_text), "r.", markersize=4, label="argmax")
    ax.set_yticks(np.arange(n_text))
    ax.set_yticklabels(list(tokens), fontsize=7)
    ax.set_xlabel("audio position (LLM prefix, after compression)")
    ax.set_ylabel("transcript token")
    if stats:
        title += (
            f"\nnondecreasing {stats['nondecreasing']:.2f}, "
            f"spearman {stats['spearman']:.2f}"
        )
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="cosine similarity")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
