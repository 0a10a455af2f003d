"""One video's shots on several threads: same output as one thread, in order, errors as they were."""
from __future__ import annotations

import json
import os
import sys
import threading
import time

import pytest

from avshooter.annotation.transcript_feed import TranscriptFeed
from avshooter.engine import ordered_threads, yield_cpu


def test_ordered_threads_keeps_order_and_runs_side_by_side():
    running, most = [0], [0]
    lock = threading.Lock()

    def work(i):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02 * (5 - i % 5))  # later items finish first
        with lock:
            running[0] -= 1
        return i * i

    assert list(ordered_threads(work, list(range(12)), threads=3)) == [i * i for i in range(12)]
    assert most[0] >= 2


def test_ordered_threads_raises_the_first_error_and_starts_nothing_after():
    started = []

    def work(i):
        started.append(i)
        if i == 2:
            raise ValueError("shot 2 is bad")
        time.sleep(0.01)
        return i

    out = []
    with pytest.raises(ValueError, match="shot 2 is bad"):
        for value in ordered_threads(work, list(range(50)), threads=2):
            out.append(value)
    assert out == [0, 1]
    assert max(started) <= 2 + 2  # at most threads + 1 in flight when the error surfaced


def test_ordered_threads_closed_early_cancels_the_rest():
    started = []

    def work(i):
        started.append(i)
        return i

    gen = ordered_threads(work, list(range(100)), threads=2)
    assert next(gen) == 0
    gen.close()
    time.sleep(0.05)
    assert len(started) <= 4


def test_transcript_feed_waits_for_the_windows_it_needs():
    gate = [threading.Event() for _ in range(3)]

    def windows():
        for k, complete in enumerate((10.0, 20.0, float("inf"))):
            gate[k].wait(5)
            yield complete, {"text": f"window {k}"}

    feed = TranscriptFeed.background(windows)
    got = []
    reader = threading.Thread(target=lambda: got.append(feed.upto(15.0)))
    reader.start()
    gate[0].set()
    reader.join(0.2)
    assert reader.is_alive()  # complete before 10 s only: a shot ending at 15 s still waits
    gate[1].set()
    reader.join(5)
    assert got == [{"text": "window 1"}]
    gate[2].set()
    assert feed.result() == {"text": "window 2"}


def test_transcript_feed_hands_the_asr_error_to_the_shots():
    from avshooter.errors import BackendError

    def windows():
        yield 5.0, {"text": "a"}
        raise BackendError("faster-whisper failed on model 'x': boom")

    feed = TranscriptFeed.background(windows)
    with pytest.raises(BackendError, match="boom"):
        feed.upto(7.0)
    assert TranscriptFeed.whole({"text": "b"}).upto(1e9) == {"text": "b"}


def _comparable(story: dict) -> str:
    """The story without what differs between runs by design (elapsed time, the thread setting)."""
    story = json.loads(json.dumps(story))
    story["avshooter"].pop("elapsed_s")
    for holder in [story["avshooter"], *(s["avshooter"] for s in story["shots"])]:
        holder["provenance"]["params"].pop("shot_threads")
    return json.dumps(story, sort_keys=True)


def test_threads_do_not_change_the_output(media, tmp_path, monkeypatch):
    """Default config on 36 s of speech, music, speech (two ASR windows, the second fed to the shots on a
    side thread while they run), 1 vs 2 threads: the same story."""
    import numpy as np
    import soundfile as sf

    import avshooter
    from avshooter.backends import faster_whisper_asr
    from avshooter.config import AnnotateConfig
    from avshooter.media.decode import load_audio

    parts = [load_audio(media / "audio" / name, sample_rate=16000)[0][0] for name in
             ("libri1_5703-47212-0000.hq.ogg", "vibeace_kevin_macleod.ogg", "libri2_3436-172162-0000.hq.ogg")]
    wav = np.concatenate([parts[0], 0.3 * parts[1][20 * 16000: 24 * 16000], parts[2]])
    video = tmp_path / "speech music speech.wav"
    sf.write(video, wav, 16000)
    windows = []
    real = faster_whisper_asr.FasterWhisperASR._run_window
    monkeypatch.setattr(faster_whisper_asr.FasterWhisperASR, "_run_window",
                        lambda self, audio, group: windows.append(group) or real(self, audio, group))
    one = avshooter.annotate(video, out_dir=tmp_path / "one", config=AnnotateConfig(shot_threads=1))
    assert len(windows) >= 2
    two = avshooter.annotate(video, out_dir=tmp_path / "two", config=AnnotateConfig(shot_threads=2))
    assert len(one["shots"]) >= 3 and sum(bool(s["avshooter"]["transcript"]) for s in one["shots"]) >= 2
    assert _comparable(one) == _comparable(two)


