"""AWS services acting for the organization, as CloudTrail records them.

- Lambda assuming each function's execution role (``AssumeRole`` by ``lambda.amazonaws.com``)
  for the session keys the function's calls carry;
- KMS ``Decrypt`` behind every secret and SecureString read (invoked by Secrets Manager or SSM,
  in the function's own identity);
- functions reading and writing objects (S3 data events on the buckets the trail logs) with
  bucket keys, so KMS is called once per bucket an hour rather than per object.

These streams scale with ``--scale``; the services watching the account are in
``traffic_aws_watchers``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from pipelines.simulate import aws
from pipelines.simulate.emit import Emit, aws_sink, rhythm_times
from pipelines.simulate.ids import aws_key_id, aws_time, derive, derive_np, hex_id, token, uuid4
from pipelines.simulate.infra import S3_FUNCTIONS, AwsInfra, Bucket
from pipelines.simulate.org import Function

Record = aws.Record
S3_PEAK_PER_HOUR = 3.0
"""Object operations per S3-using function per hour at the daily peak (times ``--scale``)."""


class ExecutionCredentials:
    """The execution-role session keys of one function in one day: one per hour it runs.

    Keys already used by its secret reads are adopted, so every call a function makes in an
    hour carries the key Lambda's ``AssumeRole`` handed out for that hour.
    """

    def __init__(self, seed: int, day_start: int, fn: Function) -> None:
        self.fn = fn
        self.role_id = aws_key_id(derive(seed, "role-id", fn.arn), "AROA")
        self._rng = derive(seed, "exec-credentials", fn.arn, day_start)
        self._keys: dict[int, str] = {}
        self._identities: dict[int, Record] = {}

    def adopt(self, emits: Iterable[Emit]) -> None:
        for e in emits:
            self._keys.setdefault(e.t // 3600, e.record["userIdentity"]["accessKeyId"])

    def identity(self, t: int) -> Record:
        hour = t // 3600
        if hour not in self._identities:
            if hour not in self._keys:
                self._keys[hour] = aws_key_id(self._rng, "ASIA")
            self._identities[hour] = aws.exec_role(
                self.fn, self.role_id, self._keys[hour], aws_time(hour * 3600)
            )
        return self._identities[hour]

    def assume_role_events(self) -> list[Emit]:
        """Lambda fetching each hour's credentials (an AWSService call, logged in the region)."""
        fn = self.fn
        out = []
        for hour, key in sorted(self._keys.items()):
            t = hour * 3600
            rec = aws.record(
                self._rng,
                t,
                aws.service("lambda.amazonaws.com"),
                "sts.amazonaws.com",
                "AssumeRole",
                fn.region,
                "lambda.amazonaws.com",
                "lambda.amazonaws.com",
                {"roleArn": fn.role_arn, "roleSessionName": fn.name},
                {
                    "credentials": {
                        "accessKeyId": key,
                        "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE",
                        "expiration": aws.iam_date(t + 3600),
                    }
                },
                fn.account,
                read_only=True,
                resources=[{"accountId": fn.account, "type": "AWS::IAM::Role", "ARN": fn.role_arn}],
                version="1.08",
            )
            out.append(Emit(t, aws_sink(fn.account, fn.region), rec))
        return out


