from __future__ import annotations

from datetime import date, datetime

import pytest

from pipelines.simulate import ATTACKS
from pipelines.simulate.attacks import inject, resolve
from pipelines.simulate.emit import HOURLY
from pipelines.simulate.ids import epoch
from pipelines.simulate.org import build_org

START = epoch(date(2026, 3, 2))
ORG = build_org(4)


def run(name, seed=4, days=7, scale=1.0):
    emits, labels = inject(ORG, seed, [name], START, days, scale)
    (label,) = labels
    return [e.record for e in emits], label


def aws(records, event_name=None):
    return [
        r
        for r in records
        if "eventName" in r and (event_name is None or r["eventName"] == event_name)
    ]


def test_all_expands_to_every_registered_attack_in_registry_order():
    assert resolve(["all"]) == list(ATTACKS)
    assert resolve(["root-login", "public-lambda", "root-login"]) == ["public-lambda", "root-login"]


@pytest.mark.parametrize("name", list(ATTACKS))
def test_each_attack_lands_after_day_three_and_labels_all_its_records(name):
    records, label = run(name)
    assert label.scenario == name
    assert label.kind == ATTACKS[name].kind
    assert len(label.event_ids) == len(records) == len(set(label.event_ids))
    assert label.start >= "2026-03-05"


def test_public_lambda_grants_invoke_to_star_without_source_condition():
    records, _ = run("public-lambda")
    (add,) = aws(records, "AddPermission20150331v2")
    params = add["requestParameters"]
    assert params["principal"] == "*"
    assert "sourceArn" not in params
    assert "sourceAccount" not in params


def test_public_function_url_has_auth_type_none():
    records, _ = run("public-function-url")
    (url,) = aws(records, "CreateFunctionUrlConfig20211031")
    assert url["requestParameters"]["authType"] == "NONE"


def test_gcp_public_function_policy_delta_adds_all_users_invoker():
    records, _ = run("gcp-public-function")
    payload = records[0]["protoPayload"]
    assert payload["methodName"] == "google.cloud.functions.v1.CloudFunctionsService.SetIamPolicy"
    assert payload["serviceData"]["policyDelta"]["bindingDeltas"] == [
        {"action": "ADD", "role": "roles/cloudfunctions.invoker", "member": "allUsers"}
    ]


def test_foreign_layer_comes_from_an_account_outside_the_organization():
    records, _ = run("foreign-layer")
    (update,) = aws(records, "UpdateFunctionConfiguration20150331v2")
    layer_account = update["requestParameters"]["layers"][0].split(":")[4]
    assert layer_account not in {a.id for a in ORG.accounts}


def test_human_code_change_is_made_by_an_iam_user():
    records, _ = run("human-code-change")
    (update,) = aws(records, "UpdateFunctionCode20150331v2")
    assert update["userIdentity"]["type"] == "IAMUser"


def test_secrets_harvest_reads_thirty_distinct_secrets_within_minutes():
    records, _ = run("secrets-harvest")
    reads = aws(records, "GetSecretValue")
    assert len({r["requestParameters"]["secretId"] for r in reads}) >= 30
    first, last = (
        datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ") for r in (reads[0], reads[-1])
    )
    assert (last - first).total_seconds() <= 10 * 60


def test_console_no_mfa_targets_a_user_who_has_mfa():
    records, label = run("console-no-mfa")
    (login,) = aws(records, "ConsoleLogin")
    assert login["additionalEventData"]["MFAUsed"] == "No"
    user = next(u for u in ORG.account("prod").users if u.arn == label.principal)
    assert user.mfa


def test_root_login_is_followed_by_api_calls_as_root():
    records, _ = run("root-login")
    assert records[0]["eventName"] == "ConsoleLogin"
    assert all(r["userIdentity"]["type"] == "Root" for r in records)
    assert any(r["eventType"] == "AwsApiCall" for r in records)


def test_login_bruteforce_fails_twenty_times_then_succeeds():
    records, _ = run("login-bruteforce")
    outcomes = [r["responseElements"]["ConsoleLogin"] for r in records]
    assert outcomes[-1] == "Success"
    assert outcomes[:-1] == ["Failure"] * (len(outcomes) - 1)
    assert len(outcomes) > 20
    assert all(r["errorMessage"] == "Failed authentication" for r in records[:-1])


