"""Fields derived once per batch, so rules can say what plain columns cannot.

Two kinds, both usable in a rule's ``detection`` and title like any column:

- column enrichments are computed vectorized over the whole batch from event columns;
- raw enrichments read the raw record, so, like raw paths, they are only computed for the rows a
  rule's column-only prefilter let through.

- ``principal_is_ci`` (column): principal or session name looks like a CI/deploy identity
  (ci, deploy, pipeline, github, gitlab, terraform, jenkins, codebuild, cloudbuild, ...);
- ``principal_is_human`` (column): an IAM user, root, federated or SSO (``AWSReservedSSO_``)
  identity on AWS or a ``user`` on GCP, and not CI-like;
- ``principal_account`` (column): the 12-digit account inside the principal ARN (AWS);
- ``cross_account_principal`` (column): ``principal_account`` known and not ``account``;
- ``layer_accounts`` (raw): accounts of the layer ARNs in the request/response ``layers``;
- ``foreign_layer`` (raw): some layer belongs to another account than the event's;
- ``trust_accounts`` (raw): accounts (or ``*``) a CreateRole / UpdateAssumeRolePolicy trust
  policy lets assume the role;
- ``foreign_trust`` (raw): that trust policy admits ``*`` or another account;
- ``public_members`` (raw): ``allUsers`` / ``allAuthenticatedUsers`` a GCP SetIamPolicy granted:
  the ADD entries of the policy delta when the entry has one (so a REMOVE of ``allUsers``
  beside an unrelated ADD is not a grant), else the members of the requested policy;
- ``public_grant`` (raw): ``public_members`` is not empty;
- ``request_accounts`` (raw): 12-digit accounts named in ``requestParameters``: inside any ARN at
  any depth, and ECR ``registryId`` values (replication destinations);
- ``foreign_request_account`` (raw): one of them is not the event's account (a log subscription,
  event target, invoke destination or replica in someone else's account);
- ``policy_principals`` (raw): who the Allow statements of a resource policy in
  ``requestParameters`` (``policyText`` or ``policy``, JSON text or object) admit: accounts, and
  ``*`` for an unconditioned wildcard principal (a wildcard narrowed by a Condition, e.g. to the
  organization, is not public and is left out);
- ``foreign_policy_principal`` (raw): that policy admits ``*`` or another account;
- ``world_open_admin_ports`` (raw): administration/database ports (or ``all``) that an
  AuthorizeSecurityGroupIngress rule opens to 0.0.0.0/0 or ::/0, read per permission so a port
  and a CIDR from two different permissions never combine;
- ``patch_operations`` (raw): API Gateway ``patchOperations`` found in ``requestParameters`` (at
  the top or one level down), one ``"<op> <path> <value>"`` text each, so a rule can match an
  operation's path and value together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pandas as pd

_CI_PATTERN = (
    r"(?i)(?:^|[^a-z])(?:ci|cd|deploy\w*|pipeline\w*|github\w*|gitlab\w*|terraform\w*|jenkins"
    r"|codebuild|codepipeline|cloudbuild|atlantis|spinnaker|argocd)(?:[^a-z]|$)"
)
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:(\d{12}):")
_ACCOUNT_IN_TEXT = re.compile(r"(?<!\d)(\d{12})(?!\d)")
_ACCOUNT_ONLY = re.compile(r"^\d{12}$")


def _on_uniques(values: pd.Series, test: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """Apply a string test once per distinct value (a batch has few distinct principals)."""
    codes, uniques = pd.factorize(values.astype("string").fillna(""))
    per_unique = test(pd.Series(uniques, dtype="string")).fillna(False).to_numpy(dtype=bool)
    return per_unique[codes] if len(per_unique) else np.zeros(len(values), dtype=bool)


def _ci(text: pd.Series) -> pd.Series:
    return text.str.contains(_CI_PATTERN, regex=True)


def _sso(text: pd.Series) -> pd.Series:
    return text.str.contains("AWSReservedSSO_", regex=False)


def principal_is_ci(events: pd.DataFrame) -> pd.Series:
    hit = _on_uniques(events["principal"], _ci) | _on_uniques(events["session"], _ci)
    return pd.Series(hit, index=events.index)


def principal_is_human(events: pd.DataFrame) -> pd.Series:
    ptype = events["principal_type"].astype("string")
    provider = events["provider"].astype("string")
    aws_human = ((provider == "aws") & ptype.isin(["user", "root", "federated"])).fillna(False)
    gcp_human = ((provider == "gcp") & (ptype == "user")).fillna(False)
    sso = _on_uniques(events["principal"], _sso)
    human = aws_human.to_numpy(dtype=bool) | gcp_human.to_numpy(dtype=bool) | sso
    return pd.Series(human & ~principal_is_ci(events).to_numpy(dtype=bool), index=events.index)


def principal_account(events: pd.DataFrame) -> pd.Series:
    found = events["principal"].astype("string").str.extract(_ARN_ACCOUNT, expand=False)
    return found.astype("string")


def cross_account_principal(events: pd.DataFrame) -> pd.Series:
    owner = principal_account(events)
    account = events["account"].astype("string")
    return (owner.notna() & (owner != account)).fillna(False).astype(bool)


COLUMN_ENRICHMENTS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "principal_is_ci": principal_is_ci,
    "principal_is_human": principal_is_human,
    "principal_account": principal_account,
    "cross_account_principal": cross_account_principal,
}


def _section(record: Any, name: str) -> dict[str, Any]:
    value = record.get(name) if isinstance(record, dict) else None
    return value if isinstance(value, dict) else {}


def layer_accounts(record: Any, account: str | None) -> list[Any]:
    arns: list[str] = []
    for section in ("requestParameters", "responseElements"):
        for layer in _section(record, section).get("layers") or []:
            arn = layer.get("arn") if isinstance(layer, dict) else layer
            if isinstance(arn, str):
                arns.append(arn)
    accounts = [m.group(1) for a in arns if (m := _ARN_ACCOUNT.match(a))]
    return list(dict.fromkeys(accounts))


def foreign_layer(record: Any, account: str | None) -> list[Any]:
    accounts = layer_accounts(record, account)
    return [any(a != account for a in accounts)]


def trust_accounts(record: Any, account: str | None) -> list[Any]:
    document = _section(record, "requestParameters").get("assumeRolePolicyDocument")
    document = document or _section(record, "requestParameters").get("policyDocument")
    if isinstance(document, str):
        try:
            document = orjson.loads(document)
        except orjson.JSONDecodeError:
            return []
    if not isinstance(document, dict):
        return []
    found: list[str] = []
    statements = document.get("Statement") or []
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        if principal == "*":
            found.append("*")
            continue
        aws = principal.get("AWS") if isinstance(principal, dict) else None
        for entry in aws if isinstance(aws, list) else [aws]:
            if entry == "*":
                found.append("*")
            elif isinstance(entry, str):
                found.extend(_ACCOUNT_IN_TEXT.findall(entry))
    return list(dict.fromkeys(found))


def foreign_trust(record: Any, account: str | None) -> list[Any]:
    accounts = trust_accounts(record, account)
    return [any(a != account for a in accounts)]


PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})


def public_members(record: Any, account: str | None) -> list[Any]:
    proto = _section(record, "protoPayload")
    deltas = _section(_section(proto, "serviceData"), "policyDelta").get("bindingDeltas")
    found: list[Any] = []
    if deltas is not None:  # what changed, one binding per entry: read action and member together
        for delta in deltas if isinstance(deltas, list) else []:
            if isinstance(delta, dict) and delta.get("action") == "ADD":
                found.append(delta.get("member"))
    else:
        bindings = _section(_section(proto, "request"), "policy").get("bindings")
        for binding in bindings if isinstance(bindings, list) else []:
            members = binding.get("members") if isinstance(binding, dict) else None
            found.extend(members if isinstance(members, list) else [])
    return list(dict.fromkeys(m for m in found if isinstance(m, str) and m in PUBLIC_MEMBERS))


def public_grant(record: Any, account: str | None) -> list[Any]:
    return [bool(public_members(record, account))]


def _arn_accounts(node: Any, found: list[str], depth: int = 0) -> None:
    if depth > 8:
        return
    if isinstance(node, str):
        if m := _ARN_ACCOUNT.match(node):
            found.append(m.group(1))
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "registryId" and isinstance(value, str) and _ACCOUNT_ONLY.match(value):
                found.append(value)
            else:
                _arn_accounts(value, found, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _arn_accounts(item, found, depth + 1)


def request_accounts(record: Any, account: str | None) -> list[Any]:
    found: list[str] = []
    _arn_accounts(_section(record, "requestParameters"), found)
    return list(dict.fromkeys(found))


def foreign_request_account(record: Any, account: str | None) -> list[Any]:
    return [any(a != account for a in request_accounts(record, account))]


def _policy_document(params: dict[str, Any]) -> dict[str, Any] | None:
    document = params.get("policyText") or params.get("policy")
    if isinstance(document, str):
        try:
            document = orjson.loads(document)
        except orjson.JSONDecodeError:
            return None
    return document if isinstance(document, dict) else None


def policy_principals(record: Any, account: str | None) -> list[Any]:
    document = _policy_document(_section(record, "requestParameters"))
    if document is None:
        return []
    found: list[str] = []
    statements = document.get("Statement") or []
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else principal
        for entry in aws if isinstance(aws, list) else [aws]:
            if entry == "*":
                if not st.get("Condition"):
                    found.append("*")
            elif isinstance(entry, str):
                found.extend(_ACCOUNT_IN_TEXT.findall(entry))
    return list(dict.fromkeys(found))


def foreign_policy_principal(record: Any, account: str | None) -> list[Any]:
    return [any(p != account for p in policy_principals(record, account))]


ADMIN_PORTS = (
    22,
    23,
    445,
    1433,
    1521,
    2375,
    2376,
    2379,
    3306,
    3389,
    5432,
    5601,
    5900,
    6379,
    9200,
    11211,
    27017,
)
_WORLD = frozenset({"0.0.0.0/0", "::/0"})


def _items(node: Any) -> list[Any]:
    """EC2's XML-born lists: ``{"items": [...]}``, sometimes a bare list."""
    if isinstance(node, dict):
        node = node.get("items")
    return node if isinstance(node, list) else []


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def world_open_admin_ports(record: Any, account: str | None) -> list[Any]:
    found: list[str] = []
    for perm in _items(_section(record, "requestParameters").get("ipPermissions")):
        if not isinstance(perm, dict):
            continue
        cidrs = [r.get("cidrIp") for r in _items(perm.get("ipRanges")) if isinstance(r, dict)]
        cidrs += [r.get("cidrIpv6") for r in _items(perm.get("ipv6Ranges")) if isinstance(r, dict)]
        if not _WORLD.intersection(c for c in cidrs if isinstance(c, str)):
            continue
        if str(perm.get("ipProtocol")) == "-1":
            found.append("all")
            continue
        low, high = _port(perm.get("fromPort")), _port(perm.get("toPort"))
        if low is None or high is None:
            continue
        found.extend(str(p) for p in ADMIN_PORTS if low <= p <= high)
    return list(dict.fromkeys(found))


def patch_operations(record: Any, account: str | None) -> list[Any]:
    params = _section(record, "requestParameters")
    ops = params.get("patchOperations")
    if ops is None:
        nested = (v.get("patchOperations") for v in params.values() if isinstance(v, dict))
        ops = next((o for o in nested if o is not None), None)
    out: list[str] = []
    for op in ops if isinstance(ops, list) else []:
        if isinstance(op, dict):
            value = op.get("value")
            parts = (op.get("op"), op.get("path"), "" if value is None else value)
            out.append(" ".join(str(p) for p in parts).rstrip())
    return out


RAW_ENRICHMENTS: dict[str, Callable[[Any, str | None], list[Any]]] = {
    "layer_accounts": layer_accounts,
    "foreign_layer": foreign_layer,
    "trust_accounts": trust_accounts,
    "foreign_trust": foreign_trust,
    "public_members": public_members,
    "public_grant": public_grant,
    "request_accounts": request_accounts,
    "foreign_request_account": foreign_request_account,
    "policy_principals": policy_principals,
    "foreign_policy_principal": foreign_policy_principal,
    "world_open_admin_ports": world_open_admin_ports,
    "patch_operations": patch_operations,
}
