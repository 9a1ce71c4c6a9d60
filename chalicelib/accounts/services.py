"""Account services: users, organisations, memberships, followers, API keys."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError

from chalicelib import db, events
from chalicelib.accounts.models import ADMIN, MEMBER, ORG, OWNER, USER, Follower, Membership, Subject
from chalicelib.auth.policy import Access, Right, rights_on
from chalicelib.auth.principal import Principal
from chalicelib.auth.secrets import hash_api_key, hash_password, new_api_key
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.events import MemberRemoved, SubjectDeleted
from chalicelib.timefmt import iso, now
from chalicelib.validation import Body, Field, Flag, subject_name

Plan = Literal["oss", "premium", "enterprise"]


class UserBody(Body):
    """``PUT /api/security/users/{name}``."""

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    admin: Flag = False
    plan: Plan = "oss"
    full_name: str | None = Field(default=None, max_length=256)


class OrgBody(Body):
    """``PUT /orgs/{org}``: creating needs ``owner``; an update changes only the fields given."""

    owner: str | None = None
    plan: Plan = "oss"
    full_name: str | None = Field(default=None, max_length=256)


class MemberBody(Body):
    """``PUT /orgs/{org}/members/{user}``."""

    type: Literal["member", "admin"] = MEMBER


def _get_subject(name: str) -> Subject | None:
    try:
        return Subject.get(name)
    except DoesNotExist:
        return None


# --- users -------------------------------------------------------------------------------------


def get_user(name: str) -> Subject:
    """The user ``name`` or a 404 (organisations are not users)."""
    subject = _get_subject(name)
    if subject is None or subject.kind != USER:
        raise NotFound(f"User '{name}' was not found")
    return subject


def _new_user(name: str, email: str | None, key: str, **fields: Any) -> Subject:
    return Subject(
        name,
        kind=USER,
        name_lower=name.lower(),
        email=email,
        api_key_hash=hash_api_key(key),
        registered=now(),
        **fields,
    )


def put_user(name: str, body: UserBody) -> tuple[Subject, str | None]:
    """Create user ``name`` (returns its new API key) or replace its details (key is None)."""
    subject_name(name)
    existing = _get_subject(name)
    if existing is not None:
        if existing.kind != USER:
            raise Conflict(f"The name '{name}' is taken by an organization")
        actions = [
            Subject.email.set(body.email),
            Subject.is_admin.set(body.admin),
            Subject.plan.set(body.plan),
            Subject.full_name.set(body.full_name) if body.full_name else Subject.full_name.remove(),
        ]
        if body.password:
            actions.append(Subject.password_hash.set(hash_password(body.password)))
        existing.update(actions=actions, condition=Subject.kind == USER)
        return existing, None
    key = new_api_key()
    user = _new_user(
        name,
        body.email,
        key,
        full_name=body.full_name,
        password_hash=hash_password(body.password) if body.password else None,
        is_admin=body.admin,
        plan=body.plan,
    )
    try:
        user.save(condition=Subject.name.does_not_exist())
    except PutError as error:
        if db.condition_failed(error):
            raise Conflict(f"The name '{name}' is already taken") from None
        raise
    return user, key


def bootstrap_admin(name: str, api_key: str) -> None:
    """Create or update the system administrator ``name`` so that ``api_key`` authenticates it."""
    subject_name(name)
    existing = _get_subject(name)
    if existing is None:
        _new_user(name, None, api_key, is_admin=True, plan="enterprise").save()
        return
    if existing.kind != USER:
        raise Conflict(f"The name '{name}' is taken by an organization")
    existing.update(actions=[Subject.is_admin.set(True), Subject.api_key_hash.set(hash_api_key(api_key))])


def regenerate_api_key(principal: Principal) -> str:
    """Replace the caller's API key; the old one stops working at once."""
    key = new_api_key()
    Subject(principal.name).update(
        actions=[Subject.api_key_hash.set(hash_api_key(key))], condition=Subject.kind == USER
    )
    return key


def list_users() -> list[Subject]:
    """All users ordered by name."""
    return list(Subject.kind_index.query(USER))


def delete_user(name: str) -> None:
    """Delete a user with their repositories, memberships and follow records.

    Users who own organisations must hand them over first (409).
    """
    user = get_user(name)
    memberships = list(Membership.member_index.query(name))
    owned = [m.org for m in memberships if m.type == OWNER]
    if owned:
        raise Conflict(f"User '{name}' owns organization(s) {', '.join(owned)}: change their owner first")
    # Their repositories, team memberships and own teams, products, access keys and entitlements go
    # (the subscribers of SubjectDeleted): a subject re-created under the same name starts without them.
    events.publish(SubjectDeleted(name=user.name, kind_of_subject=USER))
    db.batch_delete(memberships)
    _delete_follow_records(name)
    user.delete()


