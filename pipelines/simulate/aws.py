"""CloudTrail records in the shape AWS documents, built from a few templates.

Key order follows what CloudTrail writes. Records share nested dicts that never change (an
identity, request parameters of one function) so building a million records costs little more
than their top-level dicts.
"""

from __future__ import annotations

import random
from typing import Any

from pipelines.simulate.emit import Emit, aws_sink
from pipelines.simulate.ids import aws_key_id, aws_time, uuid4
from pipelines.simulate.org import Account, Function, User

Record = dict[str, Any]

CLI_UA = (
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 "
    "md/arch#arm64 lang/python#3.11.8 md/pyimpl#CPython "
    "cfg/retry-mode#standard md/installer#source md/prompt#off "
    "md/command#{cmd}"
)
CONSOLE_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
CI_UA = (
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0-1017-azure "
    "md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython "
    "exe/x86_64.ubuntu.22 prompt/off command/{cmd}"
)
CI_STS_UA = (
    "aws-sdk-nodejs/2.1583.0 linux/v20.12.2 configure-aws-credentials-for-github-actions promise"
)
LAMBDA_SDK_UA = {
    "python": (
        "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 "
        "os/linux#5.10.216-225.855.amzn2.x86_64 md/arch#x86_64 "
        "lang/python#3.12.3 md/pyimpl#CPython exec-env/AWS_Lambda_{rt} "
        "cfg/retry-mode#legacy Botocore/1.34.84"
    ),
    "nodejs": (
        "aws-sdk-js/3.556.0 ua/2.0 "
        "os/linux#5.10.216-225.855.amzn2.x86_64 lang/js md/nodejs#20.12.2 "
        "api/{api}#3.556.0 exec-env/AWS_Lambda_{rt}"
    ),
    "java": (
        "aws-sdk-java/2.25.40 Linux/5.10.216-225.855.amzn2.x86_64 "
        "OpenJDK_64-Bit_Server_VM/21.0.3+9-LTS Java/21.0.3 "
        "vendor/Amazon.com_Inc. exec-env/AWS_Lambda_{rt} io/sync http/Apache "
        "cfg/retry-mode/legacy"
    ),
    "provided": (
        "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 "
        "md/GOOS#linux md/GOARCH#amd64 api/{api}#1.28.7 "
        "exec-env/AWS_Lambda_{rt}"
    ),
}

# eventName as CloudTrail logs Lambda's control-plane calls: the API version is part of the name.
LAMBDA_EVENT_NAMES = {
    "Invoke": "Invoke",
    "GetFunction": "GetFunction20150331v2",
    "GetFunctionConfiguration": "GetFunctionConfiguration20150331v2",
    "GetPolicy": "GetPolicy20150331v2",
    "ListFunctions": "ListFunctions20150331",
    "ListVersionsByFunction": "ListVersionsByFunction20150331",
    "ListAliases": "ListAliases20150331",
    "ListEventSourceMappings": "ListEventSourceMappings20150331",
    "ListTags": "ListTags20170331",
    "UpdateFunctionCode": "UpdateFunctionCode20150331v2",
    "UpdateFunctionConfiguration": "UpdateFunctionConfiguration20150331v2",
    "AddPermission": "AddPermission20150331v2",
    "RemovePermission": "RemovePermission20150331v2",
    "CreateFunction": "CreateFunction20150331",
    "DeleteFunction": "DeleteFunction20150331",
    "PublishVersion": "PublishVersion20150331",
    "UpdateAlias": "UpdateAlias20150331",
    "CreateFunctionUrlConfig": "CreateFunctionUrlConfig20211031",
    "GetFunctionUrlConfig": "GetFunctionUrlConfig20211031",
    "PublishLayerVersion": "PublishLayerVersion20181031",
    "PutFunctionConcurrency": "PutFunctionConcurrency20171031",
    "TagResource": "TagResource20170331v2",
    "GetFunctionCodeSigningConfig": "GetFunctionCodeSigningConfig20200630",
}
GLOBAL_SOURCES = {"iam.amazonaws.com", "signin.amazonaws.com", "cloudfront.amazonaws.com"}


def sdk_ua(fn: Function, api: str) -> str:
    """The user agent of the SDK inside ``fn``'s runtime, as its calls to AWS carry it."""
    family = fn.runtime.rstrip("0123456789.x").removesuffix(".al")
    return LAMBDA_SDK_UA.get(family, LAMBDA_SDK_UA["python"]).format(rt=fn.runtime, api=api)


