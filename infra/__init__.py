"""Deployment and local-infrastructure tooling (not deployed with the Lambda function)."""
