"""The chat layout of AudioChatLlama (arXiv 2311.06753): one turn of the LLM's own chat template.

One object renders, for any tokenizer with a chat template, the LLM input of a spoken turn
and of the same turn with the transcript in place of the audio::

    [<system> <history turns> <user-prefix> (instr) AUDIO (instr) <user-suffix> <assistant-prefix>]
    response <eot>

    audio layout   p p p p a a a a q q q r r r E      (pre_ids | audio | post_ids | response | eot)
    text layout    p p p p t t t t q q q r r r E      (text_ids: the transcript's tokens for a)

Training (student prefix), decoding, the teacher pass of the distillation term and the
recipe's responses stage all call this class, so the prompt can never differ between them.

The template is rendered once as text with a placeholder for the audio, split there, and
each side tokenized (``add_special_tokens=False``: the template writes its own BOS, as in
HF ``apply_chat_template``). Spaces that end the text before the audio belong to the
audio's segment (a byte-level BPE writes ``"[INST] hello"`` as ``[INST]`` + `` hello``), so
that ``pre_ids + ids(" " + transcript) + post_ids`` is the tokenization of the whole
rendered text with the transcript in place of the audio for ChatML and ``[INST]`` templates
(tested on a byte-level BPE, a SentencePiece-style Metaspace BPE and SmolLM2's
tokenizer): the teacher and the responses stage read exactly what the LLM reads in a text chat.

Data files (Kaldi style, one line per utterance; read with ``--*_data_path_and_name_and_type
<file>,<name>,text``):
    ``response``     ``utt <the LLM's answer>``  -> data name ``text`` (the target)
    ``text``         ``utt <transcript>``        -> data name ``src_text`` (teacher input; CTC
                     labels with ``model_conf.ctc_target: src_text``, as ``text.src`` in ST)
    ``instruction``  ``utt <text>``              -> ``instruction`` (optional)
    ``history``      ``utt [{"role": "user", "content": "..."}, ...]`` (JSON) -> ``history``

In the model (model_conf keys ``chat_layout: true``, ``system_prompt``, ``instruction``,
``instruction_position``; ``build_chat_layout``): ``build_prefix``'s prompts are
``layout.batch_audio_ids(n, fields, utt_id)`` in training, and Speech2TextLLM.prompts gives
decoding the same (``instruction`` / ``history`` are inference data names too). The
response target and decoding end with ``layout.eot`` (``ESPnetSpeechLLMModel.eos``;
SmolLM2: ``<|im_end|>``, also its eos). The loss terms: asr/losses/auxiliary_losses.py.

The responses stage and the cascade (text in, text out) use the same object::

    layout = ChatLayout(tokenizer, system_prompt=conf.get("system_prompt"))
    ids = layout.batch_text_ids(transcripts, fields)      # one list of ids per utterance
    # left-pad, then generate(..., do_sample=False, eos_token_id=layout.eot)
"""

import functools
import json
from typing import Dict, List, Optional, Sequence, Tuple

from typeguard import typechecked

AUDIO = "{audio}"
# A placeholder no chat template alters and no user text contains: the rendered
# text is split on it, it is never tokenized.
PLACEHOLDER = "<<AUDIO_PLACEHOLDER>>"
ROLES = ("system", "user", "assistant")
POSITIONS = ("before", "after")
# Data names of the per-utterance chat fields (train/speechllm_preprocessor.py).
CHAT_FIELDS = ("instruction", "history")

Message = Dict[str, str]


