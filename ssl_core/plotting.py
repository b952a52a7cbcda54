"""One plotting style for every figure of every domain: readable at a glance, consistent across papers."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ssl_core.atomic import atomic_path  # noqa: E402

__all__ = ["PALETTE", "apply_style", "save_figure", "umap_2d"]

# Colour-blind-safe (Okabe-Ito): ours first, then the published rows.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def apply_style() -> None:
    """Set matplotlib defaults: white background, light grid, no top/right spines, large enough fonts."""
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
            "legend.frameon": False,
        }
    )


def save_figure(fig: plt.Figure, dest: str | os.PathLike[str]) -> None:
    """Save ``fig`` atomically as PNG (tight layout) and close it."""
    fig.tight_layout()
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    Path(dest).chmod(0o644)


def umap_2d(x: np.ndarray, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """2-D UMAP of the rows of ``x`` (scanpy: a ``n_neighbors`` graph on ``x`` itself, then ``tl.umap``), seeded."""
    import anndata as ad
    import scanpy as sc

    a = ad.AnnData(X=np.zeros((len(x), 1), dtype=np.float32))
    a.obsm["X_rep"] = np.asarray(x, dtype=np.float32)
    sc.pp.neighbors(a, n_neighbors=min(n_neighbors, len(x) - 1), use_rep="X_rep", random_state=seed)
    sc.tl.umap(a, random_state=seed)
    return np.asarray(a.obsm["X_umap"])
