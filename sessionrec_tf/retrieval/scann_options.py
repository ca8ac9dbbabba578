"""ScaNN index parameters, with defaults scaled to the catalog size.

A ScaNN index (tree partitioning + asymmetric hashing + exact re-scoring) has three knobs that
trade recall for speed: ``num_leaves`` (partitions), ``num_leaves_to_search`` (partitions
scanned per query) and ``num_reordering_candidates`` (hashed-score candidates re-scored
exactly). Defaults for ``n`` candidates and ``k`` results:

=========================  ==========================================  ====================
parameter                  default                                     at 1.5M items, k=100
=========================  ==========================================  ====================
num_leaves                 ``round(3.2 * sqrt(n))``, at most ``n//50`` 3919
num_leaves_to_search       ``ceil(num_leaves * 0.05)``, at least 8     196
num_reordering_candidates  ``max(10 * k, 1000)``, at most ``n``         1000
spherical tree             if the candidates are unit-norm (cosine)    yes (SessionRec)
dimensions_per_block       2                                            2
AH threshold (dot product) 0.2                                          0.2
=========================  ==========================================  ====================

On learned SessionRec-HSTU embeddings at 1.5M items these defaults gave recall@100 0.981
against the exact top-100 at 24x the exact retriever's queries/s (``benchmarks/scann_search.py``,
2026-12-01). With 2 dimensions per block the hashed scores limit recall: fewer re-scored
candidates cost more recall than fewer partitions searched (250 re-scored: ~0.89-0.91 however
many partitions). With 1 dimension per block re-scoring 250 is enough and the partitions
limit it: twice the default partitions, 2.5% searched, 250 re-scored, 1 dimension per block
gave 0.982 at 29x, the fastest setting of that search with recall >= 0.98 (kept out of the
defaults: one catalog, one run).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from sessionrec_tf.data.errors import DataError


@dataclass(frozen=True)
class ScannOptions:
    """ScaNN parameters; ``None`` means "scaled to the catalog" (see module docstring).

    Attributes:
      num_leaves: tree partitions.
      num_leaves_to_search: partitions searched per query.
      num_reordering_candidates: candidates re-scored with exact dot products.
      spherical: spherical k-means for the tree (for unit-norm candidates); None = decided
        from the candidates by the index builder.
      dimensions_per_block: asymmetric-hashing block width (more = smaller, less accurate).
      anisotropic_quantization_threshold: ScaNN's anisotropic loss threshold for dot product.
      training_iterations: k-means iterations of the tree.
      training_sample_size: points sampled to train the tree and the codebooks.
    """

    num_leaves: int | None = None
    num_leaves_to_search: int | None = None
    num_reordering_candidates: int | None = None
    spherical: bool | None = None
    dimensions_per_block: int = 2
    anisotropic_quantization_threshold: float = 0.2
    training_iterations: int = 12
    training_sample_size: int = 100_000

    def resolved(self, num_candidates: int, k: int) -> ScannOptions:
        """Every ``None`` replaced by its default for ``num_candidates`` items; validated."""
        n = int(num_candidates)
        if n < 1:
            raise DataError("a ScaNN index needs at least one candidate item")
        leaves = self.num_leaves or max(1, min(round(3.2 * math.sqrt(n)), n // 50))
        search = self.num_leaves_to_search or min(leaves, max(8, math.ceil(leaves * 0.05)))
        reorder = self.num_reordering_candidates or min(n, max(10 * k, 1000))
        out = replace(self, num_leaves=leaves, num_leaves_to_search=search,
                      num_reordering_candidates=reorder)
        problems = []
        if not 1 <= leaves <= n:
            problems.append(f"num_leaves={leaves} must be in [1, {n}] (the number of items)")
        if not 1 <= search <= leaves:
            problems.append(f"num_leaves_to_search={search} must be in [1, num_leaves={leaves}]")
        if reorder < k:
            problems.append(f"num_reordering_candidates={reorder} must be >= k={k}")
        if self.dimensions_per_block < 1:
            problems.append(f"dimensions_per_block={self.dimensions_per_block} must be >= 1")
        if problems:
            raise DataError("bad ScaNN options: " + "; ".join(problems))
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
