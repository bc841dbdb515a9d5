"""Settings read from the environment, with embedded defaults that run on a laptop."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from rating.accreditation import AccreditationTargets
from server.models import Role
from transcription.engines import DEFAULT_ENGINE, DEFAULT_MODEL

DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3
# Five hours: a DIT session is 50 minutes, so this leaves room for any real recording while refusing
# what would decode to a working file of gigabytes (16 kHz mono is 115 MB an hour).
DEFAULT_MAX_DURATION = 5 * 3600


def _int(env: dict[str, str], name: str, default: int | None) -> int | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from exc


def _number(env: dict[str, str], name: str, default: float, lowest: float, highest: float | None = None) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from exc
    if highest is not None and not lowest <= value <= highest:
        raise SystemExit(f"{name} must be between {lowest} and {highest}, got {raw!r}")
    if value < lowest:
        raise SystemExit(f"{name} must be at least {lowest}, got {raw!r}")
    return value


def _fraction(env: dict[str, str], name: str, default: float, upper: float = 1.0) -> float:
    return _number(env, name, default, 0, upper)


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise SystemExit(f"{name} must be at least 1, got {value}")
    return value


def _roles(env: dict[str, str], name: str, default: str) -> frozenset[str]:
    """A comma-separated list of roles; empty means none."""
    raw = env.get(name)
    names = {part.strip() for part in (default if raw is None else raw).split(",") if part.strip()}
    known = {role.value for role in Role}
    if unknown := names - known:
        raise SystemExit(f"{name} names roles that do not exist: {', '.join(sorted(unknown))}")
    return frozenset(names)


def _smtp_url(env: dict[str, str]) -> str:
    value = env.get("DIT_SMTP_URL") or ""
    if value and (urlsplit(value).scheme not in ("smtp", "smtps") or not urlsplit(value).hostname):
        raise SystemExit("DIT_SMTP_URL must be smtp://[user:password@]host[:port] or smtps://…")
    return value


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() not in {"0", "false", "no", "off"}


# The S3 client's settings, read with the rest so that they travel with `Settings` into the worker's
# recognition processes: a forkserver child has the environment of the moment its server started.
S3_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_REGION", "AWS_DEFAULT_REGION")


def s3_variables(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, env[name]) for name in S3_VARIABLES if env.get(name))


def _storage_url(env: dict[str, str], name: str) -> str:
    """Empty (the data directory's recordings folder), s3://bucket[/prefix] or file:///folder."""
    url = (env.get(name) or "").strip()
    if not url:
        return ""
    scheme, _, rest = url.partition("://")
    if scheme == "s3" and rest.strip("/"):
        return url
    if scheme == "file" and rest.startswith("/"):
        return url
    raise SystemExit(f"{name} must be s3://bucket/prefix or file:///folder, got {url!r}")


def _proxies(env: dict[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks; `*` (any peer) only where nothing but the proxy can connect."""
    proxies = tuple(item.strip() for item in (env.get(name) or "").split(",") if item.strip())
    for proxy in proxies:
        if proxy == "*":
            continue
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise SystemExit(f"{name} must be IP addresses or CIDR networks, got {proxy!r}") from exc
    return proxies


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    engine: str = DEFAULT_ENGINE
    model: str = DEFAULT_MODEL
    # "resemblyzer" (bundled), a .pt file of Resemblyzer-shaped weights, or a local SpeechBrain model directory.
    speaker_encoder: str = "resemblyzer"
    # faster-whisper: stretches of speech decoded at once by each stream (BatchedInferencePipeline, see
    # DecodeOptions); None: the device's (1 on CPU, 8 on a GPU); 0 decodes window after window.
    batch_size: int | None = None
    device: str = "auto"
    # CPU threads for a job's recognition and speakers; 0: every core for a worker of its own (`dit worker`),
    # one fewer for the worker inside the web process, so that the pages stay quick (`recognition_threads`).
    worker_threads: int = 0
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    # Recordings longer than this many seconds are refused at upload, before any decoding.
    max_duration: int = DEFAULT_MAX_DURATION
    # Where recordings are kept (see server/storage.py): empty for `recordings_dir`.
    storage_url: str = ""
    s3_variables: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # The master keys (server/security/keyring.py): when set, media and transcripts are stored encrypted.
    encryption_key_file: Path | None = None
    in_process_worker: bool = True
    # Demo accounts are for a laptop: only `scripts/serve` asks for them.
    demo_accounts: bool = False
    warm_classifier: bool = True
    job_stale_seconds: int = 30
    worker_poll_seconds: float = 1.0
    # A job is tried this many times (a worker that died mid-job counts), waiting job_backoff_seconds,
    # then twice that, and so on, between tries.
    job_max_attempts: int = 3
    job_backoff_seconds: float = 30.0
    # Recognition is stopped after job_timeout_factor x the recording's duration, but never sooner than
    # job_timeout_min_seconds: loading the model and normalising take time whatever the length.
    job_timeout_factor: float = 3.0
    job_timeout_min_seconds: float = 300.0
    # The retention schedule (server/services/retention.py): a tape's media goes this many days after its
    # official result is released (or after as long without activity, when it is never rated); a replaced
    # recording's media, this many days after it was replaced; transcripts on a schedule of their own.
    retain_media_days: int = 90
    retain_replaced_days: int = 30
    retain_transcript_days: int = 365
    # The course lead's work list marks a tape overdue once it has waited this long at one stage.
    overdue_days: int = 14
    secure_cookies: bool = False
    session_idle_minutes: int = 30
    session_hours: int = 12
    token_days: int = 30
    mfa_required_roles: frozenset[str] = frozenset({"admin", "course_lead"})
    # Peers whose X-Forwarded-Proto and X-Forwarded-For are believed; none by default: the socket's own.
    trusted_proxies: tuple[str, ...] = ()
    # Web processes `dit serve` runs (uvicorn workers); more than one needs the transcription worker elsewhere.
    web_concurrency: int = 1
    # A bearer token Prometheus sends to /metrics; without one, only loopback and the trusted proxies may scrape.
    metrics_token: str = field(default="", repr=False)
    # Email for notifications: smtp://user:password@host:port (STARTTLS when the server offers it) or
    # smtps://… (TLS from the start); none, and notifications are only listed in the service. Emails link
    # to public_url, the address people reach the service at.
    smtp_url: str = field(default="", repr=False)
    mail_from: str = "DIT supervision <noreply@localhost>"
    public_url: str = "http://localhost:8000"
    scale_file: Path | None = None
    accreditation_years: int = 3
    anonymise_adjudication: bool = True
    double_rating_share: float = 0.2
    rater_bias_band: float = 0.5
    targets: AccreditationTargets = AccreditationTargets()
    secret_key: str = field(default="", repr=False)

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def incoming_dir(self) -> Path:
        """Uploads land here first to be probed; on the same file system as the local backend's
        recordings, so that storing the original is a hard link, not a copy."""
        return self.recordings_dir / ".incoming"

    @property
    def scratch_dir(self) -> Path:
        """Workers download and normalise a recording here for the length of one job."""
        return self.data_dir / "scratch"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def on_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://", "asyncpg://", "psycopg://"))

    def recognition_threads(self, beside_web: bool) -> int:
        """The threads a job's recognition and speaker labelling use (see `worker_threads`)."""
        if self.worker_threads > 0:
            return self.worker_threads
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, cores - 1) if beside_web else cores

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("DIT_DATA_DIR") or "./data").resolve()
        database_url = env.get("DIT_DATABASE_URL") or f"sqlite://{data_dir / 'dit.sqlite3'}"
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            host=env.get("DIT_HOST") or "127.0.0.1",
            port=_int(env, "PORT", 8000),
            engine=env.get("DIT_ENGINE") or DEFAULT_ENGINE,
            model=env.get("DIT_MODEL") or DEFAULT_MODEL,
            speaker_encoder=env.get("DIT_SPEAKER_ENCODER") or "resemblyzer",
            batch_size=_int(env, "DIT_BATCH_SIZE", None),
            worker_threads=_int(env, "DIT_WORKER_THREADS", 0),
            device=env.get("DIT_DEVICE") or "auto",
            max_upload_bytes=_int(env, "DIT_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
            max_duration=_positive(env, "DIT_MAX_DURATION", DEFAULT_MAX_DURATION),
            storage_url=_storage_url(env, "DIT_STORAGE_URL"),
            s3_variables=s3_variables(env),
            encryption_key_file=Path(env["DIT_ENCRYPTION_KEY_FILE"]).resolve()
            if env.get("DIT_ENCRYPTION_KEY_FILE") else None,
            in_process_worker=_flag(env, "DIT_IN_PROCESS_WORKER", True),
            demo_accounts=_flag(env, "DIT_DEMO_ACCOUNTS", False),
            warm_classifier=_flag(env, "DIT_WARM_CLASSIFIER", True),
            job_stale_seconds=_int(env, "DIT_JOB_STALE_SECONDS", 30),
            job_max_attempts=_positive(env, "DIT_JOB_MAX_ATTEMPTS", 3),
            job_backoff_seconds=_number(env, "DIT_JOB_BACKOFF_SECONDS", 30.0, lowest=0),
            job_timeout_factor=_number(env, "DIT_JOB_TIMEOUT_FACTOR", 3.0, lowest=0),
            job_timeout_min_seconds=_number(env, "DIT_JOB_TIMEOUT_MIN_SECONDS", 300.0, lowest=1),
            retain_media_days=_positive(env, "DIT_RETAIN_MEDIA_DAYS", 90),
            retain_replaced_days=_positive(env, "DIT_RETAIN_REPLACED_DAYS", 30),
            retain_transcript_days=_positive(env, "DIT_RETAIN_TRANSCRIPT_DAYS", 365),
            overdue_days=_positive(env, "DIT_OVERDUE_DAYS", 14),
            secure_cookies=_flag(env, "DIT_SECURE_COOKIES", False),
            session_idle_minutes=_positive(env, "DIT_SESSION_IDLE_MINUTES", 30),
            session_hours=_positive(env, "DIT_SESSION_HOURS", 12),
            token_days=_positive(env, "DIT_TOKEN_DAYS", 30),
            mfa_required_roles=_roles(env, "DIT_MFA_REQUIRED_ROLES", "admin,course_lead"),
            trusted_proxies=_proxies(env, "DIT_TRUSTED_PROXIES"),
            web_concurrency=_positive(env, "WEB_CONCURRENCY", 1),
            metrics_token=env.get("DIT_METRICS_TOKEN") or "",
            smtp_url=_smtp_url(env),
            mail_from=env.get("DIT_MAIL_FROM") or "DIT supervision <noreply@localhost>",
            public_url=(env.get("DIT_PUBLIC_URL") or f"http://localhost:{env.get('PORT') or 8000}").rstrip("/"),
            scale_file=Path(env["DIT_SCALE_FILE"]) if env.get("DIT_SCALE_FILE") else None,
            accreditation_years=_int(env, "DIT_ACCREDITATION_YEARS", 3),
            anonymise_adjudication=_flag(env, "DIT_ANONYMISE_ADJUDICATION", True),
            double_rating_share=_fraction(env, "DIT_DOUBLE_RATING_SHARE", 0.2),
            rater_bias_band=_fraction(env, "DIT_RATER_BIAS_BAND", 0.5, upper=6.0),
            targets=AccreditationTargets(
                training_cases=_int(env, "DIT_TARGET_CASES", 2),
                passed_tapes=_int(env, "DIT_TARGET_PASSED_TAPES", 4),
                supervision_hours=_int(env, "DIT_TARGET_SUPERVISION_HOURS", 16),
                supervision_within_days=_int(env, "DIT_SUPERVISION_WITHIN_DAYS", 365),
                cases_within_days=_int(env, "DIT_CASES_WITHIN_DAYS", 730),
                warn_days=_int(env, "DIT_DEADLINE_WARNING_DAYS", 60),
            ),
            secret_key=env.get("DIT_SECRET_KEY") or "",
        )

    def prepare(self) -> Settings:
        """Create the data directories, readable by this service's user alone (patients' voices and the
        database are in there), and, unless one was given, a persistent secret key."""
        for directory in (self.data_dir, self.recordings_dir, self.incoming_dir, self.scratch_dir, self.models_dir):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            directory.chmod(0o700)
        if self.secret_key:
            return self
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            key_file.touch(mode=0o600)
            key_file.write_text(secrets.token_urlsafe(48))
        return replace(self, secret_key=key_file.read_text().strip())
