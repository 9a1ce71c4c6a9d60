"""Property tests (hypothesis) of the pure parsers and codecs every request goes through: names and
file paths (validation, traversal, percent-encoding through the gateway), matrix parameters, the
attribute range grammar and its sortable encodings, Maven's version order, signed-URL tokens and the
Content-Disposition header.

Every test is deterministic (``derandomize=True``, no example database) and bounded by
``max_examples``; counterexamples found while writing them are kept as ``@example``\\s beside the fix.
"""

from __future__ import annotations

import posixpath
import string
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, quote

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from werkzeug.http import parse_options_header

from chalicelib import validation
from chalicelib.attributes import ranges
from chalicelib.auth import signed_urls
from chalicelib.content import paths
from chalicelib.content.signing import seal_id
from chalicelib.errors import BadRequest, Forbidden, NotFound
from chalicelib.maven.metadata import version_key
from chalicelib.storage import content_disposition
from infra.local.gateway import build_tree, match

#: Deterministic, no example database, no deadline (2 shared cores make timings meaningless).
BASE = settings(derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def bounded(n: int) -> settings:
    return settings(BASE, max_examples=n)


#: Text as requests deliver it: the gateway and Lambda decode percent-escapes with replacement, so
#: no lone surrogate reaches a handler.
request_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


# --- names --------------------------------------------------------------------------------------

NAME_CHECKS = {
    "subject": (validation.subject_name, string.ascii_letters + string.digits + "-_", 64),
    "repo": (validation.repo_name, string.ascii_letters + string.digits + "._-", 64),
    "package": (validation.package_name, string.ascii_letters + string.digits + "._:+-", 128),
    "version": (validation.version_name, string.ascii_letters + string.digits + "._:+~-", 128),
}


@pytest.mark.parametrize("kind", NAME_CHECKS)
@bounded(150)
@given(value=st.one_of(request_text, st.text(alphabet=string.printable, max_size=140)))
@example(value="a/../b")
@example(value="..")
@example(value="a\n")
@example(value="_latest")
def test_names_are_accepted_exactly_when_safe(kind, value):
    """A name is accepted unchanged when it is short ASCII of the kind's alphabet, starts with a
    letter, digit or '_' (subjects: letters and digits at both ends) and has no '..'; anything else is
    a 400, never another error. An accepted name can never climb out of a key or a path."""
    check, alphabet, longest = NAME_CHECKS[kind]
    safe = (
        0 < len(value) <= longest
        and all(c in alphabet for c in value)
        and (value[0].isalnum() or (value[0] == "_" and kind != "subject"))
        and ".." not in value
        and not (kind == "subject" and not value[-1].isalnum())
        and not (kind == "version" and value == "_latest")
    )
    try:
        assert check(value) == value
    except BadRequest as refused:
        assert not safe, (value, refused.message)
        return
    assert safe, value
    assert "/" not in value and "\\" not in value and not value.startswith(".") and value.isascii()


@bounded(100)
@given(params=st.dictionaries(st.sampled_from(["subject", "repo", "file_path"]), st.text(max_size=300)))
def test_request_names_refused_before_dynamodb(params):
    """A path parameter longer than any stored name is a 404 (a file path has its own limit), lone
    surrogates included; never another error."""
    too_long = any(
        k != "file_path" and len(v.encode("utf-8", "surrogatepass")) > validation.MAX_NAME_BYTES
        for k, v in params.items()
    )
    try:
        validation.check_request_names(params, {})
    except NotFound:
        assert too_long
    else:
        assert not too_long


# --- file paths ---------------------------------------------------------------------------------

segment = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="/\\"), min_size=1, max_size=12
)
valid_path = st.lists(segment.filter(lambda s: s not in (".", "..")), min_size=1, max_size=5).map("/".join)


