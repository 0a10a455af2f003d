"""HTML reports of the demo's annotate and generate outputs, rendered in real headless Chromium.

The browser is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: no port, no
websocket library): the page must load without console errors or failed requests, every image must
decode, every audio player must load its file's metadata with the right duration, and a full-page
screenshot is written to the test's folder. Skipped only where Chromium is not installed (CI installs
Debian's ``chromium`` through scripts/setup.sh).
"""
from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import select
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
import soundfile as sf

from avshooter.cli import main
from avshooter.errors import InputError
from avshooter.io.dataset import iter_shots
from avshooter.report import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; "
                                                             "scripts/setup.sh installs it when run as root)")


class _Sources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.img, self.audio, self.links, self.script = [], [], [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.img.append(a["src"])
        elif tag == "audio":
            self.audio.append(a["src"])
        elif tag == "a":
            self.links.append(a["href"])
        elif tag == "script":
            self.script += 1


def _sources(page: Path) -> _Sources:
    parser = _Sources()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _local(page: Path, src: str) -> Path:
    return (page.parent / unquote(src)).resolve()


class Chromium:
    """Headless Chromium driven over the DevTools protocol on fds 3/4 (messages end with NUL)."""

    def __init__(self, profile: Path):
        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()

        def fds():  # in the child: our pipe ends become fds 3 and 4, whatever numbers they had
            import fcntl

            a, b = fcntl.fcntl(to_child, fcntl.F_DUPFD, 10), fcntl.fcntl(from_child, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio",
                f"--user-data-dir={profile}", "--remote-debugging-pipe", "--window-size=1280,900", "about:blank"]
        # preexec_fn: the test process starts no threads before this; close_fds=False keeps fds 3 and 4
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=fds, close_fds=False)  # noqa: PLW1509
        os.close(to_child)
        os.close(from_child)
        self._buf, self._id, self.events = b"", 0, []

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60.0):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, method: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while True:
            ev = self._read(deadline)
            if ev.get("method") == method:
                return ev
            self.events.append(ev)

    def close(self):
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):  # already gone: closing anyway
            self.send("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


_CHECK = """
new Promise(done => {
  const audios = [...document.querySelectorAll('audio')];
  const wait = a => new Promise(ok => {
    if (a.readyState >= 1 || a.error) return ok();
    a.addEventListener('loadedmetadata', ok, {once: true});
    a.addEventListener('error', ok, {once: true});
    a.load();
  });
  Promise.race([Promise.all(audios.map(wait)), new Promise(ok => setTimeout(ok, 30000))]).then(() => done(JSON.stringify({
    images: [...document.images].map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0})),
    audio: audios.map(a => ({src: a.getAttribute('src'), duration: a.duration, ready: a.readyState,
                             error: a.error ? a.error.code : null})),
    scripts: document.scripts.length,
  })));
})
"""


def render(page: Path, screenshot: Path, profile: Path) -> tuple[dict, list[str]]:
    """Load ``page`` in Chromium; return what the page check found and the console/network errors."""
    browser = Chromium(profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        result = json.loads(browser.send("Runtime.evaluate", {"expression": _CHECK, "awaitPromise": True,
                                                              "returnByValue": True}, session=session)["result"]["value"])
        size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                       "clip": {"x": 0, "y": 0, "width": size["width"],
                                                                "height": min(size["height"], 12000), "scale": 1}},
                            session=session)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        errors = []
        for ev in browser.events:
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(f"console: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                errors.append(f"request failed: {params.get('errorText')}")
        return result, errors
    finally:
        browser.close()


def _check_page(page: Path, tmp_path: Path, name: str, durations: dict[str, float]) -> dict:
    found = _sources(page)
    assert found.script == 0  # plain HTML
    for src in found.img + found.audio:
        assert _local(page, src).is_file(), src
    result, errors = render(page, tmp_path / f"{name}.png", tmp_path / f"profile-{name}")
    assert errors == []
    assert len(result["images"]) == len(found.img) and all(i["ok"] for i in result["images"]), result["images"]
    assert len(result["audio"]) == len(found.audio)
    for a in result["audio"]:
        assert a["error"] is None and a["ready"] >= 1, a
        path = _local(page, a["src"])
        assert a["duration"] == pytest.approx(durations[str(path)], abs=0.01)
    shot = (tmp_path / f"{name}.png").read_bytes()
    assert shot.startswith(b"\x89PNG") and len(shot) > 10000
    return result


def _durations(paths) -> dict[str, float]:
    return {str(Path(p).resolve()): sf.info(str(p)).frames / sf.info(str(p)).samplerate for p in paths}


@pytest.fixture(scope="module")
def annotate_report(demo_out, tmp_path_factory) -> list[Path]:
    return report(demo_out, dest=tmp_path_factory.mktemp("report") / "r", progress=False)


@pytest.fixture(scope="module")
def gen_out(demo, demo_out, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    assert main(["generate", "--story", str(demo["story"]), "--videos", str(demo["shots"]), "--bank", str(demo_out),
                 "--out", str(out)]) == 0
    return out


def test_annotate_report_content(demo_out, annotate_report):
    index, page = annotate_report
    records = list(iter_shots(demo_out))
    found = _sources(page)
    assert len(found.img) == len(records) * 5  # a frame per shot + a spectrogram of the mix and each stem
    assert len(found.audio) == len(records) * 4
    assert {_local(page, s) for s in found.audio} == {r.audio_path(demo_out, n).resolve() for r in records
                                                      for n in ("mix", "dialogue", "music", "effects")}
    text = page.read_text(encoding="utf-8")
    for r in records:
        for field in ("type", "sound description", "visual context"):
            assert html.escape(r.annotation[field], quote=True) in text
        if r.custom.get("transcript"):
            assert html.escape(r.custom["transcript"], quote=True) in text
        labels = r.custom.get("labels") or []
        for label in (x for xs in labels.values() for x in xs) if isinstance(labels, dict) else labels:
            assert f"<td>{html.escape(label['label'], quote=True)}</td>" in text  # labels with their times
            assert f"<td>{label['start_s']:.2f}</td><td>{label['end_s']:.2f}</td>" in text
    assert [_local(index, h) for h in _sources(index).links] == [page.resolve()]


@needs_chromium
def test_annotate_report_renders_in_chromium(demo_out, annotate_report, tmp_path):
    records = list(iter_shots(demo_out))
    durations = _durations(r.audio_path(demo_out, n) for r in records for n in ("mix", "dialogue", "music", "effects"))
    _check_page(annotate_report[1], tmp_path, "annotate", durations)
    _check_page(annotate_report[0], tmp_path, "index", {})


@needs_chromium
def test_generate_report_renders_in_chromium(gen_out, tmp_path, capsys):
    assert main(["report", str(gen_out), "--no-progress"]) == 0
    assert "wrote 2 pages" in capsys.readouterr().out
    index, page = gen_out / "report" / "index.html", gen_out / "report" / "generate.html"
    assert [_local(index, h) for h in _sources(index).links] == [page.resolve()]
    gen = json.loads((gen_out / "generate.json").read_text())
    text = page.read_text(encoding="utf-8")
    prompts = [layer["prompt"] for shot in gen["shots"] for layer in (shot.get("layers") or {}).values()
               if isinstance(layer.get("prompt"), str)] or [shot["effects"]["prompt"] for shot in gen["shots"]]
    assert prompts and all(html.escape(p, quote=True) in text for p in prompts)
    assert "effect onsets" in text and "loudness over time" in text
    audio = [gen_out / gen["outputs"]["soundtrack"], *(gen_out / p for p in gen["outputs"]["stems"].values())]
    result = _check_page(page, tmp_path, "generate", _durations(audio))
    assert len(result["audio"]) == len(audio)
    assert len(result["images"]) == len(gen["shots"]) + 2 + len(audio)  # frames, sync, loudness, spectrograms


def test_report_bad_input_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 1
    assert "not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "neither an annotate output" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "generate.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot read"):
        report(bad)
    assert not (bad / "report" / "generate.html").exists()
