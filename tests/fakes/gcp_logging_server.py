"""A local Cloud Logging v2 REST endpoint: ``POST /v2/entries:list`` over stored LogEntries.

It evaluates the part of the Logging query language functrail sends: parentheses, ``AND``,
``OR`` (which binds tighter than ``AND`` in that language), ``timestamp>=``/``timestamp<``,
and ``logName=(...)``/``protoPayload.serviceName=(...)`` lists; then ``orderBy`` and paging
with ``pageSize``/``pageToken``. It records every request body so tests can assert what the
real google-cloud-logging client sent. Anything else in a filter is an error, not a match.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tests.fakes._http import JsonServer

_TOKEN = re.compile(
    r"\s*(?:(?P<paren>[()])|(?P<op>AND|OR)\b"
    r'|timestamp\s*(?P<cmp>>=|<)\s*"(?P<bound>[^"]+)"'
    r"|(?P<field>logName|protoPayload\.serviceName)=\((?P<values>[^)]*)\))"
)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _tokens(query: str) -> list[re.Match[str]]:
    found, at = [], 0
    while at < len(query.rstrip()):
        token = _TOKEN.match(query, at)
        if token is None:
            raise ValueError(f"unsupported filter at {at}: {query[at:]!r}")
        found.append(token)
        at = token.end()
    return found


def _test(token: re.Match[str], entry: dict[str, Any]) -> bool:
    if token["cmp"]:
        when, bound = _time(entry["timestamp"]), _time(token["bound"])
        return when >= bound if token["cmp"] == ">=" else when < bound
    allowed = set(re.findall(r'"([^"]*)"', token["values"]))
    if token["field"] == "logName":
        return entry.get("logName") in allowed
    return entry.get("protoPayload", {}).get("serviceName") in allowed


def matches(entry: dict[str, Any], query: str) -> bool:
    """Whether ``entry`` passes the filter (recursive descent: AND over OR over terms)."""
    tokens = _tokens(query)
    at = 0

    def conjunction() -> bool:
        nonlocal at
        value = disjunction()
        while at < len(tokens) and tokens[at]["op"] == "AND":
            at += 1
            value = disjunction() and value
        return value

    def disjunction() -> bool:
        nonlocal at
        value = term()
        while at < len(tokens) and tokens[at]["op"] == "OR":
            at += 1
            value = term() or value
        return value

    def term() -> bool:
        nonlocal at
        token = tokens[at]
        at += 1
        if token["paren"] == "(":
            value = conjunction()
            if at >= len(tokens) or tokens[at]["paren"] != ")":
                raise ValueError(f"unbalanced parentheses in {query!r}")
            at += 1
            return value
        if token["cmp"] or token["field"]:
            return _test(token, entry)
        raise ValueError(f"unexpected {token.group().strip()!r} in {query!r}")

    result = conjunction()
    if at != len(tokens):
        raise ValueError(f"trailing tokens in {query!r}")
    return result


class GcpLoggingServer(JsonServer):
    """Serves ``entries`` (LogEntry dicts as the API returns them); ``requests`` records calls."""

    def __init__(self, entries: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.entries: list[dict[str, Any]] = list(entries or [])
        self.requests: list[dict[str, Any]] = []

    def handle(
        self, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        json = {"Content-Type": "application/json"}
        if path.split("?", 1)[0] != "/v2/entries:list":
            return 404, json, {"error": {"code": 404, "message": f"no route {path}"}}
        self.requests.append(body)
        query = body.get("filter", "")
        found = [entry for entry in self.entries if matches(entry, query)]
        descending = "desc" in body.get("orderBy", "timestamp asc")
        found.sort(key=lambda entry: _time(entry["timestamp"]), reverse=descending)
        offset = int(body.get("pageToken") or 0)
        size = int(body.get("pageSize") or 50)
        page = found[offset : offset + size]
        answer: dict[str, Any] = {"entries": page}
        if offset + size < len(found):
            answer["nextPageToken"] = str(offset + size)
        return 200, json, answer
