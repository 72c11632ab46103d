"""Derived columns the feature extractors share: entity keys, networks, agent families.

Attackers control user agents and resource names, so derivations here are plain string
slicing on Arrow columns: nothing is parsed, evaluated or trusted beyond its text.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ENTITY: Final = ("provider", "account", "principal")
"""A principal is scored per provider and account (project): the alert's entity."""


def with_principal(events: pd.DataFrame) -> pd.DataFrame:
    """Rows whose caller is recorded: the input of per-principal behaviour and history.

    Cloud Run and Cloud Functions request logs name no caller (principal null); they count
    toward per-function volume, but lumping every such request into one "" principal would
    make a pseudo-principal whose every new client address looks like novelty.
    """
    known = events["principal"].notna()
    return events if bool(known.all()) else events[known.to_numpy()]


SECRET_READS: Final = frozenset(
    {
        "GetSecretValue",
        "BatchGetSecretValue",
        "AccessSecretVersion",
        "GetParameter",
        "GetParameters",
    }
)
FUNCTION_SERVICES: Final = frozenset(
    {"lambda.amazonaws.com", "cloudfunctions.googleapis.com", "run.googleapis.com"}
)

IAM_SERVICES: Final = frozenset(
    {"iam.amazonaws.com", "iam.googleapis.com", "cloudresourcemanager.googleapis.com"}
)
"""Writes here change who may do what: identities, keys, policies, project IAM bindings."""
LOGGING_SERVICES: Final = frozenset({"cloudtrail.amazonaws.com", "logging.googleapis.com"})
"""Writes here change what gets recorded: trails, event selectors, sinks, exclusions."""

NOVELTY_KINDS: Final = (
    "action",
    "action_family",
    "source_ip",
    "network",
    "wide_network",
    "user_agent",
    "region",
)
"""Value kinds whose first use by a principal is a novelty feature and a first-seen signal."""

FEATURE_COLUMNS: Final = (
    "id",
    "time",
    "provider",
    "account",
    "region",
    "service",
    "action",
    "category",
    "principal",
    "source_ip",
    "user_agent",
    "resource",
    "outcome",
    "read_only",
)
"""The event columns feature extraction reads: ask the lake for these only."""


def utc_times(time: pd.Series) -> pd.Series:
    """Event times as ``datetime64[us, UTC]``; Arrow timestamps convert without Python objects
    (``astype`` and ``to_datetime`` on them were 20x-1000x slower, measured)."""
    if isinstance(time.dtype, pd.ArrowDtype):
        chunks = time.array.__arrow_array__()
        micros = pc.cast(chunks, pa.timestamp("us", tz="UTC")).to_numpy()
        naive = pd.Series(micros.astype("datetime64[us]"), index=time.index)
        return naive.dt.tz_localize("UTC")
    return pd.to_datetime(time, utc=True).astype("datetime64[us, UTC]")


def _text(events: pd.DataFrame, column: str) -> pd.Series:
    return events[column].astype("string[pyarrow]").fillna("")


def network(source_ip: pd.Series) -> pd.Series:
    """The /24 of an IPv4 address, the /48 of an IPv6 one, else the value (service names)."""
    ip = source_ip.astype("string[pyarrow]").fillna("")
    v4 = ip.str.extract(r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$", expand=False)
    v6 = ip.str.extract(r"^([0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}):", expand=False)
    out = ip.where(v4.isna(), v4 + ".0/24")
    return out.where(v6.isna(), v6.str.lower() + "::/48")


def wide_network(source_ip: pd.Series) -> pd.Series:
    """The /16 of an IPv4 address (a cloud range, an ISP), else the value: coarser than /24."""
    ip = source_ip.astype("string[pyarrow]").fillna("")
    v4 = ip.str.extract(r"^(\d{1,3}\.\d{1,3})\.\d{1,3}\.\d{1,3}$", expand=False)
    return network(source_ip).where(v4.isna(), v4 + ".0.0/16")


def agent_family(user_agent: pd.Series) -> pd.Series:
    """The tool part of a user agent (``aws-cli/2.15 Python/3.11`` -> ``aws-cli``), bounded."""
    ua = user_agent.astype("string[pyarrow]").fillna("")
    return ua.str.extract(r"^\s*([^/\s(]{0,64})", expand=False).fillna("").str.lower()


def action_family(service: pd.Series, action: pd.Series) -> pd.Series:
    """Service and verb (``secretsmanager.amazonaws.com:Get``): a coarser unit than the action."""
    verb = action.astype("string[pyarrow]").fillna("").str.extract(r"^([A-Z]?[a-z]+)", expand=False)
    return service.astype("string[pyarrow]").fillna("") + ":" + verb.fillna("")


def principal_class(principal: pd.Series) -> pd.Series:
    """The kind of identity a principal string names: IAM user, role or root, GCP service
    account or person, else ``other`` (service names, federated subjects). A new IAM user is
    rarer news than a new federated subject, so first-seen keeps their rates apart."""
    text = principal.astype("string[pyarrow]").fillna("")
    aws = text.str.extract(r"^arn:aws[a-z-]*:iam::\d*:(user|role|root)", expand=False)
    gcp = pd.Series("other", index=text.index, dtype="string[pyarrow]")
    gcp = gcp.where(~text.str.contains("@", regex=False), "gcp-user")
    gcp = gcp.where(~text.str.endswith("gserviceaccount.com"), "service-account")
    return aws.fillna(gcp).astype("string[pyarrow]")


def _factorize(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    codes, uniques = pd.factorize(series.astype("string[pyarrow]").fillna(""))
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype="string[pyarrow]")


def novelty_codes(events: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each novelty kind, per-event integer codes into an array of distinct values.

    Derivations (networks, agent families, action families) run on the distinct values only:
    a day has millions of events but thousands of addresses and agents.
    """
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for kind, column in (("action", "action"), ("region", "region")):
        codes, uniques = _factorize(events[column])
        out[kind] = (codes, uniques.to_numpy(dtype=object))
    ip_codes, ips = _factorize(events["source_ip"])
    out["source_ip"] = (ip_codes, ips.to_numpy(dtype=object))
    for kind, derive in (("network", network), ("wide_network", wide_network)):
        codes, uniques = _factorize(derive(ips))
        out[kind] = (codes[ip_codes], uniques.to_numpy(dtype=object))
    ua_codes, agents = _factorize(events["user_agent"])
    codes, uniques = _factorize(agent_family(agents))
    out["user_agent"] = (codes[ua_codes], uniques.to_numpy(dtype=object))
    svc_codes, services = _factorize(events["service"])
    act_codes, actions = _factorize(events["action"])
    pairs, inverse = np.unique(
        svc_codes.astype(np.int64) * (len(actions) + 1) + act_codes, return_inverse=True
    )
    families = action_family(
        services.iloc[pairs // (len(actions) + 1)].reset_index(drop=True),
        actions.iloc[pairs % (len(actions) + 1)].reset_index(drop=True),
    )
    codes, uniques = _factorize(families)
    out["action_family"] = (codes[inverse.ravel()], uniques.to_numpy(dtype=object))
    return out


def novelty_values(events: pd.DataFrame) -> dict[str, pd.Series]:
    """For each novelty kind, the per-event value compared against a principal's history."""
    return {
        kind: pd.Series(uniques[codes], index=events.index, dtype=object)
        for kind, (codes, uniques) in novelty_codes(events).items()
    }