def test_per_shot_asr_on_threads_gives_the_same_words(media, tmp_path):
    """``asr_input: dialogue`` transcribes every shot on the shot threads, sharing one model."""
    import avshooter
    from avshooter.config import AnnotateConfig

    video = media / "audio" / "libri2_3436-172162-0000.hq.ogg"
    runs = [avshooter.annotate(video, out_dir=tmp_path / str(n),
                               config=AnnotateConfig(shot_threads=n, asr_input="dialogue", max_shot_s=5.0))
            for n in (1, 2)]
    assert sum(bool(s["avshooter"]["transcript"]) for s in runs[0]["shots"]) >= 3
    assert _comparable(runs[0]) == _comparable(runs[1])


def test_detected_shots_picture_pass_beside_the_asr(demo, tmp_path, monkeypatch):
    """Without a story the picture is decoded for its cuts while the ASR thread transcribes (one decoder
    thread then); 1 vs 2 shot threads give the same cuts and the same story."""
    import avshooter
    import avshooter.media.cuts as cuts_module
    from avshooter.config import AnnotateConfig

    decoder_threads = []
    real = cuts_module.video_cuts
    monkeypatch.setattr(cuts_module, "video_cuts",
                        lambda *a, **k: decoder_threads.append(k.get("threads")) or real(*a, **k))
    one = avshooter.annotate(demo["video"], out_dir=tmp_path / "one", config=AnnotateConfig(shot_threads=1))
    two = avshooter.annotate(demo["video"], out_dir=tmp_path / "two", config=AnnotateConfig(shot_threads=2))
    assert decoder_threads == [0, 1]  # the ASR runs on a side thread only with several shot threads
    assert one["avshooter"]["detection"]["video_cuts_s"] == [5.0, 9.5, 14.0]
    assert _comparable(one) == _comparable(two)


def test_one_blas_thread_while_the_captions_are_embedded(demo, tmp_path, monkeypatch):
    """With several threads the caption embedding runs on one BLAS thread (two OpenBLAS threads beside the
    decoder, the VAD and the ASR spin: ~6x its CPU on busy cores), and the embeddings are the same."""
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    import avshooter
    import avshooter.annotation.context as context
    from avshooter.config import AnnotateConfig
    from avshooter.embedding import load_text_model

    blas_at_prime = []
    real_prime = context.prime

    def prime(texts):
        blas_at_prime.append(max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"))
        return real_prime(texts)

    monkeypatch.setattr(context, "prime", prime)
    with threadpool_limits(limits=2, user_api="blas"):  # the tests' own default is one thread
        story = avshooter.annotate(demo["video"], out_dir=tmp_path / "two", story=demo["story"],
                                   config=AnnotateConfig(shot_threads=2))
        texts = [c for s in story["shots"] for c in context._clauses(
            f"{s['visual annotation']['caption']}. {s['visual annotation']['plot']}")]
        two = load_text_model("cpu").encode(texts)
    with threadpool_limits(limits=1, user_api="blas"):
        one = load_text_model("cpu").encode(texts)
    assert blas_at_prime == [1]
    assert len(texts) >= 4 and np.array_equal(one, two)  # GEMM splits rows, not sums: the same bits


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_yield_cpu_lowers_only_the_worker_threads_priority():
    """The shot threads behind the ASR run at a lower priority; the caller's thread (the ASR's models and
    threads are made there) keeps its own."""
    main_tid = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, main_tid)

    def nice_of(_):
        tid = threading.get_native_id()
        return tid, os.getpriority(os.PRIO_PROCESS, tid)

    seen = list(ordered_threads(nice_of, list(range(6)), threads=2, initializer=yield_cpu))
    assert {tid for tid, _ in seen}.isdisjoint({main_tid})
    assert all(nice == min(19, before + 10) for _, nice in seen)
    assert os.getpriority(os.PRIO_PROCESS, main_tid) == before
    # one thread: the caller's own thread runs the items, and it is left alone
    assert list(ordered_threads(nice_of, [0], threads=1, initializer=yield_cpu)) == [(main_tid, before)]
