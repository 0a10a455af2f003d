"""MLLM captioners (``openai``, ``gemini``) against a scripted local server that speaks both APIs."""
from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from avshooter.backends import captioner_common as common
from avshooter.backends import load_backend
from avshooter.backends.gemini_captioner import GeminiCaptioner
from avshooter.backends.openai_captioner import OpenAICaptioner
from avshooter.errors import BackendError, InputError
from avshooter.media.encode import encode_frame, encode_wav
from avshooter.units import to_samples

KEY = "sk-test-SECRET-123456789"
GOOD = {"type": "effects", "sound description": "A sharp wooden knock, twice.",
        "visual context": "Hiro knocks on the door."}
STORY = "Hiro returns home in the rain to find the door locked"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class FakeAPI:
    """Records each request; answers from a script of ``(status, answer_text_or_body, headers, delay_s)``."""

    def __init__(self):
        self.script: list[tuple] = []
        self.requests: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                headers = {k.lower(): v for k, v in self.headers.items()}
                api.requests.append({"path": self.path, "headers": headers, "body": body})
                status, answer, headers, delay = api.script.pop(0) if api.script else (200, GOOD, {}, 0)
                time.sleep(delay)
                if status == 200 and not isinstance(answer, bytes):
                    text = answer if isinstance(answer, str) else json.dumps(answer)
                    if self.path.endswith("/chat/completions"):
                        reply = {"choices": [{"message": {"role": "assistant", "content": text}}]}
                    else:
                        reply = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}]}
                    data = json.dumps(reply).encode()
                else:
                    data = answer if isinstance(answer, bytes) else json.dumps({"error": {"message": answer}}).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (time-out test)
                    pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    server = FakeAPI()
    yield server
    server.server.shutdown()
    server.server.server_close()


def make(kind, api, **options):
    options = {"backoff_s": 0.01, "max_backoff_s": 2.0, "timeout_s": 5.0, **options}
    if kind == "openai":
        return OpenAICaptioner(**{"base_url": api.url + "/v1", **options})
    return GeminiCaptioner(**{"base_url": api.url + "/v1beta", **options})


def shot(sr=48000, seconds=1.3, channels=2):
    t = np.arange(to_samples(seconds, sr)) / sr
    wav = 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    frames = [np.full((90, 160, 3), 40 * i, np.uint8) for i in range(5)]
    context = {"storyline": STORY, "scene": "a house front", "caption": "Hiro knocks on the door",
               "characters": [("Hiro", "a boy in a red coat")],
               "measured": {"type": "effects", "sound description": "short impulsive hits", "speech": [],
                            "features": {"integrated_lufs": -23.4567891}}}
    return np.stack([wav] * channels), sr, frames, context


def parts_of(kind, request):
    """(text, [image bytes], audio bytes) of a recorded request."""
    body = request["body"]
    texts, images, audio = [], [], None
    if kind == "openai":
        for part in body["messages"][1]["content"]:
            if part["type"] == "text":
                texts.append(part["text"])
            elif part["type"] == "image_url":
                images.append(base64.b64decode(part["image_url"]["url"].split(",", 1)[1]))
            elif part["type"] == "input_audio":
                assert part["input_audio"]["format"] == "wav"
                audio = base64.b64decode(part["input_audio"]["data"])
    else:
        for part in body["contents"][0]["parts"]:
            if "text" in part:
                texts.append(part["text"])
            elif part["inline_data"]["mime_type"] == "audio/wav":
                audio = base64.b64decode(part["inline_data"]["data"])
            else:
                assert part["inline_data"]["mime_type"] == "image/jpeg"
                images.append(base64.b64decode(part["inline_data"]["data"]))
    return "\n".join(texts), images, audio


BOTH = pytest.mark.parametrize("kind", ["openai", "gemini"])


