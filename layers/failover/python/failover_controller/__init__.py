"""failover-controller's shared package: the recovery plan, AWS clients, the read layer, readiness checks and the
runbook steps (docs/ARCHITECTURE.md has the map)."""

__version__ = "0.1.0"
