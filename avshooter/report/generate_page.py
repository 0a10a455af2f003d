"""The report page of one ``avshooter generate`` output (its ``generate.json`` and ``prompts.json``).

Shows a strip of one frame per shot (from the muxed shot videos), the prompts of every layer per shot and
where each layer came from, the bank's sound events placed in the soundtrack (class, bank file, stem,
span, score, where placed) and the named sounds the bank lacked, the visual events with the placed sound
events and the effect onsets before and after sync on one time axis, the mix's loudness over time (and of each stem), spectrograms and players of the soundtrack and stems.

Not in ``generate.json``, so measured here: effect onset times (on ``stems/effects.flac``; "before sync"
= after minus the shot's applied shift). Both forms of ``generate.json`` are read: per-shot ``"layers"``
(prompt, backend, source, status of every layer) and the older per-shot ``"effects"`` + ``prompts.json``
(where the ambience and music sources were not recorded; the page says so).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import AvshooterError, InputError
from ..io.output import atomic_write_text, ensure_dir
from . import images
from .annotate_page import _frames_at
from .html import audio, esc, fmt, img, link, page, rel, table

__all__ = ["MISSING_ONSETS", "MISSING_SOURCES", "read_generate", "write_generate_page"]

MISSING_ONSETS = "effect onset times (measured here on stems/effects.flac; generate.json keeps only their count)"
MISSING_SOURCES = "the source of the ambience and music layers (this older generate.json records only the effects source)"


def read_generate(folder: str | Path) -> tuple[dict, dict | None]:
    """``(generate.json, prompts.json or None)`` of a generate output folder."""
    folder = Path(folder)
    try:
        report = json.loads((folder / "generate.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{folder}: no generate.json (give the --out folder of 'avshooter generate')") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder / 'generate.json'}: cannot read ({type(exc).__name__})") from None
    if not isinstance(report, dict) or not isinstance(report.get("shots"), list) or "sample_rate" not in report:
        raise InputError(f"{folder / 'generate.json'}: not a generate report (no 'shots' or 'sample_rate')")
    prompts_name = report.get("prompts") or "prompts.json"
    try:
        prompts = json.loads((folder / prompts_name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        prompts = None
    return report, prompts


def _read(path: Path):
    import soundfile as sf

    wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return wav.T, sr


def _strip(folder: Path, report: dict, out: Path, dest: Path) -> str:
    shots = (report.get("outputs") or {}).get("shots") or []
    cells = []
    for i, name in enumerate(shots):
        path = folder / name
        try:
            frame = _frames_at()(path, [0.5 * (report["shots"][i]["end_s"] - report["shots"][i]["start_s"])], max_side=320)
        except (AvshooterError, IndexError, KeyError):
            continue
        if frame:
            png = out / f"frame_{i:04d}.png"
            images.frame_png(frame[0], png)
            cells.append(f"<figure>{img(rel(png, dest), f'shot {i} frame')}<figcaption>{link(rel(path, dest), f'shot {i}')}"
                         "</figcaption></figure>")
    return f'<div class="strip">{"".join(cells)}</div>' if cells else '<p class="muted">no shot videos found</p>'


def _layer_rows(i: int, layers: dict) -> list[list[str]]:
    """Rows of a shot whose generate.json entry has per-layer records (prompt, backend, source, status)."""
    rows = []
    for name, layer in layers.items():
        if not isinstance(layer, dict):
            continue
        prompt = layer.get("prompt")
        prompt = "; ".join(map(str, prompt)) if isinstance(prompt, list) else prompt
        backend = layer.get("backend")
        backend = ", ".join(sorted(set(map(str, backend)))) if isinstance(backend, list) else backend
        src = [f"{esc(backend)}" if backend else "", f"from {esc(layer['source'])}" if layer.get("source") else "",
               f"score {fmt(layer.get('score'), 2)}" if layer.get("score") is not None else "",
               f"seed {esc(layer.get('seed'))}" if layer.get("seed") is not None else "",
               f"scene {esc(layer['scene'])}" if layer.get("scene") else ""]
        status = esc(layer.get("status") or "")
        if layer.get("reason"):
            status += f' <span class="muted">({esc(layer["reason"])})</span>'
        rows.append([str(i), esc(name), esc(prompt or "\u2014"), ", ".join(x for x in src if x), status])
    return rows


def _layers_table(report: dict, prompts: dict | None) -> tuple[str, bool]:
    """The prompts and sources of every layer per shot; also whether generate.json held the sources."""
    tta = (report.get("provenance") or {}).get("tta") or {}
    config = (report.get("provenance") or {}).get("config") or {}
    pshots = (prompts or {}).get("shots") or []
    ambience = (prompts or {}).get("ambience") or {}
    rows, recorded = [], True
    for i, shot in enumerate(report["shots"]):
        p = pshots[i] if i < len(pshots) else {}
        if isinstance(shot.get("layers"), dict):
            rows += _layer_rows(i, shot["layers"])
            continue
        recorded = False  # an older generate.json: only the effects layer says where it came from
        eff = shot.get("effects") or {}
        src = f"{esc(tta.get('name', '?'))}" + (f", from {esc(eff['source'])}" if eff.get("source") else "") + \
            (f", score {fmt(eff.get('score'), 2)}" if eff.get("score") is not None else "") + \
            (f", seed {esc(eff.get('seed'))}" if eff.get("seed") is not None else "")
        rows.append([str(i), "effects", esc(eff.get("prompt") or p.get("effects")), src, ""])
        scene = p.get("ambience_scene")
        if scene is not None:
            rows.append([str(i), "ambience", esc(ambience.get(scene)),
                         f"{esc(tta.get('name', '?'))}, scene {esc(scene)} <span class=muted>(source not recorded)</span>", ""])
        if p.get("music"):
            rows.append([str(i), "music", esc(p.get("music")),
                         f"{esc(tta.get('name', '?'))} <span class=muted>(source not recorded)</span>", ""])
        for line in p.get("dialogue") or []:
            text = line.get("text") if isinstance(line, dict) else line
            who = line.get("character", "") if isinstance(line, dict) else ""
            ja = isinstance(line, dict) and line.get("language") == "ja"
            rows.append([str(i), "dialogue", esc(f"{who}: {text}" if who else text),
                         f"TTS {esc(config.get('tts_ja') if ja else config.get('tts'))}", ""])
    return table(["shot", "layer", "prompt", "source", "status"], rows), recorded


def _placed_events(report: dict) -> list[tuple[int, str, dict, float]]:
    """Every bank sound event placed in the soundtrack (retrieval of sound events, issue 17):
    ``[(shot, layer, event record, story time of its placement)]``. Effects move with their shot's sync
    shift; an ambience bed starts where its scene's bed starts."""
    out = []
    for i, shot in enumerate(report["shots"]):
        shift = float((shot.get("sync") or {}).get("shift_s") or 0.0)
        for name, layer in (shot.get("layers") or {}).items():
            source = layer.get("source") if isinstance(layer, dict) else None
            events = source.get("events") if isinstance(source, dict) else None
            for event in events or []:
                at = shot["start_s"] + float(event.get("placed_s") or 0.0) + (shift if name == "effects" else 0.0)
                out.append((i, name, event, at))
    return out


