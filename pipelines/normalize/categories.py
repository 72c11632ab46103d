"""Which category (DESIGN.md) each API action belongs to: explicit tables, then verb fallbacks.

Tables are keyed by the service as logged (``eventSource`` / ``serviceName``) and the action
after version stripping, so detectors can rely on a security reading of each call rather than
on its verb alone (``PassRole`` is not access; ``GetSecretValue`` is a secret read;
``GenerateAccessToken`` is authentication).
"""

from __future__ import annotations

import re
from typing import Final

INVOCATION: Final = "invocation"
MODIFICATION: Final = "modification"
ACCESS: Final = "access"
AUTHENTICATION: Final = "authentication"
OTHER: Final = "other"

_M, _A, _I, _N = MODIFICATION, ACCESS, INVOCATION, AUTHENTICATION

LAMBDA: Final = {
    "Invoke": _I,
    "InvokeAsync": _I,
    "InvokeWithResponseStream": _I,
    "InvokeFunctionUrl": _I,
    "CreateFunction": _M,
    "UpdateFunctionCode": _M,
    "UpdateFunctionConfiguration": _M,
    "DeleteFunction": _M,
    "PublishVersion": _M,
    "PublishLayerVersion": _M,
    "DeleteLayerVersion": _M,
    "AddLayerVersionPermission": _M,
    "RemoveLayerVersionPermission": _M,
    "AddPermission": _M,
    "RemovePermission": _M,
    "CreateAlias": _M,
    "UpdateAlias": _M,
    "DeleteAlias": _M,
    "CreateFunctionUrlConfig": _M,
    "UpdateFunctionUrlConfig": _M,
    "DeleteFunctionUrlConfig": _M,
    "CreateEventSourceMapping": _M,
    "UpdateEventSourceMapping": _M,
    "DeleteEventSourceMapping": _M,
    "PutFunctionConcurrency": _M,
    "DeleteFunctionConcurrency": _M,
    "PutFunctionEventInvokeConfig": _M,
    "TagResource": _M,
    "UntagResource": _M,
    "GetFunction": _A,
    "GetFunctionConfiguration": _A,
    "GetPolicy": _A,
    "GetLayerVersion": _A,
    "GetFunctionUrlConfig": _A,
    "GetAccountSettings": _A,
    "ListFunctions": _A,
    "ListVersionsByFunction": _A,
    "ListAliases": _A,
    "ListLayers": _A,
    "ListTags": _A,
    "ListEventSourceMappings": _A,
    "ListFunctionUrlConfigs": _A,
}

IAM: Final = {
    "CreateUser": _M,
    "DeleteUser": _M,
    "CreateRole": _M,
    "DeleteRole": _M,
    "UpdateAssumeRolePolicy": _M,
    "AttachRolePolicy": _M,
    "DetachRolePolicy": _M,
    "AttachUserPolicy": _M,
    "DetachUserPolicy": _M,
    "PutRolePolicy": _M,
    "PutUserPolicy": _M,
    "DeleteRolePolicy": _M,
    "CreatePolicy": _M,
    "CreatePolicyVersion": _M,
    "SetDefaultPolicyVersion": _M,
    "AddUserToGroup": _M,
    "CreateLoginProfile": _M,
    "UpdateLoginProfile": _M,
    "DeactivateMFADevice": _M,
    "CreateAccessKey": _M,
    "UpdateAccessKey": _M,
    "DeleteAccessKey": _M,
    "PassRole": _M,
    "GetUser": _A,
    "GetRole": _A,
    "GetPolicy": _A,
    "GetPolicyVersion": _A,
    "GetRolePolicy": _A,
    "GetAccountAuthorizationDetails": _A,
    "ListUsers": _A,
    "ListRoles": _A,
    "ListPolicies": _A,
    "ListAccessKeys": _A,
    "ListAttachedRolePolicies": _A,
    "SimulatePrincipalPolicy": _A,
}

STS: Final = {
    "AssumeRole": _N,
    "AssumeRoleWithSAML": _N,
    "AssumeRoleWithWebIdentity": _N,
    "GetSessionToken": _N,
    "GetFederationToken": _N,
    "GetCallerIdentity": _A,
    "GetAccessKeyInfo": _A,
    "DecodeAuthorizationMessage": _A,
}

