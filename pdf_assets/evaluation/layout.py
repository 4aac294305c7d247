"""Layout scorer: predicted regions matched to annotated boxes by kind at IoU >= 0.5.

Kinds are the project's three buckets (text / table / figure, `core.types.kind_of_label`);
annotations in other vocabularies are mapped onto them by the ground-truth readers. Only the
kinds an annotation covers are scored (ICDAR marks tables, so a text region on an ICDAR page
is neither a hit nor a false positive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pdf_assets.evaluation.groundtruth import LayoutBox, LayoutTruth

IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class LayoutScore:
    truth: int
    predicted: int
    matched: int
    by_kind: dict[str, tuple[int, int, int]]  # kind -> (truth, predicted, matched)

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else (1.0 if not self.truth else 0.0)


def _greedy_matches(truth: Sequence[LayoutBox], predicted: Sequence[LayoutBox], threshold: float) -> int:
    """One-to-one matches of the same page and kind, best IoU first."""
    pairs = sorted(
        (
            (t.box.iou(p.box), ti, pi)
            for ti, t in enumerate(truth)
            for pi, p in enumerate(predicted)
            if t.page == p.page and t.kind == p.kind
        ),
        reverse=True,
    )
    used_t: set[int] = set()
    used_p: set[int] = set()
    for iou, ti, pi in pairs:
        if iou < threshold:
            break
        if ti not in used_t and pi not in used_p:
            used_t.add(ti)
            used_p.add(pi)
    return len(used_t)


def score_layout(truth: LayoutTruth, predicted: Sequence[LayoutBox], threshold: float = IOU_THRESHOLD) -> LayoutScore:
    """Recall and precision of `predicted` against `truth`, per kind and in total."""
    by_kind: dict[str, tuple[int, int, int]] = {}
    for kind in sorted(truth.kinds):
        t = [b for b in truth.boxes if b.kind == kind]
        p = [b for b in predicted if b.kind == kind]
        by_kind[kind] = (len(t), len(p), _greedy_matches(t, p, threshold))
    return LayoutScore(
        truth=sum(v[0] for v in by_kind.values()),
        predicted=sum(v[1] for v in by_kind.values()),
        matched=sum(v[2] for v in by_kind.values()),
        by_kind=by_kind,
    )
