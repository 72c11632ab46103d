"""bench/pack_precision.py: the precision figure and the end-to-end run it reports."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "pack_precision.py"
START = date(2026, 3, 2)


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pack_precision", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _alert(rule: str, severity: str, first_seen: str, count: int = 1) -> dict[str, object]:
    return {"rule_id": rule, "severity": severity, "first_seen": first_seen, "count": count}


def test_figure_is_medium_or_above_alerts_per_day_per_25k_events():
    alerts = [
        _alert("a", "high", "2026-03-02T10:00:00Z"),
        _alert("b", "medium", "2026-03-03T10:00:00Z", count=4),
        _alert("b", "medium", "2026-03-05T10:00:00Z"),
        _alert("c", "low", "2026-03-05T11:00:00Z"),
    ]
    figures = _module().tally(alerts, events=7 * 50_000, start=START, days=7)
    # 3 loud alerts in 7 days of 50k events a day: 3/7 a day, per 2 x 25k events
    assert figures["medium_or_above_per_day_per_25k_events"] == pytest.approx(3 / 7 / 2, abs=1e-3)
    assert figures["within_budget"] is True
    assert figures["alerts_by_severity"]["low"] == 1
    assert figures["alerts_by_rule"]["b"] == {"severity": "medium", "alerts": 2, "matched": 5}
    assert list(figures["alerts_by_rule"]) == ["a", "b", "c"]  # loudest first


def test_every_simulated_day_is_listed_even_without_alerts():
    figures = _module().tally([], events=1000, start=START, days=3)
    assert list(figures["alerts_per_day_by_severity"]) == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert figures["medium_or_above_per_day_per_25k_events"] == 0


def test_over_budget_is_said_so():
    alerts = [_alert("noisy", "medium", "2026-03-02T01:00:00Z") for _ in range(5)]
    figures = _module().tally(alerts, events=25_000, start=START, days=1)
    assert figures["medium_or_above_per_day_per_25k_events"] == 5
    assert figures["within_budget"] is False


@pytest.mark.slow
def test_runs_the_users_commands_and_prints_the_figures_as_json(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "every_decrypt.yml").write_text(
        "title: Every KMS decrypt\n"
        "id: 5b0b6a57-3f47-4c8e-9d0a-1a2b3c4d5e6f\n"
        "name: every_kms_decrypt\n"
        "logsource: {product: aws, service: cloudtrail}\n"
        "detection:\n"
        "  selection: {eventSource: kms.amazonaws.com, eventName: Decrypt}\n"
        "  condition: selection\n"
        "level: medium\n",
        encoding="utf-8",
    )
    args = ["--days", "1", "--scale", "0.05", "--seed", "5", "--rules", str(rules),
            "--keep", str(tmp_path / "sim"), "--json", str(tmp_path / "f.json")]  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures == json.loads((tmp_path / "f.json").read_text(encoding="utf-8"))
    assert figures["commands"][1].startswith("functrail detect ")
    assert "--rules" in figures["commands"][1]
    assert figures["events"] > 1000
    assert figures["rejects"] == 0
    assert figures["alerts_by_rule"]["every_kms_decrypt"]["severity"] == "medium"
    assert figures["medium_or_above"] >= 1
    assert "per day per 25k events" in done.stdout
