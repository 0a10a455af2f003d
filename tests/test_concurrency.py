"""Runs that share an output folder: per-video locks, a manifest that cannot hold an id twice, kill + resume.

Real processes throughout (subprocess), started together on the same folder.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from avshooter.errors import OutputError
from avshooter.io.locks import LOCK_DIR, VideoLock, exclusive
from avshooter.io.output import ManifestWriter, read_manifest

ROOT = Path(__file__).resolve().parents[1]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


WRITER = textwrap.dedent("""
    import sys
    from avshooter.io.output import ManifestWriter
    w = ManifestWriter(sys.argv[1])
    sys.stdin.readline()  # start together
    n = sum(w.write({"id": f"v/{i:04d}", "writer": sys.argv[2], "pad": "x" * 200}) for i in range(int(sys.argv[3])))
    print(n)
""")


def test_manifest_writers_in_parallel_processes_never_duplicate(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_text(json.dumps({"id": "v/0000", "writer": "earlier run"}) + "\n")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(k), "300"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=_env()) for k in range(4)]
    for p in procs:  # every writer has opened the file (and read its ids) before any of them writes
        p.stdin.write("go\n")
        p.stdin.flush()
    written = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    records = _lines(path)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == 300
    assert sum(written) == 299  # v/0000 was there already; every other id written by exactly one process
    assert records[0]["writer"] == "earlier run"


def test_torn_line_of_a_killed_writer_is_dropped(tmp_path):
    path = tmp_path / "manifest.jsonl"
    good = json.dumps({"id": "a"}) + "\n"
    path.write_text(good + good + '{"id": "b", "aud')  # a duplicate and a torn last line
    w = ManifestWriter(path)
    assert path.read_text() == good and "b" not in w
    other = ManifestWriter(path)
    with open(path, "a") as f:  # another writer killed mid-line after both opened
        f.write('{"id": "c", "tr')
    assert w.write({"id": "b"}) and not other.write({"id": "b"})
    assert [r["id"] for r in _lines(path)] == ["a", "b"]


def test_torn_last_line_is_skipped_by_the_reader_and_never_appended_to(tmp_path, caplog):
    path = tmp_path / "manifest.jsonl"
    path.write_text(json.dumps({"id": "a", "video_id": "v"}) + "\n" + '{"id": "b", "vid')
    assert [r["id"] for r in read_manifest(path)] == ["a"]
    assert "torn" in caplog.text
    w = ManifestWriter(path)
    with open(path, "a") as f:  # torn again after the writer opened
        f.write('{"id": "c", "tr')
    assert w.write_video("w", [{"id": "w/0000", "video_id": "w"}])
    assert [r["id"] for r in read_manifest(path)] == ["a", "w/0000"]


def test_manifest_lines_of_a_redone_video_are_replaced(tmp_path):
    path = tmp_path / "manifest.jsonl"
    w = ManifestWriter(path)
    first = [{"id": f"v/{i:04d}", "video_id": "v", "end_s": 1.0 + i} for i in range(3)]
    other = [{"id": "u/0000", "video_id": "u", "end_s": 9.0}]
    assert w.write_video("v", first) and w.write_video("u", other)
    before = path.stat()
    assert not w.write_video("v", first) and not ManifestWriter(path).write_video("u", other)
    assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_ino == before.st_ino  # nothing rewritten
    redone = [{"id": "v/0000", "video_id": "v", "end_s": 5.0}, {"id": "v/0001", "video_id": "v", "end_s": 8.0}]
    assert ManifestWriter(path).write_video("v", redone)
    records = list(read_manifest(path))
    assert sorted((r["id"], r["end_s"]) for r in records) == [("u/0000", 9.0), ("v/0000", 5.0), ("v/0001", 8.0)]
    assert w.write_video("v", first)  # the first writer catches up, then puts the 3 lines back
    assert not w.write_video("v", first) and w.ids == ManifestWriter(path).ids == {"u/0000", *(r["id"] for r in first)}
    assert len(list(read_manifest(path))) == 4


def test_a_taken_over_holder_stops_before_writing(tmp_path):
    lock = VideoLock(tmp_path, "ep01", max_age_s=3600)
    assert lock.acquire()
    lock.check()  # still ours
    path = tmp_path / LOCK_DIR / "ep01.lock"
    with exclusive(path) as fd:  # another run takes it over (as if ours were stale)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": 1, "host": "elsewhere", "time": time.time(), "started": time.time(),
                                  "token": "theirs"}).encode(), 0)
    with pytest.raises(OutputError, match="taken over by pid 1 on elsewhere"):  # LockLost
        lock.check()
    lock.release()
    assert json.loads(path.read_text())["token"] == "theirs"  # their lock is left alone


def _fake_lock(out: Path, video_id: str, **holder) -> Path:
    path = out / LOCK_DIR / f"{video_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    base = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time(), "started": time.time(),
            "token": "someone"}
    path.write_text(json.dumps({**base, **holder}))
    return path


def test_lock_live_stale_and_release(tmp_path):
    first = VideoLock(tmp_path, "ep01")
    assert first.acquire()
    holder = json.loads((tmp_path / LOCK_DIR / "ep01.lock").read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname() and holder["time"] > 0
    second = VideoLock(tmp_path, "ep01")
    assert not second.acquire()
    assert f"locked by pid {os.getpid()} on {socket.gethostname()}" in second.describe()
    first.release()
    assert not (tmp_path / LOCK_DIR).exists()  # free: nothing left behind
    assert second.acquire()
    second.release()
    # a dead process on this host: taken over at once
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _fake_lock(tmp_path, "ep02", pid=dead.pid)
    with VideoLock(tmp_path, "ep02") as lock:  # `with` acquires
        assert json.loads((tmp_path / LOCK_DIR / "ep02.lock").read_text())["token"] == lock.token
    assert not (tmp_path / LOCK_DIR).exists()
    holder = VideoLock(tmp_path, "ep05")
    assert holder.acquire()
    with pytest.raises(OutputError, match="locked by pid"):  # held by a live run: `with` refuses
        with VideoLock(tmp_path, "ep05"):
            pass
    holder.release()
    # another host: alive as far as we can know, until the lock is older than max_age_s
    _fake_lock(tmp_path, "ep03", host="elsewhere", pid=1, time=time.time() - 100)
    assert not VideoLock(tmp_path, "ep03", max_age_s=1000).acquire()
    lock = VideoLock(tmp_path, "ep03", max_age_s=50)
    assert lock.acquire()
    lock.release()
    # a half-written lock file (its writer was killed) holds nothing
    _fake_lock(tmp_path, "ep04").write_text('{"pid": 12')
    lock = VideoLock(tmp_path, "ep04")
    assert lock.acquire()
    lock.release()


def test_holder_refreshes_its_lock(tmp_path):
    lock = VideoLock(tmp_path, "ep01", max_age_s=10, heartbeat_s=0.05)
    assert lock.acquire()
    path = tmp_path / LOCK_DIR / "ep01.lock"

    def read() -> dict:
        with exclusive(path):  # the holder rewrites the file in place, under this lock
            return json.loads(path.read_text())

    first = read()
    for _ in range(200):  # wait for a heartbeat (no timing asserted)
        time.sleep(0.05)
        data = read()
        if data["time"] > first["time"]:
            break
    assert data["time"] > first["time"] and data["started"] == first["started"] and data["token"] == lock.token
    lock.release()


LIGHT = "asr: none\ntagger: features\ncontext: none\n"  # the runs, not the models, are under test here


def _annotate(*args: str, config: Path) -> subprocess.Popen:
    if not config.exists():
        config.write_text(LIGHT)
    return subprocess.Popen([sys.executable, "-m", "avshooter.cli", "annotate", *args, "--no-progress",
                             "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def test_two_runs_at_once_on_one_folder(media, tmp_path):
    videos = [media / "video" / "bbb_432-433s_moviepy.webm", media / "audio" / "robin_bird_inspectorj.hq.ogg",
              media / "audio" / "trumpet_sorohanro.ogg"]
    listing = tmp_path / "videos.txt"
    listing.write_text("".join(f"{v}\n" for v in videos))
    out = tmp_path / "ds"
    procs = [_annotate("--manifest", str(listing), "--out", str(out), config=tmp_path / "light.yaml")
             for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (stdout, stderr) in zip(procs, results):
        assert p.returncode == 0, stderr
    records = _lines(out / "manifest.jsonl")
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    expected = []
    for v in videos:
        story = json.loads((out / v.stem / "story.json").read_text())
        expected += [f"{v.stem}/{s['avshooter']['index']:04d}" for s in story["shots"]]
    assert sorted(ids) == sorted(expected)
    assert not (out / LOCK_DIR).exists() and not (out / "manifest.jsonl.lock").exists()  # all released
    summaries = [r[0].splitlines()[0] for r in results]
    assert all(line.startswith("done ") for line in summaries)  # each run printed its one-line summary
    # each video was annotated by exactly ONE of the two runs (the other found it locked or finished)
    assert sum(int(line.split(",")[0].split()[1]) for line in summaries) == len(videos), summaries


@pytest.mark.slow  # two annotate processes one after the other; the takeover itself is tested above
def test_killed_run_resumes_with_nothing_lost(media, tmp_path):
    """SIGKILL a run after its first shot; its lock (dead pid) is taken over; finished shots are kept."""
    story = tmp_path / "bbb.json"
    shots = [{"start time": f"00:{a:02d}", "end time": f"00:{b:02d}", "visual annotation": {
        "narrative caption": "meadow", "descriptive caption": f"shot {i}"}} for i, (a, b) in
        enumerate([(0, 5), (5, 10), (10, 15), (15, 20), (20, 25), (25, 30)])]
    story.write_text(json.dumps({"video ID": "bbb", "url": "", "fps": 24, "segments": [
        {"start frame index": 0, "end frame index": 720, "story script": {"shots": shots}}]}))
    video = media / "video" / "bbb_0-30s_moviepy.webm"
    out = tmp_path / "ds"
    proc = _annotate(str(video), "--story", str(story), "--out", str(out), config=tmp_path / "light.yaml")
    first = out / video.stem / "audio" / "0000" / "shot.json"
    for _ in range(1200):
        if first.exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert first.exists(), "the run ended before its first shot was written"
    lock = json.loads((out / LOCK_DIR / f"{video.stem}.lock").read_text())
    assert lock["pid"] == proc.pid  # left behind by the killed run
    assert not (out / video.stem / "story.json").exists()
    kept = first.stat().st_mtime_ns
    again = _annotate(str(video), "--story", str(story), "--out", str(out), config=tmp_path / "light.yaml")
    _, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr
    assert first.stat().st_mtime_ns == kept  # the finished shot was not redone
    ids = [r["id"] for r in _lines(out / "manifest.jsonl")]
    assert ids == [f"{video.stem}/{i:04d}" for i in range(6)]
    assert (out / video.stem / "released.json").exists()


def test_a_video_locked_by_a_live_run_is_skipped_and_said(media, tmp_path, capsys):
    from avshooter.cli import main

    out = tmp_path / "ds"
    video = media / "audio" / "robin_bird_inspectorj.hq.ogg"
    listing = tmp_path / "one.txt"  # a batch (of one): the locked video is in its summary, exit status 0
    listing.write_text(f"{video}\n")
    holder = VideoLock(out, video.stem)
    assert holder.acquire()  # this test process is the live run
    try:
        rc = main(["annotate", "--manifest", str(listing), "--out", str(out), "--no-progress", "--no-context"])
    finally:
        holder.release()
    printed = capsys.readouterr().out
    assert rc == 0 and "skipped (locked by another run) 1" in printed
    assert f"skipped {video.stem}: locked by pid {os.getpid()} on {socket.gethostname()}" in printed
    assert not (out / video.stem).exists() and not (out / "manifest.jsonl").exists()


def test_lock_age_option_is_checked(media, tmp_path, capsys):
    from avshooter.cli import main

    video = media / "audio" / "robin_bird_inspectorj.hq.ogg"
    listing = tmp_path / "one.txt"  # a batch (of one): a locked video is in its summary, exit status 0
    listing.write_text(f"{video}\n")
    rc = main(["annotate", "--manifest", str(listing), "--out", str(tmp_path / "o"), "--lock-max-age", "0",
               "--no-progress"])
    assert rc == 1 and "lock max age must be > 0" in capsys.readouterr().err
    # an old lock of another host is taken over at the age given on the command line
    _fake_lock(tmp_path / "o", video.stem, host="elsewhere", pid=1, time=time.time() - 120)
    rc = main(["annotate", "--manifest", str(listing), "--out", str(tmp_path / "o"), "--lock-max-age", "3600",
               "--no-progress", "--no-context"])
    assert rc == 0 and "locked by pid 1 on elsewhere" in capsys.readouterr().out
    rc = main(["annotate", "--manifest", str(listing), "--out", str(tmp_path / "o"), "--lock-max-age", "60",
               "--no-progress", "--no-context"])
    assert rc == 0 and "done 1" in capsys.readouterr().out
    assert (tmp_path / "o" / video.stem / "story.json").exists() and not (tmp_path / "o" / LOCK_DIR).exists()
