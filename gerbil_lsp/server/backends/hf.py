"""A local transformers model directory (optionally a PEFT LoRA adapter on it).

For evaluating a freshly trained adapter before it is exported to GGUF: the
trainer's output directory loads as it is. ``hf:DIR`` takes a full model dir or
an adapter dir (``adapter_config.json``, whose base must be on disk);
``hf:BASE+ADAPTER`` names both. torch and transformers are imported only when
the backend is first used, so the server starts fast without them. Like the
embedded llama.cpp backend, generation runs on one worker thread and stops at
the next token once its request is cancelled.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from gerbil_lsp.server.backends.base import (
    ENOUGH,
    BackendError,
    BackendUnavailable,
    Completion,
    Enough,
    Stopwatch,
    cut_at_stop,
)
from gerbil_lsp.server.backends.in_process import InProcessBackend

INSTALL_HINT = "install the train extra: pip install 'gerbil-lsp[train]'"


class HFBackend(InProcessBackend):
    name = "hf"
    fim = True

    def __init__(self, model_dir: str, *, adapter_dir: str | None = None, device: str | None = None) -> None:
        path = Path(model_dir).expanduser()
        if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
            raise BackendUnavailable(
                f"{path} is not a transformers model or PEFT adapter directory (no config.json / adapter_config.json)"
            )
        adapter = Path(adapter_dir).expanduser() if adapter_dir else None
        if adapter is not None and not (adapter / "adapter_config.json").is_file():
            raise BackendUnavailable(f"{adapter} is not a PEFT adapter directory (no adapter_config.json)")
        if adapter is None and (path / "adapter_config.json").is_file():
            adapter, path = path, self._adapter_base(path)
        self.model_dir = path
        self.adapter_dir = adapter
        self.model = path.name + (f"+{adapter.name}" if adapter else "")
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        super().__init__("hf-generate")

    @staticmethod
    def _adapter_base(adapter: Path) -> Path:
        config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
        base = Path(str(config.get("base_model_name_or_path") or "")).expanduser()
        if not (base / "config.json").is_file():
            raise BackendUnavailable(
                f"{adapter}: its base model {str(base)!r} is not a local directory; use hf:BASE_DIR+{adapter}"
            )
        return base

    def __repr__(self) -> str:
        return f"HFBackend({self.model!r})"

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    import torch
                    import transformers
                except ImportError as exc:
                    raise BackendUnavailable(f"{exc}; {INSTALL_HINT}") from None
                device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
                try:
                    tokenizer_dir = self.adapter_dir if self.adapter_dir and (
                        (self.adapter_dir / "tokenizer.json").is_file()
                        or (self.adapter_dir / "tokenizer_config.json").is_file()
                    ) else self.model_dir
                    self._tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_dir)
                    model = transformers.AutoModelForCausalLM.from_pretrained(
                        self.model_dir, dtype="auto"
                    )
                    if self.adapter_dir is not None:
                        import peft

                        model = peft.PeftModel.from_pretrained(model, self.adapter_dir)
                except (OSError, ValueError, ImportError) as exc:
                    raise BackendUnavailable(f"cannot load {self.model}: {exc}") from None
                self._model = model.to(device).eval()
            return self._model, self._tokenizer

    def _generate(self, prompt: str, max_tokens: int, temperature: float, stop, enough,
                  flag: threading.Event) -> dict:
        import torch
        import transformers

        model, tokenizer = self._load()
        if flag.is_set():
            return {"text": "", "finish_reason": "cancelled", "tokens": 0, "prompt_tokens": 0}
        self.generations_started += 1

        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
        prompt_length = inputs["input_ids"].shape[1]
        ended = threading.Event()  # ``enough`` said so

        class StopNow(transformers.StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                if flag.is_set():
                    return True
                if enough is None:
                    return False
                if enough(tokenizer.decode(input_ids[0, prompt_length:], skip_special_tokens=True)):
                    ended.set()
                    return True
                return False

        args: dict[str, Any] = {"max_new_tokens": max_tokens, "do_sample": temperature > 0}
        if temperature > 0:
            args["temperature"] = temperature
        if stop:
            args["stop_strings"] = list(stop)
            args["tokenizer"] = tokenizer
        try:
            with torch.inference_mode():
                out = model.generate(
                    **inputs, stopping_criteria=transformers.StoppingCriteriaList([StopNow()]),
                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id, **args,
                )
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"transformers: {exc}") from None
        new = out[0][inputs["input_ids"].shape[1]:]
        text = tokenizer.decode(new, skip_special_tokens=False)
        eos = tokenizer.eos_token
        if eos and text.endswith(eos):
            text = text[: -len(eos)]
        if flag.is_set():
            finish = "cancelled"
        elif ended.is_set():
            finish = ENOUGH
        else:
            finish = "length" if len(new) >= max_tokens else "stop"
        if flag.is_set():
            self.generations_stopped += 1
        return {"text": text, "finish_reason": finish, "tokens": int(len(new)),
                "prompt_tokens": int(inputs["input_ids"].shape[1])}

    async def complete(
        self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str] | None = None,
        enough: Enough | None = None,
    ) -> Completion:
        clock = Stopwatch()
        out = await self._run(self._generate, prompt, max_tokens, temperature, stop, enough)
        text, _ = cut_at_stop(out["text"], stop)
        return Completion(text=text, model=self.model, latency_ms=clock.ms(), tokens=out["tokens"],
                          prompt_tokens=out["prompt_tokens"], finish_reason=out["finish_reason"],
                          backend=self.name)

    async def chat(
        self, messages: list[dict], *, max_tokens: int, temperature: float, stop: list[str] | None = None,
        enough: Enough | None = None,
    ) -> Completion:
        _, tokenizer = await self._on_worker(self._load)
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return await self.complete(prompt, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                   enough=enough)

    def count_tokens(self, text: str) -> int:
        _, tokenizer = self._load()
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def _release(self) -> None:
        self._model = self._tokenizer = None
