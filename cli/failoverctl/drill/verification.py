"""What the world must read after a scenario, checked field by field, and the before/after table."""

from __future__ import annotations

import copy
from typing import Any

from failover_controller.plan import RecoveryPlan
from failoverctl.drill import world
from failoverctl.drill.scenarios import Scenario


def expected_world(scenario: Scenario, plan: RecoveryPlan, before: dict[str, Any]) -> dict[str, Any]:
    """What the world must read after the scenario, field by field."""
    primary, standby = plan.primary_region, plan.standby_region
    if scenario.expected_outcome == "aborted":
        unchanged = copy.deepcopy(before)
        if plan.prewarm_seconds:  # the first alarm's pre-warm, under way or done: it goes back on the sweep
            unchanged["endpoints"].pop(standby, None)
        return unchanged
    # Asked of DNS where the world has name servers (the region answered); else the records' weights or roles.
    routed: dict[str, Any] = (
        {r.fqdn: standby for r in plan.records}
        if plan.name_servers
        else {r.fqdn: {primary: 0, standby: plan.active_weight} for r in plan.records}
    )
    active = {k: (v.active_weight, v.active_instance_count) for k, v in world.variants_of(plan, standby).items()}
    expected: dict[str, Any] = {"aurora_writer": standby, "dns": routed}
    if plan.dns_mode == "data_plane":
        expected["claims"] = {standby: True}
    if scenario.expected_outcome == "failed":  # compensation: writes and DNS follow the writer
        expected["write_region"] = {primary: before["write_region"][primary], standby: standby}
        if scenario.capacity:  # every scale-up rolled back: the standby serves with what it had
            expected["endpoints"] = {standby: before["endpoints"][standby]}
        return expected
    expected["endpoints"] = {standby: active}
    if scenario.expected_outcome == "reduced_capacity":  # traffic moved; every further scale-up rolled back
        expected["endpoints"] = {standby: before["endpoints"][standby]}
    if scenario.mode == "graceful":
        expected["write_region"] = {primary: standby, standby: standby}
        expected["endpoints"][primary] = {
            k: (v.active_weight, v.standby_instance_count) for k, v in world.variants_of(plan, primary).items()
        }
    else:
        expected["write_region"] = {primary: primary, standby: standby}
        expected["endpoints"][primary] = before["endpoints"][primary]
    return expected


def verify_world(expected: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    checks = []
    for key, want in expected.items():
        if isinstance(want, dict):
            for sub, value in want.items():
                got = after.get(key, {}).get(sub)
                checks.append({"check": f"{key} {sub}", "expected": value, "observed": got, "ok": got == value})
        else:
            got = after.get(key)
            checks.append({"check": key, "expected": want, "observed": got, "ok": got == want})
    return checks


def table(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    rows = [("", "before", "after")]
    rows.append(("Aurora writer", before["aurora_writer"], after["aurora_writer"]))
    for region in before["write_region"]:
        rows.append((f"write region ({region})", before["write_region"][region], after["write_region"].get(region)))
    for region, variants in before["endpoints"].items():
        # One row a variant where a region has several endpoints (keys "endpoint/variant"); one row a region if not.
        if all("/" not in key for key in variants):
            rows.append(
                (
                    f"endpoint {region}",
                    _fmt_endpoint(variants),
                    _fmt_endpoint(after["endpoints"].get(region, {})),
                )
            )
            continue
        for key, (w, n) in variants.items():
            now = after["endpoints"].get(region, {}).get(key)
            rows.append((f"{key} ({region})", f"weight {w:g} x{n}", f"weight {now[0]:g} x{now[1]}" if now else "-"))
    for name, seen in before["dns"].items():
        if not isinstance(seen, dict):  # the region DNS answers with
            rows.append((f"{name.split('.')[0]} DNS answers", seen, after["dns"].get(name)))
            continue
        for region in seen:
            rows.append((f"{name.split('.')[0]} DNS {region}", seen[region], after["dns"][name].get(region)))
    width = max(len(str(r[0])) for r in rows) + 2
    return [f"    {a!s:<{width}}{b!s:<22}{c}" for a, b, c in rows]


def _fmt_endpoint(variants: dict[str, Any]) -> str:
    return ", ".join(f"{name} weight {w:g} x{n}" for name, (w, n) in variants.items()) or "-"
