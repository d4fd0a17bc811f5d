"""What cluster.py makes, and how it knows them again: its tags, its refusals, and the one wait loop.

Every resource cluster.py creates carries a ``managed-by`` tag; a cluster,
workgroup, role or group of the same name without it was made by someone
else, and is never changed or deleted. Waiting for a resource to reach a
state is one loop for every kind of deployment (``wait_until``), which says
how it goes every ``delay`` seconds.
"""

import datetime
import getpass
import time

from botocore.exceptions import BotoCoreError, ClientError

from sparkify.aws.clients import error_code
from sparkify.config import TargetError

MANAGED_BY = ("managed-by", "sparkify-cluster.py")


class ClusterError(TargetError):
    """Something a person has to fix or decide before cluster.py can go on, worded for them (exit status 2)."""


def is_ours(tags) -> bool:
    """``tags``: [{"Key": ..., "Value": ...}] as most AWS services give them."""
    return {tag["Key"]: tag["Value"] for tag in tags or []}.get(MANAGED_BY[0]) == MANAGED_BY[1]


def refuse_unless_ours(kind: str, name: str, tags, setting: str) -> None:
    if not is_ours(tags):
        raise ClusterError(
            f"{kind} {name} exists but was not made by cluster.py (it has no {MANAGED_BY[0]}={MANAGED_BY[1]} "
            f"tag), so cluster.py leaves it alone: choose another [DWH] {setting}"
        )


def resource_tags(owner: str | None, session) -> list[dict]:
    """Who made it, when, and for which project: on everything cluster.py creates."""
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        {"Key": MANAGED_BY[0], "Value": MANAGED_BY[1]},
        {"Key": "project", "Value": "sparkify"},
        {"Key": "owner", "Value": owner or caller_name(session)},
        {"Key": "created-at", "Value": created},
    ]


def caller_name(session) -> str:
    """The user or role name of the credentials (not the account id), else the login name."""
    from sparkify.aws.clients import client

    try:
        return client("sts", session=session).get_caller_identity()["Arn"].rsplit("/", 1)[-1]
    except (ClientError, BotoCoreError):
        return getpass.getuser()


def ignore_missing(call, **arguments) -> None:
    """Make a delete call, taking "it is not there" as done."""
    try:
        call(**arguments)
    except ClientError as error:
        if error_code(error) not in ("NoSuchEntity", "InvalidPermission.NotFound", "InvalidGroup.NotFound"):
            raise


def wait_until(state, kind: str, name: str, goal: str, say, *, never=(), delay=30, timeout=45 * 60,
               expect="a few minutes", sleep=time.sleep) -> None:
    """Call ``state()`` every ``delay`` seconds until it gives ``goal``, saying how it goes.

    ``state()`` gives the resource's status, or None when it is not there;
    ``goal`` "gone" waits for None. ``never``: states from which ``goal``
    cannot come (a cluster being deleted will never be available): waiting
    stops there with an error, as it does when a resource that was there
    disappears. Not there yet is waited for: AWS can take a moment to list
    what it has just been asked to create.
    """
    started = time.monotonic()
    seen = False
    say(f"waiting for {kind} {name} to be {goal} (this usually takes {expect})...")
    while True:
        found = state()
        if found is None and goal == "gone" or found is not None and found.lower() == goal:
            say(f"{kind} {name} is {goal} after {duration(time.monotonic() - started)}")
            return
        if goal != "gone" and (found is None and seen or found is not None and found.lower() in never):
            raise ClusterError(f"{kind} {name} will not be {goal}: it is {found or 'gone'}")
        seen = seen or found is not None
        waited = time.monotonic() - started
        if waited > timeout:
            raise ClusterError(f"{kind} {name} is still not {goal} after {duration(waited)}: "
                               "see `python cluster.py status` or the Redshift console")
        say(f"  {duration(waited)}: {found or 'not there yet'}")
        sleep(delay)


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)} s"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
