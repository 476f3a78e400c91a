"""The text chat turn that the responses stage, the cascade and the perplexity tool give the LLM.

``render_text_turn`` is the one place where these tools turn a transcript into the
LLM's chat-template ids::

    [<system> <history turns> <user-prefix> (instruction) text <user-suffix> <assistant-prefix>]

TODO(lead): point ``render_text_turn`` at ``espnet_speechllm.asr.chat_layout.ChatLayout``
(the chat helper's module, shared with training and decoding) once it is merged, so
that the oracle responses, the cascade and the speech-LLM read one layout.
"""

import json
from typing import Dict, List, Optional

Turn = Dict[str, str]  # {"role": "user" | "assistant" | "system", "content": "..."}


def parse_history(value: str, where: str) -> List[Turn]:
    """Read one ``history`` value: a JSON list of ``{role, content}`` turns.

    Args:
        value: The line's value after the utterance id.
        where: ``file:line (utt)`` for the error message.
    """
    try:
        turns = json.loads(value)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: history is not JSON: {e}") from None
    if not isinstance(turns, list) or not all(
        isinstance(t, dict) and set(t) == {"role", "content"} for t in turns
    ):
        raise ValueError(f"{where}: history must be a JSON list of {{role, content}}: {value}")
    return turns


def user_content(text: str, instruction: Optional[str] = None) -> str:
    """The user turn's text: the instruction (if any) on its own line above the transcript."""
    return f"{instruction}\n{text}" if instruction else text


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
        instruction: Optional text instruction placed before ``text`` in the user turn.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"the tokenizer {getattr(tokenizer, 'name_or_path', '?')} has no chat template "
            "(tokenizer_config.json 'chat_template'): use a chat/instruct LLM for --llm"
        )
    messages: List[Turn] = [{"role": "system", "content": system}] if system else []
    messages += list(history or [])
    messages.append({"role": "user", "content": user_content(text, instruction)})
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    # transformers 5 may return a BatchEncoding-like dict or a flat list.
    if isinstance(ids, dict):
        ids = ids["input_ids"]
    return list(ids)
