"""``functrail ingest`` from an S3 trail bucket (moto server) against the same files on disk.

    functrail simulate --days 2 --out /tmp/sim
    python bench/ingest_s3.py /tmp/sim/aws

Uploads the CloudTrail tree (``AWSLogs/...``) under ``s3://bench/trail/``, then times a first
ingest, a resumed one (checkpoints: nothing to read), and a local ingest of the same folder
into a fresh lake. Prints events/s per run and the peak RSS of the ingest processes.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer


def ingest(home: Path, env: dict[str, str], *sources: str) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(
        ["functrail", "ingest", *sources, "--since", "2000-01-01"],
        env={**env, "FUNCTRAIL_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - began, done.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("aws_folder", type=Path, help="folder holding AWSLogs/")
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": endpoint,
    }
    try:
        os.environ.update(env)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="bench")
        files = sorted(p for p in args.aws_folder.rglob("*") if p.is_file())
        for path in files:
            key = f"trail/{path.relative_to(args.aws_folder).as_posix()}"
            s3.put_object(Bucket="bench", Key=key, Body=path.read_bytes())
        print(f"{len(files)} files uploaded to s3://bench/trail/")
        with tempfile.TemporaryDirectory() as folder:
            for label, home, source in (
                ("s3, first run", "s3home", "s3://bench/trail"),
                ("s3, resumed (checkpoint)", "s3home", "s3://bench/trail"),
                ("local folder, same files", "localhome", str(args.aws_folder)),
            ):
                took, summary = ingest(Path(folder) / home, env, source)
                events = sum(
                    int(n) for n in re.findall(r"(\d+) (?:events new|duplicates)", summary)
                )
                rate = f"{events / took:,.0f} events/s" if events else "-"
                print(f"{label:<28} {took:6.2f} s  {rate:>16}  {summary}")
    finally:
        server.stop()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of an ingest process {peak:.0f} MiB")


if __name__ == "__main__":
    main()
