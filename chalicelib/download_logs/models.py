"""DynamoDB model of the download-log job.

Access pattern (see docs/data-model.md): the job's watermark, the last UTC day whose logs are final
(``LogJob`` hash ``name``, one item ``download_logs``; and the last ingest bucket it read). The logs
themselves are S3 objects (``logs/<package id>/downloads-DD-MM-YYYY.log.gz``), listed by prefix.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from chalicelib.db import table_meta


class LogJob(Model):
    """A background job's progress: ``final_through`` is the last day written for good (``YYYY-MM-DD``);
    ``read_through`` the last ingest bucket (``YYYY-MM-DDTHH:MM:SS``) closed when a run began: the next
    run rewrites only the packages with downloads recorded after it."""

    Meta = table_meta("log_jobs")

    name = UnicodeAttribute(hash_key=True)
    final_through = UnicodeAttribute(null=True)
    read_through = UnicodeAttribute(null=True)


MODELS = (LogJob,)
