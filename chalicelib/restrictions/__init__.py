"""Repository download restrictions (spec: Geo Restrictions, IP Restrictions).

``check.check_download`` is called by the central policy on download routes; ``services`` and
``views`` manage the lists, stored on the ``Repository`` item (no extra read on a download).
"""
