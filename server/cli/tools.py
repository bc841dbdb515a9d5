"""`dit transcribe`, `dit agreement`, `dit classify`, `dit classifier` and `dit models`: the domain packages
from the command line, on files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.cli.service import with_database
from server.config import Settings


def cmd_transcribe(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from transcription import transcribe_file
    from transcription.formats import FORMATS
    from transcription.media import MediaError

    settings = Settings.from_env()
    with tqdm(total=100, unit="%", desc="Transcribing", file=sys.stderr, disable=args.quiet) as bar:

        def progress(fraction: float) -> None:
            bar.update(round(fraction * 100) - bar.n)

        try:
            transcript = transcribe_file(
                args.file,
                engine=args.engine or settings.engine,
                model=args.model or settings.model,
                progress=progress,
                models_dir=settings.models_dir,
            )
        except MediaError as exc:
            bar.close()
            print(f"{args.file}: {exc}", file=sys.stderr)
            return 2
        bar.update(100 - bar.n)
    if args.speakers:
        from transcription.quality import failures
        from transcription.roles import label_speakers

        labelling = label_speakers(args.file, transcript)
        transcript = labelling.transcript
        for gate in failures(labelling.gates):
            print(f"{args.file}: {gate.reason}", file=sys.stderr)
    output = FORMATS[args.format](transcript)
    if args.output:
        Path(args.output).write_text(output, encoding="utf-8")
    else:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
    return 0


def cmd_models_convert(args: argparse.Namespace) -> int:
    from transcription.convert import convert_ctranslate2_to_openai
    from transcription.engines import bundled_model_dir

    source = bundled_model_dir() if args.source == "bundled" else Path(args.source)
    out = Path(args.output) if args.output else Settings.from_env().prepare().models_dir / "tiny.en.pt"
    path = convert_ctranslate2_to_openai(source, out)
    print(f"Wrote openai-whisper checkpoint {path}")
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    import json

    from rating.agreement import agreement_report, read_ratings_csv

    try:
        ratings = read_ratings_csv(args.ratings)
        report = agreement_report(ratings, level=args.level, n_boot=args.bootstrap)
    except (ValueError, OSError) as exc:
        print(f"{args.ratings}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, allow_nan=False))
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    import json

    from rating.classifier import classify_command
    from server.services.suggestions import classifier_dir

    try:
        result = classify_command(Path(args.transcript), Path(args.ipaf), args.phase,
                                  classifier_dir(Settings.from_env().prepare()))
    except (OSError, ValueError, KeyError) as exc:
        print(f"dit classify: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


def _supervisor_examples():
    from server.services.suggestions import supervisor_examples

    return with_database(lambda: supervisor_examples(Settings.from_env().prepare()))


def cmd_classifier_train(args: argparse.Namespace) -> int:
    import json

    from rating.classifier import train_command
    from server.services.suggestions import classifier_dir

    examples = _supervisor_examples()
    print(json.dumps(train_command(classifier_dir(Settings.from_env().prepare()), examples), indent=2))
    return 0


def cmd_classifier_verdicts(args: argparse.Namespace) -> int:
    import getpass
    import json

    from server.services.suggestions import SuggestionModel, fill_verdicts

    settings = Settings.from_env().prepare()
    counts = with_database(lambda: fill_verdicts(SuggestionModel(settings), f"cli:{getpass.getuser()}"[:64],
                                                 again=args.again))
    print(json.dumps(counts))
    return 0


def cmd_classifier_evaluate(args: argparse.Namespace) -> int:
    from rating.classifier import evaluate_command

    print(evaluate_command(_supervisor_examples(), n_splits=args.folds))
    return 0


def add_commands(commands) -> None:
    from rating.measurement import LEVELS
    from rating.phases import Phase
    from transcription.engines import ENGINES
    from transcription.formats import FORMATS

    transcribe = commands.add_parser("transcribe", help="transcribe a recording from the command line")
    transcribe.add_argument("file")
    transcribe.add_argument("--engine", choices=ENGINES)
    transcribe.add_argument("--model", help="a model name, a CTranslate2 directory or an openai-whisper checkpoint")
    transcribe.add_argument("--format", choices=list(FORMATS), default="json")
    transcribe.add_argument("-o", "--output", help="write here instead of standard output")
    transcribe.add_argument("--speakers", action="store_true",
                            help="label therapist and patient turns, and report failed quality gates")
    transcribe.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    transcribe.set_defaults(func=cmd_transcribe)

    agreement = commands.add_parser("agreement", help="inter-rater agreement of long-format ratings")
    agreement.add_argument("ratings", help="CSV with columns recording,item,rater,score (a missing rating is a missing row)")
    agreement.add_argument("--level", choices=list(LEVELS), default="interval",
                           help="the measurement level for the headline Krippendorff's alpha")
    agreement.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for confidence intervals")
    agreement.set_defaults(func=cmd_agreement)

    classify = commands.add_parser("classify", help="suggest whether a session stayed on-model")
    classify.add_argument("transcript", help="transcript JSON (as `dit transcribe --format json` writes)")
    classify.add_argument("--ipaf", required=True, help='IPAF JSON: {"self", "other", "affect", "summary"}')
    classify.add_argument("--phase", choices=[phase.value for phase in Phase])
    classify.set_defaults(func=cmd_classify)

    classifier = commands.add_parser("classifier", help="train and evaluate the on-model classifier").add_subparsers(
        dest="classifier_command", required=True)
    classifier.add_parser("train", help="train on the seed corpus and supervisors' judgements; saves a new model").set_defaults(
        func=cmd_classifier_train)
    verdicts = classifier.add_parser("verdicts", help="suggest a verdict for each rated tape that has none, for the "
                                     "model card's comparison with the supervisors")
    verdicts.add_argument("--again", action="store_true", help="every rated tape, with the model in use now")
    verdicts.set_defaults(func=cmd_classifier_verdicts)
    evaluate = classifier.add_parser("evaluate", help="grouped cross-validation by case, as a table")
    evaluate.add_argument("--folds", type=int, default=5)
    evaluate.set_defaults(func=cmd_classifier_evaluate)

    models = commands.add_parser("models", help="model files").add_subparsers(dest="models_command", required=True)
    convert = models.add_parser("convert", help="turn a CTranslate2 Whisper model into an openai-whisper checkpoint")
    convert.add_argument("source", help="a CTranslate2 model directory, or 'bundled' for the shipped tiny.en")
    convert.add_argument("output", nargs="?", help="checkpoint path (default: DATA_DIR/models/tiny.en.pt)")
    convert.set_defaults(func=cmd_models_convert)
