"""Normalize benchmark: file -> event DataFrame, against merely decompressing and parsing.

    python bench/normalize.py [--files 20] [--records 2000] [--repeat 3] [--mistyped 0.001]

Writes N gzip CloudTrail files of realistic records (a small generator below: Lambda, IAM,
STS, Secrets Manager, sign-in; IAM users, assumed roles, services; ~1.4 kB per record), then
times each method on one core in its own child process (so each peak RSS is its own).
Times are CPU seconds of that process (time.process_time; single-threaded, so equal to wall
time on an idle core): on a shared machine wall time measures the neighbours' load as much
as the code.

  gzip+json      zlib + json.loads (the obvious way)
  gzip+orjson    zlib + orjson.loads (the floor the normalizer is held to: within 2x)
  isal+orjson    ISA-L + orjson.loads (the fastest plain parse)
  normalize      pipelines.normalize.normalize_blob, all the way to the event DataFrame
  normalize_chunks  pipelines.normalize.normalize_chunks: small blobs decoded together, one
                 DataFrame per 100k events (what matters for many small files: --records 50)

``--mistyped F`` writes that fraction of records with ``requestParameters`` as a JSON string
(as some exporters do): the typed decode fails on them and the normalizer keeps them without
the field, so the run times the tolerant path (the parse floors read them like any record).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

METHODS = ("gzip+json", "gzip+orjson", "isal+orjson", "normalize", "normalize_chunks")

_CALLS = [
    ("lambda.amazonaws.com", "Invoke", False, "functionName"),
    ("lambda.amazonaws.com", "GetFunction20150331v2", True, "functionName"),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", False, "functionName"),
    ("lambda.amazonaws.com", "ListFunctions20150331", True, None),
    ("lambda.amazonaws.com", "AddPermission20150331v2", False, "functionName"),
    ("iam.amazonaws.com", "GetRole", True, "roleName"),
    ("iam.amazonaws.com", "AttachRolePolicy", False, "roleName"),
    ("sts.amazonaws.com", "AssumeRole", True, "roleArn"),
    ("secretsmanager.amazonaws.com", "GetSecretValue", True, "secretId"),
    ("signin.amazonaws.com", "ConsoleLogin", False, None),
]
_AGENTS = [
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 exe/x86_64.amzn.2 prompt/off command/lambda.invoke",
    "Boto3/1.34.40 md/Botocore#1.34.40 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0",
    "aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/lambda#1.54.0",
]


def _identity(rng: random.Random, account: str) -> dict[str, object]:
    kind = rng.random()
    if kind < 0.5:
        role, session = (
            rng.choice(["deployer", "app-role", "ci", "ops"]),
            f"s-{rng.randrange(1000)}",
        )
        return {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE{rng.randrange(100)}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "accessKeyId": f"ASIA{rng.randrange(10**12):012d}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": "2026-03-02T09:00:00Z", "mfaAuthenticated": "false"},
            },
        }
    if kind < 0.85:
        user = rng.choice(["sam", "kim", "alex", "dana"])
        return {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/{user}",
            "accountId": account,
            "accessKeyId": f"AKIA{rng.randrange(10**12):012d}",
            "userName": user,
        }
    return {"type": "AWSService", "invokedBy": "events.amazonaws.com"}


def record(rng: random.Random, second: int) -> dict[str, object]:
    """One CloudTrail record shaped like AWS's (management or Lambda data event)."""
    account = rng.choice(["210987654321", "123456789012", "111122223333"])
    source, name, read_only, key = rng.choice(_CALLS)
    params = {key: f"fn-{rng.randrange(50)}", "qualifier": "$LATEST"} if key else None
    return {
        "eventVersion": "1.09",
        "userIdentity": _identity(rng, account),
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1772438400 + second)),
        "eventSource": source,
        "eventName": name,
        "awsRegion": rng.choice(["eu-central-1", "us-east-1", "eu-west-1"]),
        "sourceIPAddress": f"198.51.100.{rng.randrange(255)}",
        "userAgent": rng.choice(_AGENTS),
        "requestParameters": params,
        "responseElements": None if read_only else {"functionArn": f"arn:aws:lambda:::{account}:x"},
        "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": name != "Invoke",
        "recipientAccountId": account,
        "eventCategory": "Data" if name == "Invoke" else "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{source.split('.')[0]}.eu-central-1.amazonaws.com",
        },
    }