SIGNIN: Final = {
    "ConsoleLogin": _N,
    "SwitchRole": _N,
    "ExitRole": _N,
    "GetSigninToken": _N,
    "CheckMfa": _N,
    "RenewRole": _N,
}

SECRETS_MANAGER: Final = {
    "GetSecretValue": _A,
    "BatchGetSecretValue": _A,
    "DescribeSecret": _A,
    "ListSecrets": _A,
    "ListSecretVersionIds": _A,
    "GetResourcePolicy": _A,
    "CreateSecret": _M,
    "PutSecretValue": _M,
    "UpdateSecret": _M,
    "DeleteSecret": _M,
    "RestoreSecret": _M,
    "RotateSecret": _M,
    "PutResourcePolicy": _M,
    "DeleteResourcePolicy": _M,
}

SSM: Final = {
    "GetParameter": _A,
    "GetParameters": _A,
    "GetParametersByPath": _A,
    "DescribeParameters": _A,
    "PutParameter": _M,
    "DeleteParameter": _M,
    "DeleteParameters": _M,
    "SendCommand": _I,
    "StartSession": _N,
}

CLOUDTRAIL: Final = {
    "StopLogging": _M,
    "StartLogging": _M,
    "DeleteTrail": _M,
    "UpdateTrail": _M,
    "CreateTrail": _M,
    "PutEventSelectors": _M,
    "PutInsightSelectors": _M,
    "LookupEvents": _A,
    "DescribeTrails": _A,
    "GetTrailStatus": _A,
    "GetEventSelectors": _A,
    "ListTrails": _A,
}

S3: Final = {
    "GetObject": _A,
    "HeadObject": _A,
    "ListObjects": _A,
    "ListObjectsV2": _A,
    "ListBuckets": _A,
    "GetBucketPolicy": _A,
    "GetBucketAcl": _A,
    "PutObject": _M,
    "DeleteObject": _M,
    "DeleteObjects": _M,
    "CopyObject": _M,
    "PutBucketPolicy": _M,
    "DeleteBucketPolicy": _M,
    "PutBucketAcl": _M,
    "PutBucketPublicAccessBlock": _M,
    "DeletePublicAccessBlock": _M,
    "PutBucketLogging": _M,
    "PutBucketVersioning": _M,
    "PutBucketLifecycle": _M,
    "CreateBucket": _M,
    "DeleteBucket": _M,
}

CLOUD_FUNCTIONS: Final = {
    "CallFunction": _I,
    "Invoke": _I,  # a request log entry (pipelines.normalize.gcp)
    "CreateFunction": _M,
    "UpdateFunction": _M,
    "DeleteFunction": _M,
    "SetIamPolicy": _M,
    "GenerateUploadUrl": _M,
    "GenerateDownloadUrl": _A,
    "GetFunction": _A,
    "ListFunctions": _A,
    "GetIamPolicy": _A,
    "TestIamPermissions": _A,
}

CLOUD_RUN: Final = {
    "Invoke": _I,  # a request log entry (pipelines.normalize.gcp)
    "CreateService": _M,
    "UpdateService": _M,
    "DeleteService": _M,
    "SetIamPolicy": _M,
    "CreateJob": _M,
    "UpdateJob": _M,
    "DeleteJob": _M,
    "RunJob": _I,
    "GetService": _A,
    "ListServices": _A,
    "GetIamPolicy": _A,
    "GetRevision": _A,
    "ListRevisions": _A,
}

GCP_IAM: Final = {
    "CreateServiceAccount": _M,
    "DeleteServiceAccount": _M,
    "UpdateServiceAccount": _M,
    "DisableServiceAccount": _M,
    "EnableServiceAccount": _M,
    "CreateServiceAccountKey": _M,
    "DeleteServiceAccountKey": _M,
    "UploadServiceAccountKey": _M,
    "SetIamPolicy": _M,
    "CreateRole": _M,
    "UpdateRole": _M,
    "DeleteRole": _M,
    "GetServiceAccount": _A,
    "ListServiceAccounts": _A,
    "ListServiceAccountKeys": _A,
    "GetIamPolicy": _A,
    "GenerateAccessToken": _N,
    "GenerateIdToken": _N,
    "SignJwt": _N,
    "SignBlob": _N,
}

