"""prompts: the caption reader (quotes, clauses, negation), the offline writer on the demo and a story, the
prompts.json round trip and checks, `avshooter prompts`, the LLM writer on a local server (with retries)."""
from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from avshooter.errors import BackendError, InputError
from avshooter.generation.caption_reader import (drop_negated, find_quotes, load_phrases, read_dialogue,
                                                 speech_language, split_clauses)
from avshooter.generation.prompts import (LLMPromptWriter, build_prompts, load_prompts, save_prompts, shot_seed,
                                          write_prompts)
from avshooter.io.story import load_story
from conftest import load_make_demo


def _story_dict() -> dict:
    return {
        "storyline": "Hana plays with her ball at home, then looks at the night sky.",
        "main characters": [{"ID": "Hana", "appearance": "a girl with pink hair"},
                            {"ID": "Ken", "appearance": "a boy with a red cap"}],
        "main scenes": [{"ID": "home", "environment": "A cozy living room with a wooden floor and warm lamps."},
                        {"ID": "sky", "environment": "A calm night sky over a sleeping town."},
                        {"ID": "card", "environment": "A plain white background with the title in pink letters."}],
        "shots": [
            {"start time": "00:00", "end time": "00:03", "main characters": ["Hana"], "scene": "home",
             "visual annotation": {"plot": "Hana walks in.", "caption": "Hana walks into the room, smiling."},
             "avshooter": {"dialogue": [{"character": "Hana", "text": "ただいま！", "language": "ja"}]}},
            {"start time": "00:03", "end time": "00:06", "main characters": ["Hana"], "scene": "home",
             "visual annotation": {"plot": "She plays.", "caption": "A red ball bounces on the floor."},
             "audio annotation": {"type": "effects", "sound description": "Sharp regular thuds, loud and impulsive.",
                                  "visual context": "on screen: a red ball bounces on the floor"}},
            {"start time": "00:06", "end time": "00:09", "scene": "card",
             "visual annotation": {"plot": "The title appears.", "caption": "The title fades in on the white card."},
             "audio annotation": {"type": "music", "sound description": "A cheerful piano melody at 120 bpm.",
                                  "visual context": "on screen: the title"}},
            {"start time": "00:09", "end time": "00:12", "main characters": ["Ken", "Hana"], "scene": "sky",
             "visual annotation": {"plot": "Ken calls Hana.",
                                   "caption": "Ken waves and shouts, \"Look, a shooting star!\" No music plays."}},
        ],
    }


@pytest.fixture()
def story():
    return load_story(_story_dict())


# ------------------------------------------------------------------------------------------- text, no model


def test_quotes_and_speakers():
    text = 'Mei slams the desk and shouts, "You\'re late again, Riku!" A sign on the door reads "Closed".'
    quotes = find_quotes(text)
    assert [(q[2], q[3]) for q in quotes] == [("You're late again, Riku!", True), ("Closed", False)]
    assert find_quotes('"Run!" yells Ken as the wall falls.')[0][2:] == ("Run!", True)
    lines, sources, rest = read_dialogue(
        [("caption", 'Ren looks away and whispers 「ありがとう」 while the bell rings.'),
         ("plot", 'Aoi asks, "Are you coming?" and Ren nods.')],
        characters=["Aoi", "Ren"], shot_characters=["Ren", "Aoi"])
    assert lines == [{"character": "Ren", "text": "ありがとう", "language": "ja"},
                     {"character": "Aoi", "text": "Are you coming?", "language": "en"}]
    assert sources == ["caption quote 1", "plot quote 2"]
    assert "ありがとう" not in rest[0][1] and "coming" not in rest[1][1]  # quoted words never become sounds
    # nobody named next to the quote: the shot's first character speaks
    lines, _, _ = read_dialogue([("caption", 'A girl in a blue dress says: "Watch my ball bounce!"')],
                                characters=["Hana", "Ken"], shot_characters=["Hana"])
    assert lines[0]["character"] == "Hana" and lines[0]["language"] == "en"
    assert speech_language("ただいま") == "ja" and speech_language("漢字") == "ja" and speech_language("Hi!") == "en"