@bounded(100)
@given(
    path=st.one_of(
        request_text, st.lists(st.sampled_from(["a", ".", "..", "", "b\\c", "\x00", "é"])).map("/".join)
    )
)
@example(path="a/../../etc/passwd")
@example(path="a/./b")
@example(path="/etc/passwd")
@example(path="a//b")
@example(path="..\\..\\x")
def test_accepted_file_paths_are_normal_and_stay_inside(path):
    """A file path is accepted unchanged or refused with a 400. Accepted ones are already normal
    (``normpath`` leaves them alone), relative, free of control characters and backslashes, fit the
    key, and joined under any root they stay under it (no traversal)."""
    try:
        assert paths.check_file_path(path) == path
    except BadRequest:
        return
    assert posixpath.normpath(path) == path and not path.startswith("/")
    assert not any(ord(c) < 32 or c == "\x7f" for c in path) and "\\" not in path
    assert len(path.encode("utf-8")) <= paths.MAX_PATH
    assert posixpath.normpath(posixpath.join("/root/repo", path)).startswith("/root/repo/")


@bounded(100)
@given(path=valid_path)
def test_valid_paths_are_accepted(path):
    assert paths.check_file_path(path) == path


GATEWAY = build_tree(["/content/{subject}/{repo}/{file_path+}", "/repos/{subject}/{repo}"])


@bounded(150)
@given(path=valid_path, subject=segment, repo=segment)
@example(path="a%2Fb/%25.txt", subject="s", repo="r")
@example(path="日本語/ü.deb", subject="ö", repo="r;x")
def test_gateway_decodes_what_clients_encode(path, subject, repo):
    """Whatever a client percent-encodes (every segment with ``quote``, as curl and requests do),
    the gateway hands the handler back exactly: names and greedy file paths, slashes and '%' inside
    names included."""
    url = f"/content/{quote(subject, safe='')}/{quote(repo, safe='')}/" + "/".join(
        quote(s, safe="") for s in path.split("/")
    )
    found = match(GATEWAY, url)
    assert found == (
        "/content/{subject}/{repo}/{file_path+}",
        {"subject": subject, "repo": repo, "file_path": path},
    )
    assert match(GATEWAY, f"/repos/{quote(subject, safe='')}/{quote(repo, safe='')}")[1] == {
        "subject": subject,
        "repo": repo,
    }


# --- matrix parameters --------------------------------------------------------------------------

matrix_name = st.text(
    st.characters(exclude_categories=("Cs", "Zs", "Cc"), exclude_characters=";="), min_size=1, max_size=10
)
matrix_value = st.text(
    st.characters(exclude_categories=("Cs", "Zs", "Cc"), exclude_characters=";"), max_size=10
)


@bounded(150)
@given(
    path=st.text(st.characters(exclude_categories=("Cs",), exclude_characters=";"), max_size=30),
    params=st.lists(st.tuples(matrix_name, matrix_value), max_size=5),
)
@example(path="a/b.jar", params=[("bt_package", "p"), ("publish", "1"), ("publish", "0")])
@example(path="x.deb", params=[("deb_distribution", "a=b")])
def test_matrix_parameters_round_trip(path, params):
    """``path;name=value;...`` splits back into the path and the parameters (the last of a repeated
    name wins; a value may hold '='), and the path part never carries a ';'."""
    raw = path + "".join(f";{name}={value}" for name, value in params)
    parsed = paths.split_matrix(raw)
    assert parsed.path == path
    assert parsed.matrix == dict(params)


@bounded(150)
@given(raw=request_text)
def test_matrix_split_never_fails(raw):
    parsed = paths.split_matrix(raw)
    assert ";" not in parsed.path and raw.startswith(parsed.path)
    assert all(name and name == name.strip() for name in parsed.matrix)


