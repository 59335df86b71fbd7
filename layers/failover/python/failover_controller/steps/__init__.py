"""The runbook steps. Each takes a StepRequest and returns a StepResult: look, act only if needed, verify."""
