"""No speech silently lost (transcription/coverage.py): where the words leave speech uncovered, and what
becomes of it, on hand-made timelines and on real recognition of a long scripted dialogue."""

from __future__ import annotations

import pytest

from speechfixtures.dialogue import mono_dialogue
from speechfixtures.long_script import long_script
from speechfixtures.recorded import JFK_TEXT
from speechfixtures.scoring import deletions
from tests.transcription.conftest import ffmpeg
from transcription.coverage import (
    WINDOW,
    fitted,
    recover,
    restretched,
    speech_regions,
    stretched,
    uncovered,
    windows,
    without_loops,
)
from transcription.engines import load_engine
from transcription.formats import FORMATS
from transcription.media import load_audio
from transcription.transcript import Segment, Transcript, Word


def said(start: float, end: float, *words: str) -> Segment:
    step = (end - start) / len(words)
    timed = [Word(start + i * step, start + (i + 1) * step, word) for i, word in enumerate(words)]
    return Segment(start, end, " ".join(words), timed)


def test_speech_that_no_word_covers_is_found_and_the_slack_of_word_timings_is_not():
    speech = [(0.0, 10.0), (12.0, 14.0), (20.0, 20.8)]
    segments = [said(0.5, 4.0, "how", "are", "you"), said(4.8, 9.0, "not", "great")]
    gaps = uncovered(speech, segments)
    # Slack before the first word (0.5 s), between the segments (0.8 s, less the 0.3 s margins) and after the
    # last (1 s, less its margin) is not a gap; the second stretch, with no word at all, is; the third is too
    # short to be one.
    assert gaps == [(12.0, 14.0)]
    assert uncovered([(0.0, 3.0)], [said(0.2, 2.9, "all", "of", "it")]) == []
    # A segment without word times covers its span, beside segments with them.
    assert uncovered(speech, [*segments, Segment(11.9, 14.1, "so", [])]) == []
    # A run of speech broken by a breath shorter than `join` counts as one stretch.
    assert len(uncovered([(0.0, 1.0), (1.2, 2.2)], [])) == 1


def test_speech_is_decoded_in_stretches_whisper_takes_whole():
    # Consecutive regions gather while first start to last end stays within the window, pauses kept.
    assert windows([(0.0, 5.0), (6.0, 20.0), (21.0, 28.0), (30.0, 40.0)]) == [(0.0, 28.0), (30.0, 40.0)]
    # A region longer than the window is cut into windows; what remains starts a stretch of its own.
    assert windows([(10.0, 10.0 + 2 * WINDOW + 3.0), (70.0, 72.0)]) == [
        (10.0, 10.0 + WINDOW), (10.0 + WINDOW, 10.0 + 2 * WINDOW), (10.0 + 2 * WINDOW, 72.0)]
    assert all(end - start <= WINDOW for start, end in windows([(0.0, 95.0), (96.0, 99.0)]))


def test_a_gap_that_yields_no_words_again_is_marked_inaudible_in_every_format():
    audio = load_audio_of_seconds(6)
    segments = [said(0.0, 2.0, "hello", "there")]
    recovered = recover(audio, segments, lambda regions: [[] for _ in regions], speech=[(0.0, 2.0), (3.0, 5.5)])
    assert [s.inaudible for s in recovered] == [False, True]
    marked = recovered[1]
    assert (marked.start, marked.end, marked.text, marked.words) == (3.0, 5.5, "[inaudible 0:03–0:05]", [])
    transcript = Transcript("en", "test", "test", 6.0, recovered)
    assert transcript.to_dict()["segments"][1]["inaudible"] is True
    assert Transcript.from_dict(transcript.to_dict()).segments[1].inaudible
    for name, write in FORMATS.items():
        assert "[inaudible 0:03–0:05]" in write(transcript), name


def test_what_the_second_recognition_still_leaves_uncovered_is_marked_inaudible():
    """A gap of 8 s whose second recognition yields words for its first 3 s only: the rest is marked."""
    audio = load_audio_of_seconds(12)
    recovered = recover(audio, [said(0.0, 2.0, "hello", "there")],
                        lambda regions: [[said(3.0, 6.0, "I", "was", "saying")] for _ in regions],
                        speech=[(0.0, 2.0), (3.0, 11.0)])
    assert [(s.start, s.end, s.inaudible) for s in recovered] == [
        (0.0, 2.0, False), (3.0, 6.0, False), (6.3, 11.0, True)]


def test_a_gap_the_decoder_skips_whole_is_recognised_again_region_by_region():
    """A gap of two turns that the decoder, given both at once, gives nothing for (the batched decoder skipped
    ten seconds of a 23-second clip and gave them in full alone, measured): each speech region is then
    recognised alone, and only what that leaves is inaudible."""
    audio = load_audio_of_seconds(16)
    asked = []

    def recognise(regions):
        asked.append(regions)
        return [[said(start + 0.5, end - 0.5, "words", "said", "here")] if end - start < 8 else []
                for start, end in regions]

    recovered = recover(audio, [said(0.0, 1.8, "hello", "there")], recognise,
                        speech=[(0.0, 2.0), (3.0, 8.0), (8.2, 14.0)])
    assert asked == [[(2.5, 14.5)], [(2.5, 8.5), (pytest.approx(7.7), 14.5)]]
    assert [(s.start, s.inaudible) for s in recovered] == [(0.0, False), (3.0, False), (8.2, False)]


