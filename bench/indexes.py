"""Index calculation cost (``make bench``): a Debian and an RPM repository of 1,000 packages each, with
signed metadata; the time and the DynamoDB / S3 / KMS operations of a calculation from scratch and of
an incremental one after one new package.

The 1,000 packages are synthetic: file items written straight to DynamoDB with the metadata an upload
would have kept (a .deb's control paragraph; an .rpm's createrepo_c entries, from one real rpm when
rpmbuild is there, else a hand-written entry), so no package is parsed during the calculation, as in
production. The new package of the incremental step is one more such item, noted as a publish would.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
import uuid
from collections import Counter
from typing import Any

N = 1000


def _entries(name: str, version: str, pkgid: str) -> dict[str, str]:
    """createrepo_c-shaped entries of one noarch rpm (the location is filled in by the calculator)."""
    from chalicelib.indexes.rpm import LOCATION

    primary = f"""<package type="rpm">
  <name>{name}</name>
  <arch>noarch</arch>
  <version epoch="0" ver="{version}" rel="1"/>
  <checksum type="sha256" pkgid="YES">{pkgid}</checksum>
  <summary>{name}</summary>
  <description>{name}, synthetic</description>
  <packager></packager>
  <url></url>
  <time file="1700000000" build="1700000000"/>
  <size package="6038" installed="3" archive="264"/>
  <location href="{LOCATION}"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor></rpm:vendor>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>bench</rpm:buildhost>
    <rpm:sourcerpm>{name}-{version}-1.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="5929"/>
    <rpm:provides>
      <rpm:entry name="{name}" flags="EQ" epoch="0" ver="{version}" rel="1"/>
    </rpm:provides>
  </format>
</package>
"""
    filelists = (
        f'<package pkgid="{pkgid}" name="{name}" arch="noarch">\n  <version epoch="0" ver="{version}" '
        f'rel="1"/>\n  <file>/usr/share/{name}/README</file>\n</package>\n'
    )
    other = (
        f'<package pkgid="{pkgid}" name="{name}" arch="noarch">\n  <version epoch="0" ver="{version}" '
        f'rel="1"/>\n</package>\n'
    )
    return {"primary": primary, "filelists": filelists, "other": other}


def _file(repo: Any, package: Any, kind: str, i: int) -> Any:
    from chalicelib.content.models import File
    from chalicelib.timefmt import now

    name = f"pkg{i:04d}"
    sha256 = hashlib.sha256(f"{kind}-{i}".encode()).hexdigest()
    path = f"pool/main/p/{name}_1.0_amd64.deb" if kind == "debian" else f"{name}-1.0-1.noarch.rpm"
    record = File(
        repo.id,
        path,
        name=path.rsplit("/", 1)[-1],
        name_lower=path.rsplit("/", 1)[-1].lower(),
        owner=repo.owner,
        repo=repo.name,
        package=package.name,
        package_id=package.id,
        version="1.0",
        version_key=f"{package.id}#1.0",
        size=2048 + i,
        sha1=hashlib.sha1(sha256.encode()).hexdigest(),
        sha256=sha256,
        created=now(),
        published=True,
        published_at=now(),
    )
    if kind == "debian":
        record.deb_distribution, record.deb_component, record.deb_architecture = (
            ["stable"],
            ["main"],
            ["amd64"],
        )
        record.deb_control = (
            f"Package: {name}\nVersion: 1.0\nArchitecture: amd64\nMaintainer: Bench <b@example.com>\n"
            f"Installed-Size: 12\nDepends: libc6\nSection: utils\nPriority: optional\n"
            f"Description: {name}, synthetic\n a package of the index benchmark\n"
        )
    else:
        entries = _entries(name, "1.0", sha256)
        record.rpm_xml = gzip.compress(json.dumps(entries).encode(), mtime=0)
    return record


def _measure(step: Any, aws_calls: Any) -> tuple[float, Counter[str], Counter[str], Counter[str]]:
    from chalicelib import storage
    from chalicelib.gpg import keystore
    from infra.local.opcount import count_operations

    with count_operations() as dynamodb, aws_calls({"s3": storage.s3(), "kms": keystore.kms()}) as calls:
        started = time.perf_counter()
        step()
        seconds = time.perf_counter() - started
    return seconds, dynamodb, calls["s3"], calls["kms"]


def measure(
    base: str, auth: tuple[str, str], user: str, aws_calls: Any
) -> list[tuple[str, float, str, str, str]]:
    """Rows (step, seconds, DynamoDB ops, S3 ops, KMS ops) for both formats."""
    import requests

    from chalicelib.content.models import File
    from chalicelib.indexes import services
    from chalicelib.packages.models import Package
    from chalicelib.repositories.models import Repository

    http = requests.Session()
    rows = []
    for kind in ("debian", "rpm"):
        name = f"{kind}-{uuid.uuid4().hex[:6]}"
        body = {"type": kind, "gpg_sign_metadata": True}
        assert http.post(f"{base}/repos/{user}/{name}", auth=auth, json=body).status_code == 201
        pkg = {"name": "many", "licenses": ["MIT"], "vcs_url": "https://example.com/x.git"}
        assert http.post(f"{base}/packages/{user}/{name}", auth=auth, json=pkg).status_code == 201
        repo = Repository.get(user, name)
        package = Package.get(repo.id, "many")
        with File.batch_write() as batch:
            for i in range(N):
                batch.save(_file(repo, package, kind, i))

        def scratch(repo: Any = repo) -> None:
            services.request(repo.id, repo.owner, repo.name, full=True, send=False)
            assert services.run(repo.id)

        new = _file(repo, package, kind, N)
        new.save()

        def incremental(repo: Any = repo, path: str = new.path) -> None:
            services.request(repo.id, repo.owner, repo.name, [path], send=False)
            assert services.run(repo.id)

        # The new file is not in the first calculation: it starts unpublished, like an upload.
        new.update(actions=[File.published.set(False)])
        seconds, dynamodb, s3, kms = _measure(scratch, aws_calls)
        rows.append((f"{kind}: from scratch, {N} packages", seconds, _fmt(dynamodb), _fmt(s3), _fmt(kms)))
        new.update(actions=[File.published.set(True)])
        seconds, dynamodb, s3, kms = _measure(incremental, aws_calls)
        rows.append((f"{kind}: incremental, 1 new package", seconds, _fmt(dynamodb), _fmt(s3), _fmt(kms)))
        seconds, dynamodb, s3, kms = _measure(scratch, aws_calls)
        rows.append((f"{kind}: from scratch, {N + 1} packages", seconds, _fmt(dynamodb), _fmt(s3), _fmt(kms)))
    return rows


def _fmt(counter: Counter[str]) -> str:
    if not counter:
        return "0"
    return f"{sum(counter.values())} (" + ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) + ")"


def report(base: str, admin: tuple[str, str], aws_calls: Any) -> None:
    import requests

    user = f"bench-idx-{uuid.uuid4().hex[:6]}"
    answer = requests.put(
        f"{base}/api/security/users/{user}", auth=admin, json={"email": f"{user}@example.com"}
    )
    rows = measure(base, (user, answer.json()["api_key"]), user, aws_calls)
    print(f"\nIndex calculations ({N} synthetic packages per repository, signed metadata)\n")
    print("| step | time | DynamoDB ops | S3 ops | KMS ops |")
    print("|---|---|---|---|---|")
    for step, seconds, dynamodb, s3, kms in rows:
        print(f"| {step} | {seconds * 1000:.0f} ms | {dynamodb} | {s3} | {kms} |")
