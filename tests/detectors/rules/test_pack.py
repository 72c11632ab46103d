"""Pack-level acceptance of the built-in rule pack (detectors/rules/pack/).

Each rule's own positive/negative records are run by test_pack_rules.py; this file pins what the
pack as a whole promises: its size and metadata, and, over simulated traffic, that every
rule-kind attack scenario is caught while ordinary traffic raises nothing at medium or above:
CI deploys, developers' reads, schedulers, API-gateway invocations, functions reading their
secrets, and the control plane around them (Terraform changing roles, policies, buckets, keys and
rules; KMS decrypts and Lambda's AssumeRole; Config and Security Hub sweeps; people's routine
admin; on Google Cloud token minting by Workload Identity, builds, storage and Pub/Sub).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from detectors.alert import SEVERITY_RANK, Alert
from detectors.rules.engine import run_rules
from detectors.rules.enrich import principal_is_human
from detectors.rules.lint import lint_rules
from detectors.rules.loader import Loaded, load_rules
from detectors.rules.model import Rule
from pipelines.normalize import concat_batches, normalize_blobs
from pipelines.simulate import ATTACKS, simulate
from pipelines.simulate.core import SimulationResult
from pipelines.sources.local import iter_local_blobs

TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")
SIM_DAYS = 3
SIM_SEED = 20261129
RULE_SCENARIOS = sorted(name for name, spec in ATTACKS.items() if spec.kind == "rule")


def _pack() -> Loaded:
    """The Sigma pack and the Python rules: the built-in detections users get."""
    return load_rules()


PACK = _pack()
ALERTING = [rule for rule in PACK.rules if rule.meta.generate]
"""Rules that raise alerts (a correlation's base rules only feed it)."""


def test_pack_loads_without_errors() -> None:
    assert [e.line() for e in PACK.errors] == []


def test_pack_has_at_least_30_alerting_rules() -> None:
    assert len(ALERTING) >= 30, [r.meta.rule_id for r in ALERTING]


def test_rule_ids_and_sigma_ids_are_unique() -> None:
    ids = [r.meta.rule_id for r in PACK.rules]
    sigma_ids = [r.meta.sigma_id for r in PACK.rules if r.meta.kind != "python"]
    assert len(ids) == len(set(ids))
    assert len(sigma_ids) == len(set(sigma_ids))


def test_pack_is_lint_clean() -> None:
    assert [f"{f.rule_id}: {f.message}" for f in lint_rules(PACK)] == []


@pytest.mark.parametrize("rule", PACK.rules, ids=lambda r: r.meta.rule_id)
def test_rule_has_attack_technique_runbook_and_tests(rule: Rule) -> None:
    meta = rule.meta
    assert any(TECHNIQUE.match(tag) for tag in meta.tags), meta.tags
    assert meta.runbook
    assert meta.tests.has_positive
    assert meta.tests.negative


@pytest.mark.parametrize("rule", ALERTING, ids=lambda r: r.meta.rule_id)
def test_alerting_rule_says_who_did_what_and_how_to_contain(rule: Rule) -> None:
    meta = rule.meta
    assert meta.title_template
    assert "{" in meta.title_template
    assert meta.dedup
    assert meta.runbook is not None
    assert len(meta.runbook.splitlines()) >= 2
    assert not re.search(r"\{[a-z_.]+\}", meta.runbook), "runbooks are shown as written"


@pytest.mark.parametrize(
    "rule",
    [r for r in PACK.rules if r.meta.requires_data_events],
    ids=lambda r: r.meta.rule_id,
)
def test_rule_needing_data_events_says_so_in_its_description(rule: Rule) -> None:
    assert re.search(r"data access|data event", rule.meta.description, re.IGNORECASE)


# -- over simulated traffic --------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    simulation: SimulationResult
    events: pd.DataFrame
    alerts: list[Alert]


def _detect(out: Path, attacks: list[str]) -> Run:
    result = simulate(out, days=SIM_DAYS, seed=SIM_SEED, attacks=attacks)
    patterns = [str(out / "aws" / "**" / "*.json.gz"), str(out / "gcp" / "**" / "*.json")]
    batch = concat_batches(normalize_blobs(iter_local_blobs(patterns)))
    assert batch.rejects == []
    return Run(result, batch.events, run_rules(batch.events, PACK.rules))


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _detect(tmp_path_factory.mktemp("attacked"), RULE_SCENARIOS)


@pytest.fixture(scope="module")
def ordinary(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _detect(tmp_path_factory.mktemp("ordinary"), [])


def test_every_rule_kind_scenario_is_simulated() -> None:
    assert len(RULE_SCENARIOS) >= 18


@pytest.mark.slow
@pytest.mark.parametrize("scenario", RULE_SCENARIOS)
def test_rule_kind_attack_is_caught(attacked: Run, scenario: str) -> None:
    labels = [label for label in attacked.simulation.labels if label.scenario == scenario]
    assert labels, f"the simulator injected no {scenario}"
    for label in labels:
        injected = set(label.event_ids)
        caught = [a.rule_id for a in attacked.alerts if injected & set(a.evidence.event_ids)]
        assert caught, f"{scenario}: no alert's evidence holds any of {sorted(injected)[:5]}"


@pytest.mark.slow
def test_ordinary_traffic_raises_nothing_at_medium_or_above(ordinary: Run) -> None:
    assert len(ordinary.events) > 10_000  # a real baseline, not an empty run
    loud = [
        f"{a.severity} {a.rule_id}: {a.title}"
        for a in ordinary.alerts
        if SEVERITY_RANK[a.severity] >= SEVERITY_RANK["medium"]
    ]
    assert loud == []


ROUTINE_CONTROL_PLANE = {
    ("sts.amazonaws.com", "AssumeRole"),
    ("kms.amazonaws.com", "Decrypt"),
    ("kms.amazonaws.com", "GenerateDataKey"),
    ("s3.amazonaws.com", "PutObject"),
    ("iam.amazonaws.com", "GetRole"),
    ("cloudtrail.amazonaws.com", "DescribeTrails"),
    ("ecr.amazonaws.com", "PutImage"),
    ("iamcredentials.googleapis.com", "GenerateAccessToken"),
    ("sts.googleapis.com", "ExchangeToken"),
    ("cloudbuild.googleapis.com", "CreateBuild"),
    ("storage.googleapis.com", "get"),
    ("pubsub.googleapis.com", "Publish"),
}
"""Acts the ordinary baseline holds every day (services, CI, watchers), so that the check above
is made on the traffic a control-plane rule has to stay quiet on, not on Lambda-shaped traffic
only. Which changes Terraform and people make vary by day; they are counted below."""


@pytest.mark.slow
def test_ordinary_traffic_holds_the_routine_control_plane(ordinary: Run) -> None:
    events = ordinary.events
    seen = set(zip(events["service"], events["action"], strict=True))
    assert ROUTINE_CONTROL_PLANE - seen == set()
    writes = events[~events["read_only"].astype(bool)]
    terraform = writes[writes["principal"].str.endswith(":role/terraform")]
    assert len(terraform) >= 10
    assert terraform["service"].nunique() >= 4  # IAM, S3, KMS, EventBridge, Lambda, ...
    people = writes[principal_is_human(writes) & (writes["action"] != "ConsoleLogin")]
    assert len(people) >= 3  # routine admin by hand


@pytest.mark.slow
def test_attack_alerts_name_the_attacker(attacked: Run) -> None:
    """The alert for an injected attack concerns the labelled principal, so triage starts right."""
    for label in attacked.simulation.labels:
        if label.kind != "rule":
            continue
        injected = set(label.event_ids)
        principals = {a.principal for a in attacked.alerts if injected & set(a.evidence.event_ids)}
        assert label.principal in principals or any(
            p and label.principal in p for p in principals
        ), (label.scenario, label.principal, principals)
