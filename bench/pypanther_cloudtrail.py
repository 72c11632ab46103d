"""Child of bench/detect.py, run with a separate venv that has pypanther (never the project's).

    /tmp/bench-venv/bin/python bench/pypanther_cloudtrail.py RECORDS.jsonl REPEAT

Evaluates pypanther's own CloudTrail rules per event, the way Panther runs them (parse the
record, wrap it in a PantherEvent with the CloudTrail data model, ``rule.run`` for every rule).
Rules that need Panther's KV store (DynamoDB) or other network calls are left out and counted.
Prints one JSON line: seconds (median), events, rules, skipped rules, alerts, peak RSS.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import statistics
import sys
import time

# Any AWS call a rule might still make goes to a closed local port, never to a real cloud.
os.environ.update(
    AWS_ENDPOINT_URL="http://127.0.0.1:9",
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - a dummy, for the closed local endpoint
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
)

from panther_core.enriched_event import PantherEvent
from pypanther import LogType, get_panther_rules
from pypanther.cache import data_model_cache

NETWORKED = (
    "get_string_set",
    "put_string_set",
    "add_to_string_set",
    "increment_counter",
    "get_counter",
    "reset_counter",
    "set_key_expiration",
    "kv_table",
    "boto3",
    "requests.",
    "dynamodb",
)


def offline(rule: type) -> bool:
    try:
        source = inspect.getsource(sys.modules[rule.__module__])
    except (OSError, TypeError):
        return False
    return not any(word in source for word in NETWORKED)


def main() -> None:
    path, repeat = sys.argv[1], int(sys.argv[2])
    classes = get_panther_rules(log_types=[LogType.AWS_CLOUDTRAIL])
    usable = [cls for cls in classes if offline(cls)]
    rules = [cls() for cls in usable]
    model = data_model_cache().data_model_of_logtype(LogType.AWS_CLOUDTRAIL)
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()
    times: list[float] = []
    alerts = 0
    for _ in range(repeat):
        alerts = 0
        start = time.perf_counter()
        for line in lines:
            event = PantherEvent(json.loads(line), model)
            for rule in rules:
                if rule.run(event, {}, {}, batch_mode=True).trigger_alert:
                    alerts += 1
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": statistics.median(times),
                "events": len(lines),
                "rules": len(rules),
                "skipped_rules": len(classes) - len(usable),
                "alerts": alerts,
                "peak_mb": round(peak, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
