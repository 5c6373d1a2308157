"""The packaged MiniLM (a 6-layer BERT encoder) run with torch alone, for questions.

sentence-transformers and transformers take four to five seconds to import; a question needs
one forward pass. This reads the same safetensors weights and config from the packaged model
and runs the standard BERT encoder (learned absolute positions, post-layer-norm, erf GELU),
then the model's pooling recipe (mean over the attention mask, L2 normalisation). A test holds
its vectors to sentence-transformers' own for the same texts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path


class MiniLMEncoder:
    def __init__(self, model_dir: Path, max_length: int = 256):
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        if (
            config.get("model_type") != "bert"
            or config.get("hidden_act") != "gelu"
            or config.get("position_embedding_type", "absolute") != "absolute"
            or not pooling.get("pooling_mode_mean_tokens")
            or not any(m["type"].endswith("Normalize") for m in modules)
        ):
            raise ValueError(f"{model_dir} is not a mean-pooled, normalised BERT model")
        self.torch = torch
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        self.max_length = max_length
        self.w = load_file(str(model_dir / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)

    def _ln(self, x, name: str):
        return self.torch.nn.functional.layer_norm(
            x, x.shape[-1:], self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.eps
        )

    def _dense(self, x, name: str):
        return self.torch.nn.functional.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def encode(self, text: str) -> list[float]:
        torch, w = self.torch, self.w
        ids = self.tokenizer.encode(text).ids
        with torch.inference_mode():
            tokens = torch.tensor(ids, dtype=torch.long)
            n = tokens.shape[0]
            x = (
                w["embeddings.word_embeddings.weight"][tokens]
                + w["embeddings.position_embeddings.weight"][:n]
                + w["embeddings.token_type_embeddings.weight"][0]
            )
            x = self._ln(x, "embeddings.LayerNorm")
            hidden = x.shape[-1]
            size = hidden // self.heads
            for i in range(self.layers):
                p = f"encoder.layer.{i}"

                def split(t):
                    return t.view(n, self.heads, size).transpose(0, 1)

                q = split(self._dense(x, f"{p}.attention.self.query"))
                k = split(self._dense(x, f"{p}.attention.self.key"))
                v = split(self._dense(x, f"{p}.attention.self.value"))
                attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(size), dim=-1)
                context = (attn @ v).transpose(0, 1).reshape(n, hidden)
                x = self._ln(
                    x + self._dense(context, f"{p}.attention.output.dense"),
                    f"{p}.attention.output.LayerNorm",
                )
                inner = torch.nn.functional.gelu(self._dense(x, f"{p}.intermediate.dense"))
                x = self._ln(x + self._dense(inner, f"{p}.output.dense"), f"{p}.output.LayerNorm")
            pooled = x.mean(dim=0)
            return torch.nn.functional.normalize(pooled, dim=0).tolist()
