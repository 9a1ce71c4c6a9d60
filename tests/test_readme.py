"""README.md works as written: its walkthrough's shell blocks, run in order as one bash script against
a fresh ``make serve`` (``infra.local.serve`` in a subprocess, on free ports, with its own local AWS).

Every command that must succeed uses ``curl -f`` (the script runs with ``set -euo pipefail``); an
answer the README shows in a comment (``# {"files": 2}``, ``# {"message": "…"} 403``) must appear in
the output, in order, with ``…`` matching anything and whitespace ignored.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BASE_LINE = "API=http://127.0.0.1:8000"
FENCED = re.compile(r"^```(?:sh|bash)\n(.*?)^```", re.S | re.M)
# A comment showing an answer: "# {...}" or "# [...]", on its own line or after a command.
ANSWER = re.compile(r"(?:^|\s)#\s*([\[{].*)$", re.M)


def walkthrough() -> str:
    """The shell blocks from "## Walkthrough with curl" to the end of the README, in order."""
    blocks = FENCED.findall(README[README.index("## Walkthrough with curl") :])
    assert len(blocks) >= 4, blocks
    return "\n".join(blocks)


def admin_key() -> str:
    """The administrator key the README starts ``make serve`` with."""
    match = re.search(r"SHELF_ADMIN_API_KEY=(\S+) make serve", README)
    assert match, "the README says how to start the server"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """A fresh ``make serve`` (its environment, not this suite's) on a free port; yields its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHELF_", "AWS_"))}
    env |= {"PORT": str(port), "AWS_PORT": "0", "SHELF_ADMIN_API_KEY": admin_key(), "PYTHONUNBUFFERED": "1"}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as out:
        command = [sys.executable, "-m", "infra.local.serve"]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                requests.get(url + "/repos/admin", timeout=2)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def loosely(expected: str) -> list[str]:
    """``expected`` as pieces to find in order: split at "…", whitespace removed."""
    return [re.sub(r"\s+", "", piece) for piece in expected.split("…") if piece.strip()]


def test_walkthrough_runs_in_order_on_a_fresh_server(server, tmp_path):
    script = walkthrough()
    assert script.count(BASE_LINE) == 1, f"the README sets {BASE_LINE!r} once"
    script = "set -euxo pipefail\n" + script.replace(BASE_LINE, f"API={server}")
    answers = ANSWER.findall(script)
    assert any(re.search(r"\} 4\d\d$", answer) for answer in answers), "the README shows a refusal"

    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    trace = result.stderr[-6000:]
    report = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr (trace)\n{trace}"
    assert result.returncode == 0, report

    output, position = re.sub(r"\s+", "", result.stdout), 0
    for answer in answers:
        for piece in loosely(answer):
            found = output.find(piece, position)
            assert found >= 0, f"answer {answer!r} (piece {piece!r}) not in the output\n{report}"
            position = found + len(piece)
