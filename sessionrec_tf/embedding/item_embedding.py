"""The embedding module (paper Eq. 3-4): one table per discrete feature, concatenated, MLP.

Two views of an item:

- the *interaction token* (item id + static item features + interaction features such as the
  label) feeds the encoders: ``[batch, sessions, items] -> [batch, sessions, items, d]``;
- the *candidate embedding* (item id + static item features only) is what users are scored
  against: ``[n] -> [n, d]``. It never reads an interaction-only feature, so the index built
  offline from candidate embeddings is exactly what serving scores against.

Static item features are looked up from the item id through a table saved with the dataset
(``item_features.npz``), held here as a non-trainable weight so it travels with checkpoints
and SavedModels.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import tensorflow as tf

from sessionrec_tf.layers.mlp import MLP

LABEL_VOCAB = 3  # 0 = padding, 1 = negative, 2 = positive (label + 1)


class ItemEmbedding(tf.keras.layers.Layer):
    """Interaction tokens and candidate embeddings of dimension ``dim``.

    Args:
      num_items: item vocabulary size (reserved padding/OOV indices included).
      dim: output dimension d.
      item_features: per static item feature, the ``[num_items]`` table of feature indices.
      item_feature_sizes: vocabulary size of each static item feature.
      interaction_feature_sizes: vocabulary size of each interaction feature.
      item_id_dim: width of the item-id table (default ``dim``).
      feature_dim: width of every side-feature table (and of the label table).
      use_label: add the label (positive/negative) to interaction tokens.
      mlp_units: hidden sizes of the MLP before the output layer of size ``dim``.
    """

    def __init__(
        self,
        num_items: int,
        dim: int,
        item_features: Mapping[str, np.ndarray] | None = None,
        item_feature_sizes: Mapping[str, int] | None = None,
        interaction_feature_sizes: Mapping[str, int] | None = None,
        item_id_dim: int | None = None,
        feature_dim: int = 16,
        use_label: bool = True,
        mlp_units: Sequence[int] = (),
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        item_features = dict(item_features or {})
        item_feature_sizes = dict(item_feature_sizes or {})
        if set(item_features) != set(item_feature_sizes):
            raise ValueError(
                f"item feature tables {sorted(item_features)} and sizes "
                f"{sorted(item_feature_sizes)} name different features")
        for name, table in item_features.items():
            if len(table) != num_items:
                raise ValueError(
                    f"item feature table {name!r} has {len(table)} rows, expected one per item "
                    f"({num_items})")
        self.num_items = int(num_items)
        self.dim = int(dim)
        self.item_feature_names = tuple(sorted(item_features))
        self.interaction_feature_names = tuple(sorted(interaction_feature_sizes or {}))
        self.use_label = use_label
        self._tables_init = {k: np.asarray(v, dtype=np.int64) for k, v in item_features.items()}
        self.item_table = tf.keras.layers.Embedding(
            num_items, item_id_dim or dim, name="item_id_embedding",
            embeddings_initializer=tf.keras.initializers.TruncatedNormal(stddev=0.02))
        self.feature_tables = {
            name: tf.keras.layers.Embedding(size, feature_dim, name=f"{name}_embedding")
            for name, size in {**item_feature_sizes, **(interaction_feature_sizes or {})}.items()
        }
        self.label_table = (tf.keras.layers.Embedding(LABEL_VOCAB, feature_dim,
                                                      name="label_embedding")
                            if use_label else None)
        self.candidate_mlp = MLP([*mlp_units, dim], name="candidate_mlp")
        self.interaction_mlp = MLP([*mlp_units, dim], name="interaction_mlp")

    def build(self, input_shape: object = None) -> None:
        self.item_feature_lookup = {
            name: self.add_weight(
                name=f"{name}_of_item", shape=(self.num_items,), dtype=tf.int64,
                trainable=False,
                initializer=tf.keras.initializers.Constant(self._tables_init[name]))
            for name in self.item_feature_names
        }
        super().build(input_shape)

    def _static_parts(self, item_ids: tf.Tensor) -> list[tf.Tensor]:
        parts = [self.item_table(item_ids)]
        for name in self.item_feature_names:
            parts.append(self.feature_tables[name](
                tf.gather(self.item_feature_lookup[name], item_ids)))
        return parts

    def candidates(self, item_ids: tf.Tensor) -> tf.Tensor:
        """Candidate embeddings ``[..., d]`` of item indices ``[...]`` (static features only)."""
        if not self.built:
            self.build()
        return self.candidate_mlp(tf.concat(self._static_parts(item_ids), axis=-1))

    def all_candidates(self) -> tf.Tensor:
        """``[num_items, d]`` candidate embeddings of the whole catalog (row = item index)."""
        return self.candidates(tf.range(self.num_items, dtype=tf.int64))

    def interactions(self, batch: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Interaction tokens for a batch.

        Args:
          batch: ``item_id`` and ``label`` (and each interaction feature) as tensors of one
            shape, dense or ragged (e.g. ``[batch, sessions, items]``).

        Returns:
          ``[..., d]`` with the same (ragged) structure as ``batch["item_id"]``.
        """
        if not self.built:
            self.build()
        items = batch["item_id"]
        if isinstance(items, tf.RaggedTensor):
            flat = {k: batch[k].flat_values for k in self._needed_keys()}
            return items.with_flat_values(self._tokens(flat))
        return self._tokens(batch)

    def _needed_keys(self) -> tuple[str, ...]:
        keys = ("item_id", *self.interaction_feature_names)
        return (*keys, "label") if self.use_label else keys

    # ------------------------------------------------------------------ serving tables
    @contextlib.contextmanager
    def serving_tokens(self, chunk: int = 131_072) -> Iterator[list[tf.Variable]]:
        """Within this context, interaction tokens come from precomputed tables: the first
        layer of the interaction MLP is linear before its activation, so its product with
        ``[item id; static item features; interaction features; label]`` is the sum of one
        ``[num_items, h]`` table (item id and static features, one row per item) and one
        ``[vocab, h]`` table per interaction feature and for the label. A serving request then
        gathers rows instead of multiplying every history item's ``d_in``-wide input (the
        same function, float rounding aside). For exports: the tables are frozen copies of
        the current weights; yields them (non-trainable variables the layer does not track),
        to be tracked by whatever saves the functions traced inside the context.
        """
        first = self.interaction_mlp.layers_[0]
        if not self.built or not first.built:
            raise ValueError("build the model (e.g. one call) before precomputing its tokens")
        kernel = first.kernel
        widths = [self.item_table.output_dim,
                  *(self.feature_tables[n].output_dim for n in self.item_feature_names)]
        static_width = sum(widths)
        rows = [tf.concat(self._static_parts(tf.range(lo, min(lo + chunk, self.num_items),
                                                      dtype=tf.int64)), axis=-1)
                @ kernel[:static_width] for lo in range(0, self.num_items, chunk)]
        tables = {"item": tf.Variable(tf.concat(rows, 0), trainable=False,
                                      name="token_table_item")}
        offset = static_width
        for name in self.interaction_feature_names:
            emb = self.feature_tables[name].embeddings
            width = int(emb.shape[1])
            tables[name] = tf.Variable(emb @ kernel[offset:offset + width], trainable=False,
                                       name=f"token_table_{name}")
            offset += width
        if self.label_table is not None:
            emb = self.label_table.embeddings
            tables["label"] = tf.Variable(emb @ kernel[offset:], trainable=False,
                                          name="token_table_label")
        object.__setattr__(self, "_token_tables", tables)  # not tracked as the layer's weight
        try:
            yield list(tables.values())
        finally:
            object.__setattr__(self, "_token_tables", None)

    def _table_tokens(self, flat: Mapping[str, tf.Tensor],
                      tables: Mapping[str, tf.Variable]) -> tf.Tensor:
        """:meth:`_tokens` through the precomputed first-layer tables."""
        first, *rest = self.interaction_mlp.layers_
        h = tf.gather(tables["item"], flat["item_id"])
        for name in self.interaction_feature_names:
            h += tf.gather(tables[name], flat[name])
        if self.label_table is not None:
            h += tf.gather(tables["label"], flat["label"] + 1)
        h = first.activation(h + first.bias)
        for layer in rest:
            h = layer(h)
        return h

    def _tokens(self, flat: Mapping[str, tf.Tensor]) -> tf.Tensor:
        tables = getattr(self, "_token_tables", None)
        if tables is not None:
            return self._table_tokens(flat, tables)
        parts = self._static_parts(flat["item_id"])
        for name in self.interaction_feature_names:
            parts.append(self.feature_tables[name](flat[name]))
        if self.label_table is not None:
            parts.append(self.label_table(flat["label"] + 1))
        return self.interaction_mlp(tf.concat(parts, axis=-1))

    def get_config(self) -> dict:
        raise NotImplementedError(
            "ItemEmbedding is rebuilt from the experiment config and the dataset, not from "
            "get_config (its item feature tables come from the prepared dataset)")
