"""Public downloads on the CDN: path-addressed copies of published files (and repository indexes) of
public, unrestricted repositories under ``dl/<subject>/<repo>/<path>`` in the content bucket, which
CloudFront serves at ``/dl/...`` through origin access control without API Gateway or Lambda; and the
download statistics of that path, from CloudFront's standard logs. See docs/architecture.md, "CDN".
"""
