"""The text chat turn that the responses stage, the cascade and the perplexity tool give the LLM.

A thin front of ``espnet_speechllm.asr.chat_layout.ChatLayout``, the one chat layout that
training, decoding and the teacher pass use too, so the oracle responses, the cascade and
the speech-LLM read the same prompt::

    [<system> <history turns> <user-prefix> (instruction) text <user-suffix> <assistant-prefix>]
"""

from typing import Dict, List, Optional, Tuple

from espnet_speechllm.asr.chat_layout import ChatLayout, Message, _history_key
from espnet_speechllm.asr.chat_layout import parse_history as _parse_json_history

Turn = Message  # {"role": "user" | "assistant" | "system", "content": "..."}
# One layout per (tokenizer, system prompt): ChatLayout caches its rendered turns.
_LAYOUTS: Dict[Tuple[int, Optional[str]], ChatLayout] = {}


def parse_history(value: str, where: str) -> List[Turn]:
    """Read one ``history`` value: a JSON list of ``{role, content}`` turns.

    Args:
        value: The line's value after the utterance id.
        where: ``file:line (utt)`` for the error message.
    """
    turns = _parse_json_history(value, where)
    _history_key(turns, where)  # each turn checked: {role, content}
    return turns


def layout_for(tokenizer, system: Optional[str] = None) -> ChatLayout:
    """The (cached) ChatLayout of ``tokenizer`` with ``system`` as its system prompt."""
    key = (id(tokenizer), system)
    if key not in _LAYOUTS or _LAYOUTS[key].tokenizer is not tokenizer:
        _LAYOUTS[key] = ChatLayout(tokenizer, system_prompt=system)
    return _LAYOUTS[key]


def render_text_turn(
    tokenizer,
    text: str,
    system: Optional[str] = None,
    history: Optional[List[Turn]] = None,
    instruction: Optional[str] = None,
) -> List[int]:
    """Token ids of a chat ending in the assistant prefix, the user turn holding ``text``.

    Args:
        tokenizer: An HF tokenizer with a chat template.
        text: The user turn (a transcript).
        system: Optional system prompt (first turn).
        history: Earlier turns, oldest first.
        instruction: Optional text instruction on its own line before ``text``.
    """
    layout = layout_for(tokenizer, system)
    return layout.text_ids(text, instruction=instruction or None, history=history)