@BOTH
def test_good_answer_and_request_body(kind, api):
    wav, sr, frames, ctx = shot()
    out = make(kind, api).caption(wav, sr, frames=frames, context=ctx)
    assert out == GOOD
    (req,) = api.requests
    text, images, audio = parts_of(kind, req)
    assert STORY in text and "Hiro" in text and "-23.4568" in text
    assert len(images) == 3 and all(img[:2] == b"\xff\xd8" for img in images)  # JPEG
    with wave.open(io.BytesIO(audio)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 16000, 2)
        assert w.getnframes() == to_samples(wav.shape[1] / sr, 16000)
    if kind == "openai":
        assert req["path"] == "/v1/chat/completions"
        assert req["headers"]["authorization"] == f"Bearer {KEY}"
        assert req["body"]["model"] == "Qwen/Qwen2.5-Omni-7B"
        assert req["body"]["messages"][0]["role"] == "system"
        assert "response_format" not in req["body"]
    else:
        assert req["path"] == "/v1beta/models/gemini-2.5-pro:generateContent"
        assert req["headers"]["x-goog-api-key"] == KEY
        assert KEY not in req["path"]
        cfg = req["body"]["generationConfig"]
        assert cfg["responseMimeType"] == "application/json"
        assert cfg["responseSchema"]["properties"]["type"]["enum"] == list(common.TYPES)
        assert "systemInstruction" in req["body"]


@BOTH
def test_fenced_answer(kind, api):
    api.script = [(200, "Here you go:\n```json\n" + json.dumps({**GOOD, "type": " Music "}) + "\n```", {}, 0)]
    wav, sr, frames, ctx = shot()
    assert make(kind, api).caption(wav, sr, frames=frames, context=ctx)["type"] == "music"


@BOTH
def test_malformed_then_good(kind, api):
    api.script = [(200, "{not json", {}, 0), (200, {**GOOD, "type": "footsteps"}, {}, 0), (200, GOOD, {}, 0)]
    wav, sr, frames, ctx = shot()
    assert make(kind, api).caption(wav, sr, frames=frames, context=ctx) == GOOD
    assert len(api.requests) == 3
    last = json.dumps(api.requests[2]["body"])
    assert "not valid JSON" in last and "'footsteps' is not allowed" in last  # both corrections were sent


@BOTH
def test_always_malformed(kind, api):
    api.script = [(200, "no idea", {}, 0)] * 3
    wav, sr, frames, ctx = shot()
    with pytest.raises(BackendError, match=r"no usable answer after 3 tries: the answer is not valid JSON"):
        make(kind, api, json_retries=2).caption(wav, sr, frames=frames, context=ctx)
    assert len(api.requests) == 3


@BOTH
def test_429_honours_retry_after(kind, api):
    api.script = [(429, "slow down", {"Retry-After": "1"}, 0)]
    wav, sr, frames, ctx = shot()
    t0 = time.monotonic()
    assert make(kind, api).caption(wav, sr, frames=frames, context=ctx) == GOOD
    assert time.monotonic() - t0 >= 0.95 and len(api.requests) == 2


@BOTH
def test_500_until_give_up(kind, api):
    api.script = [(500, "boom", {}, 0)] * 3
    wav, sr, frames, ctx = shot()
    with pytest.raises(BackendError, match=r"failed after 3 attempt\(s\): HTTP 500: boom"):
        make(kind, api, max_retries=2).caption(wav, sr, frames=frames, context=ctx)
    assert len(api.requests) == 3


@BOTH
@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_fail_at_once(kind, status, api):
    api.script = [(status, f"bad key {KEY}", {}, 0)]
    wav, sr, frames, ctx = shot()
    with pytest.raises(BackendError, match=f"HTTP {status}") as err:
        make(kind, api).caption(wav, sr, frames=frames, context=ctx)
    assert len(api.requests) == 1
    msg = str(err.value)
    assert KEY not in msg and "***" in msg and "\n" not in msg
    if status in (401, 403):
        assert ("OPENAI_API_KEY" if kind == "openai" else "GEMINI_API_KEY") in msg


@BOTH
def test_timeout_is_retried(kind, api):
    api.script = [(200, GOOD, {}, 1.0)]
    wav, sr, frames, ctx = shot()
    assert make(kind, api, timeout_s=0.3).caption(wav, sr, frames=frames, context=ctx) == GOOD
    assert len(api.requests) == 2


