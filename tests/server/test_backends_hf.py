"""The ``hf:`` backend on a real transformers model directory and a real PEFT adapter.

No model hub here, so the test builds its own: a tiny Qwen2 (random weights) with
a BPE tokenizer trained on a few Gerbil lines, saved with ``save_pretrained``, and
a LoRA adapter saved by peft. The text is noise; what is checked is the loading
(model dir, base+adapter, adapter alone), generation, stop strings and cancellation.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from gerbil_lsp.server.backends import BackendUnavailable, backend_from_spec

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch", reason="torch (the [train] extra) is not installed")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

LINES = ["(def (square x) (* x x))", "(import :std/iter)", "(for (x (in-range 3)) (displayln x))"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    root = tmp_path_factory.mktemp("tiny-qwen")
    base, adapter = root / "base", root / "adapter"
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(LINES * 20, trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>",
                                                     unk_token="<unk>", pad_token="<|endoftext|>")
    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    tokenizer.save_pretrained(base)
    torch.manual_seed(0)
    config = transformers.Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                      max_position_embeddings=4096, pad_token_id=tokenizer.pad_token_id)
    config.eos_token_id = None  # random weights may say EOS at once; this model runs until stopped
    model = transformers.Qwen2ForCausalLM(config)
    model.save_pretrained(base)
    lora = peft.get_peft_model(model, peft.LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(adapter)
    config_file = adapter / "adapter_config.json"
    data = json.loads(config_file.read_text())
    data["base_model_name_or_path"] = str(base)
    config_file.write_text(json.dumps(data))
    return base, adapter


async def test_model_dir_generates(tiny_model):
    base, _ = tiny_model
    backend = backend_from_spec(f"hf:{base}")
    try:
        assert await backend.health() is True
        done = await backend.complete("(def (square x)", max_tokens=6, temperature=0.0)
        assert done.backend == "hf" and 0 < done.tokens <= 6 and done.prompt_tokens > 0
        chat = await backend.chat([{"role": "user", "content": "(import"}], max_tokens=4, temperature=0.0)
        assert chat.tokens <= 4
        assert backend.count_tokens("(def (square x) (* x x))") > 0
    finally:
        await backend.aclose()


async def test_base_plus_adapter_and_adapter_alone(tiny_model):
    base, adapter = tiny_model
    for spec in (f"hf:{base}+{adapter}", f"hf:{adapter}"):
        backend = backend_from_spec(spec)
        try:
            done = await backend.complete("(import", max_tokens=4, temperature=0.0)
            assert backend.adapter_dir == adapter and done.tokens <= 4
            assert isinstance(backend._model, peft.PeftModel)
        finally:
            await backend.aclose()


async def test_cancellation_stops_generation(tiny_model):
    base, _ = tiny_model
    backend = backend_from_spec(f"hf:{base}")
    try:
        await backend.health()
        task = asyncio.create_task(backend.complete("(def", max_tokens=100_000, temperature=0.0))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        done = await backend.complete("(def", max_tokens=2, temperature=0.0)  # the worker is free again
        assert done.tokens <= 2
        assert backend.generations_stopped == 1
    finally:
        await backend.aclose()


def test_not_a_model_dir(tmp_path):
    with pytest.raises(BackendUnavailable, match="not a transformers model"):
        backend_from_spec(f"hf:{tmp_path}")


async def test_enough_stops_generation_where_the_text_says(tiny_model):
    """``enough`` sees the decoded text so far; the kept text is the start of the full generation.

    Random weights: sampling (seeded the same for both runs) gives varied tokens where greedy
    decoding would repeat one.
    """
    base, _ = tiny_model
    backend = backend_from_spec(f"hf:{base}")
    try:
        torch.manual_seed(7)
        full = await backend.complete("(def", max_tokens=40, temperature=1.0)
        assert len(full.text) > 6 and full.tokens == 40
        torch.manual_seed(7)
        early = await backend.complete("(def", max_tokens=40, temperature=1.0, enough=lambda text: len(text) >= 6)
    finally:
        await backend.aclose()
    assert early.finish_reason == "enough"
    assert early.tokens < full.tokens
    assert len(early.text) >= 6 and full.text.startswith(early.text)
