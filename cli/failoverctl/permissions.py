"""docs/permissions.md, generated from template.yaml: every function's role, its actions and resources.

python -m failoverctl.permissions > docs/permissions.md     (make docs)
python -m failoverctl.permissions --check docs/permissions.md   (make lint: fails when out of date)
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def translated() -> dict[str, Any]:
    """template.yaml after the SAM transform (local paths stand in as S3 URIs)."""
    from samtranslator.translator.transform import transform  # noqa: PLC0415 - a dev-time tool
    from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-west-2")  # the transform's pseudo parameters need one
    doc: dict[str, Any] = copy.deepcopy(yaml_parse(TEMPLATE.read_text(encoding="utf-8")))
    for resource in doc["Resources"].values():
        props = resource.get("Properties", {})
        for key, value in (
            ("CodeUri", "s3://b/c.zip"),
            ("ContentUri", "s3://b/l.zip"),
            ("DefinitionUri", {"Bucket": "b", "Key": "d.json"}),
        ):
            if key in props:
                props[key] = value
    result: dict[str, Any] = transform(doc, dict.fromkeys(doc["Parameters"], "x"), _NoManagedPolicies())
    return result


def render(value: Any) -> str:
    """A CloudFormation expression, compactly: Fn::Sub strings as written, Ref and GetAtt by name."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return f"{{{arg}}}"
        if fn == "Fn::GetAtt":
            return f"{{{'.'.join(arg) if isinstance(arg, list) else arg}}}"
        if fn == "Fn::Sub":
            return arg if isinstance(arg, str) else arg[0].replace("${Bucket}", "{" + render(arg[1]["Bucket"]) + "}")
        if fn in {"Fn::Split", "Fn::Join", "Fn::Select"}:
            return f"{fn.removeprefix('Fn::')}({', '.join(render(a) for a in arg)})"
    if isinstance(value, list):
        return ", ".join(render(v) for v in value)
    return json.dumps(value, sort_keys=True)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def document() -> str:
    resources = translated()["Resources"]
    lines = [
        "# Permissions, per function",
        "",
        "Generated from template.yaml by `make docs` (`python -m failoverctl.permissions`); `make lint` fails",
        "when it is out of date. `{Name}` is a template parameter or resource. Managed policies are listed by",
        "name: SAM attaches `AWSLambdaBasicExecutionRole` (logs) and, with tracing, `AWSXrayWriteOnlyAccess`.",
        "",
    ]
    functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    for name in sorted(functions):
        role_name = functions[name]["Properties"]["Role"]["Fn::GetAtt"][0]
        role = resources[role_name]["Properties"]
        lines += [f"## {name}", "", "| action | resource |", "| --- | --- |"]
        documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
        managed = []
        for arn in role.get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and "Ref" in arn and arn["Ref"] in resources:
                documents.append(resources[arn["Ref"]]["Properties"]["PolicyDocument"])
                managed.append(f"{arn['Ref']} (in this template)")
            else:
                managed.append(render(arn).rsplit("/", 1)[-1])
        for doc in documents:
            for statement in doc["Statement"]:
                for action in _as_list(statement["Action"]):
                    for resource in _as_list(statement["Resource"]):
                        lines.append(f"| `{action}` | `{render(resource)}` |")
        lines += ["", f"Managed policies: {', '.join(managed) or 'none'}.", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = document()
    if argv[:1] == ["--check"]:
        current = Path(argv[1]).read_text(encoding="utf-8") if Path(argv[1]).exists() else ""
        if current != text:
            print(f"{argv[1]} is out of date with template.yaml: run `make docs`", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