@bounded(100)
@given(
    matrix=st.dictionaries(st.sampled_from(["publish", "override"]), st.sampled_from(["", "1", "0"])),
    query=st.dictionaries(st.sampled_from(["publish", "override"]), st.sampled_from(["", "true", "no"])),
    headers=st.dictionaries(
        st.sampled_from(["x-bintray-publish", "x-bintray-override"]), st.sampled_from(["", "yes"])
    ),
)
def test_upload_options_matrix_first_then_query_then_header(matrix, query, headers):
    for name in ("publish", "override"):
        header = f"X-Bintray-{name.title()}"
        want = matrix.get(name) or query.get(name) or headers.get(header.lower()) or None
        assert paths.option(name, matrix, query, headers, header) == want


# --- attribute ranges and their encodings -------------------------------------------------------

finite = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**62), max_value=2**62),
)


@bounded(100)
@given(a=finite, b=finite)
@example(a=-0.0, b=0.0)
def test_number_encoding_keeps_numeric_order(a, b):
    """The index encoding of numbers sorts (as text) like the numbers: -0.0 and 0 are one value."""
    ea, eb = ranges.encode_number(a), ranges.encode_number(b)
    assert (ea < eb) == (float(a) < float(b)) and (ea == eb) == (float(a) == float(b))


aware = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC))


@bounded(150)
@given(a=aware, b=aware)
@example(a=datetime(999, 1, 1, tzinfo=UTC), b=datetime(2000, 1, 1, tzinfo=UTC))
def test_date_encoding_keeps_time_order(a, b):
    """Dates sort like instants, years before 1000 included (zero-padded as ISO 8601 writes them)."""
    ea, eb = ranges.encode_date(a), ranges.encode_date(b)
    assert (ea < eb) == (a < b) and (ea == eb) == (a == b)


def bound_text(value: float | datetime) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)


def encoded(value: float | datetime) -> str:
    return ranges.encode_date(value) if isinstance(value, datetime) else ranges.encode_number(value)


@bounded(100)
@given(
    bounds=st.one_of(
        st.tuples(st.floats(-1e12, 1e12), st.floats(-1e12, 1e12), st.floats(-1e12, 1e12)),
        st.tuples(aware, aware, aware),
    ),
    low_inclusive=st.booleans(),
    high_inclusive=st.booleans(),
    open_end=st.sampled_from(["none", "low", "high"]),
)
@example(bounds=(0.0, 1.0, -0.0), low_inclusive=True, high_inclusive=True, open_end="none")
@example(
    bounds=(
        datetime(999, 1, 1, tzinfo=UTC),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(1500, 1, 1, tzinfo=UTC),
    ),
    low_inclusive=True,
    high_inclusive=False,
    open_end="none",
)
def test_range_membership_is_the_comparison(bounds, low_inclusive, high_inclusive, open_end):
    """``[a,b]``, ``]a,b[``, ``[,b]``, ``[a,]``...: a value is in the parsed range exactly when it
    compares so with the bounds; a range whose lower bound is above the upper one is a 400."""
    low, high, value = bounds
    low_text = "" if open_end == "low" else bound_text(low)
    high_text = "" if open_end == "high" else bound_text(high)
    text = f"{'[' if low_inclusive else ']'}{low_text},{high_text}{']' if high_inclusive else '['}"
    if open_end == "none" and low > high:
        with pytest.raises(BadRequest):
            ranges.parse_range(text)
        return
    parsed = ranges.parse_range(text)
    above_low = open_end == "low" or low < value or (low_inclusive and low == value)
    below_high = open_end == "high" or value < high or (high_inclusive and value == high)
    assert parsed.contains(encoded(value)) == (above_low and below_high), text
    # A value of the other kind is never in the range.
    other = (
        ranges.encode_number(1.0) if isinstance(value, datetime) else ranges.encode_date(datetime.now(UTC))
    )
    assert not parsed.contains(other)


range_like = st.tuples(
    st.sampled_from("[]"),
    st.one_of(
        st.text(max_size=12),
        st.sampled_from(["1", "-1.5e3", "2011-07-14T19:43:37+0100", "0001-01-01T00:00+01:00"]),
    ),
    st.sampled_from([",", ",,", "", ";"]),
    st.one_of(st.text(max_size=12), st.sampled_from(["9999-12-31T23:59-01:00", "1e400", "nan"])),
    st.sampled_from(["[", "]", "", ")"]),
).map("".join)


