"""Google Cloud's control plane in the simulated organization: token minting by Workload
Identity Federation, builds, deploys as the targets' own accounts, storage and Pub/Sub."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from detectors.rules.enrich import principal_is_ci, principal_is_human
from pipelines.simulate.org import build_org
from tests.pipelines.simulate.conftest import log_entries, normalized


def _when(entry: dict) -> datetime:
    return datetime.strptime(entry["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")


def _method(entry: dict) -> str:
    return entry["protoPayload"]["methodName"]


def _checked(entry: dict) -> set[tuple[str, str]]:
    return {
        (a["resource"], a["permission"]) for a in entry["protoPayload"].get("authorizationInfo", [])
    }


def test_every_ci_deploy_is_preceded_by_an_access_token_minted_for_the_deployer(sim):
    entries = list(log_entries(sim))
    mints = [e for e in entries if _method(e) == "GenerateAccessToken"]
    deploys = [
        e
        for e in entries
        if e["protoPayload"]["authenticationInfo"]
        .get("principalEmail", "")
        .startswith("github-deployer@")
        and e["protoPayload"]["authenticationInfo"].get("serviceAccountDelegationInfo")
        and _method(e).endswith(("UpdateFunction", "UpdateService"))
    ]
    assert deploys
    for deploy in deploys:
        subject = deploy["protoPayload"]["authenticationInfo"]["serviceAccountDelegationInfo"][0][
            "principalSubject"
        ]
        before = [
            m
            for m in mints
            if m["protoPayload"]["authenticationInfo"]["principalSubject"] == subject
            and 0 < (_when(deploy) - _when(m)).total_seconds() <= 60
        ]
        assert before, deploy["insertId"]
        request = before[0]["protoPayload"]["request"]
        assert (
            request["name"]
            == "projects/-/serviceAccounts/"
            + deploy["protoPayload"]["authenticationInfo"]["principalEmail"]
        )


def test_token_exchange_and_minting_are_data_access_under_a_principal_subject(sim):
    wanted = ("ExchangeToken", "GenerateAccessToken")
    entries = [e for e in log_entries(sim) if _method(e).endswith(wanted)]
    assert {_method(e) for e in entries} == {
        "google.identity.sts.v1.SecurityTokenService.ExchangeToken",
        "GenerateAccessToken",
    }
    for entry in entries:
        auth = entry["protoPayload"]["authenticationInfo"]
        assert "principalEmail" not in auth
        assert entry["logName"].endswith("cloudaudit.googleapis.com%2Fdata_access")
        if _method(entry) == "GenerateAccessToken":
            assert auth["principalSubject"].startswith("principal://iam.googleapis.com/projects/")
            assert entry["resource"]["type"] == "service_account"
        else:
            assert auth["principalSubject"].startswith("repo:acme/")
            assert "authorizationInfo" not in entry["protoPayload"]


def test_deploys_and_builds_run_as_their_targets_own_service_accounts(sim):
    org = build_org(11)
    own = {fn.sa for p in org.projects for fn in p.functions}
    own |= {svc.sa for p in org.projects for svc in p.services}
    own |= {f"cloud-builder@{p.id}.iam.gserviceaccount.com" for p in org.projects}
    acted = [
        resource.removeprefix("projects/-/serviceAccounts/")
        for e in log_entries(sim)
        for resource, permission in _checked(e)
        if permission == "iam.serviceAccounts.actAs"
    ]
    assert acted
    assert set(acted) <= own
    methods = {
        _method(e)
        for e in log_entries(sim)
        if any(p == "iam.serviceAccounts.actAs" for _, p in _checked(e))
    }
    assert "google.devtools.cloudbuild.v1.CloudBuild.CreateBuild" in methods
    assert "google.cloud.run.v2.Services.UpdateService" in methods


def test_scheduler_publishes_on_each_jobs_schedule(sim):
    agent_publishes = Counter(
        (e["resource"]["labels"]["topic_id"], e["timestamp"][:10])
        for e in log_entries(sim)
        if _method(e) == "google.pubsub.v1.Publisher.Publish"
        and "gcp-sa-cloudscheduler" in e["protoPayload"]["authenticationInfo"]["principalEmail"]
    )
    per_day = {topic: n for (topic, day), n in agent_publishes.items() if day == "2026-03-03"}
    assert per_day == {"events": 2 * 24, "archive-trigger": 2}  # two projects


def test_functions_read_and_write_objects_as_their_own_accounts(sim):
    buckets = ("-uploads/objects/", "-exports/objects/")
    objects = [
        e
        for e in log_entries(sim)
        if _method(e).startswith("storage.objects.")
        and any(b in e["protoPayload"]["resourceName"] for b in buckets)
    ]
    assert {_method(e) for e in objects} >= {"storage.objects.get", "storage.objects.create"}
    for entry in objects:
        principal = entry["protoPayload"]["authenticationInfo"]["principalEmail"]
        project = entry["resource"]["labels"]["project_id"]
        assert principal.endswith(f"@{project}.iam.gserviceaccount.com")
        assert entry["resource"]["type"] == "gcs_bucket"


def test_federated_ci_principals_normalize_as_ci_not_people(sim):
    events = normalized(sim, "gcp")
    minting = events[events["action"] == "GenerateAccessToken"]
    assert len(minting)
    assert principal_is_ci(minting).all()
    assert not principal_is_human(minting).any()
    people = events[events["principal"].isin(build_org(11).gcp_users)]
    assert principal_is_human(people).all()


def test_gcp_resizes_keep_the_services_own_account(sim):
    org = build_org(11)
    resized = [
        e["protoPayload"]
        for e in log_entries(sim)
        if e["protoPayload"]["methodName"] == "google.cloud.run.v1.Services.ReplaceService"
        and e["protoPayload"]["authenticationInfo"]["principalEmail"] in org.gcp_users
    ]
    assert resized
    accounts = {svc.name: svc.sa for p in org.projects for svc in p.services}
    for payload in resized:
        service = payload["request"]["service"]
        spec = service["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == accounts[service["metadata"]["name"]]