def _delete_follow_records(name: str) -> None:
    db.batch_delete(Follower.query(name))
    for key in Follower.following_index.query(name):
        unfollow(name, key.subject, missing_ok=True)


# --- organisations ----------------------------------------------------------------------------


def get_org(name: str) -> Subject:
    """The organisation ``name`` or a 404."""
    subject = _get_subject(name)
    if subject is None or subject.kind != ORG:
        raise NotFound(f"Organization '{name}' was not found")
    return subject


def put_org(name: str, body: OrgBody) -> tuple[Subject, bool]:
    """Create organisation ``name`` owned by ``body.owner``, or update the fields of ``body`` given
    (plan, owner, full name). Returns (org, created)."""
    subject_name(name)
    owner = None if body.owner is None else _org_owner(body.owner)
    existing = _get_subject(name)
    if existing is None:
        if owner is None:
            raise BadRequest("Missing required field 'owner'")
        org = Subject(
            name,
            kind=ORG,
            name_lower=name.lower(),
            owner=owner.name,
            plan=body.plan,
            full_name=body.full_name,
            registered=now(),
        )
        try:
            with db.transaction() as tx:
                tx.save(org, condition=Subject.name.does_not_exist())
                tx.save(Membership(name, owner.name, type=OWNER))
        except TransactWriteError as error:
            if db.cancelled_by_condition(error, 0):
                raise Conflict(f"The name '{name}' is already taken") from None
            raise
        return org, True
    if existing.kind != ORG:
        raise Conflict(f"The name '{name}' is taken by a user")
    given = body.model_fields_set
    actions = [Subject.plan.set(body.plan)] if "plan" in given else []
    if "full_name" in given:
        full_name = Subject.full_name
        actions.append(full_name.set(body.full_name) if body.full_name else full_name.remove())
    if owner is not None:
        actions.append(Subject.owner.set(owner.name))
    if not actions:
        return existing, False
    with db.transaction() as tx:
        tx.update(existing, actions=actions, condition=Subject.kind == ORG)
        if owner is not None and existing.owner != owner.name:
            if existing.owner:
                tx.save(Membership(name, existing.owner, type=ADMIN))
            tx.save(Membership(name, owner.name, type=OWNER))
    existing.refresh()
    return existing, False


def _org_owner(name: str) -> Subject:
    """The user ``name``, who is to own an organisation, or a 400."""
    owner = _get_subject(name) if name else None  # DynamoDB refuses an empty key: a 500 otherwise
    if owner is None or owner.kind != USER:
        raise BadRequest(f"Invalid value for 'owner': user '{name}' does not exist")
    return owner


def delete_org(name: str) -> None:
    """Delete an organisation with its repositories, memberships and followers."""
    org = get_org(name)
    events.publish(SubjectDeleted(name=org.name, kind_of_subject=ORG))
    db.batch_delete(Membership.query(name))
    db.batch_delete(Follower.query(name))
    org.delete()


def set_member(org: Subject, user_name: str, body: MemberBody) -> dict[str, str]:
    """Add ``user_name`` to ``org`` or change their role (the owner's role cannot change here)."""
    user = get_user(user_name)
    if org.owner == user.name:
        raise Conflict(
            f"'{user.name}' is the owner of '{org.name}'; change the owner with PUT /orgs/{org.name}"
        )
    Membership(org.name, user.name, type=body.type).save()
    return {"name": user.name, "type": body.type}


def remove_member(org: Subject, user_name: str) -> None:
    """Remove ``user_name`` from ``org``; the owner cannot be removed."""
    if org.owner == user_name:
        raise Conflict(f"'{user_name}' is the owner of '{org.name}' and cannot be removed")
    # Out of the organisation's teams first: a crash in between leaves a member without team rights.
    events.publish(MemberRemoved(org=org.name, user=user_name))
    try:
        Membership(org.name, user_name).delete(condition=Membership.member.exists())
    except DeleteError as error:
        if db.condition_failed(error):
            raise NotFound(f"User '{user_name}' is not a member of '{org.name}'") from None
        raise


# --- followers --------------------------------------------------------------------------------


def follow(principal: Principal, subject: Subject) -> None:
    """The caller follows ``subject`` (idempotent)."""
    if principal.name == subject.name:
        raise BadRequest("You cannot follow yourself")
    try:
        with db.transaction() as tx:
            tx.save(
                Follower(subject.name, principal.name, created=now()),
                condition=Follower.follower.does_not_exist(),
            )
            tx.update(
                subject,
                actions=[Subject.followers_count.add(1)],
                condition=Subject.name.exists(),
            )
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            return
        if db.cancelled_by_condition(error, 1):
            raise NotFound(f"Subject '{subject.name}' was not found") from None
        raise


