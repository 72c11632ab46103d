"""The coverage self-check: which accounts and log types still send, and alerts when they stop."""

from detectors.coverage.alerts import coverage_alerts
from detectors.coverage.assess import (
    CoverageItem,
    CoverageReport,
    Thresholds,
    assess,
    assess_settings,
    data_event_rules,
)
from detectors.coverage.changes import logging_change

__all__ = [
    "CoverageItem",
    "CoverageReport",
    "Thresholds",
    "assess",
    "assess_settings",
    "coverage_alerts",
    "data_event_rules",
    "logging_change",
]
