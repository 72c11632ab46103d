"""The fields of CloudTrail records and Cloud Audit Log entries that the normalizer reads.

msgspec decodes only these (unknown keys are skipped in C, never become Python objects), which
is most of the speed of the parser (PERFORMANCE.md). Required fields are the ones an event
cannot exist without (its id and time, and what was called); everything else may be absent.
Types are as loose as the providers' own logs are (``readOnly`` has been seen as a string).
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Issuer(msgspec.Struct, gc=False):
    arn: str | None = None
    # Read for the rules only (``normalize.carried``): ``Any`` so that an unexpected type is
    # carried as unknown rather than counted as a dropped field.
    type: Any = None


class _SessionAttributes(msgspec.Struct, gc=False):
    mfaAuthenticated: str | bool | None = None


class SessionContext(msgspec.Struct, gc=False):
    sessionIssuer: _Issuer | None = None
    attributes: _SessionAttributes | None = None


class UserIdentity(msgspec.Struct, gc=False):
    type: str | None = None
    arn: str | None = None
    accountId: str | None = None
    principalId: str | None = None
    userName: str | None = None
    invokedBy: str | None = None
    sessionContext: SessionContext | None = None


class RequestParameters(msgspec.Struct, gc=False):
    """Where the target of a call is named, across the services functrail watches."""

    functionName: Any = None
    FunctionName: Any = None
    secretId: Any = None
    SecretId: Any = None
    name: Any = None
    names: Any = None
    roleName: Any = None
    userName: Any = None
    policyArn: Any = None
    trailName: Any = None
    bucketName: Any = None
    layerName: Any = None
    groupName: Any = None
    logGroupName: Any = None
    resourceArn: Any = None


RESOURCE_KEYS = tuple(RequestParameters.__struct_fields__)
"""Priority order in which ``requestParameters`` keys name the resource."""


class Resource(msgspec.Struct, gc=False):
    ARN: str | None = None


class AdditionalEventData(msgspec.Struct, gc=False):
    MFAUsed: str | bool | None = None


class AwsRecord(msgspec.Struct, gc=False):
    """One CloudTrail record (S3 log file, LookupEvents ``CloudTrailEvent``, EventBridge detail)."""

    eventID: str
    eventTime: str
    eventSource: str
    eventName: str
    awsRegion: str | None = None
    sourceIPAddress: str | None = None
    userAgent: str | None = None
    errorCode: str | None = None
    readOnly: bool | str | None = None
    recipientAccountId: str | None = None
    userIdentity: UserIdentity | None = None
    requestParameters: RequestParameters | None = None
    resources: list[Resource] | None = None
    additionalEventData: AdditionalEventData | None = None
    # Only ConsoleLogin's outcome lives here; kept undecoded for every other event.
    responseElements: msgspec.Raw = msgspec.Raw(b"null")
    eventType: Any = None
    """Read for the rules only (``normalize.carried``), as ``_Issuer.type``."""


class _Status(msgspec.Struct, gc=False):
    code: int | None = None


class _AuthenticationInfo(msgspec.Struct, gc=False):
    principalEmail: str | None = None
    principalSubject: str | None = None


class _RequestMetadata(msgspec.Struct, gc=False):
    callerIp: str | None = None
    callerSuppliedUserAgent: str | None = None


class AuditLog(msgspec.Struct, gc=False):
    serviceName: str | None = None
    methodName: str | None = None
    resourceName: str | None = None
    status: _Status | None = None
    authenticationInfo: _AuthenticationInfo | None = None
    requestMetadata: _RequestMetadata | None = None


class _MonitoredResource(msgspec.Struct, gc=False):
    type: str | None = None
    labels: dict[str, str] | None = None


class HttpRequest(msgspec.Struct, gc=False):
    """The request a Cloud Run / Cloud Functions request log entry records."""

    requestMethod: str | None = None
    status: int | None = None
    userAgent: str | None = None
    remoteIp: str | None = None


class LogEntry(msgspec.Struct, gc=False):
    """One Cloud Logging LogEntry: a Cloud Audit Logs ``AuditLog`` payload, or a serverless
    request log (``httpRequest``), the only record of each Cloud Run request."""

    insertId: str
    timestamp: str
    logName: str | None = None
    resource: _MonitoredResource | None = None
    protoPayload: AuditLog | None = None
    httpRequest: HttpRequest | None = None
