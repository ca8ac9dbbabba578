"""Item tokens and candidate embeddings (paper Eq. 3-4)."""

from sessionrec_tf.embedding.item_embedding import ItemEmbedding

__all__ = ["ItemEmbedding"]
