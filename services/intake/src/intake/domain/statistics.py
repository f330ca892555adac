"""De-identified statistics (GBVIMS Information Sharing Protocol): counts only, for incidents whose
survivor consented to reporting, with small cells suppressed.

Primary suppression hides every cell under the threshold (default 5). If exactly one cell is hidden,
it could be recovered by subtracting the others from the published total, so the next smallest cell
is hidden too (complementary suppression). A total under the threshold is hidden as well."""
from __future__ import annotations

from dataclasses import dataclass

DIMENSIONS = ("incident_type", "month", "province", "canton", "nationality", "age_band", "sex")


@dataclass(frozen=True)
class Cell:
    key: tuple[str | None, ...]
    count: int | None        # None when suppressed
    suppressed: bool


def suppress(counts: dict[tuple, int], *, threshold: int) -> tuple[list[Cell], int | None]:
    """Returns the cells (sorted by key) and the total (None when it is itself too small)."""
    hidden = {k for k, n in counts.items() if 0 < n < threshold}
    if len(hidden) == 1:
        visible = sorted((n, k) for k, n in counts.items() if k not in hidden and n > 0)
        if visible:
            hidden.add(visible[0][1])
    cells = [Cell(k, None if k in hidden else n, k in hidden)
             for k, n in sorted(counts.items(), key=lambda kv: tuple("" if x is None else str(x) for x in kv[0]))
             if n > 0]
    total = sum(counts.values())
    return cells, (total if total >= threshold else None)
