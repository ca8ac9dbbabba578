"""Vocabularies inside the SavedModel: token <-> vocabulary index as hash tables over assets.

Each vocabulary travels as a SavedModel asset ``assets/<name>.tokens``: one token per line,
line ``i`` holding the token of vocabulary index ``i + 2`` (indices 0 and 1, padding and OOV,
have no token). Stock TensorFlow ops only (``HashTableV2``, ``InitializeTableFromTextFileV2``,
``LookupTableFindV2``).
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from sessionrec_tf.data.errors import DataError
from sessionrec_tf.data.vocab import NUM_RESERVED, OOV_INDEX, Vocabulary

TOKENS_SUFFIX = ".tokens"


def write_tokens_file(vocab: Vocabulary, directory: Path) -> Path:
    """Write ``vocab``'s tokens one per line (line i = index i + 2); returns the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{vocab.name}{TOKENS_SUFFIX}"
    texts = [str(t) for t in vocab.tokens]
    bad = next((t for t in texts if "\n" in t or "\r" in t or t == ""), None)
    if bad is not None:
        raise DataError(f"vocabulary {vocab.name!r}: token {bad!r} is empty or holds a line "
                        "break and cannot be stored as a one-token-per-line asset")
    path.write_text("".join(t + "\n" for t in texts))
    return path


class VocabularyTable(tf.Module):
    """Token -> index (unknown -> OOV) and index -> token for one vocabulary.

    Args:
      name: vocabulary name (``item_id`` or a feature).
      tokens_file: the asset written by :func:`write_tokens_file`.
      dtype: ``int64`` or ``string``, the token type.
    """

    def __init__(self, name: str, tokens_file: str | Path, dtype: str) -> None:
        super().__init__(name=f"vocab_{name}")
        if dtype not in ("int64", "string"):
            raise DataError(f"vocabulary {name!r}: token dtype must be int64 or string, "
                            f"got {dtype!r}")
        self.vocab_name = name
        self.token_dtype = tf.int64 if dtype == "int64" else tf.string
        whole, line = tf.lookup.TextFileIndex.WHOLE_LINE, tf.lookup.TextFileIndex.LINE_NUMBER
        self.to_index_table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(str(tokens_file), self.token_dtype, whole,
                                          tf.int64, line),
            default_value=tf.constant(-1, tf.int64))
        self.to_token_table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(str(tokens_file), tf.int64, line,
                                          self.token_dtype, whole),
            default_value=tf.constant(-1 if dtype == "int64" else "", self.token_dtype))

    def lookup(self, tokens: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``(indices, is_oov)``: vocabulary indices of ``tokens`` (OOV index 1 if unknown)."""
        line = self.to_index_table.lookup(tokens)
        known = line >= 0
        index = tf.where(known, line + NUM_RESERVED, tf.constant(OOV_INDEX, tf.int64))
        return index, tf.logical_not(known)

    def tokens(self, indices: tf.Tensor) -> tf.Tensor:
        """Tokens of vocabulary ``indices`` (>= 2; reserved indices give -1 / empty text)."""
        return self.to_token_table.lookup(tf.cast(indices, tf.int64) - NUM_RESERVED)