def mistype(rng: random.Random, rec: dict[str, object], fraction: float) -> dict[str, object]:
    """``requestParameters`` as a JSON string, for ``fraction`` of the records."""
    if fraction and rng.random() < fraction:
        rec["requestParameters"] = json.dumps(rec["requestParameters"])
    return rec


def write_files(
    folder: Path, files: int, records: int, seed: int = 7, mistyped: float = 0.0
) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for n in range(files):
        body = {
            "Records": [
                mistype(rng, record(rng, n * records + i), mistyped) for i in range(records)
            ]
        }
        path = folder / f"{n:04d}_CloudTrail_eu-central-1.json.gz"
        path.write_bytes(gzip.compress(json.dumps(body, separators=(",", ":")).encode(), 6))
        paths.append(path)
    return paths


def run_method(method: str, paths: list[Path], repeat: int) -> dict[str, float]:
    """Time one method over all files (median of ``repeat``); returns events/s and peak RSS."""
    import orjson
    from isal import igzip

    from pipelines.normalize import normalize_blob, normalize_chunks
    from pipelines.settings import Settings
    from pipelines.sources.base import Blob

    settings = Settings()
    blobs = [path.read_bytes() for path in paths]
    timings = []
    events = 0
    for _ in range(repeat):
        events = 0
        start = time.process_time()
        if method == "normalize_chunks":
            named = [Blob(str(p), b) for p, b in zip(paths, blobs, strict=True)]
            events = sum(len(c.events) for c in normalize_chunks(named, settings=settings))
        for name, blob in zip(paths, blobs, strict=True):
            if method == "normalize_chunks":
                break
            if method == "gzip+json":
                events += len(json.loads(gzip.decompress(blob))["Records"])
            elif method == "gzip+orjson":
                events += len(orjson.loads(gzip.decompress(blob))["Records"])
            elif method == "isal+orjson":
                events += len(orjson.loads(igzip.decompress(blob))["Records"])
            else:
                events += len(normalize_blob(blob, str(name), settings=settings).events)
        timings.append(time.process_time() - start)
        gc.collect()
    seconds = statistics.median(timings)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "events": events,
        "seconds": seconds,
        "events_per_s": events / seconds,
        "peak_rss_mib": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--records", type=int, default=2000, help="records per file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--mistyped", type=float, default=0.0, help="fraction of records with a mistyped field"
    )
    parser.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:  # child: one method, result as JSON on stdout
        paths = sorted(Path(args.dir).glob("*.json.gz"))
        print(json.dumps(run_method(args.method, paths, args.repeat)))
        return
    with tempfile.TemporaryDirectory(prefix="functrail-bench-") as folder:
        paths = write_files(Path(folder), args.files, args.records, mistyped=args.mistyped)
        size = sum(p.stat().st_size for p in paths)
        flags = f"--files {args.files} --records {args.records} --repeat {args.repeat}"
        if args.mistyped:
            flags += f" --mistyped {args.mistyped}"
        print(f"command: python bench/normalize.py {flags}")
        total = args.files * args.records
        print(f"{args.files} gzip CloudTrail files, {total} records, {size / 2**20:.1f} MiB gzip")
        results = {}
        for method in METHODS:
            child = [sys.executable, __file__, "--method", method, "--dir", folder]
            child += ["--repeat", str(args.repeat)]
            out = subprocess.run(child, check=True, capture_output=True, text=True)
            results[method] = json.loads(out.stdout)
        floor = results["gzip+orjson"]["seconds"]
        print(f"{'method':<18}{'events/s':>12}{'seconds':>10}{'x floor':>9}{'peak RSS MiB':>14}")
        for method, r in results.items():
            print(
                f"{method:<18}{r['events_per_s']:>12,.0f}{r['seconds']:>10.3f}"
                f"{r['seconds'] / floor:>9.2f}{r['peak_rss_mib']:>14.0f}"
            )


if __name__ == "__main__":
    main()
