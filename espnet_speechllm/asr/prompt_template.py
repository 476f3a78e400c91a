"""The instruction prompt around the audio, shared by training and decoding.

One object turns an instruction into the token ids that go before and after
the audio embeddings, so training and inference can never disagree on the
prompt (a known cause of hallucinated answers when they do).
"""

import random
import re
from typing import Dict, List, Optional, Sequence, Tuple

from typeguard import typechecked

from espnet_speechllm.asr.chat_layout import AUDIO, ChatLayout

PROMPT = "{prompt}"


class PromptTemplate:
    """Renders ``template`` with an instruction into ``(pre_ids, post_ids)``.

    Args:
        tokenizer: The LLM's HF tokenizer.
        prompts: Instructions; training samples one per utterance.
        eval_prompt: The instruction used at decoding (default: ``prompts[0]``).
        template: Text with exactly one ``{audio}`` and at most one ``{prompt}``.
        use_chat_template: Wrap the rendered text as a user turn of the
            tokenizer's chat template, with the assistant turn opened
            (``ChatLayout.split_user_turn``: the one chat rendering).
        add_bos: Start with the tokenizer's BOS token (if it has one and the
            chat template did not add it).
    """

    @typechecked
    def __init__(
        self,
        tokenizer,
        prompts: Sequence[str],
        eval_prompt: Optional[str] = None,
        template: str = "{prompt}{audio}",
        use_chat_template: bool = False,
        add_bos: bool = True,
    ):
        if template.count(AUDIO) != 1:
            raise ValueError(
                f"model_conf.prompt_template={template!r} must contain exactly one "
                f"{AUDIO} placeholder, found {template.count(AUDIO)}"
            )
        if template.count(PROMPT) > 1:
            raise ValueError(f"model_conf.prompt_template={template!r}: >1 {PROMPT}")
        if len(prompts) == 0:
            raise ValueError("model_conf.prompt: give at least one prompt")
        self.chat = ChatLayout(tokenizer) if use_chat_template else None
        self.tokenizer = tokenizer
        self.template = template
        self.add_bos = add_bos
        self.prompts = list(prompts)
        self.eval_prompt = eval_prompt if eval_prompt is not None else self.prompts[0]
        self._cache = {}

    def ids(self, prompt: str) -> Tuple[List[int], List[int]]:
        """Token ids before and after the audio for one instruction."""
        if prompt not in self._cache:
            self._cache[prompt] = self._render(prompt)
        return self._cache[prompt]

    def sample(
        self,
        n: int,
        train: bool,
        fields: Optional[Sequence[Dict[str, str]]] = None,
        utt_id: Optional[Sequence[str]] = None,
    ) -> List[Tuple[List[int], List[int]]]:
        """``n`` prompts: random from ``prompts`` in training, else ``eval_prompt``.

        Args:
            n: Batch size.
            train: Sample from ``prompts`` (else ``eval_prompt``).
            fields: Per utterance, values for the prompts' ``{name}`` fields
                (e.g. ``{"lang": "German"}`` from an ``utt2lang`` data file).
            utt_id: Names the utterance in errors.
        """
        if fields is not None and len(fields) != n:
            raise ValueError(f"{len(fields)} prompt field sets for a batch of {n}")
        out = []
        for b in range(n):
            prompt = random.choice(self.prompts) if train else self.eval_prompt
            utt = str(utt_id[b]) if utt_id is not None else f"batch index {b}"
            out.append(self.ids(fill_fields(prompt, fields[b] if fields else {}, utt)))
        return out

    def _render(self, prompt: str) -> Tuple[List[int], List[int]]:
        text = self.template.replace(PROMPT, prompt)
        tok = self.tokenizer
        if self.chat is not None:
            pre_ids, post_ids = self.chat.split_user_turn(text)
        else:
            pre, post = text.split(AUDIO)
            pre_ids = tok(pre, add_special_tokens=False).input_ids if pre else []
            post_ids = tok(post, add_special_tokens=False).input_ids if post else []
        bos = tok.bos_token_id
        if self.add_bos and bos is not None and (not pre_ids or pre_ids[0] != bos):
            pre_ids = [bos] + pre_ids
        return pre_ids, post_ids


_FIELD = re.compile(r"\{(\w+)\}")


def fill_fields(prompt: str, fields: Dict[str, str], utt: str = "") -> str:
    """``"Translate the {lang} audio."`` + ``{"lang": "German"}`` -> the German prompt.

    Raises ValueError naming the utterance when a field has no value (give the data
    file, e.g. ``utt2lang`` for ``{lang}``).
    """

    def value(m: "re.Match") -> str:
        if m.group(1) not in fields:
            raise ValueError(
                f"{utt}: prompt {prompt!r} needs the field '{m.group(1)}' but the "
                f"utterance has {sorted(fields) or 'none'} (for {{lang}} give a "
                "'lang' data file, utt2lang in the recipe data dirs)"
            )
        return fields[m.group(1)]

    return _FIELD.sub(value, prompt)