def unfollow(follower: str | None, subject_name_: str, missing_ok: bool = False) -> None:
    """``follower`` stops following ``subject_name_``."""
    try:
        with db.transaction() as tx:
            tx.delete(Follower(subject_name_, follower), condition=Follower.follower.exists())
            tx.update(
                Subject(subject_name_),
                actions=[Subject.followers_count.add(-1)],
                condition=Subject.name.exists(),
            )
    except TransactWriteError as error:
        if db.cancelled_by_condition(error, 0):
            if missing_ok:
                return
            raise NotFound(f"You do not follow '{subject_name_}'") from None
        if not db.cancelled_by_condition(error, 1):
            raise
        # The followed subject is gone: drop the follow record alone.
        Follower(subject_name_, follower).delete()


def followers(subject: Subject, start_pos: int, size: int) -> tuple[list[dict[str, str]], int]:
    """One page of followers of ``subject`` and the total count."""
    items = db.page(iter(Follower.query(subject.name)), start_pos, size)
    return [{"name": f.follower} for f in items], int(subject.followers_count or 0)


# --- rendering --------------------------------------------------------------------------------


def gravatar_id(subject: Subject) -> str:
    """The Gravatar hash of the subject's e-mail (empty without one)."""
    if not subject.email:
        return ""
    return hashlib.md5(subject.email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def _visible_repo_names(principal: Principal, subject: Subject) -> list[str]:
    from chalicelib.repositories.services import visible_repositories

    return [repo.name for repo in visible_repositories(principal, subject)]


def describe_user(access: Access, user: Subject) -> dict[str, Any]:
    """The spec's Get User shape; ``quota_used_bytes`` only for those with admin rights on the user."""
    rights = rights_on(access.principal, user.name)
    body: dict[str, Any] = {
        "name": user.name,
        "full_name": user.full_name or "",
        "gravatar_id": gravatar_id(user),
        "repos": _visible_repo_names(access.principal, user),
        "organizations": [m.org for m in Membership.member_index.query(user.name)],
        "followers_count": int(user.followers_count or 0),
        "registered": iso(user.registered),
    }
    if Right.ADMIN in rights:
        body["quota_used_bytes"] = int(user.quota_used_bytes or 0)
    return body


def describe_org(access: Access, org: Subject) -> dict[str, Any]:
    """The spec's Get Organization shape; member types and quota for org admins only."""
    is_admin = access.can(Right.ADMIN)
    members = []
    for membership in Membership.query(org.name):
        entry = {"name": membership.member}
        if is_admin:
            entry["type"] = membership.type
        members.append(entry)
    body: dict[str, Any] = {
        "name": org.name,
        "repos": _visible_repo_names(access.principal, org),
        "followers_count": int(org.followers_count or 0),
        "registered": iso(org.registered),
        "owner": org.owner,
        "full_name": org.full_name or "",
        "plan": org.plan,
        "members": members,
    }
    if is_admin and org.premium:
        from chalicelib.teams.services import team_names

        body["teams"] = team_names(org.name)
    if is_admin:
        body["quota_used_bytes"] = int(org.quota_used_bytes or 0)
    return body


def describe_security_user(user: Subject) -> dict[str, Any]:
    """The security API's user details (never the key or password)."""
    return {
        "name": user.name,
        "email": user.email,
        "admin": bool(user.is_admin),
        "plan": user.plan,
        "full_name": user.full_name or "",
        "realm": "internal",
        "registered": iso(user.registered),
    }


def search_users(access: Access, name: str, start_pos: int, size: int) -> list[dict[str, Any]]:
    """Users whose name starts with ``name`` (case-insensitive), in Get User shape."""
    prefix = name.strip().lower()
    if not prefix:
        raise BadRequest("The 'name' query parameter is required")
    matches = Subject.kind_index.query(USER, Subject.name_lower.startswith(prefix))
    return [describe_user(access, _whole(access, user)) for user in db.page(iter(matches), start_pos, size)]


def _whole(access: Access, user: Subject) -> Subject:
    """``user`` as the index holds it, or its whole item when the caller sees its quota (which the index
    does not hold: ``KIND_INDEX_ATTRIBUTES``)."""
    if Right.ADMIN in rights_on(access.principal, user.name):
        return db.get_or_404(Subject, user.name, missing=f"User '{user.name}' was not found")
    return user
