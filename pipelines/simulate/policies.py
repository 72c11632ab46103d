"""The IAM, bucket and trust policies a careful team writes: scoped actions on named resources.

IAM logs a policy document in ``requestParameters`` as the JSON string the client sent
(Terraform sends it compact) and returns it URL-encoded in ``responseElements``; S3 logs a
bucket policy as a parsed object.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from pipelines.simulate.infra import AwsInfra, Bucket
from pipelines.simulate.org import Function

Document = dict[str, Any]
VERSION = "2012-10-17"


def compact(document: Document) -> str:
    """The document as Terraform sends it (``jsonencode``: no spaces)."""
    return orjson.dumps(document).decode()


def url_encoded(document: Document) -> str:
    """The document as IAM returns it in a response (percent-encoded JSON)."""
    return quote(compact(document), safe="")


def service_trust(service: str) -> Document:
    """A trust policy letting one AWS service assume the role (an execution or service role)."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def in_account_trust(service: str, account: str, role: str) -> Document:
    """A service trust plus one role of the same account (e.g. CI allowed to test the role)."""
    document = service_trust(service)
    document["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:role/{role}"},
            "Action": "sts:AssumeRole",
        }
    )
    return document


def function_access(fn: Function, infra: AwsInfra) -> Document:
    """An execution role's inline policy: its own secrets, parameters, log group and key."""
    statements: list[Document] = [
        {
            "Sid": "ReadOwnSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": list(fn.secrets),
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{fn.region}:{fn.account}:log-group:/aws/lambda/{fn.name}:*",
        },
        {
            "Sid": "UseAppKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": infra.key_arn(),
        },
    ]
    if fn.params:
        statements.append(
            {
                "Sid": "ReadOwnParameters",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParameters"],
                "Resource": [
                    f"arn:aws:ssm:{fn.region}:{fn.account}:parameter{p}" for p in fn.params
                ],
            }
        )
    return {"Version": VERSION, "Statement": statements}


def invoke_function(fn: Function) -> Document:
    """What a scheduler or state machine role may do: invoke one function."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": [fn.arn, f"{fn.arn}:*"],
            }
        ],
    }


def read_config(app: str, infra: AwsInfra) -> Document:
    """A customer managed policy: read one application's parameters and decrypt them."""
    acct = infra.account
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParametersByPath"],
                "Resource": f"arn:aws:ssm:{acct.region}:{acct.id}:parameter/{app}/*",
            },
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": infra.key_arn()},
        ],
    }


def bucket_policy(bucket: Bucket, reader_role: str) -> Document:
    """TLS only (a Deny for ``*``: not public) and read access for one role of the account."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket.arn, f"{bucket.arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "AllowFunctionRead",
                "Effect": "Allow",
                "Principal": {"AWS": reader_role},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [bucket.arn, f"{bucket.arn}/*"],
            },
        ],
    }
