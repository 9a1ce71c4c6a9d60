"""GPG keys (generated, imported, KMS-sealed at rest), public key downloads, content signing
(``<file>.asc``) by route and on publish, and the repository flags that ask for it."""

from __future__ import annotations

import os
import subprocess
import tempfile

import pysequoia
import pytest
import requests

from chalicelib.gpg import keystore
from chalicelib.gpg.models import SYSTEM, GpgKey
from tests.conftest import ADMIN, World, assert_message

PASSPHRASE = "correct horse"


@pytest.fixture(scope="module")
def w(api):
    return World(api)


@pytest.fixture(scope="module")
def protected_key() -> str:
    """An armored private key protected by PASSPHRASE, made by gpg (pysequoia cannot protect one)."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GNUPGHOME": home}
        # A low S2K count: the default one (calibrated to ~100 ms per use) makes every signing slow.
        with open(os.path.join(home, "gpg-agent.conf"), "w") as conf:
            conf.write("s2k-count 65536\n")
        base = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", PASSPHRASE]
        try:
            subprocess.run(
                [*base, "--quick-gen-key", "Imported <i@example.com>", "ed25519", "sign", "never"],
                env=env,
                check=True,
                capture_output=True,
            )
            out = subprocess.run(
                [*base, "--armor", "--export-secret-keys"], env=env, check=True, capture_output=True
            )
        finally:
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)
    return out.stdout.decode()


def verify(data: bytes, signature: bytes, public_key: str) -> bool:
    cert = pysequoia.Cert.from_bytes(public_key.encode())
    try:
        pysequoia.verify(bytes=data, store=lambda ids: [cert], signature=pysequoia.Sig.from_bytes(signature))
    except Exception:
        return False
    return True


def fetch(api, path, auth=None) -> bytes:
    response = api.get(path, auth)
    assert response.status_code == 302, response.text
    return requests.get(response.headers["Location"], timeout=10).content


def test_the_system_key_is_served_armored_and_stays(api):
    first = api.get("/keys/gpg/public.key")
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/pgp-keys"
    assert first.text.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert api.get("/keys/gpg/public.key").text == first.text
    assert "PRIVATE" not in first.text


def test_a_generated_key_is_sealed_by_kms_and_its_public_key_served(api, w):
    user = w.user()
    assert api.get(f"/users/{user.name}/keys/gpg/public.key").status_code == 404
    response = api.post(f"/users/{user.name}/keys/gpg", user.auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["passphrase_protected"] is False and len(body["fingerprint"]) == 40
    served = api.get(f"/users/{user.name}/keys/gpg/public.key")
    assert served.status_code == 200 and served.headers["Content-Type"] == "application/pgp-keys"
    assert served.text == body["public_key"]
    assert pysequoia.Cert.from_bytes(served.text.encode()).fingerprint == body["fingerprint"]
    item = GpgKey.get(user.name)
    assert b"PRIVATE" not in item.sealed_secret.encode()
    secret = keystore.unseal(item.sealed_secret, item.data_key)
    assert pysequoia.Tsk.from_bytes(secret).extract_certificate().fingerprint == body["fingerprint"]
    # Only the subject's admins set keys; organisations have theirs.
    assert api.post(f"/users/{user.name}/keys/gpg", w.user().auth).status_code == 403
    org = w.org(user)
    assert api.post(f"/orgs/{org}/keys/gpg", user.auth).status_code == 201
    assert api.get(f"/orgs/{org}/keys/gpg/public.key").text.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert api.get(f"/users/{org}/keys/gpg/public.key").status_code == 404
    assert api.delete(f"/orgs/{org}/keys/gpg", user.auth).status_code == 200
    assert api.get(f"/orgs/{org}/keys/gpg/public.key").status_code == 404


def test_an_imported_protected_key_signs_with_its_passphrase_only(api, w, protected_key):
    user = w.user()
    response = api.post(f"/users/{user.name}/keys/gpg", user.auth, json={"private_key": protected_key})
    assert response.status_code == 400
    assert_message(response, "passphrase")
    response = api.post(
        f"/users/{user.name}/keys/gpg", user.auth, json={"private_key": protected_key, "passphrase": "wrong"}
    )
    assert response.status_code == 400
    response = api.post(f"/users/{user.name}/keys/gpg", user.auth, json={"private_key": "junk"})
    assert response.status_code == 400
    response = api.post(
        f"/users/{user.name}/keys/gpg",
        user.auth,
        json={"private_key": protected_key},
        headers={"X-GPG-PASSPHRASE": PASSPHRASE},
    )
    assert response.status_code == 201 and response.json()["passphrase_protected"] is True
    public = api.get(f"/users/{user.name}/keys/gpg/public.key").text

    repo = w.repo(user.name)
    package = w.package(user.name, repo)
    upload = api.put(f"/content/{user.name}/{repo}/{package}/1.0/a.txt?publish=1", user.auth, data=b"aaa")
    assert upload.status_code == 201
    sign = f"/gpg/{user.name}/{repo}/a.txt"
    assert api.post(sign, user.auth).status_code == 400  # no passphrase: no signature
    assert api.post(sign, user.auth, headers={"X-GPG-PASSPHRASE": "wrong"}).status_code == 400
    response = api.post(sign, user.auth, headers={"X-GPG-PASSPHRASE": PASSPHRASE})
    assert response.status_code == 200 and response.json() == {"message": "success"}
    signature = fetch(api, f"/dl/{user.name}/{repo}/a.txt.asc")
    assert signature.startswith(b"-----BEGIN PGP SIGNATURE-----")
    assert verify(b"aaa", signature, public)
    assert not verify(b"aab", signature, public)
    files = api.get(f"/packages/{user.name}/{repo}/{package}/versions/1.0/files").json()
    assert sorted(f["name"] for f in files) == ["a.txt", "a.txt.asc"]

    # A version: every file (signatures are not signed again); the passphrase in the JSON body.
    api.put(f"/content/{user.name}/{repo}/{package}/1.0/b.txt", user.auth, data=b"bbb")
    response = api.post(
        f"/gpg/{user.name}/{repo}/{package}/versions/1.0", user.auth, json={"passphrase": PASSPHRASE}
    )
    assert response.status_code == 200, response.text
    names = sorted(
        f["name"]
        for f in api.get(
            f"/packages/{user.name}/{repo}/{package}/versions/1.0/files",
            user.auth,
            params={"include_unpublished": 1},
        ).json()
    )
    assert names == ["a.txt", "a.txt.asc", "b.txt", "b.txt.asc"]
    assert verify(b"bbb", fetch(api, f"/content/{user.name}/{repo}/b.txt.asc", user.auth), public)
    assert api.post(f"/gpg/{user.name}/{repo}/{package}/versions/9.9", user.auth).status_code == 404
    assert api.post(f"/gpg/{user.name}/{repo}/nothing.txt", user.auth).status_code == 404
    assert api.post(sign, w.user().auth).status_code == 403


def test_a_repository_that_signs_files_signs_them_on_publish(api, w):
    user = w.user()
    system = api.get("/keys/gpg/public.key").text
    repo = w.repo(user.name, gpg_sign_files=True)
    package = w.package(user.name, repo)
    response = api.put(
        f"/content/{user.name}/{repo}/{package}/1.0/tool.bin?publish=1", user.auth, data=b"tool"
    )
    assert response.status_code == 201
    assert verify(b"tool", fetch(api, f"/dl/{user.name}/{repo}/tool.bin.asc"), system)
    # The owner's key instead: refused without one, then signs with it.
    response = api.patch(
        f"/repos/{user.name}/{repo}", user.auth, json={"gpg_sign_files": False, "gpg_use_owner_key": True}
    )
    assert response.status_code == 400
    assert_message(response, "GPG key pair")
    own = api.post(f"/users/{user.name}/keys/gpg", user.auth).json()["public_key"]
    response = api.patch(
        f"/repos/{user.name}/{repo}", user.auth, json={"gpg_sign_files": False, "gpg_use_owner_key": True}
    )
    assert response.status_code == 200, response.text
    assert api.get(f"/repos/{user.name}/{repo}").json()["gpg_use_owner_key"] is True
    response = api.put(
        f"/content/{user.name}/{repo}/{package}/1.1/tool2.bin?publish=1", user.auth, data=b"t2"
    )
    assert response.status_code == 201
    signature = fetch(api, f"/dl/{user.name}/{repo}/tool2.bin.asc")
    assert verify(b"t2", signature, own) and not verify(b"t2", signature, system)


def test_the_system_key_item_is_one(api):
    assert GpgKey.get(SYSTEM).public_key == api.get("/keys/gpg/public.key").text
    assert api.get("/keys/gpg/public.key", ADMIN).status_code == 200