def read_decrypts(
    seed: int, day_start: int, fn: Function, infra: AwsInfra, reads: list[Emit]
) -> list[Emit]:
    """KMS ``Decrypt`` that Secrets Manager or SSM makes for each successful read, as the reader."""
    rng = derive(seed, "read-decrypts", fn.arn, day_start)
    sink = aws_sink(fn.account, fn.region)
    versions = {s: uuid4(derive(seed, "secret-version", s, day_start)) for s in fn.secrets}
    out = []
    for e in reads:
        rec = e.record
        if "errorCode" in rec:
            continue  # refused before any key was touched
        params = rec["requestParameters"]
        if rec["eventName"] == "GetSecretValue":
            secret = params["secretId"]
            via = "secretsmanager.amazonaws.com"
            context = {"SecretARN": secret, "SecretVersionId": versions[secret]}
            key = infra.key_arn(infra.secrets_key_id)
        else:
            via = "ssm.amazonaws.com"
            context = {
                "PARAMETER_ARN": f"arn:aws:ssm:{fn.region}:{fn.account}:parameter" + params["name"]
            }
            key = infra.key_arn(infra.ssm_key_id)
        out.append(
            Emit(
                e.t,
                sink,
                aws.record(
                    rng,
                    e.t,
                    aws.via_service(rec["userIdentity"], via),
                    "kms.amazonaws.com",
                    "Decrypt",
                    fn.region,
                    via,
                    via,
                    {"encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                    None,
                    fn.account,
                    read_only=True,
                    resources=[{"accountId": fn.account, "type": "AWS::KMS::Key", "ARN": key}],
                ),
            )
        )
    return out


def _object_key(rng: random.Random, bucket: Bucket, day_start: int, write: bool) -> str:
    day = aws_time(day_start)[:10].replace("-", "/")
    if bucket.purpose == "uploads":
        name = f"{uuid4(rng)}.jpg"
        return f"thumbnails/{name}" if write else f"incoming/{day}/{name}"
    if bucket.purpose == "reports":
        return f"reports/{day}/{hex_id(rng, 12)}.pdf"
    return f"exports/{day}/audit-{hex_id(rng, 12)}.csv.gz"


def s3_object_calls(
    seed: int,
    day_start: int,
    fn: Function,
    infra: AwsInfra,
    creds: ExecutionCredentials,
    scale: float,
) -> list[Emit]:
    """A function's object reads and writes (S3 data events) and the bucket-key KMS calls."""
    purpose, mode = S3_FUNCTIONS[fn.name]
    bucket = infra.bucket(purpose)
    times = rhythm_times(
        derive_np(seed, "s3", fn.arn, day_start), day_start, S3_PEAK_PER_HOUR * scale, floor=0.1
    )
    rng = derive(seed, "s3", fn.arn, day_start)
    ops = {"read": ("GetObject",), "write": ("PutObject",), "both": ("GetObject", "PutObject")}
    ua = "[" + aws.sdk_ua(fn, "s3") + "]"  # S3 logs the agent in brackets
    bucket_keys: set[tuple[int, str]] = set()
    out = []
    for t in times:
        ident = creds.identity(t)
        for i, op in enumerate(ops[mode]):
            at = t + i * rng.randint(1, 4)
            write = op == "PutObject"
            obj = _object_key(rng, bucket, day_start, write)
            out.append(_s3_object_call(rng, at, ident, fn, infra, bucket, op, obj, ua))
            kms_op = "GenerateDataKey" if write else "Decrypt"
            if (at // 3600, kms_op) not in bucket_keys:  # one bucket key an hour per operation
                bucket_keys.add((at // 3600, kms_op))
                out.append(_bucket_key_call(rng, at, ident, fn, infra, bucket, kms_op))
    return out


def _s3_object_call(
    rng: random.Random,
    t: int,
    ident: Record,
    fn: Function,
    infra: AwsInfra,
    bucket: Bucket,
    op: str,
    obj: str,
    ua: str,
) -> Emit:
    host = f"{bucket.name}.s3.{bucket.region}.amazonaws.com"
    write = op == "PutObject"
    size = rng.randint(20_000, 4_000_000)
    response = (
        {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": infra.key_arn(),
            "x-amz-server-side-encryption-bucket-key-enabled": "true",
            "x-amz-version-id": token(rng, 32),
        }
        if write
        else None
    )
    rec = aws.record(
        rng,
        t,
        ident,
        "s3.amazonaws.com",
        op,
        bucket.region,
        fn.egress_ip,
        ua,
        {"bucketName": bucket.name, "Host": host, "key": obj},
        response,
        fn.account,
        read_only=not write,
        extra={
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": size if write else 0,
            "SSEApplied": "SSE_KMS",
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": token(rng, 76) + "=",
            "bytesTransferredOut": 0 if write else size,
        },
        resources=[
            {"type": "AWS::S3::Object", "ARN": f"{bucket.arn}/{obj}"},
            {"accountId": fn.account, "type": "AWS::S3::Bucket", "ARN": bucket.arn},
        ],
        category="Data",
    )
    rec["requestID"] = hex_id(rng, 16).upper()
    rec["tlsDetails"] = {**rec["tlsDetails"], "clientProvidedHostHeader": host}
    return Emit(t, aws_sink(fn.account, bucket.region), rec)


def _bucket_key_call(
    rng: random.Random,
    t: int,
    ident: Record,
    fn: Function,
    infra: AwsInfra,
    bucket: Bucket,
    op: str,
) -> Emit:
    params: Record = {"encryptionContext": {"aws:s3:arn": bucket.arn}}
    if op == "GenerateDataKey":
        params = {"keyId": infra.key_arn(), **params, "keySpec": "AES_256"}
    else:
        params["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
    return Emit(
        t,
        aws_sink(fn.account, bucket.region),
        aws.record(
            rng,
            t,
            aws.via_service(ident, "s3.amazonaws.com"),
            "kms.amazonaws.com",
            op,
            bucket.region,
            "s3.amazonaws.com",
            "s3.amazonaws.com",
            params,
            None,
            fn.account,
            read_only=True,
            resources=[{"accountId": fn.account, "type": "AWS::KMS::Key", "ARN": infra.key_arn()}],
        ),
    )
