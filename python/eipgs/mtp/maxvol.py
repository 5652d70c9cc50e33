# SPDX-License-Identifier: GPL-2.0-only
"""MaxVol active-set selection (doc/design/mtp.md §5): greedy D-optimal row swaps with Sherman–Morrison
updates of S = (A⁻¹)ᵀ, the matrix MLIP-3 stores next to A.

Typical use::

    mv = MaxVol.empty(m)                       # A = ε·I, ε = 1e-6 (MLIP-3 init_value)
    mv.add(rows, labels=row_ids, threshold=1.001)
    selected = mv.selected_labels()            # labels of the candidate rows now in A

    mv = MaxVol.from_active_set(pot.active_set)
    gamma = mv.grades(rows)                    # max_j |(b·A⁻¹)_j| per row
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MaxVol", "SwapRecord", "INIT_VALUE", "UNFILLED", "PRESET"]

INIT_VALUE = 1e-6  # MLIP-3 `init_value` (doc/design/mtp.md §5)
UNFILLED = -1  # label of an ε·e_k row that no data row has replaced
PRESET = -2  # label of a row loaded from a stored active set (from_active_set)


@dataclass
class SwapRecord:
    candidate: int  # index i0 of the candidate row (in the batch passed to add)
    position: int  # index j0 of the replaced row of A
    factor: float  # β = C[i0, j0]; |det A| grows by |β|


@dataclass
class MaxVol:
    """State of a MaxVol selection: A (m×m), S = (A⁻¹)ᵀ, a label per row of A and log|det A|."""

    A: np.ndarray
    S: np.ndarray
    labels: np.ndarray  # (m,) int; UNFILLED for initial ε rows
    log_det: float
    history: list[SwapRecord] = field(default_factory=list)

    @classmethod
    def empty(cls, m: int, eps: float = INIT_VALUE) -> "MaxVol":
        """A = ε·I, S = ε⁻¹·I, log det A = m ln ε (doc/design/mtp.md §5)."""
        return cls(
            A=np.eye(m) * eps,
            S=np.eye(m) / eps,
            labels=np.full(m, UNFILLED, dtype=np.int64),
            log_det=m * float(np.log(eps)),
        )

    @classmethod
    def from_matrices(cls, A: np.ndarray, S: np.ndarray | None = None, labels: np.ndarray | None = None) -> "MaxVol":
        A = np.array(A, dtype=float)
        S = np.linalg.inv(A).T if S is None else np.array(S, dtype=float)
        m = A.shape[0]
        sign, logdet = np.linalg.slogdet(A)
        if sign == 0:
            raise ValueError("active-set matrix A is singular")
        lab = np.full(m, UNFILLED, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64).copy()
        return cls(A=A, S=S, labels=lab, log_det=float(logdet))

    @classmethod
    def from_active_set(cls, aset) -> "MaxVol":
        """Start from a stored ``.almtp`` active set: filled rows get label PRESET, unfilled ones UNFILLED."""
        labels = np.where(aset.links[:, 0] >= 0, PRESET, UNFILLED)
        return cls.from_matrices(aset.A, aset.S, labels)

    @property
    def m(self) -> int:
        return int(self.A.shape[0])

    def inverse_error(self) -> float:
        """max |A·Sᵀ − I|."""
        return float(np.max(np.abs(self.A @ self.S.T - np.eye(self.m))))

    def coefficients(self, rows: np.ndarray) -> np.ndarray:
        """C = B·A⁻¹ = B·Sᵀ (one GEMM)."""
        return np.atleast_2d(rows) @ self.S.T

    def grades(self, rows: np.ndarray) -> np.ndarray:
        """γ = max_j |(b·A⁻¹)_j| for each row b (doc/design/mtp.md §3.1)."""
        rows = np.atleast_2d(rows)
        if len(rows) == 0:
            return np.zeros(0)
        with np.errstate(invalid="ignore", over="ignore"):
            gamma = np.max(np.abs(self.coefficients(rows)), axis=1)
        gamma[np.isnan(gamma)] = np.inf  # a broken row is above every threshold, never a 0
        return gamma

    def add(
        self,
        rows: np.ndarray,
        labels: np.ndarray | None = None,
        threshold: float = 1.001,
        swap_limit: int | None = None,
        refresh_every: int = 256,
        inplace: bool = False,
    ) -> int:
        """Swap candidate rows into A while some |c| > threshold (doc/design/mtp.md §5). Returns the swap count.

        ``labels`` (non-negative; default 0..p−1) identify the candidates; after the call, :attr:`labels` holds the
        label of every row of A. A row pushed out of A becomes a candidate again and may re-enter.
        C is updated by rank-one formulas and recomputed from S every ``refresh_every`` swaps and
        before stopping, so drift cannot stop the loop early or late.
        With ``inplace=True`` ``rows`` (float64, C-contiguous) and ``labels`` (int64) are the caller's arrays
        and are swapped in place: afterwards they hold every row not in A, including the rows that left A
        (streamed selection keeps those as candidates across calls, eipgs.mtp.streaming).
        """
        if threshold < 1.0:
            raise ValueError(f"MaxVol threshold must be >= 1 (got {threshold}); below 1 the swaps never end")
        if inplace:
            if not (isinstance(rows, np.ndarray) and rows.dtype == np.float64 and rows.ndim == 2 and rows.flags.c_contiguous):
                raise ValueError("inplace=True needs rows as a C-contiguous float64 (p, m) array")
            if not (isinstance(labels, np.ndarray) and labels.dtype == np.int64):
                raise ValueError("inplace=True needs labels as an int64 array")
            B = rows
        else:
            B = np.array(np.atleast_2d(rows), dtype=float)
        p, m = B.shape
        if m != self.m:
            raise ValueError(f"candidate rows have length {m}, the active set has m = {self.m}")
        if p == 0:
            return 0
        if inplace:
            cand_labels = labels
        else:
            cand_labels = np.arange(p, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64).copy()
        if cand_labels.shape != (p,):
            raise ValueError(f"need one label per candidate row ({p}), got {cand_labels.shape}")
        if p and cand_labels.min() < 0:
            raise ValueError("candidate labels must be >= 0 (negative labels mark initial and preset rows)")
        if not np.all(np.isfinite(B)):
            raise ValueError("candidate rows contain NaN or inf")
        Cm = B @ self.S.T
        swaps = 0
        since_refresh = 0
        while swap_limit is None or swaps < swap_limit:
            flat = int(np.argmax(np.abs(Cm)))
            i0, j0 = divmod(flat, m)
            beta = Cm[i0, j0]
            if abs(beta) <= threshold:
                if since_refresh == 0:
                    break
                Cm = B @ self.S.T  # confirm with a fresh C before stopping
                since_refresh = 0
                continue
            v = B[i0] - self.A[j0]
            # S ← S − (S·vᵀ) ⊗ S[j0, :] / β   (Sherman–Morrison in the stored transposed form)
            Sv = self.S @ v
            self.S -= np.outer(Sv, self.S[j0] / beta)
            # C ← C − (C[:, j0] + e_i0) ⊗ (C[i0, :] − e_j0) / β   (row i0 becomes the outgoing row)
            col = Cm[:, j0].copy()
            col[i0] += 1.0
            rowv = Cm[i0].copy()
            rowv[j0] -= 1.0
            Cm -= np.outer(col, rowv / beta)
            old_row = self.A[j0].copy()
            self.A[j0] = B[i0]
            B[i0] = old_row
            self.labels[j0], cand_labels[i0] = cand_labels[i0], self.labels[j0]
            self.log_det += float(np.log(abs(beta)))
            self.history.append(SwapRecord(candidate=i0, position=j0, factor=float(beta)))
            swaps += 1
            since_refresh += 1
            if since_refresh >= refresh_every:
                Cm = B @ self.S.T
                since_refresh = 0
        if swaps and self.inverse_error() > 1e-6:
            # Drift after many rank-one updates: recompute S from the exact A (never alter A).
            self.S = np.linalg.inv(self.A).T
        return swaps

    def selected_labels(self) -> np.ndarray:
        """Sorted labels of the candidate rows now in A (not the initial ε rows nor preset rows)."""
        return np.unique(self.labels[self.labels >= 0])
