"""EventBridge across regions in the drill's world: the emulator drops a cross-region bus target's delivery; the
outage proxy delivers it, with the target's role, which must allow events:PutEvents on that bus (EventBridge user
guide, sending and receiving events between Regions)."""

from __future__ import annotations

import json

import pytest

from failover_controller.clients import ClientFactory
from failoverctl.drill import emulators

pytestmark = pytest.mark.emulator


@pytest.mark.parametrize(("allowed_region", "relayed"), [("us-west-2", True), ("eu-west-1", False)])
def test_an_event_crosses_to_another_regions_bus_only_with_a_role_allowed_to_put_there(
    emulated: ClientFactory, emulator_pair: emulators.Emulators, allowed_region: str, relayed: bool
) -> None:
    emulators.outage_faults(emulator_pair.proxy_url, [])  # counts afresh
    iam = emulated.client("iam", "us-east-1")
    role = iam.create_role(RoleName=f"forward-{allowed_region}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    allowed = f"arn:aws:events:{allowed_region}:000000000000:event-bus/default"
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": allowed}],
    }
    iam.put_role_policy(RoleName=f"forward-{allowed_region}", PolicyName="put", PolicyDocument=json.dumps(policy))
    events = emulated.client("events", "us-east-1")
    events.put_rule(Name="forward", EventPattern=json.dumps({"source": ["drill"], "detail": {"alarmName": ["health"]}}))
    peer = "arn:aws:events:us-west-2:000000000000:event-bus/default"
    events.put_targets(Rule="forward", Targets=[{"Id": "peer", "Arn": peer, "RoleArn": role}])
    for name in ("health", "other"):  # only the first matches the rule
        events.put_events(Entries=[{"Source": "drill", "DetailType": "x", "Detail": json.dumps({"alarmName": name})}])
    report = emulator_pair.outage_report()["events"]
    crossed = [{"from": "us-east-1", "to": peer, "role": role}]
    assert report == ({"relayed": crossed, "refused": []} if relayed else {"relayed": [], "refused": crossed})