@bounded(100)
@given(text=range_like)
@example(text="[0001-01-01T00:00+01:00,]")
@example(text="[,9999-12-31T23:59-01:00]")
@example(text="[1e400,]")
def test_any_range_text_parses_or_is_a_400(text):
    """Whatever follows a bracket is a valid range or a 400: never another error (dates out of
    range included)."""
    try:
        parsed = ranges.parse_range(text)
    except BadRequest:
        return
    assert parsed.prefix in ("n:", "d:")


@bounded(150)
@given(
    value=st.one_of(
        st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(),
        st.text(max_size=30),
        st.sampled_from(["0001-01-01T00:00+01:00", "9999-12-31T23:59:59-12:00", "0999-06-01"]),
        st.booleans(),
    )
)
@example(value=10**400)
@example(value="0001-01-01T00:00+01:00")
def test_any_attribute_value_is_typed_encoded_or_a_400(value):
    """Set Attributes and searches with any scalar: a stored value has a type and an encoding, a
    search value its encodings; values no index can hold are a 400, never another error."""
    try:
        type_ = ranges.infer_type([value])
        ranges.check_values("a", type_, [value])
        stored = ranges.encode(type_, value)
    except BadRequest:
        return
    assert stored[:2] in ("n:", "d:", "b:", "s:")
    assert stored in ranges.query_encodings(value)


def test_out_of_range_values_over_http(api):
    """The counterexamples above, end to end: before the fix a 400-digit integer and a date before
    year 1 in UTC were 500s, and dates before 1000 sorted after 1999 (a range over them was a 400)."""
    from tests.conftest import World

    world = World(api)
    owner = world.user(plan="premium")
    repo = world.repo(owner.name)
    package = world.package(owner.name, repo)
    path = f"/packages/{owner.name}/{repo}/{package}/attributes"
    response = api.post(path, owner.auth, data='[{"name": "n", "values": [1%s]}]' % ("0" * 400))
    assert response.status_code == 400 and "out of range" in response.json()["message"], response.text
    response = api.post(path, owner.auth, json=[{"name": "d", "values": ["0001-01-01T00:00+01:00"]}])
    assert response.status_code == 200, response.text  # not a date in UTC: kept as a string
    response = api.post(path, owner.auth, json=[{"name": "old", "values": ["1500-01-01"]}])
    assert response.status_code == 200, response.text
    for clause in ({"old": "[0999-01-01,2000-01-01]"}, {"d": "[0001-01-01T00:00+01:00,]"}):
        response = api.post(f"/search/attributes/{owner.name}/{repo}", owner.auth, json=[clause])
        if "old" in clause:
            assert response.status_code == 200 and [p["name"] for p in response.json()] == [package], (
                response.text
            )
        else:
            assert response.status_code == 400, response.text


# --- Maven's version order ----------------------------------------------------------------------

#: Maven's documented order (ComparableVersion): each element below the next.
KNOWN_ORDER = [
    "1-alpha", "1-alpha1", "1-alpha2", "1-beta", "1-milestone", "1-rc", "1-rc2", "1-SNAPSHOT",
    "1", "1-sp", "1-foo", "1.0.1", "1.1", "1.9", "1.10", "1.10.1", "2.0-alpha", "2", "10",
]  # fmt: skip
#: Spellings Maven treats as the same version.
KNOWN_EQUAL = [("1", "1.0"), ("1", "1.0.0"), ("1", "1-ga"), ("1", "1-final"), ("1.0-alpha", "1-alpha"),
               ("1-a1", "1-alpha1"), ("1-b", "1-beta"), ("1-m2", "1-milestone2"), ("1-CR", "1-rc"),
               ("1.0-RC1", "1.0-rc1")]  # fmt: skip

