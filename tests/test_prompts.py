"""prompts: rules from audio/visual annotations, prompts.json round trip and checks, the LLM writer on a local server."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from avshooter.errors import BackendError, InputError
from avshooter.generation.prompts import (
    LLMPromptWriter,
    build_prompts,
    load_prompts,
    save_prompts,
    shot_seed,
)
from avshooter.io.story import load_story


def _story_dict() -> dict:
    return {
        "storyline": "Hana plays with her ball at home, then looks at the night sky.",
        "main characters": [{"ID": "Hana", "appearance": "a girl with pink hair"}],
        "main scenes": [{"ID": "home", "environment": "A cozy living room with a wooden floor and warm lamps."},
                        {"ID": "sky", "environment": "A calm night sky over a sleeping town."}],
        "shots": [
            {"start time": "00:00", "end time": "00:03", "main characters": ["Hana"], "scene": "home",
             "visual annotation": {"plot": "Hana walks in.", "caption": "Hana walks into the room, smiling."},
             "avshooter": {"dialogue": [{"character": "Hana", "text": "ただいま！", "language": "ja"}]}},
            {"start time": "00:03", "end time": "00:06", "main characters": ["Hana"], "scene": "home",
             "visual annotation": {"plot": "She plays.", "caption": "A red ball bounces on the floor."},
             "audio annotation": {"type": "effects", "sound description": "Sharp regular thuds, loud and impulsive.",
                                  "visual context": "on screen: a red ball bounces on the floor"}},
            {"start time": "00:06", "end time": "00:09", "scene": "home",
             "visual annotation": {"plot": "Music plays.", "caption": "Notes dance on a blue wall."},
             "audio annotation": {"type": "music", "sound description": "A cheerful piano melody at 120 bpm.",
                                  "visual context": "on screen: notes dance"}},
            {"start time": "00:09", "end time": "00:12", "scene": "sky",
             "visual annotation": {"plot": "Night falls.", "caption": "Clouds drift slowly across the moon."}},
        ],
    }


@pytest.fixture()
def story():
    return load_story(_story_dict())


def test_rules(story):
    p = build_prompts(story, seed=3)
    s = p.shots
    assert [x.shot for x in s] == [0, 1, 2, 3]
    assert s[0].effects == "footsteps on a wooden floor" and s[0].source == "visual keywords"
    assert s[0].dialogue == [{"character": "Hana", "text": "ただいま！", "language": "ja"}]
    assert s[1].source == "audio annotation" and "thuds" in s[1].effects and "ball bounces" in s[1].effects
    assert "on screen" not in s[1].effects
    assert s[2].music == "A cheerful piano melody at 120 bpm" and s[2].source == "caption"
    assert s[3].effects == "the sound of clouds drift slowly across the moon" and s[3].source == "caption"
    assert [x.ambience_scene for x in s] == ["home", "home", "home", "sky"]
    assert set(p.ambience) == {"home", "sky"} and "wooden floor" in p.ambience["home"]
    assert [x.seed for x in s] == [shot_seed(3, i) for i in range(4)] and len({x.seed for x in s}) == 4
    assert build_prompts(story, seed=3).to_dict() == p.to_dict()  # deterministic


def test_save_edit_load(story, tmp_path):
    path = tmp_path / "プロンプト" / "prompts.json"
    save_prompts(build_prompts(story), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["shots"][3]["effects"] = "  soft wind at night "
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    loaded = load_prompts(path, story)
    assert loaded.shots[3].effects == "soft wind at night" and loaded.shots[0].dialogue[0]["text"] == "ただいま！"

    def bad(edit, match):
        d = json.loads(json.dumps(data))
        edit(d)
        with pytest.raises(InputError, match=match):
            load_prompts(d, story)

    bad(lambda d: d["shots"][2].update(effects="   "), r"shots\[2\]\.effects: empty prompt")
    bad(lambda d: d["shots"].pop(), "must list 4 shots")
    bad(lambda d: d["shots"][1].update(shot=5), "does not match its position 1")
    bad(lambda d: d["shots"][0].update(volume=3), r"unknown key\(s\) \['volume'\]")
    bad(lambda d: d.update(extra=1), "unknown key")
    bad(lambda d: d["shots"][0].update(ambience_scene="moon"), "'moon' has no ambience prompt")
    bad(lambda d: d["shots"][0]["dialogue"][0].update(character="Ken"), "unknown character ID 'Ken'")
    bad(lambda d: d["shots"][0]["dialogue"][0].update(language="fr"), "language")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(InputError, match="invalid JSON"):
        load_prompts(tmp_path / "broken.json", story)


def test_bad_dialogue_in_story():
    d = _story_dict()
    d["shots"][0]["avshooter"]["dialogue"][0]["text"] = ""
    with pytest.raises(InputError, match=r"shots\[0\]\.avshooter\.dialogue\[0\]\.text"):
        build_prompts(load_story(d))


class _Server:
    def __init__(self, answers, status=200):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, dict(self.headers), body))
                if status != 200:
                    self.send_response(status)
                    self.end_headers()
                    return
                content = answers[len(outer.requests) - 1] if len(outer.requests) <= len(answers) else answers[-1]
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_llm_writer(story, monkeypatch, caplog):
    answers = [json.dumps({"effects": f"effect {i}", "ambience": f"ambience {i}"}) for i in range(4)]
    answers[3] = "```json\n" + answers[3] + "\n```"
    server = _Server(answers)
    monkeypatch.setenv("TEST_LLM_KEY", "sk-secret-123")
    try:
        p = build_prompts(story, writer=LLMPromptWriter(server.url, "tiny", api_key_env="TEST_LLM_KEY"))
    finally:
        server.close()
    assert len(server.requests) == 4  # one request per shot, reused for the scene ambience
    path, headers, body = server.requests[0]
    assert path == "/v1/chat/completions" and body["model"] == "tiny"
    assert headers["Authorization"] == "Bearer sk-secret-123"
    assert {s.effects for s in p.shots} == {"effect 0", "effect 1", "effect 2", "effect 3"}
    assert p.ambience == {"home": "ambience 0", "sky": "ambience 3"} and p.writer == "llm:tiny"
    assert "sk-secret" not in json.dumps(p.to_dict()) and "sk-secret" not in caplog.text


def test_llm_writer_errors(story, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = _Server([], status=500)
    try:
        with pytest.raises(BackendError, match=r"HTTP 500.*|shots\[0\].*HTTP 500"):
            build_prompts(story, writer=LLMPromptWriter(server.url, "tiny"))
    finally:
        server.close()
    server = _Server(["not json"])
    try:
        with pytest.raises(BackendError, match="not a JSON object"):
            build_prompts(story, writer=LLMPromptWriter(server.url, "tiny"))
    finally:
        server.close()
    with pytest.raises(InputError, match="base_url"):
        LLMPromptWriter("ftp://x", "m")
