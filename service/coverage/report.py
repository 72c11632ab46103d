"""Coverage as the service uses it: the report (API, CLI) and the alerts (score job)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from detectors.alert import Alert
from detectors.coverage import (
    CoverageReport,
    assess_settings,
    coverage_alerts,
    data_event_rules,
    logging_change,
)
from detectors.rules.loader import Loaded, load_rules
from pipelines.lake import EventLake
from pipelines.settings import Settings


def loaded_rules(settings: Settings) -> Loaded:
    """The pack and the user's rules, as the score job loads them."""
    return load_rules(
        [settings.rules_dir] if settings.rules_dir else [], cache_dir=settings.rule_cache_dir
    )


def coverage_report(
    lake: EventLake,
    settings: Settings,
    at: datetime,
    rules: Loaded | None = None,
    enabled: Mapping[str, bool] | None = None,
) -> CoverageReport:
    """Every account's coverage at ``at``, with the rules blind without data events (those
    switched off, ``enabled`` False, are not listed: they would not fire anyway)."""
    loaded = rules or loaded_rules(settings)
    states = enabled or {}
    blind = {
        rule_id: types
        for rule_id, types in data_event_rules(loaded.rules).items()
        if states.get(rule_id, True)
    }
    return assess_settings(lake, settings, at, blind)


def report_alerts(lake: EventLake, report: CoverageReport) -> list[Alert]:
    """The report's findings as alerts, each tied to the logging change behind it if any."""
    return coverage_alerts(
        report,
        lambda item, finding: logging_change(
            lake, item.provider, item.account, finding.since, report.at
        ),
    )


def coverage_findings(lake: EventLake, settings: Settings, at: datetime) -> list[Alert]:
    """The coverage alerts as of ``at``: what the score job stores with the day's alerts (the
    end of the scored day, or now while that day is still going). The rules are not loaded:
    which rules are blind is for the report, not for the alerts."""
    return report_alerts(lake, assess_settings(lake, settings, at))
