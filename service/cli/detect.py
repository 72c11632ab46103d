"""``functrail detect PATH...``: run the detectors over files and print alerts; stores nothing.

Alerts go to stdout (JSON lines with every Alert field, or a table for people); rejects, rule
load errors and the anomaly detectors' state go to stderr, so stdout stays pipeable.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from pipelines.lifelong import lifelong
from pipelines.rejects import Reject, write_rejects
from pipelines.settings import Settings
from service.cli.app import CommandFailed, app, err, out_console
from service.cli.normalize import dropped_summary, printable, report_dropped

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from detectors.alert import Alert
    from detectors.rules.registry import RuleRegistry
    from pipelines.normalize import Batch
    from pipelines.normalize.parallel import Reading

DETECTORS = ("rules", "anomaly")


class Format(StrEnum):
    jsonl = "jsonl"
    table = "table"


def _say(text: str) -> None:
    err.print(printable(text), markup=False, highlight=False, soft_wrap=True)


def parse_detectors(value: str) -> list[str]:
    """``rules,anomaly`` -> names; an unknown name is bad usage (exit 2)."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in DETECTORS]
    if unknown or not names:
        bad = ", ".join(unknown) or "(none)"
        raise typer.BadParameter(f"unknown detector(s) {bad}; choose from {', '.join(DETECTORS)}")
    return names


def start_read(paths: list[str], settings: Settings) -> Reading:
    """The files named by ``paths`` being read on ``settings.read_processes`` processes
    (``normalize.parallel``): forked readers start now, while this process goes on with its
    own start-up."""
    from pipelines.sources.local import PathNotFound, resolve_paths

    try:
        files = resolve_paths(paths)
    except PathNotFound as exc:
        raise CommandFailed(str(exc)) from None
    with lifelong():  # pandas, Arrow and the normalizer: no collection walks them
        from pipelines.normalize.parallel import start_reading, usable_cores

    processes = settings.read_processes or usable_cores()
    return start_reading(files, settings=settings, carry=True, processes=processes)


def read_events(reading: Reading) -> tuple[Batch, pa.Table | None]:
    """Every file normalized into one batch (deduplicated by id), rejects noted on stderr; and
    the raw fields the normalizer carries for the rules (``normalize.carried``), row for row."""
    from pipelines.events import empty_events, events_from_arrow
    from pipelines.normalize import Batch, carried

    rejects: list[Reject] = []

    def note(reject: Reject) -> None:
        rejects.append(reject)
        _say(reject.line())

    table, dropped = reading.finish(note)
    report_dropped(dropped)
    if not table.num_rows:
        return Batch(empty_events(), rejects, dropped), None
    events, raw_fields = carried.split(table)
    return Batch(events_from_arrow(events), rejects, dropped), raw_fields


def anomaly_alerts(events: pd.DataFrame, settings: Settings, model: str | None) -> list[Alert]:
    """The anomaly detectors' alerts, or none (said on stderr) when no model is trained."""
    try:
        from detectors.anomaly import detect_anomalies
        from models.registry import ModelRegistry, NoTrainedModel
    except ImportError as exc:
        _say(f"anomaly detectors unavailable ({exc}); the anomaly detectors have no trained model")
        return []
    try:
        trained = ModelRegistry(settings.models_dir).load(model)
    except NoTrainedModel as exc:
        _say(f"the anomaly detectors have no trained model ({exc}); running the rules only")
        return []
    from service.baselines.store import adjusted_history, anomaly_config

    history = adjusted_history(settings, trained.history)
    return detect_anomalies(
        events, trained, history=history, config=anomaly_config(settings)
    ).alerts


@app.command()
def detect(
    paths: Annotated[list[str], typer.Argument(help="files, folders (recursive) or globs")],
    detectors: Annotated[
        str, typer.Option("--detectors", "-d", help="comma-separated: rules, anomaly")
    ] = "rules,anomaly",
    model: Annotated[
        str | None, typer.Option("--model", help="anomaly model version (default: the active one)")
    ] = None,
    output: Annotated[
        Format | None, typer.Option("--format", "-f", help="jsonl (default when piped) or table")
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="extra Sigma rule folder (repeatable), beside the pack"),
    ] = None,
) -> None:
    """Run the detectors over audit log files and print alerts. Stores nothing."""
    names = parse_detectors(detectors)
    settings = Settings()
    fmt = output or (Format.table if sys.stdout.isatty() else Format.jsonl)
    reading = start_read(paths, settings)
    registry: RuleRegistry | None = None
    if "rules" in names:  # loaded while the forked readers read
        with lifelong():  # the engine and the rules' plans: ~50k objects kept to the end
            from detectors.rules.engine import run_rules
            from detectors.rules.loader import load_registry

            folders = [*(rules or []), *([settings.rules_dir] if settings.rules_dir else [])]
            registry, errors = load_registry(folders, cache_dir=settings.rule_cache_dir)
        for error in errors:
            _say(f"rule not loaded: {error.line()}")
    batch, carried = read_events(reading)
    events = batch.events
    alerts: list[Alert] = []
    if registry is not None:
        alerts.extend(run_rules(events, registry, carried=carried))
    if "anomaly" in names:
        alerts.extend(anomaly_alerts(events, settings, model))
    alerts.sort(key=lambda a: (a.first_seen, a.rule_id, a.dedup_key))
    if fmt is Format.jsonl:
        out = sys.stdout.buffer
        for alert in alerts:
            out.write(orjson.dumps(alert.model_dump(mode="json")) + b"\n")
        out.flush()
    else:
        print_alert_table(alerts)
    where = write_rejects(batch.rejects, settings.rejects_dir, "detect")
    summary = (
        f"{len(events)} events, {len(batch.rejects)} rejected{dropped_summary(batch.dropped)}, "
        f"{len(alerts)} alerts"
    )
    _say(summary + (f" (rejects in {where})" if where else ""))


def print_alert_table(alerts: list[Alert]) -> None:
    from rich.table import Table  # the table for people only: jsonl runs skip rich.table
    from rich.text import Text

    table = Table("first seen", "severity", "rule", "title", "count")
    for alert in alerts:
        table.add_row(
            Text(alert.first_seen.isoformat()),
            Text(alert.severity),
            Text(printable(alert.rule_id)),
            Text(printable(alert.title)),
            Text(str(alert.count)),
        )
    out_console().print(table, markup=False, highlight=False)
