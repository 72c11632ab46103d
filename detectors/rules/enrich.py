"""Fields derived once per batch, so rules can say what plain columns cannot.

Two kinds, both usable in a rule's ``detection`` and title like any column:

- column enrichments are computed vectorized over the whole batch from event columns;
- raw enrichments read the raw record, so, like raw paths, they are only computed for the rows a
  rule's column-only prefilter let through.

- ``principal_is_ci`` (column): the principal (IAM user or role, GCP service account) looks like a
  CI/deploy identity (ci, deploy, pipeline, github, gitlab, terraform, jenkins, codebuild,
  cloudbuild, ...). Never the role session name: whoever calls AssumeRole picks it, so an
  intruder's session named ``terraform`` would silence every rule that spares CI;
- ``principal_is_human`` (column): an IAM user, root, federated or SSO (``AWSReservedSSO_``)
  identity on AWS or a ``user`` on GCP with an email or a workforce pool subject, and not CI-like;
  a GCP workload federated through a workload identity pool
  (``principal://.../workloadIdentityPools/...``), GKE Workload Identity (``...svc.id.goog[ns/sa]``)
  or the raw IdP subject of an STS token exchange logs a subject, not an email, and is no person;
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
  ``requestParameters`` (``policyText``, ``policy``, S3 ``bucketPolicy``, Secrets Manager
  ``resourcePolicy``, SQS / SNS ``attributes.Policy``, SNS ``attributeValue`` when
  ``attributeName`` is ``Policy``; JSON text or object) admit: accounts, and ``*`` for a wildcard
  principal that no account-scoping condition narrows (``aws:PrincipalOrgID``,
  ``aws:PrincipalAccount``, ``kms:CallerAccount``, ``aws:SourceArn``...; a wildcard narrowed that
  way is not public, and the accounts such a condition names count as admitted; so is every
  wildcard of a policy whose Deny of everyone is fenced by a negated condition on such a key;
  a world-open ``aws:SourceIp`` narrows nothing); also the
  accounts (or ``*``) an SQS / SNS AddPermission grants (``aWSAccountIds`` / ``aWSAccountId``);
- ``foreign_policy_principal`` (raw): that policy admits ``*`` or another account;
- ``queue_or_topic`` (raw): the SQS queue URL or SNS topic ARN a call is about (``queueUrl`` /
  ``topicArn`` of the request, else of a CreateQueue / CreateTopic response);
- ``world_open_admin_ports`` (raw): administration/database ports (or ``all``) that an
  AuthorizeSecurityGroupIngress rule opens to 0.0.0.0/0 or ::/0, read per permission so a port
  and a CIDR from two different permissions never combine;
- ``patch_operations`` (raw): API Gateway ``patchOperations`` found in ``requestParameters`` (at
  the top or one level down), one ``"<op> <path> <value>"`` text each, so a rule can match an
  operation's path and value together;
- ``policy_foreign_accounts`` (raw): the accounts of ``policy_principals`` other than the event's
  (``*`` left out), for titles;
- ``oidc_trust_unscoped`` (raw): a CreateRole / UpdateAssumeRolePolicy trust policy lets a web
  identity provider's tokens assume the role without pinning the subject (no ``:sub`` condition,
  or one starting with a wildcard such as ``repo:*``; Cognito: no ``:aud`` condition);
- ``lifecycle_expires_all`` (raw): a PutBucketLifecycle configuration has an enabled rule with no
  prefix, tag or size filter that expires current objects within 7 days (or at a fixed date);
- ``granted_members`` / ``granted_roles`` (raw): members and roles a GCP SetIamPolicy added, read
  the way ``public_members`` reads them (an ownership invite counts as ``roles/owner``);
- ``external_members`` (raw): the granted ``user:`` / ``group:`` / ``domain:`` members outside the
  organization: a consumer mail domain (gmail.com, ...), or another domain than a human caller's;
- ``external_roles`` (raw): the roles granted to those members; ``external_grant`` (raw): any;
- ``runtime_service_account`` (raw): the service account a deploy request runs code as (Cloud
  Functions v1/v2, Cloud Run services and jobs v1/v2, Cloud Build, Compute instances, Cloud
  Scheduler and Pub/Sub push tokens);
- ``default_service_account`` (raw): that account is a default one (Compute Engine, App Engine,
  legacy Cloud Build: Editor on the project unless the organization turned that off), or a
  create request names none, so the platform runs it as its default;
- ``org_policy_constraint`` (raw): the constraint an organization policy call is about, without
  its prefix (``iam.disableServiceAccountKeyCreation``), from the v2 policy name
  (``projects/P/policies/<c>``) or the v1 ``constraints/<c>``;
- ``secret_name`` (raw): the Secret Manager secret a call is about, ``projects/P/secrets/S``,
  without the ``/versions/N`` of version calls (so rotating one secret counts once);
- ``container_images`` (raw): the container images a Cloud Run service deploy request names
  (v1 ``service.spec.template.spec.containers[].image``, v2
  ``service.template.containers[].image``);
- ``foreign_images`` (raw): those hosted outside the event's project: in another project's
  Artifact Registry / Container Registry, or in any other registry (Docker Hub, ghcr.io...);
  Google's sample and placeholder images (project ``cloudrun``) are not counted;
  ``foreign_image`` (raw): any;
- ``long_term_key`` (raw): the call was signed with a long-lived key a person can copy: an AWS
  access key ``AKIA...`` (an IAM user's or root's, not a role session's ``ASIA...``) or a Google
  service-account key (``authenticationInfo.serviceAccountKeyName``: a downloaded JSON key,
  where a workload on its attached identity logs none).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detectors.rules.matchers import to_bool

_CI_PATTERN = (
    r"(?i)(?:^|[^a-z])(?:ci|cd|deploy\w*|pipeline\w*|github\w*|gitlab\w*|terraform\w*|jenkins"
    r"|codebuild|codepipeline|cloudbuild|atlantis|spinnaker|argocd)(?:[^a-z]|$)"
)
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:(\d{12}):")
_ACCOUNT_IN_TEXT = re.compile(r"(?<!\d)(\d{12})(?!\d)")
_ACCOUNT_ONLY = re.compile(r"^\d{12}$")


def _arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A column's Arrow data (no copy for the event model's Arrow-backed columns)."""
    return pa.array(values, pa.string(), from_pandas=True)