maven_version = st.lists(
    st.tuples(
        st.sampled_from(".-"),
        st.sampled_from(
            ["0", "1", "2", "10", "alpha", "beta", "rc", "SNAPSHOT", "ga", "final", "sp", "m", "foo"]
        ),
    ),
    min_size=1,
    max_size=5,
).map(lambda items: "".join(sep + item for sep, item in items)[1:])


def test_version_order_known_examples():
    keys = [version_key(v) for v in KNOWN_ORDER]
    assert all(a < b for a, b in zip(keys, keys[1:], strict=False)), [
        (x, y) for x, y in zip(KNOWN_ORDER, KNOWN_ORDER[1:], strict=False) if version_key(x) >= version_key(y)
    ]
    for a, b in KNOWN_EQUAL:
        assert version_key(a) == version_key(b), (a, b)


@bounded(150)
@given(a=maven_version, b=maven_version, c=maven_version)
def test_version_order_is_a_total_order(a, b, c):
    """Keys always compare (no TypeError), exactly one of <, ==, > holds, antisymmetry and
    transitivity hold, and sorting does not depend on the input order."""
    ka, kb, kc = version_key(a), version_key(b), version_key(c)
    assert [ka < kb, ka == kb, ka > kb].count(True) == 1
    if ka <= kb and kb <= ka:
        assert ka == kb
    if ka <= kb and kb <= kc:
        assert ka <= kc
    ordered = sorted([a, b, c], key=version_key)
    assert [version_key(v) for v in sorted(reversed([a, b, c]), key=version_key)] == [
        version_key(v) for v in ordered
    ]


@bounded(150)
@given(
    numbers=st.lists(st.integers(0, 10**6), min_size=1, max_size=6),
    other=st.lists(st.integers(0, 10**6), min_size=1, max_size=6),
)
def test_numeric_versions_order_like_numbers(numbers, other):
    """Dotted numbers compare like integer tuples with trailing zeros dropped (1.10 > 1.9, 1.0 == 1);
    case never matters, nor does a trailing '.0' or '-ga'."""

    def trimmed(xs: list[int]) -> list[int]:
        while xs and xs[-1] == 0:
            xs = xs[:-1]
        return xs

    a, b = ".".join(map(str, numbers)), ".".join(map(str, other))
    assert (version_key(a) < version_key(b)) == (trimmed(numbers) < trimmed(other))
    assert version_key(a) == version_key(a + ".0") == version_key(a + "-ga")
    assert version_key(a + "-SNAPSHOT") < version_key(a) < version_key(a + ".1")
    assert version_key(a + "-RC1") == version_key(a + "-rc1")


# --- signed URLs --------------------------------------------------------------------------------

KEY = b"k" * 32
claims = st.dictionaries(
    st.sampled_from(["callback_id", "callback_url", "callback_method", "callback_email"]),
    st.text(max_size=20),
)
url_name = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)


def signed(
    subject: str, repo: str, path: str, expiry: int, claims_: dict[str, str], key: bytes = KEY
) -> dict[str, str]:
    token = seal_id(key, subject, repo, path, claims_)
    return {
        "expiry": str(expiry),
        "id": token,
        "signature": signed_urls.signature(key, subject, repo, path, expiry, token),
    }


def subject_of(name: str, key: bytes = KEY) -> SimpleNamespace:
    return SimpleNamespace(name=name, url_signing_key=signed_urls.b64(key))


FUTURE = signed_urls.now_ms() + 10**9


@bounded(150)
@given(subject=url_name, repo=url_name, path=url_name, claims_=claims)
def test_signed_url_round_trip(subject, repo, path, claims_):
    """A URL signed for a path, before its expiry, opens with its callback claims intact; through the
    real query string too (urlencode, then the parsing a server does)."""
    query = signed(subject, repo, path, FUTURE, claims_)
    assert signed_urls.verify_download(subject_of(subject), repo, path, query) == claims_
    from urllib.parse import urlencode

    parsed = {k: v[0] for k, v in parse_qs(urlencode(query)).items()}
    assert signed_urls.verify_download(subject_of(subject), repo, path, parsed) == claims_


