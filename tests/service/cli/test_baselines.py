"""``functrail baselines list|remove`` and ``functrail train`` leaving true positives out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

import service.cli.commands  # noqa: F401  (registers the commands)
from detectors.alert import Deviation
from models.registry import ModelRegistry
from models.verdicts import Adjustments, adjustment_from_alert
from pipelines.lake import EventLake
from pipelines.settings import Settings
from service.alerts.store import save_alerts
from service.alerts.triage import triage
from service.cli.app import app
from service.db import open_database
from tests.factories import ACCOUNT, alert, event, events, routine_activity

DEV = f"arn:aws:iam::{ACCOUNT}:user/dev0"


def test_list_shows_and_remove_undoes_an_adjustment(settings: Settings) -> None:
    stored = alert(
        detector="anomaly",
        rule_id="first-seen",
        principal=DEV,
        explanation=[Deviation(feature="new region", observed="sa-east-1", baseline="9 days")],
    )
    made = adjustment_from_alert(stored.model_dump(mode="json"), "ana", datetime.now(UTC))
    assert made is not None
    Adjustments(settings.models_dir).add(made)
    listed = CliRunner().invoke(app, ["baselines", "list", "--format", "jsonl"])
    assert listed.exit_code == 0, listed.output
    assert made.id in listed.stdout
    assert '"values":[["region","sa-east-1"]]' in listed.stdout
    assert CliRunner().invoke(app, ["baselines", "remove", made.id]).exit_code == 0
    assert Adjustments(settings.models_dir).items() == []
    assert CliRunner().invoke(app, ["baselines", "remove", made.id]).exit_code == 1


def test_train_leaves_the_windows_of_true_positive_alerts_out(settings: Settings) -> None:
    activity = routine_activity(5, principals=3, per_hour=4)
    day = activity["time"].min().floor("D") + timedelta(days=4, hours=2)
    attack = events(
        *[
            event(principal=DEV, time=day + timedelta(minutes=i), source_ip="203.0.113.5")
            for i in range(4)
        ]
    )
    EventLake(settings.lake_root).append(activity)
    EventLake(settings.lake_root).append(attack)
    confirmed = alert(
        principal=DEV,
        first_seen=day.to_pydatetime(),
        last_seen=(day + timedelta(minutes=3)).to_pydatetime(),
    )
    db = open_database(settings)
    with db.session() as session:
        save_alerts(session, [confirmed])
        triage(session, confirmed.id, actor="ana", status="resolved", disposition="true_positive")
        session.commit()
    db.dispose()
    first = activity["time"].min().date().isoformat()
    last = (activity["time"].min() + timedelta(days=4)).date().isoformat()
    result = CliRunner().invoke(app, ["train", "--from", first, "--to", last])
    assert result.exit_code == 0, result.output
    assert "leaving out the windows of 1 alert(s) resolved as true positive" in result.output
    model = ModelRegistry(settings.models_dir).load()
    assert model.manifest["excluded_events"] == 4
    assert "203.0.113.5" not in set(model.history.seen["value"])


def test_resolving_as_false_positive_from_the_cli_widens_and_reopening_undoes(
    settings: Settings,
) -> None:
    found = alert(
        detector="anomaly",
        rule_id="first-seen",
        principal=DEV,
        explanation=[Deviation(feature="new region", observed="sa-east-1", baseline="9 days")],
    )
    db = open_database(settings)
    with db.session() as session:
        save_alerts(session, [found])
        session.commit()
    db.dispose()
    args = ["alerts", "resolve", found.id, "--disposition", "false_positive"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert [a.alert_id for a in Adjustments(settings.models_dir).items()] == [found.id]
    assert CliRunner().invoke(app, ["alerts", "reopen", found.id]).exit_code == 0
    assert Adjustments(settings.models_dir).items() == []