def _events_html(report: dict) -> str:
    """The table of placed sound events and of the named sounds the bank lacked."""
    rows = []
    for i, name, e, at in _placed_events(report):
        span = f"{fmt(e.get('start_s'), 2)}–{fmt(e.get('end_s'), 2)} s"
        rows.append([str(i), esc(name), esc(f"{e.get('words')} → {e.get('class')}"),
                     esc(f"{e.get('bank_class')} ({e.get('match')})"), esc(e.get("file")), esc(e.get("stem")), span,
                     fmt(e.get("score"), 2), fmt(e.get("lufs"), 1), fmt(at, 3), esc(e.get("placement"))])
    missing = []
    for i, shot in enumerate(report["shots"]):
        for name, layer in (shot.get("layers") or {}).items():
            if not isinstance(layer, dict):
                continue
            lacked = list(((layer.get("source") or {}).get("missing") or []) if isinstance(layer.get("source"), dict) else [])
            reason = layer.get("reason") or ""
            if reason.startswith("missing in the bank: "):
                lacked += reason[len("missing in the bank: "):].split(", ")
            if lacked:
                missing.append(f"shot {i} {esc(name)}: {esc(', '.join(dict.fromkeys(lacked)))}")
    if not rows and not missing:
        return '<p class="muted">no sound events placed (not retrieval of sound events, or a shot-level match)</p>'
    html = table(["shot", "layer", "named sound → class", "bank class (match)", "bank file", "stem", "span",
                  "score", "LUFS", "placed at (s)", "placement"], rows) if rows else ""
    if missing:
        html += "<p>missing in the bank:</p><ul>" + "".join(f"<li>{m}</li>" for m in missing) + "</ul>"
    return html