SECRET_MANAGER: Final = {
    "AccessSecretVersion": _A,
    "GetSecret": _A,
    "ListSecrets": _A,
    "GetSecretVersion": _A,
    "ListSecretVersions": _A,
    "GetIamPolicy": _A,
    "CreateSecret": _M,
    "AddSecretVersion": _M,
    "UpdateSecret": _M,
    "DeleteSecret": _M,
    "DestroySecretVersion": _M,
    "DisableSecretVersion": _M,
    "SetIamPolicy": _M,
}

LOGGING: Final = {
    "DeleteSink": _M,
    "UpdateSink": _M,
    "CreateSink": _M,
    "DeleteLog": _M,
    "CreateExclusion": _M,
    "UpdateExclusion": _M,
    "DeleteExclusion": _M,
    "UpdateBucket": _M,
    "DeleteBucket": _M,
    "UpdateCmekSettings": _M,
    "UpdateSettings": _M,
    "ListLogEntries": _A,
    "ReadLogEntriesLegacy": _A,
    "TailLogEntries": _A,
    "GetSink": _A,
    "ListSinks": _A,
}

RESOURCE_MANAGER: Final = {
    "SetIamPolicy": _M,
    "CreateProject": _M,
    "DeleteProject": _M,
    "UpdateProject": _M,
    "MoveProject": _M,
    "GetIamPolicy": _A,
    "GetProject": _A,
    "ListProjects": _A,
    "SearchProjects": _A,
}

BY_SERVICE: Final[dict[str, dict[str, str]]] = {
    "lambda.amazonaws.com": LAMBDA,
    "iam.amazonaws.com": IAM,
    "sts.amazonaws.com": STS,
    "signin.amazonaws.com": SIGNIN,
    "secretsmanager.amazonaws.com": SECRETS_MANAGER,
    "ssm.amazonaws.com": SSM,
    "cloudtrail.amazonaws.com": CLOUDTRAIL,
    "s3.amazonaws.com": S3,
    "cloudfunctions.googleapis.com": CLOUD_FUNCTIONS,
    "run.googleapis.com": CLOUD_RUN,
    "iam.googleapis.com": GCP_IAM,
    "iamcredentials.googleapis.com": GCP_IAM,
    "secretmanager.googleapis.com": SECRET_MANAGER,
    "logging.googleapis.com": LOGGING,
    "cloudresourcemanager.googleapis.com": RESOURCE_MANAGER,
}

AUTHENTICATION_ACTIONS: Final = frozenset(
    {"ConsoleLogin", "GetSessionToken", "GetFederationToken", "GenerateAccessToken", "SignJwt"}
)
"""Authentication wherever they are logged (some reach CloudTrail under other sources)."""

_VERBS: Final = {
    **dict.fromkeys(("Get", "List", "Describe", "Head", "Search", "Lookup", "Read", "Batch"), _A),
    **dict.fromkeys(
        (
            "Create",
            "Update",
            "Delete",
            "Put",
            "Add",
            "Remove",
            "Tag",
            "Untag",
            "Publish",
            "Set",
            "Attach",
            "Detach",
            "Replace",
            "Patch",
            "Insert",
            "Enable",
            "Disable",
            "Upload",
            "Stop",
            "Start",
            "Restore",
            "Rotate",
            "Modify",
            "Move",
            "Undelete",
        ),
        _M,
    ),
    "Invoke": _I,
    "Call": _I,
    "Assume": _N,
}
_VERB = re.compile(r"[A-Z]?[a-z]+")


def category_of(service: str | None, action: str | None) -> str:
    """The category of one (service, action) pair; called once per distinct pair in a batch."""
    if not action:
        return OTHER
    table = BY_SERVICE.get(service or "")
    if table is not None and action in table:
        return table[action]
    if action in AUTHENTICATION_ACTIONS or action.startswith("AssumeRole"):
        return AUTHENTICATION
    verb = _VERB.match(action)
    if verb is None:
        return OTHER
    word = verb.group(0)
    if word == "Batch" and "Get" not in action:
        return OTHER
    return _VERBS.get(word[:1].upper() + word[1:], OTHER)


READ_VERBS: Final = frozenset(verb for verb, category in _VERBS.items() if category == _A)
WRITE_VERBS: Final = frozenset(verb for verb, category in _VERBS.items() if category == _M)
