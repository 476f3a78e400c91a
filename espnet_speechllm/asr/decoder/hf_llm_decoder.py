"""A Hugging Face causal LM as an ESPnet decoder that reads continuous prefixes."""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from transformers import LogitsProcessorList
from typeguard import typechecked

from espnet_speechllm.asr.decoder.abs_llm_decoder import AbsLLMDecoder
from espnet_speechllm.asr.generation.length_cap_processor import RowLengthCapProcessor
from espnet_speechllm.asr.layers.sequence_packing import left_pad, pack_right, padding_mask
from espnet_speechllm.asr.layers.sequence_packing import positions_from_mask, prefix_lm_mask
from espnet_speechllm.asr.frozen_weights import keep_trained_only, untrained_keys
from espnet_speechllm.pretrained.sources import MODEL_DIR, TOKENIZER_DIR
from espnet_speechllm.utils.hf_local import check_local
from espnet_speechllm.utils.low_precision import autocast, autocast_dtype, cast_frozen, native_on

MODES = ("frozen", "lora", "full")
PREFIX_ATTENTIONS = ("causal", "noncausal")
DEFAULT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


class HFLLMDecoder(AbsLLMDecoder):
    """Any ``AutoModelForCausalLM``, fed ``[prefix | text]`` embeddings.

    The prefix (prompt + audio embeddings) comes in continuous form from the
    model; the decoder appends the target tokens, runs the LLM once and returns
    logits for ``text + [eos]``. Only one copy of the LLM is held: LoRA wraps it
    in place (peft), and frozen weights are left out of ``state_dict`` so that
    checkpoints hold only what was trained; they are reloaded from
    ``model_name_or_path`` when the model is built.

    Args:
        model_name_or_path: Local HF directory or hub id of a pretrained LLM.
        config: Instead of a pretrained LLM, an ``AutoConfig.for_model`` dict
            (``model_type`` + fields) for a randomly initialised one.
        tokenizer_name_or_path: Tokenizer location (default: the LLM's).
        mode: ``frozen`` | ``lora`` | ``full``.
        lora_conf: peft ``LoraConfig`` fields (r, lora_alpha, lora_dropout,
            target_modules).
        prefix_attention: ``causal`` or ``noncausal`` (full attention inside
            the prompt + audio prefix, causal over the text).
        dtype: Weights dtype of the whole LLM as loaded (``float32``, ``bfloat16``,
            ...); the prefix must come in that dtype unless ``autocast`` is on. For
            bf16 compute with fp32 trained weights use ``autocast`` and ``frozen_dtype``
            instead (or ``dtype: bfloat16`` + ``autocast``: a 7B base never held in fp32).
        autocast: Run the LLM (forward, prefill, ``generate``) under
            ``torch.autocast`` in this dtype (``bfloat16``, ``float16``) on
            whatever device it is on; logits come out in it and the model's loss
            casts them to fp32. Falls back to fp32, with a warning, on a CPU
            without native kernels (see ``utils/low_precision.py``).
        frozen_dtype: Store the LLM weights that do not train (all in mode
            ``frozen``, the base under LoRA) in this dtype, so that autocast does
            not cast them at every op; trained weights (LoRA adapters) stay fp32.
            Needs ``autocast`` in the same dtype; not for mode ``full``.
        local_files_only: Never reach the network (default).
        attn_implementation: ``sdpa`` or ``eager``.
        gradient_checkpointing: Trade compute for memory inside the LLM.
        random_init: Build ``model_name_or_path``'s architecture (and use its
            tokenizer) with random weights, ``config`` entries overriding its
            fields: the decoder-only from-scratch system. Needs ``mode: full``.
    """

    # Paths read when built, packed by stage 14 (see pretrained/sources.py).
    pretrained_sources = {
        "model_name_or_path": MODEL_DIR,
        "tokenizer_name_or_path": TOKENIZER_DIR,
    }

    @typechecked
    def __init__(
        self,
        model_name_or_path: Optional[str] = None,
        config: Optional[Dict[str, Any]] = None,
        tokenizer_name_or_path: Optional[str] = None,
        mode: str = "frozen",
        lora_conf: Optional[Dict[str, Any]] = None,
        prefix_attention: str = "causal",
        dtype: str = "float32",
        local_files_only: bool = True,
        attn_implementation: str = "sdpa",
        gradient_checkpointing: bool = False,
        random_init: bool = False,
        autocast: Optional[str] = None,
        frozen_dtype: Optional[str] = None,
    ):
        super().__init__()
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        if mode not in MODES:
            raise ValueError(f"decoder_conf.mode={mode!r}: choose from {MODES}")
        if prefix_attention not in PREFIX_ATTENTIONS:
            raise ValueError(
                f"decoder_conf.prefix_attention={prefix_attention!r}: "
                f"choose from {PREFIX_ATTENTIONS}"
            )
        if random_init and (model_name_or_path is None or mode != "full"):
            raise ValueError(
                "decoder_conf.random_init=true needs model_name_or_path (the "
                f"architecture and tokenizer) and mode 'full', got mode={mode!r}"
            )
        if (model_name_or_path is None) == (config is None) and not random_init:
            raise ValueError(
                "decoder_conf: give exactly one of model_name_or_path (pretrained) "
                "or config (from scratch)"
            )
        torch_dtype = getattr(torch, dtype)
        self.autocast = autocast_dtype(autocast, "decoder_conf.autocast")
        frozen = autocast_dtype(frozen_dtype, "decoder_conf.frozen_dtype")
        if frozen is not None and (frozen != self.autocast or mode == "full"):
            raise ValueError(
                f"decoder_conf.frozen_dtype={frozen_dtype!r} needs decoder_conf.autocast: "
                f"{frozen_dtype} and mode frozen or lora, got autocast={autocast!r}, "
                f"mode={mode!r}"
            )
        if random_init:
            check_local(model_name_or_path, local_files_only, "decoder_conf.model_name_or_path")
            hf_config = AutoConfig.from_pretrained(
                model_name_or_path, local_files_only=local_files_only, **(config or {})
            )
            hf_config._attn_implementation = attn_implementation
            llm = AutoModelForCausalLM.from_config(hf_config, dtype=torch_dtype)
        elif model_name_or_path is not None:
            check_local(model_name_or_path, local_files_only, "decoder_conf.model_name_or_path")
            llm = AutoModelForCausalLM.from_pretrained(
                model_name_or_path,
                dtype=torch_dtype,
                local_files_only=local_files_only,
                attn_implementation=attn_implementation,
            )
        else:
            cfg = dict(config)
            model_type = cfg.pop("model_type", "llama")
            hf_config = AutoConfig.for_model(model_type, **cfg)
            hf_config._attn_implementation = attn_implementation
            llm = AutoModelForCausalLM.from_config(hf_config, dtype=torch_dtype)

        tok_path = tokenizer_name_or_path or model_name_or_path
        if tok_path is None:
            raise ValueError(
                "decoder_conf.tokenizer_name_or_path is required when the LLM is "
                "built from decoder_conf.config"
            )
        check_local(tok_path, local_files_only, "decoder_conf.tokenizer_name_or_path")
        self.tokenizer = AutoTokenizer.from_pretrained(
            tok_path, local_files_only=local_files_only
        )
        n_emb = llm.get_input_embeddings().weight.size(0)
        if len(self.tokenizer) > n_emb:
            raise ValueError(
                f"Tokenizer {tok_path!r} has {len(self.tokenizer)} tokens but the "
                f"LLM's embedding table has only {n_emb} rows: they do not belong "
                "together (check decoder_conf.tokenizer_name_or_path / bpemodel)"
            )
        if self.tokenizer.eos_token_id is None:
            raise ValueError(f"Tokenizer {tok_path!r} defines no eos_token")

        if gradient_checkpointing:
            llm.gradient_checkpointing_enable()
        if mode == "lora":
            from peft import LoraConfig, get_peft_model

            conf = dict(target_modules=DEFAULT_LORA_TARGETS, r=8, lora_alpha=16)
            conf.update(lora_conf or {})
            llm = get_peft_model(llm, LoraConfig(task_type="CAUSAL_LM", **conf))
        elif mode == "frozen":
            llm.requires_grad_(False)
        self.llm = llm
        self.mode = mode
        # Embeddings of a table stored in frozen_dtype come back in the loaded dtype.
        self.embed_dtype = torch_dtype
        self.frozen_dtype = frozen
        self.prefix_attention = prefix_attention
        untrained = untrained_keys(self, buffers=True) if mode != "full" else set()
        keep_trained_only(self, untrained)

    @property
    def causal_lm(self) -> torch.nn.Module:
        """The ``*ForCausalLM`` module (inside the peft wrapper if any)."""
        return self.llm.get_base_model() if self.mode == "lora" else self.llm

    @property
    def input_embeddings(self) -> torch.nn.Embedding:
        return self.llm.get_input_embeddings()

    def output_size(self) -> int:
        """The LLM's hidden size (the width the projector must produce)."""
        return self.input_embeddings.weight.size(1)

    @property
    def vocab_size(self) -> int:
        return self.input_embeddings.weight.size(0)

    @property
    def eos(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def context_length(self) -> Optional[int]:
        """``max_position_embeddings`` of the HF config (None if it has none)."""
        return getattr(self.causal_lm.config, "max_position_embeddings", None)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings; negative (padding) ids embed as id 0.  ``(B, L) -> (B, L, D)``"""
        return self.input_embeddings(ids.clamp(min=0)).to(self.embed_dtype)

    def set_low_precision(self, dtype: Optional[torch.dtype]) -> None:
        """Autocast in ``dtype`` with untrained weights stored in it (None: fp32).

        What ``decoder_conf.autocast`` + ``frozen_dtype`` set at build; decoding
        (``speechllm_inference --dtype bfloat16``) sets it on a trained model.
        """
        self.autocast = dtype
        self.frozen_dtype = dtype  # applies to the parameters that do not require grad

    def _low_precision(self, x: torch.Tensor):
        """The autocast context of one LLM call; stores frozen weights in ``frozen_dtype`` first.

        Cast here rather than at build because ESPnet's trainer casts the whole
        model to ``--train_dtype`` after building it. Skipped where the dtype is
        not native on the CPU (bf16 weights would meet fp32 activations).
        """
        key = "decoder_conf.autocast"
        table = self.llm.get_input_embeddings().weight
        if self.frozen_dtype is not None and table.dtype != self.frozen_dtype:
            if native_on(x.device.type, self.frozen_dtype, key):
                cast_frozen(self.llm, self.frozen_dtype)
        return autocast(x.device, self.autocast, key)

    def _mask(self, valid: torch.Tensor, prefix_lens: torch.Tensor, dtype) -> torch.Tensor:
        t = valid.size(1)
        if self.prefix_attention == "noncausal":
            # The last prefix step stays causal: at decoding it is the first
            # step that generate() runs on top of the pre-filled cache.
            bidir = padding_mask(prefix_lens - 1, t).bool()
        else:
            bidir = torch.zeros_like(valid, dtype=torch.bool)
        return prefix_lm_mask(valid, bidir, dtype)

    def forward(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        ys_in_pad: torch.Tensor,
        ys_in_lens: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``AbsLLMDecoder.forward``: one LLM pass over ``[prefix | text]`` packed per row.

        ``(B, P, D), (B,), (B, L), (B,) -> (B, L + 1, V), (B,)``
        """
        if bool((hlens < 1).any()):
            raise ValueError(f"Every prefix needs >= 1 position, got lengths {hlens}")
        # The text joins the prefix in its dtype: an fp32 projector's output meets a
        # bf16-stored LLM (decoder_conf.dtype) under decoder_conf.autocast.
        text = self.embed(ys_in_pad).to(hs_pad.dtype)
        seq, total = pack_right(hs_pad, hlens, text, ys_in_lens)
        valid = padding_mask(total, seq.size(1))
        mask = self._mask(valid, hlens, seq.dtype)
        pos = positions_from_mask(valid)
        backbone = self.causal_lm.base_model
        with self._low_precision(seq):
            hidden = backbone(
                inputs_embeds=seq, attention_mask=mask, position_ids=pos, use_cache=False
            ).last_hidden_state
        # Only positions prefix_len-1 .. prefix_len-1+L predict targets: gather
        # them before the LM head so a large vocabulary costs (B, L+1, V), not (B, T, V).
        steps = torch.arange(ys_in_pad.size(1) + 1, device=seq.device)
        idx = (hlens[:, None] - 1 + steps[None, :]).clamp(max=seq.size(1) - 1)
        hidden = torch.gather(hidden, 1, idx[..., None].expand(-1, -1, hidden.size(-1)))
        with self._low_precision(seq):
            logits = self.causal_lm.get_output_embeddings()(hidden)
        return logits, ys_in_lens + 1

    @torch.no_grad()
    def generate(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        num_beams: int = 1,
        nbest: int = 1,
        max_new_tokens: Union[int, Sequence[int]] = 64,
        eos: Optional[int] = None,
        **generate_kwargs,
    ) -> List[List[Tuple[List[int], float]]]:
        """Decode after each prefix with HF ``generate`` (KV cache, batched).

        Prefixes are left padded; position ids follow the attention mask, so
        each utterance sees the same positions as it would alone. With a
        non-causal prefix the prefix (minus its last step) is pre-filled here
        with the prefix-LM mask and handed to ``generate`` as its cache.

        Arguments and result as ``AbsLLMDecoder.generate``; per-utterance
        ``max_new_tokens`` run in one ``generate`` call (``RowLengthCapProcessor``),
        and ``generate_kwargs`` go to HF ``generate`` (no_repeat_ngram_size,
        length_penalty, repetition_penalty, min_new_tokens, logits_processor, ...).
        """
        eos = self.eos if eos is None else eos
        if nbest > num_beams:
            raise ValueError(f"nbest={nbest} needs beam_size >= nbest, got {num_beams}")
        bsz, p_max = hs_pad.shape[:2]
        # Scores of a caller's processor (joint CTC) are already per-step log scores.
        normalize = "logits_processor" not in generate_kwargs
        if not isinstance(max_new_tokens, int):
            caps = list(max_new_tokens)
            if len(caps) != bsz:
                raise ValueError(f"{len(caps)} length caps for {bsz} utterances")
            if num_beams == 1 and len(set(caps)) == 1:
                # NOTE: one cap for all rows (batch 1): greedy stopped at HF's own limit has
                # the ids and score of an eos forced after it (scored 0), without that extra
                # LLM step and a processor call per step. Beams keep the processor: their
                # length normalisation counts the forced eos.
                max_new_tokens = caps[0]
            else:
                procs = LogitsProcessorList(generate_kwargs.pop("logits_processor", None) or [])
                procs.append(RowLengthCapProcessor(caps, eos, num_beams))
                generate_kwargs["logits_processor"] = procs
                max_new_tokens = max(caps) + 1  # + the forced eos
        prefix = left_pad(hs_pad, hlens)
        mask = padding_mask(hlens, p_max, left=True)
        pos = positions_from_mask(mask)
        kwargs: Dict[str, Any] = dict(
            inputs_embeds=prefix,
            attention_mask=mask,
            position_ids=pos,
            num_beams=num_beams,
            num_return_sequences=nbest,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=eos,
            return_dict_in_generate=True,
            output_scores=True,
            use_cache=True,
        )
        kwargs.update(generate_kwargs)
        with self._low_precision(prefix):
            if self.prefix_attention == "noncausal" and p_max > 1:
                kwargs["past_key_values"] = self._prefill(prefix, mask, num_beams)
            out = self.causal_lm.generate(**kwargs)
        seqs = out.sequences
        if num_beams > 1:
            scores = out.sequences_scores
        else:
            trans = self.causal_lm.compute_transition_scores(
                seqs, out.scores, normalize_logits=normalize
            )
            # A sequence that ended before the others is padded with pad = eos:
            # those steps are not part of it (HF masks them for beams only).
            is_eos = (seqs[:, -trans.size(1) :] == eos).long()
            after_eos = (is_eos.cumsum(-1) - is_eos) > 0
            scores = trans.masked_fill(after_eos | ~torch.isfinite(trans), 0.0).sum(-1)
        results: List[List[Tuple[List[int], float]]] = []
        for b in range(bsz):
            hyps = []
            for k in range(nbest):
                ids = seqs[b * nbest + k].tolist()
                if eos in ids:
                    ids = ids[: ids.index(eos)]
                hyps.append((ids, float(scores[b * nbest + k])))
            results.append(hyps)
        return results

    @torch.no_grad()
    def extend_cache(self, embeds: torch.Tensor, cache=None):
        """Run ``embeds`` (1, N, D) causally after ``cache`` (a ``DynamicCache``, None: empty)
        and return the cache, grown by N: a streamed prefix, to ``generate`` from later."""
        from transformers import DynamicCache

        cache = DynamicCache(config=self.causal_lm.config) if cache is None else cache
        if embeds.size(1):
            past = cache.get_seq_length()
            pos = torch.arange(past, past + embeds.size(1), device=embeds.device)[None]
            with self._low_precision(embeds):
                self.causal_lm.base_model(
                    inputs_embeds=embeds, position_ids=pos, past_key_values=cache, use_cache=True
                )
        return cache

    def _prefill(self, prefix: torch.Tensor, mask: torch.Tensor, num_beams: int):
        """KV cache of all prefix steps but the last, under the prefix-LM mask."""
        from transformers import DynamicCache

        head = prefix[:, :-1]
        valid = mask[:, :-1]
        # A left-padded prefix ends at the last column, so "valid" == "in prefix".
        attn = prefix_lm_mask(valid, valid.bool(), head.dtype)
        cache = DynamicCache(config=self.causal_lm.config)
        self.causal_lm.base_model(
            inputs_embeds=head,
            attention_mask=attn,
            position_ids=positions_from_mask(valid),
            past_key_values=cache,
            use_cache=True,
        )
        if num_beams > 1:
            cache.batch_repeat_interleave(num_beams)
        return cache

