"""The transcript of a non-speech utterance (noise, music, babble): ``<nospeech>``.

ESPnet's text loader refuses a ``text`` line with an utterance id alone, and stage 4
drops empty transcripts, so a non-speech utterance carries this marker instead. The
preprocessor maps it to zero tokens (the model's target is then eos alone) and scoring
reads it as an empty reference.
"""

NONSPEECH_MARKER = "<nospeech>"


def is_nonspeech(text: str) -> bool:
    """True for the marker alone (any case, surrounding spaces ignored)."""
    return text.strip().lower() == NONSPEECH_MARKER