@bounded(150)
@given(
    field=st.sampled_from(["expiry", "id", "signature"]),
    position=st.integers(min_value=0),
    replacement=st.characters(exclude_categories=("Cs",)),
    claims_=claims,
)
@example(field="signature", position=42, replacement="B", claims_={})  # the padding bits of the last char
def test_any_tampered_byte_is_refused(field, position, replacement, claims_):
    """Changing any one character of the expiry, the id or the signature is a 403 (the signature is
    compared as text, so even a base64 twin of its last character is refused)."""
    query = signed("s", "r", "a/b.bin", FUTURE, claims_)
    value = query[field]
    position %= len(value)
    assume(value[position] != replacement)
    query[field] = value[:position] + replacement + value[position + 1 :]
    with pytest.raises(Forbidden):
        signed_urls.verify_download(subject_of("s"), "r", "a/b.bin", query)


@bounded(150)
@given(
    where=st.sampled_from(["subject", "repo", "path", "key"]),
    other=url_name,
    claims_=claims,
)
def test_signature_binds_subject_repo_path_and_key(where, other, claims_):
    """A signed URL opens nothing else: another subject, repository, path, or the subject's key
    after regeneration is a 403."""
    names = {"subject": "s", "repo": "r", "path": "a/b.bin"}
    query = signed(names["subject"], names["repo"], names["path"], FUTURE, claims_)
    key = KEY
    if where == "key":
        key = (other.encode() + b"\0" * 32)[:32]
        assume(key != KEY)
    else:
        assume(other != names[where])
        names[where] = other
    with pytest.raises(Forbidden):
        signed_urls.verify_download(subject_of(names["subject"], key), names["repo"], names["path"], query)


@bounded(100)
@given(ago=st.integers(min_value=1, max_value=10**12))
def test_expired_urls_are_refused(ago):
    expiry = signed_urls.now_ms() - ago
    query = signed("s", "r", "f", expiry, {})
    with pytest.raises(Forbidden) as refused:
        signed_urls.verify_download(subject_of("s"), "r", "f", query)
    assert refused.value.message == "The signed URL has expired"


@bounded(100)
@given(query=st.dictionaries(st.sampled_from(signed_urls.SIGNED_PARAMS), request_text))
def test_any_signed_query_is_verified_or_a_403(query):
    with pytest.raises(Forbidden):
        signed_urls.verify_download(subject_of("s"), "r", "f", query)


# --- Content-Disposition ------------------------------------------------------------------------


@bounded(100)
@given(name=st.text(st.characters(exclude_categories=("Cs",)), max_size=40))
@example(name='日本語 "x".txt')
@example(name="a\\b;c=d")
@example(name="ﬁ.txt")
@example(name="line\r\nbreak")
def test_content_disposition_round_trip(name):
    """For any file name: the header is ASCII (valid in HTTP), its quoted ``filename`` fallback is
    plain printable ASCII without quotes or backslashes, and a parser that knows RFC 5987 (werkzeug's)
    reads back exactly the name."""
    header = content_disposition(name)
    assert header.isascii() and all(" " <= c <= "~" for c in header)
    disposition, params = parse_options_header(header)
    assert disposition == "attachment"
    assert params["filename"] == name
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in fallback and "\\" not in fallback and len(header.split('"')) == 3
    if "filename*=" in header:
        ext = header.split("filename*=", 1)[1]
        assert ext.startswith("UTF-8''") and all(
            c in string.ascii_letters + string.digits + "%!#$&+-.^_`|~" for c in ext[7:]
        )


def test_expiry_never_wraps():
    """Tokens of far-future expiries still verify (no 32-bit millisecond wrap)."""
    far = int((datetime.now(UTC) + timedelta(days=365 * 200)).timestamp() * 1000)
    assert signed_urls.verify_download(subject_of("s"), "r", "f", signed("s", "r", "f", far, {})) == {}
