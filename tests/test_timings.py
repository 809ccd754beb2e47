"""The teacher's guide's table of time per chapter comes from run.json files only."""

import json

from roadlite.params import CHAPTERS
from roadlite.timings import chapter_times, format_duration, main, times_markdown


def write_run(root, profile, chapter, wall, started="2026-01-02T03:04:05+00:00", load=None):
    d = root / profile / chapter
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({
        "wall_time_s": wall, "started_utc": started, "git_commit": "abcdef0123",
        "torch_threads": 2, "machine": {"cpu": "Test CPU", "cores": 2}, "load_average": load}))


def test_format_duration():
    assert [format_duration(s) for s in (0.4, 8, 59.6, 61, 125, 3725)] == [
        "0 s", "8 s", "1 min 00 s", "1 min 01 s", "2 min 05 s", "1 h 02 min"]


def test_table_reads_every_run_and_marks_missing_profiles(tmp_path):
    for i, chapter in enumerate(CHAPTERS):
        write_run(tmp_path, "smoke", chapter, 10.0 + i)
    write_run(tmp_path, "classroom", CHAPTERS[0], 65.0, load=[3.0, 2.54, 1.0])
    times = chapter_times(tmp_path, ["smoke", "classroom", "default"])
    assert set(times["smoke"]) == set(CHAPTERS) and list(times["classroom"]) == [CHAPTERS[0]]
    assert times["default"] == {}
    text = times_markdown(times, ["smoke", "classroom", "default"])
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()}
    assert rows[CHAPTERS[0]] == f"| {CHAPTERS[0]} | 10 s | 1 min 05 s | — |"
    assert rows[CHAPTERS[1]] == f"| {CHAPTERS[1]} | 11 s | — | — |"
    total = sum(10 + i for i in range(len(CHAPTERS)))
    assert f"**{format_duration(total)}**" in rows["**all chapters**"]
    assert f"**1 of {len(CHAPTERS)} chapters: 1 min 05 s**" in rows["**all chapters**"]
    assert "- TODO `default`: no `run.json` under `artifacts/default/`" in text
    assert "Test CPU, 2 cores, 2 torch threads" in text and "commit abcdef0" in text
    assert "load average at the end of 1 of these runs: 2.5 to 2.5" in text
    assert text.count("load average") == 1  # the smoke runs recorded none


def test_main_writes_the_file(tmp_path, capsys):
    write_run(tmp_path / "a", "smoke", CHAPTERS[0], 3.0)
    out = tmp_path / "times.md"
    assert main(["--artifacts", str(tmp_path / "a"), "--profiles", "smoke",
                 "--output", str(out)]) == 0
    assert "do not edit by hand" in out.read_text() and "| 3 s |" in out.read_text()


def test_a_run_with_uncommitted_changes_says_so():
    from roadlite.timings import _short_commit

    assert _short_commit("39810a90a2dcc3f3224a0dfcebcb374fa0b81b61") == "39810a9"
    assert _short_commit("39810a90a2dcc3f3224a0dfcebcb374fa0b81b61-dirty") == (
        "39810a9 (with uncommitted changes)")