def test_a_word_stretched_over_speech_is_recognised_again_and_replaced_only_by_more_words():
    """Whisper gave "do" 2.6 s of a sentence it dropped: no gap shows, as the word covers the speech. Its
    line and the lines either side are recognised again, and the new words replace the old only where they
    are more."""
    speech = [(0.0, 7.5), (7.5, 12.0), (13.0, 15.0)]
    question = said(7.8, 11.7, "what", "do", "you", "make", "of", "that")
    after = said(13.2, 14.8, "well", "I", "suppose")
    segments = [said(0.2, 2.4, "I", "felt", "invisible"), said(2.6, 7.2, "do"), question, after]
    assert uncovered(speech, segments) == []
    # From the line before to the line after, stopping short of the next line's words.
    assert stretched(speech, segments) == [(0.0, pytest.approx(12.0))]
    sentence = said(0.2, 7.2, "I", "felt", "invisible", "it", "keeps", "happening", "what", "to", "do")
    found = restretched(segments, speech, lambda regions: [[sentence, question] for _ in regions])
    assert found == [sentence, question, after]
    # Recognised the same again (a slow speaker's long word), or with fewer words: nothing changes.
    assert restretched(segments, speech, lambda regions: [segments[:3]]) == segments
    assert restretched(segments, speech, lambda regions: [[said(0.2, 7.2, "I", "felt", "do"), question]]) == segments
    # Words longer than a word takes over silence are the ordinary slack of timings, not a stretch.
    assert stretched([(0.0, 3.0), (6.5, 9.0)], [said(2.6, 6.8, "well")]) == []


def test_words_run_on_over_silence_end_where_the_speech_does():
    speech = [(0.0, 4.0), (6.0, 9.0)]
    run_on = Segment(1.0, 5.9, "project documents link", [
        Word(1.0, 2.0, "project"), Word(2.0, 3.0, "documents"), Word(3.2, 5.9, "link")])
    early = Segment(5.0, 7.0, "right", [Word(5.0, 7.0, "right")])
    lost = Segment(4.5, 5.5, "hm", [Word(4.5, 5.5, "hm")])
    found = fitted([run_on, early, lost], speech)
    assert [(s.start, s.end) for s in found] == [(1.0, 4.0), (6.0, 7.0), (4.5, 5.5)]
    assert [(w.start, w.end) for w in found[0].words] == [(1.0, 2.0), (2.0, 3.0), (3.2, 4.0)]
    assert found[0].text == run_on.text
    # A word across two regions keeps the pause between them; a word inside its region is left as it is.
    across = [Segment(3.0, 7.0, "well", [Word(3.0, 7.0, "well")])]
    assert fitted(across, speech) == across


def load_audio_of_seconds(seconds: float):
    import numpy as np

    return np.zeros(int(seconds * 16000), dtype=np.float32)


@pytest.fixture(scope="module")
def long_dialogue(tmp_path_factory):
    """A minute and a half of a scripted therapy dialogue, long patient turns and short questions, as in
    the 2:39 dialogue in which the sequential path dropped a whole answer (bench/transcribe.py measures two
    of two and a half minutes)."""
    path = tmp_path_factory.mktemp("coverage") / "dialogue.wav"
    lines = mono_dialogue(path, long_script(90, seed=11))
    return path, " ".join(line.text for line in lines)


@pytest.fixture(scope="module")
def engine():
    return load_engine("faster-whisper", device="cpu")


@pytest.fixture(scope="module")
def transcribed(engine, long_dialogue):
    return engine.transcribe(long_dialogue[0])


@pytest.mark.slow
def test_a_long_dialogue_keeps_every_turn(long_dialogue, transcribed):
    """The default decoding (batched, then the coverage pass) on the dialogue: at most 2% of its words
    missing, and never more than 5 in a row (the issue's targets)."""
    _, reference = long_dialogue
    text = " ".join(s.text for s in transcribed.segments if not s.inaudible)
    missing, longest = deletions(reference, text)
    assert missing <= 0.02 and longest <= 5, (missing, longest)


@pytest.mark.slow
def test_a_dropped_turn_is_recognised_again_in_its_place(long_dialogue, engine, transcribed):
    """The transcript with a whole patient answer taken out, as Whisper drops one: the gap is found where
    the answer was said, and its words come back there, recognised alone."""
    path, reference = long_dialogue
    first = transcribed.segments
    dropped = max(first[1:-1], key=lambda s: len(s.words))
    assert len(dropped.words) >= 8
    kept = [s for s in first if s is not dropped]
    audio = load_audio(path)
    recovered = recover(audio, kept, lambda regions: engine.recognise_regions(audio, regions, "en"))
    again = [s for s in recovered if s not in kept]
    assert again and not any(s.inaudible for s in again)
    assert all(dropped.start - 1.0 <= s.start and s.end <= dropped.end + 1.0 for s in again)
    before, after = deletions(reference, " ".join(s.text for s in kept)), deletions(
        reference, " ".join(s.text for s in recovered))
    assert before[1] >= 8 and after[0] <= 0.02 and after[1] <= 3, (before, after)