class ChatLayout:
    """Token ids of a spoken user turn in the tokenizer's chat template.

    Args:
        tokenizer: The LLM's HF tokenizer; must have a ``chat_template``.
        system_prompt: System turn (None: whatever the template does without one;
            SmolLM2's writes its default system prompt).
        instruction: Default text instruction next to the audio in the user turn
            (None: the audio alone); a per-utterance ``instruction`` replaces it.
        instruction_position: ``before`` or ``after`` the audio.
        separator: Between the instruction and the audio.
        cache_size: Rendered layouts kept per (instruction, history).
    """

    @typechecked
    def __init__(
        self,
        tokenizer,
        system_prompt: Optional[str] = None,
        instruction: Optional[str] = None,
        instruction_position: str = "before",
        separator: str = "\n",
        cache_size: int = 4096,
    ):
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                f"model_conf.chat_layout=true (or model_conf.use_chat_template=true) "
                f"needs a tokenizer with a chat template, but "
                f"{getattr(tokenizer, 'name_or_path', type(tokenizer).__name__)!r} has "
                "no chat template: use a chat LLM (e.g. SmolLM2-Instruct) or set chat_template in "
                "its tokenizer_config.json"
            )
        if instruction_position not in POSITIONS:
            raise ValueError(
                f"model_conf.instruction_position={instruction_position!r}: choose "
                f"from {POSITIONS}"
            )
        self.tokenizer = tokenizer
        self.system_prompt = system_prompt
        self.instruction = instruction
        self.instruction_position = instruction_position
        self.separator = separator
        self.cache_size = cache_size
        self._split = self._new_cache()
        self.eot = self._end_of_turn_id()

    def _new_cache(self):
        # Per instance (not a decorator on the method): the cache dies with the layout.
        return functools.lru_cache(maxsize=self.cache_size)(self._render_split)

    def __getstate__(self) -> Dict:
        # A cache of a bound method does not pickle (nor deep-copy): rebuild it.
        return {k: v for k, v in self.__dict__.items() if k != "_split"}

    def __setstate__(self, state: Dict) -> None:
        self.__dict__.update(state)
        self._split = self._new_cache()

    def cache_info(self):
        """``functools`` cache statistics of the rendered layouts (hits, misses, size)."""
        return self._split.cache_info()

    def user_content(self, instruction: Optional[str] = None) -> str:
        """The user turn's text with ``{audio}``: the instruction before or after it."""
        instruction = self.instruction if instruction is None else instruction
        if not instruction:
            return AUDIO
        if self.instruction_position == "before":
            return instruction + self.separator + AUDIO
        return AUDIO + self.separator + instruction

    def audio_ids(
        self,
        instruction: Optional[str] = None,
        history: Optional[Sequence[Message]] = None,
        utt: str = "",
    ) -> Tuple[List[int], List[int]]:
        """``(pre_ids, post_ids)`` around the audio of one utterance.

        Args:
            instruction: Replaces the default instruction (None: keep it).
            history: Earlier turns, ``[{"role": ..., "content": ...}, ...]``.
            utt: Names the utterance in errors.
        """
        return self.split_user_turn(self.user_content(instruction), history, utt)

    def split_user_turn(
        self, content: str, history: Optional[Sequence[Message]] = None, utt: str = ""
    ) -> Tuple[List[int], List[int]]:
        """``(pre_ids, post_ids)`` for a user turn ``content`` holding one ``{audio}``."""
        if content.count(AUDIO) != 1:
            raise ValueError(
                f"{utt}: the user turn {content!r} must contain {AUDIO} exactly once"
            )
        pre, post, _ = self._split(content, _history_key(history, utt))
        return pre, post

    def text_segments(
        self,
        transcript: str,
        instruction: Optional[str] = None,
        history: Optional[Sequence[Message]] = None,
        utt: str = "",
    ) -> Tuple[List[int], List[int], List[int]]:
        """The same layout with ``transcript`` in place of the audio, in three pieces.

        Returns:
            ``pre_ids`` and ``post_ids`` (those of ``audio_ids``) and the transcript's
            ids between them (the spaces before the audio included).
        """
        content = self.user_content(instruction)
        pre, post, lead = self._split(content, _history_key(history, utt))
        return pre, self._encode(lead + transcript), post

    def text_ids(self, transcript: str, **turn) -> List[int]:
        """``text_segments`` joined: the input of the teacher pass, the responses stage
        and the cascade.  ``turn``: ``instruction``, ``history``, ``utt``."""
        return [i for segment in self.text_segments(transcript, **turn) for i in segment]

    def batch_audio_ids(
        self,
        n: int,
        fields: Optional[Sequence[Dict[str, str]]] = None,
        utt_id: Optional[Sequence[str]] = None,
    ) -> List[Tuple[List[int], List[int]]]:
        """``(pre_ids, post_ids)`` per utterance of a batch (``build_prefix``'s prompts).

        Args:
            n: Batch size.
            fields: Per utterance, ``instruction`` (text) and ``history`` (a JSON list
                of turns), as ``fields_of(kwargs, CHAT_FIELDS)`` gives them.
            utt_id: Names the utterance in errors.
        """
        return [
            self.audio_ids(*self._fields(b, fields, utt_id, n)) for b in range(n)
        ]

    def batch_text_ids(
        self,
        transcripts: Sequence[str],
        fields: Optional[Sequence[Dict[str, str]]] = None,
        utt_id: Optional[Sequence[str]] = None,
    ) -> List[List[int]]:
        """``text_ids`` per utterance of a batch (the teacher's prefixes)."""
        n = len(transcripts)
        out = []
        for b in range(n):
            instruction, history, utt = self._fields(b, fields, utt_id, n)
            out.append(
                self.text_ids(transcripts[b], instruction=instruction, history=history, utt=utt)
            )
        return out

    def _fields(self, b, fields, utt_id, n) -> Tuple[Optional[str], List[Message], str]:
        if fields is not None and len(fields) != n:
            raise ValueError(f"{len(fields)} chat field sets for a batch of {n}")
        utt = str(utt_id[b]) if utt_id is not None else f"batch index {b}"
        f = fields[b] if fields is not None else {}
        history = parse_history(f["history"], utt) if f.get("history") else None
        return f.get("instruction"), history, utt

    def _messages(self, content: str, history: Tuple[Tuple[str, str], ...]) -> List[Message]:
        msgs = [] if self.system_prompt is None else [
            {"role": "system", "content": self.system_prompt}
        ]
        msgs += [{"role": r, "content": c} for r, c in history]
        return msgs + [{"role": "user", "content": content}]

    def _render(self, content: str, history: Tuple[Tuple[str, str], ...]) -> Tuple[str, str]:
        """The rendered text before and after the audio."""
        for text in [self.system_prompt or "", content] + [c for _, c in history]:
            if PLACEHOLDER in text:
                raise ValueError(f"the chat text {text!r} contains {PLACEHOLDER}")
        text = self.tokenizer.apply_chat_template(
            self._messages(content.replace(AUDIO, PLACEHOLDER), history),
            add_generation_prompt=True,
            tokenize=False,
        )
        if text.count(PLACEHOLDER) != 1:
            raise ValueError(
                f"the chat template wrote the audio placeholder {text.count(PLACEHOLDER)} "
                f"times (not once) for the user turn {content!r}"
            )
        return tuple(text.split(PLACEHOLDER))

    def _render_split(
        self, content: str, history: Tuple[Tuple[str, str], ...]
    ) -> Tuple[List[int], List[int], str]:
        """pre_ids, post_ids, and the spaces before the audio (its segment's)."""
        pre, post = self._render(content, history)
        head = pre.rstrip(" ")
        return self._encode(head), self._encode(post), pre[len(head) :]

    def _encode(self, text: str) -> List[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids if text else []

    def _end_of_turn_id(self) -> int:
        """The token the template closes an assistant turn with (ChatML: ``<|im_end|>``)."""
        marker = "RESPONSE"
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": "question"}, {"role": "assistant", "content": marker}],
            tokenize=False,
        )
        tail = text[text.rindex(marker) + len(marker) :].strip()
        ids = self._encode(tail)
        special = set(self.tokenizer.all_special_ids) | set(
            self.tokenizer.added_tokens_decoder
        )
        if ids and ids[0] in special:
            return int(ids[0])
        if self.tokenizer.eos_token_id is None:
            raise ValueError(
                f"the chat template ends an assistant turn with {tail!r}, not a special "
                "token, and the tokenizer has no eos_token"
            )
        return int(self.tokenizer.eos_token_id)