def iam_user(
    user: User,
    *,
    console: bool = False,
    access_key: str | None = None,
    mfa: bool = True,
    created: str = "",
) -> Record:
    """``IAMUser`` identity; console sessions carry a session context with mfaAuthenticated."""
    ident: Record = {
        "type": "IAMUser",
        "principalId": user.principal_id,
        "arn": user.arn,
        "accountId": user.account,
        "accessKeyId": access_key or user.access_key,
        "userName": user.name,
    }
    if console:
        ident["sessionContext"] = {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {"creationDate": created, "mfaAuthenticated": "true" if mfa else "false"},
        }
    return ident


def login_identity(user: User) -> Record:
    """The identity of a ConsoleLogin record: no access key yet."""
    return {
        "type": "IAMUser",
        "principalId": user.principal_id,
        "arn": user.arn,
        "accountId": user.account,
        "userName": user.name,
    }


def assumed_role(
    account: str,
    role: str,
    role_id: str,
    session: str,
    access_key: str,
    created: str,
    *,
    mfa: bool = False,
    path: str = "/",
    web_provider: str | None = None,
) -> Record:
    """``AssumedRole`` identity with ``sessionContext.sessionIssuer`` (the role) and attributes."""
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": access_key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role{path}{role}",
                "accountId": account,
                "userName": role,
            },
            "webIdFederationData": (
                {"federatedProvider": web_provider, "attributes": {}} if web_provider else {}
            ),
            "attributes": {"creationDate": created, "mfaAuthenticated": "true" if mfa else "false"},
        },
    }


def sso_role(account: Account, session: str, access_key: str, created: str) -> Record:
    """An IAM Identity Center (SSO) permission-set session, signed in with MFA."""
    return assumed_role(
        account.id,
        account.sso_role,
        account.sso_role_id,
        session,
        access_key,
        created,
        mfa=True,
        path=f"/aws-reserved/sso.amazonaws.com/{account.region}/",
    )


def exec_role(fn: Function, role_id: str, access_key: str, created: str) -> Record:
    """The execution-role session Lambda gives a function: the session is named after it."""
    return assumed_role(fn.account, fn.role, role_id, fn.name, access_key, created)


def root(account: str, *, access_key: str = "", created: str | None = None) -> Record:
    """``Root`` identity; API calls from a console session carry its session context."""
    ident: Record = {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:aws:iam::{account}:root",
        "accountId": account,
        "accessKeyId": access_key,
    }
    if created is not None:
        ident["sessionContext"] = {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
        }
    return ident


def service(invoked_by: str) -> Record:
    """``AWSService`` identity of a call a service makes on the account's behalf."""
    return {"type": "AWSService", "invokedBy": invoked_by}


def tls(source: str, region: str) -> Record:
    host = source.replace(".amazonaws.com", "")
    return {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": f"{host}.{region}.amazonaws.com"
        if source not in GLOBAL_SOURCES
        else f"{host}.amazonaws.com",
    }


def record(
    rng: random.Random,
    t: int,
    identity: Record,
    source: str,
    name: str,
    region: str,
    ip: str,
    ua: str,
    params: Record | None,
    response: Record | None,
    account: str,
    *,
    read_only: bool,
    error: tuple[str, str] | None = None,
    extra: Record | None = None,
    resources: list[Record] | None = None,
    event_type: str = "AwsApiCall",
    category: str = "Management",
    version: str = "1.09",
) -> Record:
    """One CloudTrail record with CloudTrail's key order; ``error`` is (errorCode, errorMessage)."""
    rec: Record = {
        "eventVersion": version,
        "userIdentity": identity,
        "eventTime": aws_time(t),
        "eventSource": source,
        "eventName": LAMBDA_EVENT_NAMES.get(name, name)
        if source == "lambda.amazonaws.com"
        else name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": ua,
    }
    if error:
        rec["errorCode"], rec["errorMessage"] = error
    rec["requestParameters"] = params
    rec["responseElements"] = None if error else response
    if extra is not None:
        rec["additionalEventData"] = extra
    rec["requestID"] = uuid4(rng)
    rec["eventID"] = uuid4(rng)
    rec["readOnly"] = read_only
    if resources is not None:
        rec["resources"] = resources
    rec["eventType"] = event_type
    rec["managementEvent"] = category == "Management"
    rec["recipientAccountId"] = account
    rec["eventCategory"] = category
    # A call a service made on the caller's behalf (invokedBy) carries no TLS details of its own.
    own_call = identity.get("type") not in ("AWSService", None) and "invokedBy" not in identity
    if event_type == "AwsApiCall" and own_call:
        rec["tlsDetails"] = tls(source, region)
    return rec


