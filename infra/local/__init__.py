"""The laptop edition of the platform: moto's server as AWS and a local API Gateway."""
