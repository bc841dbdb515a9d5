"""Transcription jobs as Prometheus metrics, read from the database when /metrics is scraped.

Workers run in other processes and on other machines, so nothing they count in memory would reach the web
process's /metrics: the job table is the one place every worker writes, and every scrape reads it. Durations
and real-time factors are histograms over every finished job, cumulative as Prometheus expects of a histogram
(finished jobs are never deleted), so `rate()` and `histogram_quantile()` work on them as on live ones.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from tortoise.functions import Count

from server.config import Settings
from server.jobs.workers import fresh_workers
from server.models import JobStatus, TranscriptionJob

# Seconds a job ran: a session is up to 50 minutes of audio, transcribed on CPU.
DURATION_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0)
# Seconds of work per second of audio: below 1, the workers keep up with real time.
REAL_TIME_FACTOR_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)


def histogram(name: str, documentation: str, bounds: Sequence[float], values: Iterable[float]) -> HistogramMetricFamily:
    counts = [0] * (len(bounds) + 1)
    total = 0.0
    for value in values:
        counts[bisect.bisect_left(bounds, value)] += 1
        total += value
    buckets, cumulative = [], 0
    for bound, count in zip([*map(str, bounds), "+Inf"], counts):
        cumulative += count
        buckets.append((bound, cumulative))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=total)


# eq=False: a registry keeps its collectors in a dict, by identity.
@dataclass(frozen=True, eq=False)
class JobMetrics:
    """A custom collector over one reading of the job table."""

    by_status: dict[str, int]
    fresh_workers: int
    # (seconds the job ran, seconds of audio) of every finished job.
    finished: list[tuple[float, float]]

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("dit_transcription_jobs", "Transcription jobs by state.", labels=["state"])
        for status in JobStatus:
            jobs.add_metric([status.value], self.by_status.get(status.value, 0))
        yield jobs
        yield GaugeMetricFamily("dit_transcription_queue_depth", "Jobs waiting for a worker.",
                                value=self.by_status.get(JobStatus.QUEUED.value, 0))
        yield GaugeMetricFamily("dit_transcription_jobs_failed",
                                "Jobs whose last attempt failed (a retried job counts again only if it fails again).",
                                value=self.by_status.get(JobStatus.FAILED.value, 0))
        yield GaugeMetricFamily("dit_workers_fresh", "Workers whose heartbeat is fresh, on every machine.",
                                value=self.fresh_workers)
        yield histogram("dit_transcription_job_duration_seconds", "How long finished jobs ran.", DURATION_BUCKETS,
                        (ran for ran, _ in self.finished))
        yield histogram("dit_transcription_real_time_factor",
                        "Seconds a finished job ran per second of its recording.", REAL_TIME_FACTOR_BUCKETS,
                        (ran / audio for ran, audio in self.finished if audio > 0))


async def job_metrics(settings: Settings) -> JobMetrics:
    rows = await TranscriptionJob.annotate(count=Count("id")).group_by("status").values_list("status", "count")
    by_status = {getattr(status, "value", status): count for status, count in rows}
    times = await TranscriptionJob.filter(
        status=JobStatus.DONE, started_at__isnull=False, finished_at__isnull=False,
    ).values_list("started_at", "finished_at", "recording__duration")
    finished = [((end - start).total_seconds(), audio) for start, end, audio in times]
    return JobMetrics(by_status, len(await fresh_workers(settings)), finished)
