"""The Ollama Modelfile for a Gerbil adapter: base + GGUF LoRA + Qwen's ChatML template with FIM.

The same three parts feed both ways of creating the Ollama model: the
``Modelfile`` text that ``gerbil-lsp export`` writes next to the adapter (for
``ollama create -f Modelfile``), and the ``template`` / ``system`` /
``parameters`` arguments that ``deploy ollama`` passes to ``ollama.create``.

The template follows Qwen2.5-Coder's own: with a ``.Suffix`` (a non-raw FIM
request) it renders ``<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>``; otherwise
ChatML turns. The server sends its FIM prompts raw, so this template serves
chat and clients that use Ollama's ``suffix`` field.
"""

from __future__ import annotations

import json
from typing import Any

SYSTEM = (
    "You are a Gerbil Scheme expert. Answer with Gerbil (not Racket, Guile or R7RS) code: use the names "
    "Gerbil's prelude and standard library really export (hash-get, hash-put!, string-split with a "
    "character, :std/iter's for loops), and show the (import ...) a non-prelude name needs."
)

#: Qwen's end-of-turn and FIM control tokens: generation stops on any of them.
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
               "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>")

TEMPLATE = """\
{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>
{{- else if .Messages }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ .Content }}{{ if not $last }}<|im_end|>
{{ end }}
{{- end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""


def parameters(*, num_ctx: int = 8192, temperature: float = 0.2) -> dict[str, Any]:
    """Ollama model parameters: low temperature for code, the context size, Qwen's stop tokens."""
    return {"temperature": temperature, "num_ctx": num_ctx, "stop": list(STOP_TOKENS)}


def render(base: str, adapter: str | None, *, num_ctx: int = 8192, system: str = SYSTEM,
           template: str = TEMPLATE) -> str:
    """The Modelfile text; ``adapter`` is a path relative to the Modelfile (or absolute)."""
    if '"""' in template or '"""' in system:
        raise ValueError('a Modelfile TEMPLATE or SYSTEM cannot contain """')
    lines = [f"FROM {base}"]
    if adapter:
        lines.append(f"ADAPTER {adapter}")
    lines += [f'TEMPLATE """{template}"""', f'SYSTEM """{system}"""']
    for name, value in parameters(num_ctx=num_ctx).items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {name} {json.dumps(item) if isinstance(item, str) else item}")
    return "\n".join(lines) + "\n"