@pytest.mark.slow
def test_a_gap_longer_than_whisper_decodes_at_once_comes_back_whole(long_dialogue, engine, transcribed):
    """Forty seconds of the dialogue taken out of the transcript: the gap is recognised again window by
    window, so its last ten seconds come back too (Whisper decodes at most 30 s of a clip)."""
    path, reference = long_dialogue
    cut_from, cut_to = 20.0, 60.0
    kept = [s for s in transcribed.segments if s.end <= cut_from or s.start >= cut_to]
    lost = [w for s in transcribed.segments if s not in kept for w in s.words]
    audio = load_audio(path)
    recovered = recover(audio, kept, lambda regions: engine.recognise_regions(audio, regions, "en"))
    again = [w for s in recovered if s not in kept for w in s.words]
    assert not any(s.inaudible for s in recovered)
    assert max(w.end for w in again) >= max(w.end for w in lost) - 2.0
    assert len(again) >= 0.9 * len(lost), (len(again), len(lost))


@pytest.mark.slow
def test_a_sentence_hidden_under_a_stretched_word_comes_back(long_dialogue, engine, transcribed):
    """A patient answer of the dialogue as Whisper was seen to give one: its first word stretched over the
    whole answer, the rest dropped. No gap shows; the answer's words come back all the same."""
    path, reference = long_dialogue
    first = transcribed.segments
    hidden = max(first[1:-1], key=lambda s: len(s.words))
    assert len(hidden.words) >= 8
    stretched_over = Segment(hidden.start, hidden.end, hidden.words[0].word,
                             [Word(hidden.start, hidden.end, hidden.words[0].word)])
    kept = [stretched_over if s is hidden else s for s in first]
    audio = load_audio(path)
    assert not [gap for gap in uncovered(speech_regions(audio), kept) if gap[0] < hidden.end and gap[1] > hidden.start]
    recovered = recover(audio, kept, lambda regions: engine.recognise_regions(audio, regions, "en"))
    before, after = deletions(reference, " ".join(s.text for s in kept)), deletions(
        reference, " ".join(s.text for s in recovered))
    assert before[1] >= 7 and after[0] <= 0.02 and after[1] <= 3, (before, after)


def test_a_decoding_loop_is_cut_back_and_what_it_hid_is_recognised_afresh(jfk, engine):
    """JFK's sentence as Whisper gives it, but with its second half replaced by the first phrase going round
    in circles, as a looping decoder writes it: the loop goes, and the words said there come back."""
    words = [w for s in engine.transcribe(jfk).segments for w in s.words]
    half = len(words) // 2
    looped_from = words[half].start
    step = (words[-1].end - looped_from) / 12
    loop = [Word(looped_from + i * step, looped_from + (i + 1) * step, ("ask", "not")[i % 2]) for i in range(12)]
    looped = [Segment(words[0].start, words[-1].end, "", words[:half] + loop)]
    assert [w.word for w in without_loops(looped)[0].words] == [w.word for w in words[:half]] + ["ask", "not"]
    audio = load_audio(jfk)
    repaired = recover(audio, without_loops(looped), lambda regions: engine.recognise_regions(audio, regions, "en"))
    text = " ".join(s.text for s in repaired)
    assert deletions(JFK_TEXT, text)[0] <= 0.1, text
    # People do repeat themselves: a phrase said twice or three times, a word three times, stay.
    said_again = [said(0, 6, "no", "no", "no", "I", "mean", "I", "mean", "I", "mean", "it")]
    assert without_loops(said_again) == said_again


@pytest.mark.slow
def test_nothing_is_invented_over_noise_or_music_between_turns(jfk, book_reading, engine, tmp_path):
    """JFK, four seconds of pink noise and four of a held tone, then a book reading: the transcript has
    words in both turns and none in between (a line marked inaudible there would send the rater to listen,
    which is allowed; invented words are not)."""
    reading, _ = book_reading
    path = tmp_path / "between.wav"
    mono = "aresample=16000,aformat=channel_layouts=mono"
    ffmpeg("-i", str(jfk), "-f", "lavfi", "-t", "4", "-i", "anoisesrc=color=pink:amplitude=0.3", "-f", "lavfi",
           "-t", "4", "-i", "sine=frequency=440:sample_rate=16000", "-i", str(reading), "-filter_complex",
           f"[0:a]{mono}[a];[1:a]{mono}[b];[2:a]{mono}[c];[3:a]{mono}[d];[a][b][c][d]concat=n=4:v=0:a=1", str(path))
    noise_from = 11.0
    words = [w for s in engine.transcribe(path).segments for w in s.words]
    assert any(w.end < noise_from for w in words) and any(w.start > noise_from + 8 for w in words)
    invented = [w.word for w in words if noise_from + 0.5 < (w.start + w.end) / 2 < noise_from + 7.5]
    assert invented == []