def test_access_denied_burst_spans_many_apis():
    records, _ = run("access-denied-burst")
    denied = [r for r in records if r.get("errorCode")]
    assert len(denied) >= 40
    assert len({r["eventSource"] for r in denied}) >= 8


def test_admin_policy_attached_uses_administrator_access():
    records, _ = run("admin-policy-attached")
    attach = [r for r in records if r["eventName"] in ("AttachUserPolicy", "AttachRolePolicy")]
    assert (
        attach[0]["requestParameters"]["policyArn"] == "arn:aws:iam::aws:policy/AdministratorAccess"
    )
    assert attach[0]["awsRegion"] == "us-east-1"


def test_passrole_escalation_creates_invokes_and_exposes_with_one_principal():
    records, _ = run("passrole-lambda-escalation")
    names = [r["eventName"] for r in records]
    assert names[1:] == ["CreateFunction20150331", "Invoke", "CreateFunctionUrlConfig20211031"]
    assert len({r["userIdentity"]["arn"] for r in records}) == 1
    assert "OrganizationAccountAccessRole" in records[1]["requestParameters"]["role"]


def test_gcp_owner_grant_adds_an_external_owner():
    records, _ = run("gcp-owner-grant")
    delta = records[-1]["protoPayload"]["serviceData"]["policyDelta"]["bindingDeltas"][0]
    assert delta["role"] == "roles/owner"
    assert not delta["member"].endswith("@acme.io")


def test_gcp_sa_key_and_sink_deletion_use_the_documented_method_names():
    key, _ = run("gcp-sa-key")
    sink, _ = run("gcp-sink-deleted")
    assert key[0]["protoPayload"]["methodName"] == "google.iam.admin.v1.CreateServiceAccountKey"
    assert sink[0]["protoPayload"]["methodName"] == "google.logging.v2.ConfigServiceV2.DeleteSink"


def test_wallet_and_concurrency_attacks_set_the_extreme_values():
    wallet, _ = run("denial-of-wallet-config")
    zero, _ = run("concurrency-zero")
    params = aws(wallet, "UpdateFunctionConfiguration20150331v2")[0]["requestParameters"]
    assert (params["timeout"], params["memorySize"]) == (900, 10240)
    assert aws(zero, "PutFunctionConcurrency20171031")[0]["requestParameters"] == {
        "functionName": aws(zero, "PutFunctionConcurrency20171031")[0]["requestParameters"][
            "functionName"
        ],
        "reservedConcurrentExecutions": 0,
    }


def test_stolen_ci_keys_use_the_ci_role_at_3am_from_outside_ci_without_errors():
    records, _ = run("stolen-ci-keys")
    assert {r["eventTime"][11:13] for r in records} == {"03"}
    assert {r["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] for r in records} == {
        "ci-deploy"
    }
    assert not {r["sourceIPAddress"] for r in records} & set(ORG.ci_ips)
    assert [r["eventName"] for r in records].count("UpdateFunctionCode20150331v2") == 1
    assert not any(r.get("errorCode") for r in records)


def test_dormant_user_reads_fewer_secrets_than_a_harvest():
    records, label = run("dormant-user-secrets")
    assert label.principal.endswith(":user/backup-sync")
    assert 0 < len(aws(records, "GetSecretValue")) < 30


def test_invocation_flood_is_about_fifty_times_the_usual_hourly_rate():
    records, label = run("invocation-flood")
    hour = int(label.start[11:13])
    fn = max((f for f in ORG.account("prod").functions if f.api_rate), key=lambda f: f.api_rate)
    usual = (
        fn.api_rate
        * HOURLY[hour]
        * (0.45 if date.fromisoformat(label.start[:10]).weekday() >= 5 else 1)
    )
    assert 40 * usual < len(records) < 60 * usual
    assert {r["eventTime"][:13] for r in records} == {label.start[:13]}


def test_recon_sweep_touches_ten_services_all_allowed():
    records, _ = run("recon-sweep")
    assert len({r["eventSource"] for r in records}) >= 10
    assert not any(r.get("errorCode") for r in records)
    assert all(r["readOnly"] for r in records)


def test_attacks_use_the_whole_range_when_fewer_than_five_days():
    _, label = run("root-login", days=2)
    assert "2026-03-02" <= label.start < "2026-03-04"
