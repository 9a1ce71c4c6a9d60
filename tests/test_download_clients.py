"""Downloads with real clients (issue #9): a client that sends credentials only after a 401 challenge
(python's urllib with an HTTPBasicAuthHandler, like Maven, apt, dnf, pip and npm) reaches a private
repository, and file names outside Latin-1 travel in Content-Disposition (RFC 6266/5987) through
``curl -L`` and the presigned S3 URL of the local AWS."""

from __future__ import annotations

import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
import requests

from chalicelib.storage import content_disposition
from tests.conftest import ADMIN

UNICODE_NAMES = ("日本語.txt", "ünïcøde-文件.txt")

def put_file(api, owner, repo: str, package: str, name: str, data: bytes) -> None:
    url = f"/content/{owner}/{repo}/{package}/1.0/{quote(name)}?publish=1"
    response = api.put(url, ADMIN, data=data)
    assert response.status_code == 201, response.text


def challenge_opener(url: str, user: str, password: str) -> urllib.request.OpenerDirector:
    """An opener that answers a Basic challenge for ``url`` (and never sends credentials unasked)."""
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, url, user, password)
    return urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords))


def test_a_client_answering_challenges_downloads_a_private_file(api, world):
    owner = world.user()
    repo = world.repo(owner.name, private=True)
    package = world.package(owner.name, repo)
    put_file(api, owner.name, repo, package, "secret.bin", b"private bytes")
    url = f"{api.base_url}/dl/{owner.name}/{repo}/secret.bin"
    # Without credentials: the challenge, as a JSON error.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"] == 'Basic realm="Shelf"'
    # The client retries with credentials after the 401, follows the 302 to S3 and gets the bytes.
    with challenge_opener(url, owner.name, owner.key).open(url, timeout=10) as response:
        assert response.status == 200
        assert response.read() == b"private bytes"
    # A user without read is not challenged again forever: 404 ends it.
    stranger = world.user()
    with pytest.raises(urllib.error.HTTPError) as hidden:
        challenge_opener(url, stranger.name, stranger.key).open(url, timeout=10)
    assert hidden.value.code == 404


@pytest.mark.parametrize("name", UNICODE_NAMES)
def test_content_disposition_of_non_latin1_names(api, world, name):
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    data = f"content of {name}".encode()
    put_file(api, owner.name, repo, package, name, data)
    response = api.get(f"/dl/{owner.name}/{repo}/{quote(name)}")
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    # The presigned URL carries the header percent-encoded once more (valid for real S3: the query
    # is ASCII and its value decodes to exactly the header that was signed).
    assert location.isascii()
    # In its SigV4 canonical form already (every byte but A-Za-z0-9-._~ percent-encoded), so S3
    # computes the signature over exactly this text.
    raw = next(
        p for p in urlsplit(location).query.split("&") if p.startswith("response-content-disposition=")
    )
    assert re.fullmatch(r"([A-Za-z0-9._~-]|%[0-9A-F]{2})*", raw.partition("=")[2])
    (value,) = parse_qs(urlsplit(location).query)["response-content-disposition"]
    assert value == content_disposition(name)
    fallback = value.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and fallback.endswith(".txt")
    assert value.endswith("filename*=UTF-8''" + quote(name, safe=""))
    # The local S3 serves it, the header arrives as sent.
    served = requests.get(location, timeout=10)
    assert served.status_code == 200 and served.content == data
    header = served.headers["Content-Disposition"]
    assert header == value
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == name


@pytest.mark.parametrize("name", UNICODE_NAMES)
def test_curl_saves_non_latin1_names(api, world, tmp_path: Path, name):
    """``curl -L -O -J``: uploads with the name in the path, follows the 302 to S3 and saves the file
    under the name from Content-Disposition (curl 7.88 takes the fallback; newer ones filename*)."""
    owner = world.user()
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    source = tmp_path / "source.bin"
    source.write_bytes(b"\x00curl bytes\xff")
    base = f"{api.base_url}/content/{owner.name}/{repo}/{package}/1.0/{quote(name)}?publish=1"
    put = subprocess.run(
        ["curl", "-sS", "-u", f"{owner.name}:{owner.key}", "-T", str(source), "-w", "%{http_code}", base],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert put.stdout.endswith("201"), (put.stdout, put.stderr)
    out = tmp_path / "out"
    out.mkdir()
    url = f"{api.base_url}/dl/{owner.name}/{repo}/{quote(name)}"
    get = subprocess.run(
        ["curl", "-sS", "-f", "-L", "-O", "-J", "-D", "-", url],
        capture_output=True,
        text=True,
        cwd=out,
        timeout=30,
    )
    assert get.returncode == 0, get.stderr
    assert "HTTP/1.1 302" in get.stdout and "HTTP/1.1 200" in get.stdout
    assert f"Content-Disposition: {content_disposition(name)}" in get.stdout
    (saved,) = out.iterdir()
    assert saved.read_bytes() == source.read_bytes()
    assert saved.name in (name, content_disposition(name).split('"')[1])


def test_curl_anyauth_answers_the_challenge(api, world, tmp_path: Path):
    """``curl --anyauth`` first asks without credentials and sends them only after the 401."""
    owner = world.user()
    repo = world.repo(owner.name, private=True)
    package = world.package(owner.name, repo)
    put_file(api, owner.name, repo, package, "lib.jar", b"jar bytes")
    out = tmp_path / "lib.jar"
    url = f"{api.base_url}/dl/{owner.name}/{repo}/lib.jar"
    command = [
        "curl",
        "-sS",
        "-f",
        "-L",
        "--anyauth",
        "-u",
        f"{owner.name}:{owner.key}",
        "-o",
        str(out),
        "-v",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "< HTTP/1.1 401" in done.stderr and "< HTTP/1.1 302" in done.stderr
    assert out.read_bytes() == b"jar bytes"
