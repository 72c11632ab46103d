"""What the console's JavaScript may do: no HTML parsing of data, the key only in
sessionStorage, only ``/v1`` calls the API really has, only served modules imported."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from importlib.resources import files
from pathlib import Path

import pytest

from service.console.routes import ASSETS
from tests.factories import BASE_TIME, alert

STATIC = files("service.console") / "static"


def _code(text: str) -> str:
    """The script without its ``//`` comments (which may name what the code must not do)."""
    return re.sub(r"(?m)^\s*//.*$|\s//\s.*$", "", text)


SCRIPTS = {name: _code((STATIC / name).read_text()) for name in ASSETS if name.endswith(".js")}
PAGE = (STATIC / "index.html").read_text()

HTML_SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment"
    r"|DOMParser|srcdoc|\beval\s*\(|new\s+Function|setAttribute\(\s*[\"'`]on|javascript:"
)
CALL = re.compile(r"""call\(\s*"(GET|POST|PATCH|DELETE|PUT)",\s*([`"'])(/v1/[^`"']*)\2""")
V1_LITERAL = re.compile(r"""[`"'](/v1[^`"']*)[`"']""")


def test_scripts_never_parse_data_as_html():
    for name, text in SCRIPTS.items():
        assert not HTML_SINKS.findall(text), f"{name} uses an HTML sink"
    assert not HTML_SINKS.findall(PAGE)


def test_the_hostile_check_catches_an_innerhtml_assignment():
    assert HTML_SINKS.search("row.innerHTML = alert.title;")
    assert HTML_SINKS.search('node.insertAdjacentHTML("beforeend", x)')


def test_the_key_lives_in_session_storage_only_and_no_cookie_is_sent():
    every = "\n".join(SCRIPTS.values())
    assert "sessionStorage" in SCRIPTS["api.js"]
    assert "localStorage" not in every
    assert "cookie" not in every.lower()
    assert 'credentials: "omit"' in SCRIPTS["api.js"]
    assert "fetch(" not in every.replace(SCRIPTS["api.js"], ""), "only api.js talks to the server"
    # The key goes into the Authorization header and nowhere else.
    body = SCRIPTS["api.js"].split("async function call", 1)[1]
    uses = [line for line in body.splitlines() if re.search(r"\bkey\b", line)]
    assert any("Authorization: `Bearer ${key}`" in line for line in uses)
    assert not any("searchParams" in line or "url" in line.lower() for line in uses)


def _openapi_route(path: str, spec_paths: dict[str, dict[str, object]]) -> str | None:
    concrete = re.sub(r"\$\{[^}]*\}", "X", path)
    for template in spec_paths:
        pattern = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, concrete):
            return template
    return None


def test_scripts_call_only_v1_endpoints_and_methods_in_the_openapi_schema(api):
    spec_paths = api.client.app.openapi()["paths"]
    calls = [m.group(1, 3) for text in SCRIPTS.values() for m in CALL.finditer(text)]
    literals = [p for text in SCRIPTS.values() for p in V1_LITERAL.findall(text)]
    assert calls, "the scripts call the API"
    assert len(literals) == len(calls), "every /v1 path in the scripts goes through call()"
    for method, path in calls:
        template = _openapi_route(path, spec_paths)
        assert template is not None, f"{path} is not an API route"
        assert method.lower() in spec_paths[template], f"{method} {template} does not exist"
    assert {m for m, _ in calls} >= {"GET", "PATCH", "POST"}


def test_scripts_import_only_served_modules():
    for name, text in SCRIPTS.items():
        for target in re.findall(r"""from\s+["']([^"']+)["']""", text):
            assert target.startswith("./"), f"{name} imports {target}"
            assert target[2:] in ASSETS, f"{name} imports {target}"


def _node_module_dir(tmp_path: Path) -> Path:
    for name, text in SCRIPTS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "package.json").write_text('{"type": "module"}')
    return tmp_path


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the chart module")
def test_chart_counts_per_severity_from_the_real_minimum_severity_summaries(api, tmp_path):
    day2 = BASE_TIME + timedelta(days=2)
    made = [
        alert(severity="critical"),
        alert(severity="high"),
        alert(severity="high", first_seen=day2),
        alert(severity="low", first_seen=day2),
        alert(severity="info"),
    ]
    api.save(*made)
    h = api.headers("viewer")
    at_least = {
        s: api.client.get("/v1/alerts/summary", params={"severity": s}, headers=h).json()["by_day"]
        for s in ("info", "low", "medium", "high", "critical")
    }
    folder = _node_module_dir(tmp_path)
    script = (
        'import { exactByDay } from "./chart.js";'
        f"console.log(JSON.stringify(exactByDay({json.dumps(at_least)})));"
    )
    (folder / "run.mjs").write_text(script)
    out = subprocess.run(
        ["node", str(folder / "run.mjs")], capture_output=True, text=True, timeout=30, check=True
    )
    exact = json.loads(out.stdout)
    expected: dict[str, dict[str, int]] = {s: {} for s in at_least}
    for a in made:
        day = a.last_seen.date().isoformat()
        expected[a.severity][day] = expected[a.severity].get(day, 0) + 1
    assert exact == expected


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the text module")
def test_principals_shorten_to_their_kind_and_name_and_other_text_stays(tmp_path):
    cases = {
        "arn:aws:iam::123456789012:user/alice": "user/alice",
        "arn:aws:iam::123456789012:user/ops/eu/alice": "user/alice",
        "arn:aws:iam::123456789012:role/ci-deploy": "role/ci-deploy",
        "arn:aws:sts::123456789012:assumed-role/ci-deploy/gh-run-77": "role/ci-deploy",
        "arn:aws-cn:iam::123456789012:role/service-role/etl": "role/etl",
        "arn:aws:iam::123456789012:root": "root",
        "arn:aws:sts::123456789012:federated-user/bob": "federated-user/bob",
        "deployer@shop-prod.iam.gserviceaccount.com": "deployer@shop-prod.iam.gserviceaccount.com",
        "lambda.amazonaws.com": "lambda.amazonaws.com",
        "arn:aws:lambda:eu-central-1:123456789012:function:billing": (
            "arn:aws:lambda:eu-central-1:123456789012:function:billing"
        ),
        "<img src=x onerror=alert(1)>": "<img src=x onerror=alert(1)>",
    }
    titles = {
        "arn:aws:iam::1234567890ab:user/x did it": "arn:aws:iam::1234567890ab:user/x did it",
        "arn:aws:iam::123456789012:user/alice let arn:aws:iam::210987654321:role/r assume": (
            "user/alice let role/r assume"
        ),
    }
    folder = _node_module_dir(tmp_path)
    script = (
        'import { shortPrincipal, shortTitle } from "./text.js";'
        f"const p = {json.dumps(list(cases))}; const t = {json.dumps(list(titles))};"
        "console.log(JSON.stringify([p.map(shortPrincipal), t.map(shortTitle),"
        " [shortPrincipal(null), shortTitle(undefined)]]));"
    )
    (folder / "run.mjs").write_text(script)
    out = subprocess.run(
        ["node", str(folder / "run.mjs")], capture_output=True, text=True, timeout=30, check=True
    )
    principals, shortened, missing = json.loads(out.stdout)
    assert principals == list(cases.values())
    assert shortened == list(titles.values())
    assert missing == ["", ""]