def test_timeout_gives_up(api):
    api.script = [(200, GOOD, {}, 0.6)] * 2
    wav, sr, frames, ctx = shot()
    with pytest.raises(BackendError, match=r"failed after 2 attempt\(s\): no answer within 0.2 s"):
        make("openai", api, timeout_s=0.2, max_retries=1).caption(wav, sr, frames=frames, context=ctx)


def test_connection_refused_is_retried_then_fails(api):
    cap = OpenAICaptioner(base_url="http://127.0.0.1:9/v1", max_retries=1, backoff_s=0.01)
    wav, sr, frames, ctx = shot()
    with pytest.raises(BackendError, match=r"failed after 2 attempt\(s\): connection failed"):
        cap.caption(wav, sr, frames=frames, context=ctx)


@BOTH
def test_key_never_in_info_errors_or_logs(kind, api, caplog):
    caplog.set_level(logging.DEBUG)
    api.script = [(500, f"echo {KEY}", {}, 0), (200, "nope", {}, 0), (401, f"key {KEY} invalid", {}, 0)]
    cap = make(kind, api)
    wav, sr, frames, ctx = shot()
    with pytest.raises(BackendError) as err:
        cap.caption(wav, sr, frames=frames, context=ctx)
    assert len(api.requests) == 3
    assert KEY not in json.dumps(cap.info()) and KEY not in repr(cap.__dict__)
    assert KEY not in str(err.value)
    assert caplog.records and all(KEY not in r.getMessage() for r in caplog.records)


def test_openai_without_key_sends_no_authorization(api, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    wav, sr, frames, ctx = shot()
    assert make("openai", api).caption(wav, sr, frames=frames, context=ctx) == GOOD
    assert "authorization" not in api.requests[0]["headers"]
    with pytest.raises(BackendError, match="set OPENAI_API_KEY"):
        OpenAICaptioner(base_url="https://api.openai.com/v1")


def test_gemini_key_variables(api, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(BackendError, match="no API key: set GEMINI_API_KEY or GOOGLE_API_KEY"):
        make("gemini", api)
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    wav, sr, frames, ctx = shot()
    make("gemini", api).caption(wav, sr, frames=frames, context=ctx)
    assert api.requests[0]["headers"]["x-goog-api-key"] == "google-key"
    with pytest.raises(BackendError, match="set MY_KEY$"):
        make("gemini", api, api_key_env="MY_KEY")


@BOTH
def test_options_audio_frames_off(kind, api):
    wav, sr, frames, ctx = shot(sr=16000, channels=1)
    cap = make(kind, api, send_audio=False, n_frames=1, temperature=None, max_tokens=64,
               **({"json_mode": True} if kind == "openai" else {"use_schema": False}))
    cap.caption(wav, sr, frames=frames, context=ctx)
    text, images, audio = parts_of(kind, api.requests[0])
    assert audio is None and len(images) == 1 and "audio is not attached" in text
    body = api.requests[0]["body"]
    if kind == "openai":
        assert body["response_format"] == {"type": "json_object"} and body["max_tokens"] == 64
        assert "temperature" not in body
    else:
        assert "responseSchema" not in body["generationConfig"]
        assert body["generationConfig"]["maxOutputTokens"] == 64
    make(kind, api, send_frames=False).caption(wav, sr, frames=frames, context={})
    text, images, audio = parts_of(kind, api.requests[1])
    assert images == [] and audio is not None and "No picture" in text


@BOTH
def test_bad_options_and_inputs(kind, api):
    with pytest.raises(BackendError, match="unknown option"):
        make(kind, api, colour="red")
    with pytest.raises(BackendError, match="timeout_s=0"):
        make(kind, api, timeout_s=0)
    with pytest.raises(BackendError, match="base_url"):
        make(kind, api, base_url="localhost:8000")
    cap = make(kind, api)
    wav, sr, frames, ctx = shot()
    with pytest.raises(InputError, match=r"\(channels, samples\)"):
        cap.caption(wav[0], sr, frames=frames, context=ctx)
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        cap.caption(wav, sr, frames=[np.zeros((4, 4), np.uint8)], context=ctx)
    assert api.requests == []


def test_registry_and_info(api):
    cap = load_backend("captioner", "openai", options={"base_url": api.url + "/v1", "model": "m"})
    info = cap.info()
    assert info["name"] == "openai" and info["model"] == "m" and info["prompt_sha1"] == common.PROMPT_SHA1
    assert info["options"]["api_key_env"] == "OPENAI_API_KEY"
    assert load_backend("captioner", "gemini").info()["model"] == "gemini-2.5-pro"


@pytest.mark.parametrize("text, error", [
    ("", "empty"),
    ("[1, 2]", "not an object"),
    ('{"type": "speech", "sound description": "x"}', "'visual context' missing"),
    ('{"type": "speech", "sound description": "  ", "visual context": "y"}', "non-empty string"),
    ('{"type": "speech", "sound description": 3, "visual context": "y"}', "non-empty string"),
    ('{"type": "effects: door", "sound description": "x", "visual context": "y"}', "not allowed"),
])
def test_parse_annotation_rejects(text, error):
    with pytest.raises(common.AnswerError, match=error):
        common.parse_annotation(text)


def test_parse_annotation_accepts_variants():
    text = ('Sure! {"Type": "Ambience", "sound_description": "Rain\n on a roof.", '
            '"visual-context": "The street.", "x": 1}')
    assert common.parse_annotation(text) == {"type": "ambience", "sound description": "Rain on a roof.",
                                             "visual context": "The street."}


def test_png_without_pillow_and_downscale():
    from PIL import Image

    frame = np.random.default_rng(0).integers(0, 256, (300, 700, 3), dtype=np.uint8)
    mime, data = encode_frame(frame, max_side=1000, use_pillow=False)
    assert mime == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), frame)
    mime, data = encode_frame(frame, max_side=350, use_pillow=False)
    assert max(Image.open(io.BytesIO(data)).size) <= 350
    mime, data = encode_frame(frame, max_side=350)
    assert mime == "image/jpeg" and Image.open(io.BytesIO(data)).size == (350, 150)