def build_chat_layout(
    tokenizer,
    chat_layout: bool,
    system_prompt: Optional[str] = None,
    instruction: Optional[str] = None,
    instruction_position: str = "before",
) -> Optional[ChatLayout]:
    """The model's layout from its model_conf keys (None: ``chat_layout: false``)."""
    if not chat_layout:
        if system_prompt is not None or instruction is not None:
            raise ValueError(
                "model_conf.system_prompt / model_conf.instruction need "
                "model_conf.chat_layout: true (else use model_conf.prompt)"
            )
        return None
    return ChatLayout(
        tokenizer,
        system_prompt=system_prompt,
        instruction=instruction,
        instruction_position=instruction_position,
    )


def parse_history(value: str, utt: str = "") -> List[Message]:
    """A ``history`` data-file value (JSON list of ``{role, content}``) -> turns."""
    try:
        turns = json.loads(value)
    except json.JSONDecodeError as e:
        raise ValueError(f"{utt}: 'history' is not JSON ({e}): {value[:80]!r}") from e
    if not isinstance(turns, list):
        raise ValueError(f"{utt}: 'history' must be a JSON list of turns, got {value[:80]!r}")
    return turns


def _history_key(
    history: Optional[Sequence[Message]], utt: str
) -> Tuple[Tuple[str, str], ...]:
    """Checked, hashable turns (the cache key)."""
    key = []
    for i, turn in enumerate(history or ()):
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in ROLES
            or not isinstance(turn.get("content"), str)
        ):
            raise ValueError(
                f"{utt}: history turn {i} must be {{'role': one of {ROLES}, 'content': "
                f"text}}, got {turn!r}"
            )
        key.append((turn["role"], turn["content"]))
    return tuple(key)
