"""The prompt writer against the test split of named sounds (tests/data/captions_sounds_test2.json: 32 captions
written for issue 17 before its second round of tuning, never tuned on; scored by tests/sound_set.py, by
AudioSet class).

Before that round (the writer of commit 31a2f34) this split scored recall 0.53 (26/49), 36 false sounds,
music 31/32 and dialogue 32/32 right; after it, once: recall 0.84 (41/49), 29 false sounds, music 31/32,
dialogue 32/32. The bounds are those measured figures: the issue asks recall >= 0.80 with no more false
sounds than before and music and quoted lines as before.
"""
from __future__ import annotations

import pytest

from sound_set import evaluate, load_test, table


@pytest.mark.slow
def test_named_sounds_on_the_test_split():
    results, _ = evaluate(names=("test2",))
    r = results["test2"]
    print(table(results))
    assert len(load_test()) == 32 and r["gold"] == 49
    assert r["found"] >= 41 and r["recall"] >= 0.80, table(results)
    assert r["false"] <= 29, table(results)
    assert r["mus_ok"] >= 31 and r["dlg_ok"] == 32, table(results)