def _on_uniques(values: pd.Series, test: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """Apply a string test once per distinct value (a batch has few distinct principals); a
    null value is not a hit. Arrow's dictionary encoding: ``pd.factorize`` of the column cost
    ~5x more at 288k events."""
    encoded = pc.dictionary_encode(_arrow(values))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    uniques = pd.Series(encoded.dictionary.to_pylist(), dtype="string")
    per_unique = np.append(test(uniques).fillna(False).to_numpy(dtype=bool), False)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return per_unique[codes]


def _ci(text: pd.Series) -> pd.Series:
    return text.str.contains(_CI_PATTERN, regex=True)


def _sso(text: pd.Series) -> pd.Series:
    return text.str.contains("AWSReservedSSO_", regex=False)


_GCP_PERSON = r"(?:@|/workforcePools/)"
_GCP_WORKLOAD_SUBJECT = r"(?:/workloadIdentityPools/|\.svc\.id\.goog\[)"


def _gcp_person(text: pd.Series) -> pd.Series:
    """A Google account's email or a workforce pool subject; not a workload's federated subject
    nor the raw IdP subject an STS exchange logs (``repo:acme/app:ref:refs/heads/main``)."""
    person = text.str.contains(_GCP_PERSON, regex=True)
    return person & ~text.str.contains(_GCP_WORKLOAD_SUBJECT, regex=True)


def principal_is_ci(events: pd.DataFrame) -> pd.Series:
    return pd.Series(_on_uniques(events["principal"], _ci), index=events.index)


def principal_is_human(events: pd.DataFrame) -> pd.Series:
    ptype = _arrow(events["principal_type"])
    provider = _arrow(events["provider"])
    aws = to_bool(pc.equal(provider, "aws"))
    aws_human = aws & to_bool(pc.is_in(ptype, pa.array(["user", "root", "federated"])))
    gcp_user = to_bool(pc.equal(provider, "gcp")) & to_bool(pc.equal(ptype, "user"))
    gcp_human = gcp_user & _on_uniques(events["principal"], _gcp_person)
    sso = _on_uniques(events["principal"], _sso)
    human = aws_human | gcp_human | sso
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


def _binding_adds(record: Any) -> list[tuple[Any, Any]]:
    """(role, member) pairs a GCP IAM change added.

    The policy delta when logged (one binding per entry, so action, role and member are read
    together), else the bindings of the requested policy; an InsertProjectOwnershipInvite
    (the console's invite of an outside user as owner) adds its ``request.member`` as owner.
    """
    proto = _section(record, "protoPayload")
    request = _section(proto, "request")
    if isinstance(proto.get("methodName"), str) and proto["methodName"].endswith(
        "InsertProjectOwnershipInvite"
    ):
        return [("roles/owner", request.get("member"))]
    deltas = _section(_section(proto, "serviceData"), "policyDelta").get("bindingDeltas")
    if deltas is not None:
        return [
            (delta.get("role"), delta.get("member"))
            for delta in (deltas if isinstance(deltas, list) else [])
            if isinstance(delta, dict) and delta.get("action") == "ADD"
        ]
    adds: list[tuple[Any, Any]] = []
    bindings = _section(request, "policy").get("bindings")
    for binding in bindings if isinstance(bindings, list) else []:
        members = binding.get("members") if isinstance(binding, dict) else None
        for member in members if isinstance(members, list) else []:
            adds.append((binding.get("role"), member))
    return adds


def public_members(record: Any, account: str | None) -> list[Any]:
    members = (m for _, m in _binding_adds(record))
    return list(dict.fromkeys(m for m in members if isinstance(m, str) and m in PUBLIC_MEMBERS))


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


_POLICY_KEYS = ("policyText", "policy", "bucketPolicy", "resourcePolicy")
_ACCOUNT_SCOPING_KEYS = frozenset(
    {
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalarn",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:userid",
        "aws:username",
        "kms:calleraccount",
    }
)
"""Condition keys that narrow a ``*`` principal to known callers: such a statement is not public."""
_WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
"""An ``aws:SourceIp`` condition naming only these narrows nothing."""
_NEGATED_OPERATORS = ("stringnot", "arnnot", "notipaddress")
"""A Deny of everyone under one of these operators on a scoping key lets in only the callers it
names (AWS's private API and VPC endpoint examples: Allow ``*``, Deny unless the endpoint)."""


def _document(value: Any) -> dict[str, Any] | None:
    """A policy document logged as a JSON string or as an object."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value if isinstance(value, dict) else None


def _statements(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    found = (document or {}).get("Statement") or []
    return [st for st in (found if isinstance(found, list) else [found]) if isinstance(st, dict)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_entries(
    statement: dict[str, Any], operators: tuple[str, ...] = ()
) -> list[tuple[str, Any]]:
    """(lower-cased condition key, value) pairs of a statement, across its operators (only those
    starting with one of ``operators``, lower-cased, when given)."""
    condition = statement.get("Condition")
    entries: list[tuple[str, Any]] = []
    for operator, block in condition.items() if isinstance(condition, dict) else []:
        if operators and not str(operator).lower().startswith(operators):
            continue
        if isinstance(block, dict):
            entries.extend((str(key).lower(), value) for key, value in block.items())
    return entries


def _scoping(entries: list[tuple[str, Any]]) -> list[Any]:
    """The values of the entries that narrow callers (a world-open ``aws:SourceIp`` does not)."""
    return [
        value
        for key, value in entries
        if key in _ACCOUNT_SCOPING_KEYS
        and not (key == "aws:sourceip" and {str(v) for v in _as_list(value)} <= _WORLD_CIDRS)
    ]


def _aws_principals(statement: dict[str, Any]) -> list[str]:
    """The AWS principals a statement names (``*``, account ids, ARNs)."""
    principal = statement.get("Principal")
    aws = principal.get("AWS") if isinstance(principal, dict) else principal
    return [e for e in _as_list(aws) if isinstance(e, str)]


def _policy_document(params: dict[str, Any]) -> dict[str, Any] | None:
    # S3 logs the query-string marker ``policy: [""]`` beside the parsed ``bucketPolicy``
    candidates = [params.get(key) for key in _POLICY_KEYS]
    attributes = params.get("attributes")
    if isinstance(attributes, dict):  # SQS SetQueueAttributes / CreateQueue, SNS CreateTopic
        candidates.append(attributes.get("Policy"))
    if params.get("attributeName") == "Policy":  # SNS SetTopicAttributes: one attribute a call
        candidates.append(params.get("attributeValue"))
    documents = (_document(value) for value in candidates)
    return next((d for d in documents if d is not None), None)


_PERMISSION_ACCOUNT_KEYS = ("aWSAccountIds", "AWSAccountIds", "aWSAccountId", "AWSAccountId")
"""Where SQS (``...Ids``) and SNS (``...Id``) AddPermission log the accounts they let in."""


def _permission_accounts(params: dict[str, Any]) -> list[str]:
    """Accounts (or ``*``) an SQS / SNS AddPermission grants: the Allow statement it writes names
    each as ``arn:aws:iam::<id>:root``, with no condition."""
    found: list[str] = []
    for key in _PERMISSION_ACCOUNT_KEYS:
        for entry in _as_list(params.get(key)):
            if entry == "*":
                found.append("*")
            elif isinstance(entry, str):
                found.extend(_ACCOUNT_IN_TEXT.findall(entry))
    return found


def policy_principals(record: Any, account: str | None) -> list[Any]:
    params = _section(record, "requestParameters")
    found: list[str] = _permission_accounts(params)
    statements = _statements(_policy_document(params))
    # A Deny of everyone but the callers a negated condition names narrows every Allow of ``*``
    # (whatever actions it covers: read as narrowing, so such a policy is never called public).
    fenced = [
        value
        for st in statements
        if st.get("Effect") == "Deny" and "*" in _aws_principals(st)
        for value in _scoping(_condition_entries(st, _NEGATED_OPERATORS))
    ]
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        entries = _aws_principals(st)
        if "*" in entries:
            scoping = _scoping(_condition_entries(st)) or fenced
            if not scoping:
                found.append("*")
            for value in scoping:
                for text in _as_list(value):
                    found.extend(_ACCOUNT_IN_TEXT.findall(str(text)))
        for entry in entries:
            found.extend(_ACCOUNT_IN_TEXT.findall(entry))
    return list(dict.fromkeys(found))


def foreign_policy_principal(record: Any, account: str | None) -> list[Any]:
    return [any(p != account for p in policy_principals(record, account))]


def queue_or_topic(record: Any, account: str | None) -> list[Any]:
    """The SQS queue URL or SNS topic ARN a call is about; CreateQueue / CreateTopic name theirs
    in the response (the normalizer's ``resource`` reads neither ``queueUrl`` nor ``topicArn``)."""
    for section in ("requestParameters", "responseElements"):
        found = _section(record, section)
        for key in ("queueUrl", "topicArn"):
            value = found.get(key)
            if isinstance(value, str) and value:
                return [value]
    return []


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


def policy_foreign_accounts(record: Any, account: str | None) -> list[Any]:
    return [a for a in policy_principals(record, account) if a not in ("*", account)]


_WEB_IDENTITY_ACTIONS = frozenset({"sts:assumerolewithwebidentity", "sts:*", "*"})
_UNPINNED_SUBJECT = re.compile(r"^(?:[a-z_]+:)?[*?]", re.IGNORECASE)
"""A subject admitting any repository or organization: ``*``, ``repo:*``, ``organization:*``."""


def _web_identity_unscoped(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    federated = principal.get("Federated") if isinstance(principal, dict) else None
    providers = [p for p in _as_list(federated) if isinstance(p, str)]
    actions = {str(a).lower() for a in _as_list(statement.get("Action"))}
    if not providers or not actions & _WEB_IDENTITY_ACTIONS:
        return False
    conditions = _condition_entries(statement)
    if any(p == "cognito-identity.amazonaws.com" for p in providers):
        return not any(key.endswith(":aud") for key, _ in conditions)
    subjects = [
        str(text) for key, value in conditions if key.endswith(":sub") for text in _as_list(value)
    ]
    return not subjects or any(_UNPINNED_SUBJECT.match(s) for s in subjects)


def oidc_trust_unscoped(record: Any, account: str | None) -> list[Any]:
    params = _section(record, "requestParameters")
    document = _document(params.get("assumeRolePolicyDocument") or params.get("policyDocument"))
    allowed = [st for st in _statements(document) if st.get("Effect") == "Allow"]
    return [any(_web_identity_unscoped(st) for st in allowed)]


_SHORT_EXPIRY_DAYS = 7


def _expires_everything_soon(rule: dict[str, Any]) -> bool:
    if rule.get("Status") != "Enabled":
        return False
    narrowing = _as_list(rule.get("Prefix"))
    filt = rule.get("Filter")
    if isinstance(filt, dict):
        narrowing += [filt.get(k) for k in ("Prefix", "Tag", "And")]
        narrowing += [filt.get(k) for k in ("ObjectSizeGreaterThan", "ObjectSizeLessThan")]
    if any(value not in (None, "") for value in narrowing):
        return False
    expiration = rule.get("Expiration")
    if not isinstance(expiration, dict):
        return False
    if expiration.get("Date"):
        return True
    try:
        return int(str(expiration.get("Days"))) <= _SHORT_EXPIRY_DAYS
    except ValueError:
        return False


def lifecycle_expires_all(record: Any, account: str | None) -> list[Any]:
    config = _section(_section(record, "requestParameters"), "LifecycleConfiguration")
    rules = [r for r in _as_list(config.get("Rule")) if isinstance(r, dict)]
    return [any(_expires_everything_soon(rule) for rule in rules)]


def granted_members(record: Any, account: str | None) -> list[Any]:
    return list(dict.fromkeys(m for _, m in _binding_adds(record) if isinstance(m, str)))


def granted_roles(record: Any, account: str | None) -> list[Any]:
    return list(dict.fromkeys(r for r, _ in _binding_adds(record) if isinstance(r, str)))


CONSUMER_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "mail.com",
        "mail.ru",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
    ]
)
"""Personal mail domains: a Google account on one of them belongs to no organization."""

_MEMBER_KINDS = ("user:", "group:", "domain:")


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


def _caller_domain(record: Any) -> str | None:
    """The domain of a person's email (service accounts and federated subjects have none)."""
    email = _section(_section(record, "protoPayload"), "authenticationInfo").get("principalEmail")
    if not isinstance(email, str) or "@" not in email or email.endswith(".gserviceaccount.com"):
        return None
    return _domain(email)


def _external_adds(record: Any) -> list[tuple[Any, str]]:
    """(role, member) of granted people, groups and domains outside the organization: on a
    personal mail domain, or, when a person granted it, on another domain than theirs."""
    caller = _caller_domain(record)
    found = []
    for role, member in _binding_adds(record):
        if not isinstance(member, str) or not member.startswith(_MEMBER_KINDS):
            continue
        domain = _domain(member.split(":", 1)[1])
        if domain in CONSUMER_DOMAINS or (caller is not None and domain != caller):
            found.append((role, member))
    return found


def external_members(record: Any, account: str | None) -> list[Any]:
    return list(dict.fromkeys(m for _, m in _external_adds(record)))


def external_roles(record: Any, account: str | None) -> list[Any]:
    return list(dict.fromkeys(r for r, _ in _external_adds(record) if isinstance(r, str)))


def external_grant(record: Any, account: str | None) -> list[Any]:
    return [bool(_external_adds(record))]


def _walk(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


_RUNTIME_ACCOUNT_PATHS: tuple[tuple[str, ...], ...] = (
    ("function", "serviceAccountEmail"),  # Cloud Functions v1
    ("function", "serviceConfig", "serviceAccountEmail"),  # Cloud Functions v2
    ("service", "spec", "template", "spec", "serviceAccountName"),  # Cloud Run v1 service
    ("service", "template", "serviceAccount"),  # Cloud Run v2 service
    ("job", "spec", "template", "spec", "template", "spec", "serviceAccountName"),  # Run v1 job
    ("job", "template", "template", "serviceAccount"),  # Cloud Run v2 job
    ("build", "serviceAccount"),  # Cloud Build
    ("job", "httpTarget", "oidcToken", "serviceAccountEmail"),  # Cloud Scheduler
    ("job", "httpTarget", "oauthToken", "serviceAccountEmail"),
    ("subscription", "pushConfig", "oidcToken", "serviceAccountEmail"),  # Pub/Sub push
    ("pushConfig", "oidcToken", "serviceAccountEmail"),
)
_DEFAULT_ACCOUNT = re.compile(
    r"(?:-compute@developer\.gserviceaccount\.com|@appspot\.gserviceaccount\.com"
    r"|@cloudbuild\.gserviceaccount\.com)$",
    re.IGNORECASE,
)
_DEFAULTS_WHEN_UNSET = (
    "CloudFunctionsService.CreateFunction",
    "FunctionService.CreateFunction",
    "Services.CreateService",
    "Jobs.CreateJob",
    "CloudBuild.CreateBuild",
)
"""Creates whose platform picks a default (Editor-holding unless disabled) account if none is
named; an instance created without ``serviceAccounts`` has no account at all."""


def runtime_service_account(record: Any, account: str | None) -> list[Any]:
    request = _section(_section(record, "protoPayload"), "request")
    found = [_walk(request, *path) for path in _RUNTIME_ACCOUNT_PATHS]
    instance_accounts = request.get("serviceAccounts")  # Compute Engine instances
    for entry in instance_accounts if isinstance(instance_accounts, list) else []:
        found.append(entry.get("email") if isinstance(entry, dict) else None)
    return list(dict.fromkeys(a for a in found if isinstance(a, str) and a))


def default_service_account(record: Any, account: str | None) -> list[Any]:
    accounts = runtime_service_account(record, account)
    if accounts:
        return [any(_DEFAULT_ACCOUNT.search(a) for a in accounts)]
    method = _section(record, "protoPayload").get("methodName")
    return [isinstance(method, str) and method.endswith(_DEFAULTS_WHEN_UNSET)]


def org_policy_constraint(record: Any, account: str | None) -> list[Any]:
    proto = _section(record, "protoPayload")
    request = _section(proto, "request")
    policy = _section(request, "policy")
    names = (
        policy.get("name"),
        request.get("name"),
        policy.get("constraint"),
        request.get("constraint"),
        proto.get("resourceName"),
    )
    for name in names:
        if isinstance(name, str) and ("/policies/" in name or name.startswith("constraints/")):
            return [name.rsplit("/", 1)[-1]]
    return []


_SECRET = re.compile(r"^(projects/[^/]+/secrets/[^/]+)")


def secret_name(record: Any, account: str | None) -> list[Any]:
    name = _section(record, "protoPayload").get("resourceName")
    found = _SECRET.match(name) if isinstance(name, str) else None
    return [found.group(1)] if found else []


_SERVICE_CONTAINER_PATHS: tuple[tuple[str, ...], ...] = (
    ("service", "spec", "template", "spec", "containers"),  # Cloud Run v1 (Knative) service
    ("service", "template", "containers"),  # Cloud Run v2 service
)
_GOOGLE_REGISTRY = re.compile(r"^(?:(?:[a-z]+\.)?gcr\.io|[a-z0-9-]+-docker\.pkg\.dev)$")
"""Container Registry (``gcr.io``, ``us.gcr.io``...) and Artifact Registry Docker hosts
(``europe-west1-docker.pkg.dev``, ``us-docker.pkg.dev``): the path's first segment is the
project hosting the image."""
_GOOGLE_SAMPLES = "cloudrun"
"""Google's own sample and placeholder images (``gcr.io/cloudrun/hello``,
``us-docker.pkg.dev/cloudrun/container/hello``): the console's defaults, no one's code."""


def container_images(record: Any, account: str | None) -> list[Any]:
    request = _section(_section(record, "protoPayload"), "request")
    found: list[str] = []
    for path in _SERVICE_CONTAINER_PATHS:
        containers = _walk(request, *path)
        for container in containers if isinstance(containers, list) else []:
            image = container.get("image") if isinstance(container, dict) else None
            if isinstance(image, str) and image:
                found.append(image)
    return list(dict.fromkeys(found))


def _image_home(image: str) -> str:
    """Where an image is hosted: ``project:<id>`` for Google's registries (a domain-scoped
    project ``example.com:p`` is written ``gcr.io/example.com/p/...``), else the registry host
    (no host, or a first segment without ``.`` / ``:`` that is not ``localhost``, is Docker
    Hub, as Docker and Cloud Run read it)."""
    parts = image.split("/")
    first = parts[0].lower()
    if len(parts) == 1 or not ("." in first or ":" in first or first == "localhost"):
        return "docker.io"
    if _GOOGLE_REGISTRY.match(first) and len(parts) >= 3:
        project = parts[1].lower()
        if "." in project and len(parts) >= 4:  # domain-scoped project
            project = f"{project}:{parts[2].lower()}"
        return f"project:{project}"
    return first


def foreign_images(record: Any, account: str | None) -> list[Any]:
    if not account:
        return []
    own = f"project:{account.lower()}"
    out = []
    for image in container_images(record, account):
        home = _image_home(image)
        if home not in (own, f"project:{_GOOGLE_SAMPLES}"):
            out.append(image)
    return out


def foreign_image(record: Any, account: str | None) -> list[Any]:
    return [bool(foreign_images(record, account))]


def long_term_key(record: Any, account: str | None) -> list[Any]:
    key_id = _section(record, "userIdentity").get("accessKeyId")
    if isinstance(key_id, str) and key_id.startswith("AKIA"):
        return [True]
    auth = _section(_section(record, "protoPayload"), "authenticationInfo")
    return [bool(auth.get("serviceAccountKeyName"))]


RAW_ENRICHMENTS: dict[str, Callable[[Any, str | None], list[Any]]] = {
    "layer_accounts": layer_accounts,
    "foreign_layer": foreign_layer,
    "trust_accounts": trust_accounts,
    "foreign_trust": foreign_trust,
    "public_members": public_members,
    "public_grant": public_grant,
    "long_term_key": long_term_key,
    "request_accounts": request_accounts,
    "foreign_request_account": foreign_request_account,
    "policy_principals": policy_principals,
    "foreign_policy_principal": foreign_policy_principal,
    "world_open_admin_ports": world_open_admin_ports,
    "patch_operations": patch_operations,
    "policy_foreign_accounts": policy_foreign_accounts,
    "queue_or_topic": queue_or_topic,
    "oidc_trust_unscoped": oidc_trust_unscoped,
    "lifecycle_expires_all": lifecycle_expires_all,
    "granted_members": granted_members,
    "granted_roles": granted_roles,
    "external_members": external_members,
    "external_roles": external_roles,
    "external_grant": external_grant,
    "runtime_service_account": runtime_service_account,
    "default_service_account": default_service_account,
    "org_policy_constraint": org_policy_constraint,
    "secret_name": secret_name,
    "container_images": container_images,
    "foreign_images": foreign_images,
    "foreign_image": foreign_image,
}
