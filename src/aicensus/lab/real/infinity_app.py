"""Infinity for the lab: a tiny random BERT written locally, then `infinity_emb v2` serving it.

    python -m aicensus.lab.real.infinity_app --python VENV/bin/python --model-dir DATA/tiny-bert \\
        -- VENV/bin/infinity_emb v2 --model-id DATA/tiny-bert ... --host ADDR --port P

Infinity loads a model before it answers anything, and the lab downloads none: the model is a
one-layer BERT with random weights and a 33-token vocabulary (54 kB), made by the product's
own venv (transformers and torch are Infinity's dependencies) the first time. Its embeddings
mean nothing; the scan only needs the server. This process runs in the lab's interpreter
(aicensus is not in Infinity's venv), then execs the server command.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

MAKE_MODEL = """
import pathlib, sys
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *map(chr, range(97, 123)), "the", "lab"]
(out / "vocab.txt").write_text("\\n".join(vocab) + "\\n")
BertTokenizerFast(vocab_file=str(out / "vocab.txt")).save_pretrained(out)
torch.manual_seed(0)
config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
BertModel(config).save_pretrained(out)
"""


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        sys.exit("infinity_app: give the server command after --")
    ours, server = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--python", required=True, help="the Infinity venv's interpreter")
    parser.add_argument("--model-dir", required=True, type=Path)
    args = parser.parse_args(ours)
    if not (args.model_dir / "model.safetensors").is_file():
        made = subprocess.run([args.python, "-c", MAKE_MODEL, str(args.model_dir)], check=False)
        if made.returncode != 0:
            sys.exit(f"infinity_app: making the tiny model failed (exit {made.returncode})")
    os.execv(server[0], server)


if __name__ == "__main__":
    main()
