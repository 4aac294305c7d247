"""Table scorers: cell F1 on (row, col, text) and TEDS (tree edit distance similarity).

Grid alignment, used by the cell F1: a table is its anchor cells, the top-left cell a span
covers, holding the text; every other covered position is empty. This is the camelot /
unstructured CSV convention, and the project stores spans the same way, so a CSV truth and
a predicted table line up without knowing the truth's spans. Empty cells are not scored.
A predicted table may carry an extra title row or a row-header column the truth does not,
so the predicted grid is shifted by up to `MAX_SHIFT` rows and columns and the shift with
the most matching cells is kept (each F1 variant picks its own best shift).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pdf_assets.evaluation.groundtruth import Table
from pdf_assets.evaluation.text import levenshtein

MAX_SHIFT = 2


def strict_text(text: str) -> str:
    """Whitespace runs collapsed and trimmed: camelot keeps its internal line breaks, which
    are layout, not content (the corpus MANIFEST asks for this normalisation)."""
    return re.sub(r"\s+", " ", text).strip()


def lenient_text(text: str) -> str:
    """All whitespace removed: "Read &\\nWrite" and "Read&Write" count as the same cell."""
    return re.sub(r"\s+", "", text)


def anchor_cells(table: Table, norm: Callable[[str], str]) -> Counter[tuple[int, int, str]]:
    return Counter((c.row, c.col, norm(c.text)) for c in table.cells if norm(c.text))


@dataclass(frozen=True)
class CellScore:
    precision: float
    recall: float
    f1: float
    shift: tuple[int, int]


def _prf(hits: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    precision = hits / n_pred if n_pred else (1.0 if not n_true else 0.0)
    recall = hits / n_true if n_true else (1.0 if not n_pred else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def cell_f1(truth: Table, predicted: Table, norm: Callable[[str], str] = strict_text) -> CellScore:
    """F1 of predicted (row, col, text) cells against the truth at the best small shift."""
    t, p = anchor_cells(truth, norm), anchor_cells(predicted, norm)
    best = (-1, (0, 0))
    for dr in range(-MAX_SHIFT, MAX_SHIFT + 1):
        for dc in range(-MAX_SHIFT, MAX_SHIFT + 1):
            moved = Counter({(r + dr, c + dc, s): n for (r, c, s), n in p.items()})
            hits = sum((t & moved).values())
            if hits > best[0] or (hits == best[0] and abs(dr) + abs(dc) < sum(map(abs, best[1]))):
                best = (hits, (dr, dc))
    precision, recall, f1 = _prf(best[0], sum(p.values()), sum(t.values()))
    return CellScore(precision, recall, f1, best[1])


# --- TEDS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    tag: str
    colspan: int = 1
    rowspan: int = 1
    text: str = ""
    children: tuple[Node, ...] = ()


def table_tree(table: Table) -> Node:
    """The HTML tree TEDS compares: table > tr (one per row holding an anchor) > td."""
    rows: dict[int, list[Node]] = {r: [] for r in range(table.n_rows)}
    for c in sorted(table.cells, key=lambda c: (c.row, c.col)):
        rows.setdefault(c.row, []).append(Node("td", c.col_span, c.row_span, strict_text(c.text)))
    return Node("table", children=tuple(Node("tr", children=tuple(cells)) for _, cells in sorted(rows.items())))


def _rename_cost(a: Node, b: Node) -> float:
    """PubTabNet's costs: other tag or other span 1, else the cells' normalised edit distance."""
    if a.tag != b.tag or (a.colspan, a.rowspan) != (b.colspan, b.rowspan):
        return 1.0
    if a.tag != "td":
        return 0.0
    longest = max(len(a.text), len(b.text))
    return levenshtein(a.text, b.text) / longest if longest else 0.0


def _postorder(root: Node) -> tuple[list[Node], list[int]]:
    """Nodes in post-order and, for each, the index of its leftmost leaf."""
    nodes: list[Node] = []
    leftmost: list[int] = []

    def visit(node: Node) -> int:
        first = -1
        for child in node.children:
            leaf = visit(child)
            first = leaf if first < 0 else first
        nodes.append(node)
        leftmost.append(first if first >= 0 else len(nodes) - 1)
        return leftmost[-1]

    visit(root)
    return nodes, leftmost


def _keyroots(leftmost: Sequence[int]) -> list[int]:
    last: dict[int, int] = {}
    for i, leaf in enumerate(leftmost):
        last[leaf] = i
    return sorted(last.values())


def tree_edit_distance(a: Node, b: Node) -> float:
    """Zhang-Shasha ordered tree edit distance (unit insert/delete, `_rename_cost`)."""
    na, la = _postorder(a)
    nb, lb = _postorder(b)
    td = [[0.0] * len(nb) for _ in na]
    for i in _keyroots(la):
        for j in _keyroots(lb):
            _forest_distance(i, j, na, la, nb, lb, td)
    return td[-1][-1]


def _forest_distance(
    i: int, j: int, na: list[Node], la: list[int], nb: list[Node], lb: list[int], td: list[list[float]]
) -> None:
    io, jo = la[i] - 1, lb[j] - 1
    fd = [[0.0] * (j - jo + 1) for _ in range(i - io + 1)]
    for x in range(1, i - io + 1):
        fd[x][0] = fd[x - 1][0] + 1
    for y in range(1, j - jo + 1):
        fd[0][y] = fd[0][y - 1] + 1
    for x in range(la[i], i + 1):
        for y in range(lb[j], j + 1):
            dx, dy = x - io, y - jo
            if la[x] == la[i] and lb[y] == lb[j]:
                fd[dx][dy] = min(
                    fd[dx - 1][dy] + 1, fd[dx][dy - 1] + 1, fd[dx - 1][dy - 1] + _rename_cost(na[x], nb[y])
                )
                td[x][y] = fd[dx][dy]
            else:
                fd[dx][dy] = min(fd[dx - 1][dy] + 1, fd[dx][dy - 1] + 1, fd[la[x] - 1 - io][lb[y] - 1 - jo] + td[x][y])


def _size(node: Node) -> int:
    return 1 + sum(_size(c) for c in node.children)


def teds(truth: Table, predicted: Table) -> float:
    """1 - tree edit distance / larger tree's node count (PubTabNet's TEDS, with content)."""
    a, b = table_tree(truth), table_tree(predicted)
    return max(0.0, 1.0 - tree_edit_distance(a, b) / max(_size(a), _size(b)))


# --- matching ---------------------------------------------------------------------------


def match_tables(truths: Sequence[Table], predicted: Sequence[Table]) -> list[int | None]:
    """For each truth table, the index of its predicted table: one-to-one, same page only,
    greedily by the best whitespace-lenient cell F1 (a truth left unmatched scores 0)."""
    pairs = sorted(
        (
            (cell_f1(t, p, lenient_text).f1, ti, pi)
            for ti, t in enumerate(truths)
            for pi, p in enumerate(predicted)
            if p.page == t.page
        ),
        key=lambda x: (-x[0], x[1], x[2]),
    )
    out: list[int | None] = [None] * len(truths)
    used: set[int] = set()
    for _, ti, pi in pairs:
        if out[ti] is None and pi not in used:
            out[ti] = pi
            used.add(pi)
    return out
