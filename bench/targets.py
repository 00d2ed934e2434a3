"""The targets of issue 4, evaluated from the measurements (a missed target stays missed)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench import settings
from bench.stats import rounded

__all__ = ["Target", "evaluate"]

_SERVICE = {"openreplay": "OpenReplay", "posteketab": "Post-e-Ketab", "mobizon": "Mobizon"}
Run = Mapping[str, Any]


@dataclass(frozen=True)
class Target:
    """One bound: ``figure`` must be ``<=`` (or ``>=``) ``bound``."""

    name: str
    figure: float | None
    bound: float | None
    unit: str
    met: bool
    comparison: str = "<="
    best_peer: float | None = None
    ratio_to_best_peer: float | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _check(figure: float | None, bound: float | None, comparison: str = "<=") -> bool:
    if figure is None or bound is None:
        return False
    return figure <= bound if comparison == "<=" else figure >= bound


class _Runs:
    """The runs by (workload, implementation, size); skipped and failed ones read as missing."""

    def __init__(self, runs: Sequence[Run]) -> None:
        self._runs = {(run["workload"], run["impl"], run["waits"]): run for run in runs}

    def get(self, workload: str, impl: str, waits: int) -> Run | None:
        run = self._runs.get((workload, impl, waits))
        return None if run is None or run.get("skipped") or run.get("error") else run

    def sizes(self, workload: str) -> list[int]:
        return sorted({waits for (name, impl, waits) in self._runs if name == workload and impl == "ours"})

    def best_peer(self, workload: str, waits: int, key: str) -> float | None:
        values = [
            run[key]
            for impl in ("http_sensor", "per_wait")
            if (run := self.get(workload, impl, waits)) is not None and run.get(key) is not None
        ]
        return min(values) if values else None


def _figure(run: Run | None, key: str) -> float | None:
    return None if run is None else run.get(key)


def _openreplay_requests(runs: _Runs) -> Iterator[Target]:
    for waits in runs.sizes("openreplay"):
        figure = _figure(runs.get("openreplay", "ours", waits), "requests_per_round")
        bound = settings.openreplay_request_bound(waits)
        peer = runs.best_peer("openreplay", waits, "requests_per_round")
        yield Target(
            f"OpenReplay, {waits:,} waiting jobs of one project: requests per poll round",
            figure,
            bound,
            "requests/round",
            _check(figure, bound),
            best_peer=peer,
            ratio_to_best_peer=_ratio(figure, peer),
            note="bound ceil(N/200)+1; peers: N",
        )


def _posteketab_requests(runs: _Runs) -> Iterator[Target]:
    for waits in runs.sizes("posteketab"):
        run = runs.get("posteketab", "ours", waits)
        steady = _figure(run, "requests_per_round")
        finish = (run or {}).get("finish_phase") or {}
        finishing = finish.get("requests_per_round_beyond_one_detail_per_finished_task")
        figures = [value for value in (steady, finishing) if value is not None]
        figure = max(figures) if figures else None
        bound = settings.posteketab_request_bound(waits)
        one_detail_each = finish.get("detail_requests", 0) <= finish.get("finished_tasks", 0)
        peer = runs.best_peer("posteketab", waits, "requests_per_round")
        yield Target(
            f"Post-e-Ketab, {waits:,} waiting tasks ({waits:,} listed): requests per round beyond one detail "
            "per finished task",
            figure,
            bound,
            "requests/round",
            _check(figure, bound) and one_detail_each,
            best_peer=peer,
            ratio_to_best_peer=_ratio(figure, peer),
            note=(
                f"bound ceil(listed/{settings.POSTEKETAB_PAGE_SIZE})+1; steady {steady}, while tasks finish "
                f"{finishing}; detail requests in the triggerer {finish.get('detail_requests')} for "
                f"{finish.get('finished_tasks')} finished tasks (each resumed task reads its detail once)"
            ),
        )


def _cpu(runs: _Runs) -> Iterator[Target]:
    key = "cpu_per_1000_waits_per_round_s"
    for workload in ("openreplay", "posteketab"):
        for waits in runs.sizes(workload):
            figure = _figure(runs.get(workload, "ours", waits), key)
            peer = runs.best_peer(workload, waits, key)
            yield Target(
                f"{_SERVICE[workload]}, {waits:,} waits: CPU per 1,000 waits per round, at most half the best peer's",
                figure,
                rounded(settings.CPU_RATIO_BOUND * peer, 5) if peer is not None else None,
                "CPU s/1,000 waits/round",
                peer is not None and _check(figure, rounded(settings.CPU_RATIO_BOUND * peer, 5)),
                best_peer=peer,
                ratio_to_best_peer=_ratio(figure, peer),
                note="" if peer is not None else "no peer measured at this size",
            )


def _rss(runs: _Runs) -> Iterator[Target]:
    for workload in ("openreplay", "posteketab", "mobizon"):
        run = runs.get(workload, "ours", settings.RSS_BOUND_WAITS)
        if run is None:
            continue
        figure = run.get("peak_rss_mb")
        peer = runs.best_peer(workload, settings.RSS_BOUND_WAITS, "peak_rss_mb")
        yield Target(
            f"{_SERVICE[workload]}, {settings.RSS_BOUND_WAITS:,} waits in one process: peak RSS",
            figure,
            settings.RSS_BOUND_MB,
            "MB",
            _check(figure, settings.RSS_BOUND_MB),
            best_peer=peer,
            ratio_to_best_peer=_ratio(figure, peer),
            note="whole client process (Python, Airflow, the waits)",
        )


def _latency(runs: _Runs) -> Iterator[Target]:
    for workload in ("openreplay", "posteketab"):
        for waits in runs.sizes(workload):
            run = runs.get(workload, "ours", waits)
            figure = _figure(run, "latency_p99_s")
            interval = settings.POLL_INTERVAL
            peer = runs.best_peer(workload, waits, "latency_p99_s")
            yield Target(
                f"{_SERVICE[workload]}, {waits:,} waits: detection latency p99 (interval {interval:g} s)",
                figure,
                interval + settings.LATENCY_SLACK_S,
                "s",
                _check(figure, interval + settings.LATENCY_SLACK_S),
                best_peer=peer,
                ratio_to_best_peer=_ratio(figure, peer),
                note=f"median {_figure(run, 'latency_median_s')} s, max {_figure(run, 'latency_max_s')} s",
            )


def _mobizon(runs: _Runs) -> Iterator[Target]:
    for waits in runs.sizes("mobizon"):
        run = runs.get("mobizon", "ours", waits)
        getstatus = (run or {}).get("getstatus") or {}
        deliveries = (run or {}).get("deliveries_in_window") or {}
        figure = getstatus.get("max_per_second")
        refused = getstatus.get("rate_limited_by_simulator")
        peer_run = runs.get("mobizon", "per_wait", waits)
        peer = ((peer_run or {}).get("getstatus") or {}).get("max_per_second")
        yield Target(
            f"Mobizon, {waits:,} waits on {settings.MOBIZON_DISTINCT_TASKS} tasks: GetStatus calls in any second "
            "(one key)",
            figure,
            1,
            "calls/s",
            _check(figure, 1) and refused == 0,
            best_peer=peer,
            note=f"smallest gap {getstatus.get('min_gap_s')} s; refused by the simulator's limiter: {refused}",
        )
        rounds = (run or {}).get("rounds")
        polled = deliveries.get("min_per_wait")
        yield Target(
            f"Mobizon, {waits:,} waits: every wait polled in turn (results per wait in {rounds} measured rounds)",
            polled,
            rounds or 0,
            "results/wait",
            _check(polled, rounds or 0, ">=") and (run or {}).get("unfinished_waits") == 0,
            comparison=">=",
            note=(
                f"starved waits {deliveries.get('starved_waits')}, longest gap {deliveries.get('longest_gap_s')} s "
                f"(round {(run or {}).get('round_period_s')} s); waits unfinished {(run or {}).get('unfinished_waits')}"
            ),
        )


def _imports(imports: Mapping[str, Any] | None) -> Iterator[Target]:
    if not imports or "error" in imports:
        return
    figure = imports.get("beyond_airflow_sdk_ms")
    yield Target(
        "Import of every public module beyond airflow.sdk alone (fresh interpreters, median)",
        figure,
        settings.IMPORT_BOUND_MS,
        "ms",
        _check(figure, settings.IMPORT_BOUND_MS),
        note=(
            f"airflow.sdk timed alone, then the package on top, in each of {imports.get('runs')} fresh "
            f"interpreters, bytecode cached; in separate interpreters: airflow.sdk "
            f"{imports.get('airflow_sdk_alone_ms')} ms, the package's modules "
            f"{imports.get('public_modules_alone_ms')} ms, difference "
            f"{imports.get('difference_of_separate_medians_ms')} ms (within the spread of a 1 s import)"
        ),
    )


def _task_result(result: Mapping[str, Any] | None) -> Iterator[Target]:
    if not result or "error" in result:
        return
    written = result["with_output_path"]
    yield Target(
        f"{result['rows']:,}-row task_result through output_path: peak memory / size of its JSON",
        written.get("peak_memory_to_json"),
        settings.MEMORY_RATIO_BOUND,
        "x JSON size",
        _check(written.get("peak_memory_to_json"), settings.MEMORY_RATIO_BOUND),
        note=(
            f"peak growth {written.get('peak_memory_mb')} MB for {result['json_mb']} MB of JSON, "
            f"{written.get('seconds')} s; without output_path "
            f"{result['without_output_path'].get('peak_memory_mb')} MB, "
            f"{result['without_output_path'].get('seconds')} s"
        ),
    )


def _staggered(runs: _Runs) -> Iterator[Target]:
    """Waits that start uniformly over a few intervals: once all have started, the rounds of a list
    service still cost what the bound allows per interval, and each wait still sees its end in time."""
    bounds = {"openreplay": settings.openreplay_request_bound, "posteketab": settings.posteketab_request_bound}
    arrival = f"starting over {settings.STAGGER_INTERVALS} intervals"
    for workload, bound_of in bounds.items():
        for waits in runs.sizes(workload):
            run = runs.get(workload, "ours", waits)
            figure, bound = _figure(run, "requests_per_interval"), bound_of(waits)
            peer = runs.best_peer(workload, waits, "requests_per_interval")
            yield Target(
                f"{_SERVICE[workload]}, {waits:,} waits {arrival}: requests per interval in steady state",
                figure,
                bound,
                "requests/interval",
                _check(figure, bound),
                best_peer=peer,
                ratio_to_best_peer=_ratio(figure, peer),
                note=f"rounds in the window {_figure(run, 'rounds')}; CPU per 1,000 waits per interval "
                f"{_figure(run, 'cpu_per_1000_waits_per_interval_s')} s "
                f"(best peer {runs.best_peer(workload, waits, 'cpu_per_1000_waits_per_interval_s')} s)",
            )
            latency, slack = _figure(run, "latency_p99_s"), settings.POLL_INTERVAL + settings.LATENCY_SLACK_S
            yield Target(
                f"{_SERVICE[workload]}, {waits:,} waits {arrival}: detection latency p99",
                latency,
                slack,
                "s",
                _check(latency, slack),
                best_peer=runs.best_peer(workload, waits, "latency_p99_s"),
                note=f"max {_figure(run, 'latency_max_s')} s",
            )


def _ratio(figure: float | None, peer: float | None) -> float | None:
    if figure is None or not peer:
        return None
    return round(figure / peer, 4)


def evaluate(
    wait_runs: Sequence[Run], imports: Mapping[str, Any] | None, task_result: Mapping[str, Any] | None
) -> list[Target]:
    """Every target, in the order of the issue."""
    runs = _Runs([run for run in wait_runs if not run.get("staggered")])
    staggered = _Runs([run for run in wait_runs if run.get("staggered")])
    return [
        *_openreplay_requests(runs),
        *_posteketab_requests(runs),
        *_cpu(runs),
        *_rss(runs),
        *_latency(runs),
        *_mobizon(runs),
        *_staggered(staggered),
        *_imports(imports),
        *_task_result(task_result),
    ]
