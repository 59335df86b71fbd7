"""failover-controller's shared package: the recovery plan, AWS clients, the runbook steps."""

__version__ = "0.1.0"