def call(
    rng: random.Random,
    t: int,
    identity: Record,
    account: str,
    region: str,
    source: str,
    name: str,
    ip: str,
    ua: str,
    params: Record | None,
    response: Record | None = None,
    *,
    read_only: bool,
    **kw: Any,
) -> Emit:
    """One API call as an ``Emit``: global services (IAM, sign-in) are logged in us-east-1."""
    where = "us-east-1" if source in GLOBAL_SOURCES else region
    rec = record(
        rng,
        t,
        identity,
        source,
        name,
        where,
        ip,
        ua,
        params,
        response,
        account,
        read_only=read_only,
        **kw,
    )
    return Emit(t, aws_sink(account, where), rec)


def via_service(identity: Record, service: str) -> Record:
    """The caller's identity on a call a service made for it (KMS behind Secrets Manager, S3)."""
    return {**identity, "invokedBy": service}


def iam_date(t: int) -> str:
    """How IAM and STS responses in CloudTrail write a date: ``Mar 2, 2026, 10:00:00 AM``."""
    stamp = aws_time(t)
    year, month, day = int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10])
    hour, minute, second = int(stamp[11:13]), stamp[14:16], stamp[17:19]
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    half = "AM" if hour < 12 else "PM"
    return f"{months[month - 1]} {day}, {year}, {hour % 12 or 12}:{minute}:{second} {half}"


def function_config(fn: Function, rng: random.Random, t: int, **changes: Any) -> Record:
    """The FunctionConfiguration Lambda returns from Create/Update calls."""
    cfg: Record = {
        "functionName": fn.name,
        "functionArn": fn.arn,
        "runtime": fn.runtime,
        "role": fn.role_arn,
        "handler": "index.handler" if fn.runtime.startswith("nodejs") else "app.handler",
        "codeSize": rng.randint(20_000, 9_000_000),
        "description": "",
        "timeout": 30,
        "memorySize": 512,
        "lastModified": aws_time(t).replace("Z", ".000+0000"),
        "codeSha256": token_b64(rng),
        "version": "$LATEST",
        "tracingConfig": {"mode": "PassThrough"},
        "revisionId": uuid4(rng),
        "state": "Active",
        "lastUpdateStatus": "InProgress",
        "packageType": "Zip",
        "architectures": ["arm64"],
        "ephemeralStorage": {"size": 512},
        "snapStart": {"applyOn": "None", "optimizationStatus": "Off"},
        "runtimeVersionConfig": {
            "runtimeVersionArn": f"arn:aws:lambda:{fn.region}::runtime:"
            + uuid4(rng).replace("-", "")
        },
        "loggingConfig": {"logFormat": "Text", "logGroup": f"/aws/lambda/{fn.name}"},
    }
    cfg.update(changes)
    return cfg


def token_b64(rng: random.Random) -> str:
    """A base64 SHA-256 look-alike (43 chars and '=')."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(rng.choices(alphabet, k=43)) + "="


def console_login(
    rng: random.Random,
    t: int,
    identity: Record,
    account: str,
    ip: str,
    *,
    success: bool,
    mfa: bool | None,
) -> Record:
    """A ``ConsoleLogin`` sign-in event; failures carry 'Failed authentication'."""
    extra: Record = {
        "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true"
        "&state=hashArgsFromTB_us-east-1_" + uuid4(rng).replace("-", "")[:16],
        "MobileVersion": "No",
    }
    if mfa:
        extra["MFAIdentifier"] = (
            f"arn:aws:iam::{account}:mfa/{identity.get('userName', 'root-account-mfa-device')}"
        )
    extra["MFAUsed"] = "Yes" if mfa else "No"
    rec = record(
        rng,
        t,
        identity,
        "signin.amazonaws.com",
        "ConsoleLogin",
        "us-east-1",
        ip,
        CONSOLE_UA,
        None,
        {"ConsoleLogin": "Success" if success else "Failure"},
        account,
        read_only=False,
        extra=extra,
        event_type="AwsConsoleSignIn",
        version="1.08",
    )
    if not success:
        # A failed sign-in has errorMessage but no errorCode, and keeps its responseElements.
        items = list(rec.items())
        at = [k for k, _ in items].index("userAgent") + 1
        items.insert(at, ("errorMessage", "Failed authentication"))
        rec = dict(items)
    return rec


def session_key(rng: random.Random) -> str:
    """A temporary (STS) access key id."""
    return aws_key_id(rng, "ASIA")


# The bits uuid4() sets, for hot loops that inline it.
UUID_MASK = ~(0xF000 << 64) & ~(0xC000 << 48)
UUID_BITS = (0x4000 << 64) | (0x8000 << 48)
