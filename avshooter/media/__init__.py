"""Media: the one layer that opens, probes and decodes files (PyAV).

- :mod:`.probe`: open a file with our errors, :class:`~.probe.MediaInfo` (streams, video rate/size/codec;
  cover art is never the video), the frame-rate rule;
- :mod:`.decode`: the audio decoded once to a raw file read by span (:class:`~.decode.DecodedAudio`),
  :func:`~.decode.load_audio`;
- :mod:`.frames`: pictures (RGB at given times, grey frames over a time range);
- :mod:`.cuts`: the hard-cut detector on grey frames, and the one pass that decodes audio and finds cuts;
- :mod:`.visual_events`: impacts, cuts and motion bursts of a shot;
- :mod:`.mux`: shot videos + a soundtrack -> mp4 (video stream-copied when possible);
- :mod:`.encode`: arrays to transport bytes (a shot's audio as WAV, a picture as JPEG or PNG).
"""
