"""The monitoring view as a person sees it in Chromium, rendered offline (no Airflow): on a narrow
window no figure spills out of its card and the decision log keeps each number on one line.

The screenshot goes to the test's tmp folder (its path is printed), never into the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from driftloop.core.storage import open_store
from driftloop.monitor.timeline import build_timeline
from driftloop.monitor.timeline_view import render_timeline
from tests.unit.test_timeline import MODEL, _report, _validated, _write_report, d

pytestmark = pytest.mark.timeout(120)

COOLDOWN = (
    "suppressed: cooldown until 2026-03-12 (feature drift in contract, region (share 0.50); "
    "estimated drop: roc_auc 0.850 -> 0.781 estimated before labels; performance decay: "
    "roc_auc 0.850 -> 0.771)"
)
SIGNALS = ("feature_drift", "estimated_drop", "performance_decay")

# How many lines each cell of a decision-log row takes, as laid out: the height of its content
# in lines of its font (a pill is a little taller than its text, not a line more).
LINES_PER_CELL = """row => [...row.cells].map(td => {
  const r = document.createRange(); r.selectNodeContents(td);
  const line = 1.3 * parseFloat(getComputedStyle(td).fontSize);
  return Math.round(r.getBoundingClientRect().height / line);
})"""


def test_cards_and_decision_log_read_on_a_narrow_window(tmp_path: Path, browser: Any) -> None:
    store = open_store(str(tmp_path / "data"))
    drift = {"contract": 0.5, "region": 0.4}
    for i in range(6):
        _validated(store, d(i), 1800 + i)
        if i == 0:  # before labels: neither live value nor estimate yet
            body = _report(d(i), "1", {}, live=None, estimated=None)
        else:
            reason, fired = (COOLDOWN, SIGNALS) if i > 2 else ("no signal", ())
            body = _report(d(i), "1", drift if i > 2 else {}, live=0.771, estimated=0.781,
                           reason=reason, fired=fired)  # fmt: skip
        _write_report(store, d(i), body)
    page_html = tmp_path / "monitor.html"
    t = build_timeline(store, "churn", MODEL)
    page_html.write_text(render_timeline(t, lambda day: f"/r/{day}"), encoding="utf-8")

    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(page_html.as_uri())
    shot = tmp_path / "monitor.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")

    text = page.locator("body").inner_text()
    assert "None" not in text and "nan" not in text.lower().split(), text
    # Every card holds its figure: "retrain suppressed" at 17px does not run into the next card.
    spill = page.eval_on_selector_all(
        ".card", "cards => cards.filter(c => c.scrollWidth > c.clientWidth).map(c => c.innerText)"
    )
    assert spill == [], spill
    assert page.locator(".card b", has_text="retrain suppressed").count() == 1
    # ... and a card alone on a wrapped row does not stretch across the page.
    widths = page.eval_on_selector_all(".card", "cards => cards.map(c => c.offsetWidth)")
    assert max(widths) <= 242, widths  # 220px and its padding and border
    # The decision log: day, champion, drift share, prediction PSI, live / holdout and the estimate
    # each on one line ("0.771 /" above "0.850" read as two numbers); the reason may wrap.
    rows = page.locator(".log tbody tr")
    assert rows.count() == 6
    for i in range(rows.count()):
        lines = rows.nth(i).evaluate(LINES_PER_CELL)
        assert lines[:6] == [1] * 6, (rows.nth(i).inner_text(), lines)
        # The reason wraps but is not a column of words.
        assert lines[7] <= 6, (rows.nth(i).inner_text(), lines)
    # ... and the table still fits: the report links are in view, not scrolled off to the right.
    log_right = page.locator(".log").evaluate("e => e.getBoundingClientRect().right")
    link = rows.first.get_by_role("link", name="report")
    link_right = link.evaluate("e => e.getBoundingClientRect().right")
    assert link_right <= log_right, (link_right, log_right)
    # The day before labels: dashes, not raw missing values.
    first = rows.last.locator("td")
    assert first.nth(4).inner_text() == "– / 0.850" and first.nth(5).inner_text() == "–"