def test_wav_length_and_cut():
    wav = np.zeros((2, to_samples(2.5, 44100)), np.float32)
    with wave.open(io.BytesIO(encode_wav(wav, 44100))) as w:
        assert w.getnframes() == to_samples(2.5, 16000)
    with wave.open(io.BytesIO(encode_wav(wav, 44100, max_audio_s=1.0))) as w:
        assert w.getnframes() == 16000


def test_pipeline_uses_answer_or_flags_failure(api):
    from avshooter.annotation.shot_audio import annotate_shot_audio
    from avshooter.config import AnnotateConfig

    wav, sr, frames, _ctx = shot(sr=16000, seconds=2.0)
    config = AnnotateConfig(sample_rate=16000, captioner="openai", context="none",
                            captioner_options={"base_url": api.url + "/v1", "max_retries": 0, "backoff_s": 0.0})
    out = annotate_shot_audio(wav, sr, speech=[], frames=frames, story_context={"storyline": STORY}, config=config)
    assert (out.type, out.description, out.visual_context) == tuple(GOOD.values())
    text, images, _ = parts_of("openai", api.requests[0])
    assert STORY in text and len(images) == 3 and '"speech": []' in text
    api.script = [(503, "down", {}, 0)]
    with pytest.raises(BackendError, match="captioner openai failed.*HTTP 503"):  # never saved as a result
        annotate_shot_audio(wav, sr, speech=[], frames=frames, config=config)
    api.script = [(503, "down", {}, 0)]
    fallback = dataclasses.replace(config, captioner_fallback=True)  # asked for: measured annotation, marked
    out = annotate_shot_audio(wav, sr, speech=[], frames=frames, config=fallback)
    assert "captioner_failed" in out.flags and "HTTP 503" in out.context["captioner_error"]