def _sync(folder: Path, report: dict, out: Path, dest: Path) -> tuple[str, list[float]]:
    from ..generation.sync import audio_onsets

    sr = report["sample_rate"]
    bounds = [s["start_s"] for s in report["shots"]][1:]
    events, before, after = [], [], []
    eff_path = folder / ((report.get("outputs") or {}).get("stems") or {}).get("effects", "stems/effects.flac")
    wav = _read(eff_path)[0] if eff_path.is_file() else None
    rows = []
    for i, shot in enumerate(report["shots"]):
        sync = shot.get("sync") or {}  # None: the shot has no effects layer
        t0 = shot["start_s"]
        ev = [t0 + e["time_s"] for e in sync.get("visual_events") or []]
        events += ev
        shift = float(sync.get("shift_s") or 0.0)
        if wav is not None:
            on = [t0 + t for t in audio_onsets(wav[:, shot["start_sample"]:shot["end_sample"]], sr)]
            after += on
            before += [t - shift for t in on]
        evidence = sync.get("evidence") or {}  # older generate.json: no evidence recorded
        verdict = "" if not evidence else "abstained" if evidence.get("abstained") else "decided"
        rows.append([str(i), str(len(ev)), fmt(sync.get("shift_s"), 4), fmt(evidence.get("score"), 3),
                     fmt(evidence.get("margin"), 3), fmt(evidence.get("p_peak"), 3), fmt(evidence.get("p_zero"), 3),
                     verdict, fmt(sync.get("offset_before_s"), 4), fmt(sync.get("offset_after_s"), 4),
                     esc(sync.get("matched")), esc(sync.get("note") or "")])
    png = out / "sync.png"
    placed = [at for _, name, _, at in _placed_events(report) if name == "effects"]
    series = {"visual events": events, "effect onsets before sync": before, "effect onsets after sync": after}
    if placed:
        series["bank sound events placed"] = placed
    images.timeline_png(series, png, duration_s=report["duration_s"], bounds=bounds,
                        title="visual events, placed sound events and effect onsets (story time)")
    html = (img(rel(png, dest), "visual events and effect onsets before and after sync") +
            table(["shot", "events", "shift (s)", "score", "margin", "p (peak)", "p (vs no shift)", "estimator",
                   "offset before (s)", "offset after (s)", "matched", "note"], rows) +
            '<p class="muted">Onsets are measured on stems/effects.flac (generate.json keeps only their count); '
            'before sync = after minus the shift applied to the shot. Evidence of the whole-shot offset '
            'estimator (generation/offset.py): score = cross-correlation of the effects\' onset strength with '
            'the shot\'s cuts and landings at the best shift, margin = over the runner-up peak, p-values of '
            'the peak (against the picture\'s frames permuted) and of the shift against no shift; it '
            'abstains (no shift) unless both are significant.</p>')
    return html, bounds


