"""failoverctl: the operators' command line for failover-controller."""
