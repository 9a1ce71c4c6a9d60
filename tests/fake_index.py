"""A calculator for tests of the index machinery: ``idx/list.txt`` lists the published files, one
path per line; incremental from the previous list and the changed paths."""

from __future__ import annotations

from chalicelib.indexes.registry import Job, Output

#: Raised in ``calculate`` when set (a crashing calculation).
FAIL: list[Exception] = []
RUNS: list[bool] = []
#: Called at the start of ``calculate`` (a change that arrives while a calculation runs).
DURING: list = []


def claims(repo, path: str) -> bool:
    return path.startswith("idx/")


def calculate(job: Job) -> Output:
    RUNS.append(job.full)
    if FAIL:
        raise FAIL.pop()
    while DURING:
        DURING.pop()()
    if job.full:
        paths = {f.path for f in job.files()}
    else:
        previous = (job.previous("idx/list.txt") or b"").decode()
        paths = set(filter(None, previous.split("\n")))
        for path in job.changed or ():
            record = job.file(path)
            if record is not None and record.published:
                paths.add(path)
            else:
                paths.discard(path)
    out: Output = {"idx/list.txt": "\n".join(sorted(paths)).encode()}
    out["idx/count.txt"] = str(len(paths)).encode() if paths else None
    return out