def _loudness(folder: Path, report: dict, out: Path, dest: Path, bounds: list[float]) -> str:
    outputs = report.get("outputs") or {}
    mix = report.get("mix") or {}
    curves = {}
    track = folder / outputs.get("soundtrack", "soundtrack.flac")
    players = []
    for name, path in [("mix", track), *((k, folder / v) for k, v in (outputs.get("stems") or {}).items())]:
        if not path.is_file():
            continue
        wav, sr = _read(path)
        t, v = images.short_term_loudness(wav, sr)
        curves[f"{name} (3 s)" if name != "mix" else "mix short-term (3 s)"] = (t, v)
        if name == "mix":
            curves["mix momentary (0.4 s)"] = images.short_term_loudness(wav, sr, window_s=0.4)
        png = out / f"spec_{name}.png"
        images.spectrogram_png(wav, sr, png, title=name, marks=bounds, width_in=9.0)
        players.append(f'<div class="stem"><b style="width:6em">{esc(name)}</b>'
                       f'{img(rel(png, dest), f"spectrogram of the {name}")}{audio(rel(path, dest))}</div>')
    png = out / "loudness.png"
    images.loudness_png(curves, png, target_lufs=mix.get("target_lufs"), bounds=bounds,
                        title="loudness over time (BS.1770, ungated windows)")
    layers = [[esc(k), fmt(v.get("gain_db"), 2), fmt(v.get("lufs_before"), 1), fmt(v.get("lufs_after"), 1), esc(v.get("note") or "")]
              for k, v in (mix.get("layers") or {}).items()]
    summary = (f"<p>integrated {fmt(mix.get('integrated_lufs'), 1)} LUFS (target {fmt(mix.get('target_lufs'), 1)}), "
               f"true peak {fmt(mix.get('true_peak_dbtp'), 1)} dBTP (max {fmt(mix.get('max_true_peak_dbtp'), 1)}), "
               f"limiter {fmt(mix.get('limiter_gain_reduction_db'), 2)} dB, ducking {fmt(mix.get('ducking_db'), 1)} dB</p>")
    return (summary + img(rel(png, dest), "mix loudness over time")
            + table(["layer", "gain dB", "LUFS before", "LUFS after", "note"], layers)
            + "<h2>spectrograms and audio</h2>" + "".join(players))


def write_generate_page(folder: str | Path, dest: str | Path) -> tuple[Path, dict]:
    """Write ``dest/generate.html`` (+ images in ``dest/generate/``); return the page and a summary."""
    folder, dest = Path(folder), Path(dest)
    report, prompts = read_generate(folder)
    out = ensure_dir(dest / "generate")
    page_path = dest / "generate.html"
    outputs = report.get("outputs") or {}
    mux = (report.get("mux") or {}).get("story") or {}
    story_mp4 = folder / outputs.get("story_mp4", "story.mp4")
    head = (f"<h1>generate: {esc(report.get('story'))}</h1>"
            f"<p>{len(report['shots'])} shots · {fmt(report.get('duration_s'), 3)} s · {esc(report.get('sample_rate'))} Hz · "
            f"{link(rel(story_mp4, dest), 'story.mp4')} (video {esc(mux.get('video'))}: {esc(mux.get('reason'))})</p>"
            f'<p><a href="index.html">index</a></p>')
    sync_html, bounds = _sync(folder, report, out, dest)
    layers_html, recorded = _layers_table(report, prompts)
    missing = [MISSING_ONSETS] + ([] if recorded else [MISSING_SOURCES])
    body = (head + "<h2>shots</h2>" + _strip(folder, report, out, dest)
            + "<h2>prompts and sources per layer</h2>" + layers_html
            + "<h2>sound events from the bank</h2>" + _events_html(report)
            + "<h2>sync</h2>" + sync_html + "<h2>mix loudness</h2>" + _loudness(folder, report, out, dest, bounds)
            + "<h2>not in generate.json</h2><ul>" + "".join(f"<li>{esc(m)}</li>" for m in missing) + "</ul>")
    atomic_write_text(page_path, page("avshooter report: generate", body))
    mix = report.get("mix") or {}
    return page_path, {"name": "generate", "shots": len(report["shots"]), "duration_s": report.get("duration_s"),
                       "integrated_lufs": mix.get("integrated_lufs"), "true_peak_dbtp": mix.get("true_peak_dbtp")}
