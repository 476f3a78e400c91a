"""Which feature frames of a growing waveform are final, for a centred STFT frontend.

ESPnet's ``DefaultFrontend`` (centred STFT, reflect padding, then log-mel) gives
``N // hop + 1`` frames for ``N`` samples; frame ``t`` reads samples
``[t * hop - n_fft / 2, t * hop + n_fft / 2)``. Frame ``t`` of a prefix of the
waveform equals the whole utterance's frame ``t`` once its window lies inside the
samples seen (the reflect padding on the right reads only the signal's last samples).
So a stream re-runs the frontend on a short window of recent samples and keeps the
frames that window computes exactly (its left edge is either the utterance start or
``margin`` frames before the first frame wanted).
"""

from typing import NamedTuple


class FrameWindow(NamedTuple):
    """Run the frontend on samples ``[start, stop)``; keep its frames ``[first, last)``.

    ``first`` / ``last`` are indices into that call's output; global frame index =
    ``start // hop + local index``.
    """

    start: int
    stop: int
    first: int
    last: int


def final_frame_window(
    n_done: int, n_samples: int, n_fft: int, hop: int, is_final: bool
) -> FrameWindow:
    """Frames ``n_done ...`` that ``n_samples`` samples make final.  ints -> FrameWindow

    Args:
        n_done: Frames already emitted (the next frame wanted).
        n_samples: Samples of the utterance seen so far.
        n_fft: STFT window of the frontend.
        hop: STFT hop.
        is_final: No sample follows: the utterance's last frames are final too.

    >>> final_frame_window(0, 1600, 512, 160, False)  # frames 0..8 of 0.1 s
    FrameWindow(start=0, stop=1600, first=0, last=9)
    >>> final_frame_window(9, 3200, 512, 160, False)  # then 9..18, from 2 frames back
    FrameWindow(start=1120, stop=3200, first=2, last=12)
    >>> final_frame_window(19, 3200, 512, 160, True)  # the last 2 frames
    FrameWindow(start=2720, stop=3200, first=2, last=4)
    """
    margin = -(-(n_fft // 2) // hop)  # frames whose window starts left of the segment
    start_frame = max(0, n_done - margin)
    start = start_frame * hop
    if is_final:
        end_frame = n_samples // hop + 1  # what the whole utterance gives
    else:
        end_frame = max(0, (n_samples - n_fft // 2) // hop + 1)
    end_frame = max(end_frame, n_done)
    return FrameWindow(start, n_samples, n_done - start_frame, end_frame - start_frame)