def test_clauses_and_negation():
    assert split_clauses("Riku runs to his desk, panting, while Mei looks up; the bell rings. Night falls.") == [
        "Riku runs to his desk, panting", "Mei looks up", "the bell rings", "Night falls"]
    assert drop_negated("no music plays") == ("", "no music plays")
    assert drop_negated("Taro rubs his eyes without saying a word") == ("Taro rubs his eyes", "without saying a word")
    assert drop_negated("she claps twice and bows her head in silence") == ("she claps twice", "bows her head in silence")
    assert drop_negated("Kiko tiptoes silently over the moss") == ("", "Kiko tiptoes silently over the moss")
    assert drop_negated("a dog barks") == ("a dog barks", None)


def test_phrase_labels_are_in_the_vocabulary():
    from importlib import resources

    vocab = {line.split("\t")[0] for line in resources.files("avshooter").joinpath("data/sound_vocabulary.txt")
             .read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")}
    phrases = load_phrases()
    assert len(phrases) > 150 and {p.kind for p in phrases} == {"effects", "music", "speech", "ambience", "none", "picture"}
    from avshooter.vocabulary import find

    for p in phrases:
        assert (p.label == "-") == (p.kind in ("none", "picture")), p
        # a hand-written phrase's label is a word of the sound vocabulary; every sound label names an
        # AudioSet class (issue 17: the one vocabulary), the ontology's own phrases included
        assert p.label == "-" or p.label in vocab or p.from_class, p
        assert p.label == "-" or p.kind == "speech" or find(p.label) is not None, p


# ------------------------------------------------------------------------------------------- offline writer


def test_demo_prompts_say_what_the_picture_shows():
    truth = {"shots": [{"start_s": a, "end_s": b} for a, b in [(0, 5), (5, 9.5), (9.5, 14), (14, 18)]]}
    story = load_story(load_make_demo()._story(truth))
    p = build_prompts(story)
    talk, notes, ball, night = p.shots
    # the quoted line is dialogue, and none of its words ("red ball bounce") is an effect
    assert talk.dialogue == [{"character": "Hana", "text": "Hi, I'm Hana. Watch my red ball bounce!", "language": "en"}]
    assert talk.sources["dialogue"] == ["caption quote 1"]
    assert "ball" not in talk.effects and "bounc" not in talk.effects
    # "cheerful music plays" is music, not a crowd cheering; the notes on blue are a picture, not a place
    assert notes.music and "music" in notes.music and "cheer" not in notes.effects
    assert notes.sources["music"]["from"].startswith(("caption clause", "plot clause"))
    assert notes.ambience_scene is None and "picture" in p.ambience_sources["music"]
    # "hits the floor" is a thud, not punches
    assert {"a thud", "a ball bouncing"} & set(ball.effect_labels) and not {"a punch", "a kick"} & set(ball.effect_labels)
    assert all(m["from"].startswith(("caption clause", "plot clause")) for m in ball.sources["effects"])
    assert night.music is None and night.dialogue == []
    assert "wind" in p.ambience["night"] and p.ambience_sources["garden"].startswith("scene environment")


def test_story_prompts(story):
    p = build_prompts(story, seed=3)
    s = p.shots
    assert [x.shot for x in s] == [0, 1, 2, 3]
    assert s[0].effects == "footsteps on a wooden floor" and s[0].source == "captions"
    assert s[0].dialogue == [{"character": "Hana", "text": "ただいま！", "language": "ja"}]
    assert s[0].sources["dialogue"] == ["story dialogue"]  # the story's own lines win over caption quotes
    assert s[1].source == "audio annotation" and "thuds" in s[1].effects and "ball bounces" in s[1].effects
    assert s[2].music == "A cheerful piano melody at 120 bpm" and s[2].sources["music"] == {"from": "audio annotation"}
    assert s[2].ambience_scene is None and "card" not in p.ambience  # a title card has no ambience
    assert s[3].dialogue == [{"character": "Ken", "text": "Look, a shooting star!", "language": "en"}]
    assert s[3].music is None and "no music" in s[3].sources["music_note"]
    assert "star" not in s[3].effects
    assert [x.ambience_scene for x in s] == ["home", "home", None, "sky"]
    assert set(p.ambience) == {"home", "sky"} and "wooden floor" in p.ambience["home"]
    assert p.ambience_sources["home"].startswith("scene environment")
    assert [x.seed for x in s] == [shot_seed(3, i) for i in range(4)] and len({x.seed for x in s}) == 4
    assert build_prompts(story, seed=3).to_dict() == p.to_dict()  # deterministic


def test_save_edit_load(story, tmp_path):
    path = tmp_path / "プロンプト" / "prompts.json"
    save_prompts(build_prompts(story), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {"effects", "music", "dialogue", "ambience_scene", "source", "sources"} <= set(data["shots"][0])
    data["shots"][3]["effects"] = "  soft wind at night "
    data["shots"][0]["effects"] = "   "  # a user may silence a shot's effects
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    loaded = load_prompts(path, story)
    assert loaded.shots[3].effects == "soft wind at night" and loaded.shots[0].dialogue[0]["text"] == "ただいま！"
    assert loaded.shots[0].effects == "" and loaded.shots[0].sources["dialogue"] == ["story dialogue"]
    assert loaded.ambience_sources == data["ambience_sources"]

    def bad(edit, match):
        d = json.loads(json.dumps(data))
        edit(d)
        with pytest.raises(InputError, match=match):
            load_prompts(d, story)

    bad(lambda d: d["shots"][2].update(effects=3), r"shots\[2\]\.effects: must be a string")
    bad(lambda d: d["shots"][2].pop("effects"), r"shots\[2\]\.effects: missing")
    bad(lambda d: d["shots"].pop(), "must list 4 shots")
    bad(lambda d: d["shots"][1].update(shot=5), "does not match its position 1")
    bad(lambda d: d["shots"][0].update(volume=3), r"unknown key\(s\) \['volume'\]")
    bad(lambda d: d.update(extra=1), "unknown key")
    bad(lambda d: d["shots"][0].update(ambience_scene="moon"), "'moon' has no ambience prompt")
    bad(lambda d: d["shots"][0]["dialogue"][0].update(character="Mei"), "unknown character ID 'Mei'")
    bad(lambda d: d["shots"][0]["dialogue"][0].update(language="fr"), "language")
    bad(lambda d: d["shots"][0].update(music="  "), "music")
    bad(lambda d: d["shots"][0].update(sources=[]), "sources")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(InputError, match="invalid JSON"):
        load_prompts(tmp_path / "broken.json", story)


def test_bad_dialogue_in_story():
    d = _story_dict()
    d["shots"][0]["avshooter"]["dialogue"][0]["text"] = ""
    with pytest.raises(InputError, match=r"shots\[0\]\.avshooter\.dialogue\[0\]\.text"):
        build_prompts(load_story(d))


def test_prompts_command_story_without_times(tmp_path, capsys):
    from avshooter.cli import main

    d = _story_dict()
    for shot in d["shots"]:
        del shot["start time"], shot["end time"]
    src = tmp_path / "story.json"
    src.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "p" / "prompts.json"
    assert main(["prompts", "--story", str(src), "--out", str(out), "--seed", "3"]) == 0
    assert "4 shots" in capsys.readouterr().out
    written = load_prompts(out, load_story(src, require_times=False))
    assert written.seed == 3 and written.shots[0].effects == "footsteps on a wooden floor"
    from avshooter.config import GenerateConfig

    api = write_prompts(src, tmp_path / "again.json", config=GenerateConfig(seed=3))  # the same through the API
    assert api.to_dict() == written.to_dict() == json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    # bad input: one line, exit 1, nothing written
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    assert main(["prompts", "--story", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "bad.json" in err and not (tmp_path / "x.json").exists()


def test_import_stays_light():
    import subprocess

    code = "import sys, avshooter, avshooter.generation.prompts, avshooter.embedding; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_embedding_weights_are_checked(monkeypatch):
    from avshooter import embedding

    vecs = embedding.embed_texts(["a ball bounces", "a thud", "a ball bounces"])
    assert vecs.shape == (3, embedding.DIM) and abs(float(vecs[0] @ vecs[0]) - 1) < 1e-4
    assert (vecs[0] == vecs[2]).all() and float(vecs[0] @ vecs[1]) < 0.99
    monkeypatch.setattr(embedding, "MODEL_SHA256", "0" * 64)
    embedding._verified_dir.cache_clear()
    try:
        with pytest.raises(BackendError, match="do not match the expected SHA-256"):
            embedding._verified_dir()
    finally:
        embedding._verified_dir.cache_clear()


# ------------------------------------------------------------------------------------------- LLM writer


class _Server:
    def __init__(self, answers, status=200, fail_first=0):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, dict(self.headers), body))
                if status != 200 or len(outer.requests) <= fail_first:
                    self.send_response(503 if status == 200 else status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                k = len(outer.requests) - 1 - fail_first
                content = answers[k] if k < len(answers) else answers[-1]
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
    answers = [json.dumps({"effects": f"effect {i}", "music": "soft piano" if i == 2 else None,
                           "ambience": f"ambience {i}" if i != 2 else ""}) for i in range(4)]
    answers[3] = "```json\n" + answers[3] + "\n```"
    server = _Server(answers, fail_first=1)  # the first request gets a 503: retried
    monkeypatch.setenv("TEST_LLM_KEY", "sk-secret-123")
    try:
        p = build_prompts(story, writer=LLMPromptWriter(server.url, "tiny", api_key_env="TEST_LLM_KEY", backoff_s=0.01))
    finally:
        server.close()
    assert len(server.requests) == 5  # one per shot (+ the retry), reused for the scene ambience
    path, headers, body = server.requests[-1]
    assert path == "/v1/chat/completions" and body["model"] == "tiny"
    assert headers["Authorization"] == "Bearer sk-secret-123"
    assert [s.effects for s in p.shots] == ["effect 0", "effect 1", "effect 2", "effect 3"]
    assert [s.music for s in p.shots] == [None, None, "soft piano", None]
    assert p.ambience == {"home": "ambience 0", "sky": "ambience 3"} and p.writer == "llm:tiny"
    assert p.shots[2].ambience_scene is None  # the server said the title card is no place
    # dialogue is never the server's: the story's lines, else the caption's quotes
    assert p.shots[0].sources["dialogue"] == ["story dialogue"]
    assert p.shots[3].dialogue == [{"character": "Ken", "text": "Look, a shooting star!", "language": "en"}]
    assert "sk-secret" not in json.dumps(p.to_dict()) and "sk-secret" not in caplog.text


def test_llm_writer_errors(story, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = _Server([], status=500)
    try:
        with pytest.raises(BackendError, match=r"shots\[0\].*2 attempt"):
            build_prompts(story, writer=LLMPromptWriter(server.url, "tiny", max_retries=1, backoff_s=0.01))
    finally:
        server.close()
    assert len(server.requests) == 2
    server = _Server([], status=400)
    try:
        with pytest.raises(BackendError, match="HTTP 400"):
            build_prompts(story, writer=LLMPromptWriter(server.url, "tiny", backoff_s=0.01))
    finally:
        server.close()
    assert len(server.requests) == 1  # a client error is not retried
    server = _Server(["not json"])
    try:
        with pytest.raises(BackendError, match="not a JSON object"):
            build_prompts(story, writer=LLMPromptWriter(server.url, "tiny"))
    finally:
        server.close()
    with pytest.raises(InputError, match="base_url"):
        LLMPromptWriter("ftp://x", "m")
    with pytest.raises(InputError, match="max_retries"):
        LLMPromptWriter("http://x", "m", max_retries=-1)


def test_prompts_cli_one_video_needs_times(demo, tmp_path, capsys):
    """`avshooter prompts` with one long video: a story without times cannot cut it (one line, exit 1)."""
    import json

    from avshooter.cli import main

    story = json.loads(demo["story"].read_text())
    for shot in story["shots"]:
        shot.pop("start time", None), shot.pop("end time", None)
        for key in ("start_s", "end_s"):
            shot.get("avshooter", {}).pop(key, None)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(story))
    rc = main(["prompts", "--story", str(path), "--videos", str(demo["video"]), "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "needs \"start time\"/\"end time\"" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "p.json").exists()
    assert main(["prompts", "--story", str(path), "--videos", str(demo["shots"]), "--out", str(tmp_path / "p.json")]) == 0
