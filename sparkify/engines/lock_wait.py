"""Who a command waits for, and for how long it may: the lock watch a command's statements run under.

A statement that needs a lock another session holds waits for it, and says
nothing: a notebook that ran one SELECT and stayed idle in its transaction
keeps an ``etl.py --full`` (whose TRUNCATE needs the table to itself) waiting
for ever. So while a statement of the command runs, a thread looks, on a
connection of its own, whether the statement waits for a lock, and:

- once it has waited ``FIRST_REPORT`` seconds, says which sessions hold it
  up: each one's pid, application, user, client, state and since when, what
  it holds and the first words of its last statement, for every session of
  the chain (one that waits for another in turn); again every ``REPEAT``
  seconds while the wait lasts, and once it ends;
- once it has waited the lock timeout (``LockPolicy``), cancels the
  statement, which then fails with ``LockTimeout``: one line that names the
  blocker and what to do; the command exits 1 and nothing is committed.

It never signals another session: ``SELECT pg_terminate_backend(pid)`` is
only advice, for whoever owns that session to decide. It cancels only the
command's own statement, as Ctrl-C does (engines/cancel.py).

Waiting for another etl.py run (a session that holds the run's lock) is
what a second run has always done: it waits, saying so, without a limit
unless the lock timeout was given explicitly (``--lock-timeout``,
``DWH_LOCK_TIMEOUT`` or ``[RUN] LOCK_TIMEOUT``).

What differs between the databases is how to read who holds what: each
engine's ``lock_wait()`` (postgres.py: pg_locks, pg_blocking_pids() and
pg_stat_activity; redshift.py: SVV_TRANSACTIONS, PG_LOCKS and the SYS views).
The timing, the messages and the timeout are the same on both.
"""

import contextlib
import datetime
import re
import threading
import time
from dataclasses import dataclass

from sparkify.engines.errors import LockTimeout, QueryCancelled

DEFAULT_LOCK_TIMEOUT = 600.0  # seconds; see LockPolicy
FIRST_REPORT = 5.0  # seconds of waiting before the first "who blocks" lines
REPEAT = 60.0  # seconds between two reports of one wait
POLL = 2.0  # seconds between two looks while a statement runs
LOOK_TIMEOUT_MS = 10_000  # the longest one look may take (statement_timeout of the watch's session)
APPLICATION = "sparkify-lock-watch"  # the application_name of the watch's own connection
MAX_SESSIONS = 8  # the most sessions of a chain that are described


# ---------------------------------------------------------------------------
# What a wait is: the sessions that hold it up
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """Another session, as far as the database lets this user see it (None: not known, or not visible)."""

    pid: int
    application: str | None = None
    user: str | None = None
    client: str | None = None  # an address, or "local socket"
    state: str | None = None  # "idle in transaction", "active", "waiting for a lock"...
    since: datetime.datetime | None = None  # when it entered that state
    holds: str | None = None  # the locks it holds on what is waited for ("AccessShareLock on songplay_table")
    statement: str | None = None  # the first words of its current or last statement
    waits_for: tuple[int, ...] = ()  # the sessions it waits for in turn
    is_run: bool = False  # holds the run's lock: another etl.py run (or create_tables.py)
    hidden: str | None = None  # why the database shows no more of it


@dataclass(frozen=True)
class LockWait:
    """What a session waits for, for how long, and the sessions that hold it up, blockers first."""

    what: str  # "a lock on staging_events (AccessExclusiveLock)"
    blockers: tuple[int, ...]  # the pids it waits for directly
    sessions: tuple[Session, ...] = ()  # those, then whoever they wait for (at most MAX_SESSIONS)
    seconds: float | None = None  # how long it has waited, when the database says
    unknown: str | None = None  # why no blocker could be seen, if none was

    @property
    def behind_a_run(self) -> bool:
        """Whether every session it waits for directly is another run of ours (one holding the run's lock)."""
        direct = [session for session in self.sessions if session.pid in self.blockers]
        return bool(direct) and len(direct) == len(self.blockers) and all(session.is_run for session in direct)

    def session(self, pid) -> Session | None:
        return next((session for session in self.sessions if session.pid == pid), None)


# ---------------------------------------------------------------------------
# How long to wait
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LockPolicy:
    """How long a statement may wait for a lock that another session holds.

    ``seconds``: the lock timeout (0 or None: no limit). ``named_by``: who
    set it (``--lock-timeout``, ``$DWH_LOCK_TIMEOUT``, ``[RUN] LOCK_TIMEOUT``),
    None for the default, ``DEFAULT_LOCK_TIMEOUT``: ten minutes, long enough
    for a dashboard's or a notebook's query to finish and commit, short enough
    that a cron run behind a session left open says so and ends before the
    next day's run. A wait behind another etl.py run has no limit unless the
    timeout was named: two loads queue, as they always have.
    """

    seconds: float | None = DEFAULT_LOCK_TIMEOUT
    named_by: str | None = None

    def limit(self, wait: LockWait) -> float | None:
        """The seconds ``wait`` may last, or None for no limit."""
        if wait.behind_a_run and self.named_by is None:
            return None
        return self.seconds or None

    def describe(self) -> str:
        """'600 s, the default; --lock-timeout SECONDS changes it', '30 s, set by --lock-timeout', for messages."""
        if not self.seconds:
            return f"no limit, set by {self.named_by}"
        if self.named_by is None:
            return f"{self.seconds:g} s, the default; --lock-timeout SECONDS changes it"
        return f"{self.seconds:g} s, set by {self.named_by}"


# ---------------------------------------------------------------------------
# Saying it
# ---------------------------------------------------------------------------

# A statement's first words, up to its first literal, comment or a word that may come before a secret.
_SECRET_WORDS = re.compile(r"\b(PASSWORD|CREDENTIALS|SECRET|ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|IAM_ROLE|"
                           r"MASTER_SYMMETRIC_KEY|ENCRYPTED)\b", re.IGNORECASE)
_CUT = re.compile(r"['\"$]|--|/\*")
WORDS = 8


def first_words(statement: str | None, words: int = WORDS) -> str | None:
    """The first ``words`` words of ``statement``, cut before any quote, comment or word that may lead to a
    secret (a password, AWS credentials), so that a log line never holds one: 'SELECT COUNT(*) FROM
    songplay_table', 'COPY staging_events FROM …'."""
    if not statement or not statement.strip():
        return None
    text = " ".join(statement.split())
    cut = [match.start() for match in (_CUT.search(text), _SECRET_WORDS.search(text)) if match]
    shortened = bool(cut)
    if cut:
        text = text[:min(cut)].rstrip()
    parts = text.split(" ")
    if len(parts) > words:
        parts, shortened = parts[:words], True
    text = "".join(character if character.isprintable() else "?" for character in " ".join(parts))
    return (text + " …" if shortened else text) or "…"


def utc(moment: datetime.datetime) -> datetime.datetime:
    """A timestamp in UTC; one without a zone is taken as UTC (Redshift's are)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def duration(seconds: float) -> str:
    """'0.6 s', '45 s', '3 min 12 s', '10 min', '2 h 5 min', '3 days 4 h'."""
    if 0 < seconds < 0.95:
        return f"{seconds:.1f} s"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return _two(seconds // 60, "min", seconds % 60, "s")
    if seconds < 86400:
        return _two(seconds // 3600, "h", seconds % 3600 // 60, "min")
    return _two(seconds // 86400, "days", seconds % 86400 // 3600, "h")


def _two(whole, unit, rest, rest_unit) -> str:
    return f"{whole} {unit} {rest} {rest_unit}" if rest else f"{whole} {unit}"


def moment(when: datetime.datetime, now: datetime.datetime | None = None) -> str:
    """'for 3 min 12 s, since 10:02:11 UTC'; with the date when it is not today's."""
    when = utc(when)
    now = utc(now) if now is not None else datetime.datetime.now(datetime.UTC)
    shown = when.strftime("%H:%M:%S UTC") if when.date() == now.date() else when.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"for {duration((now - when).total_seconds())}, since {shown}"


def who(session: Session, now=None) -> str:
    """One session, in one line: 'pid 4242 (psql, user alice, client 10.0.0.5): idle in transaction for
    3 min 12 s, since 10:02:11 UTC, holds AccessShareLock on songplay_table; last statement: SELECT …'."""
    about = [part for part in (
        f"another etl.py run, {session.application}" if session.is_run and session.application else
        "another etl.py run" if session.is_run else session.application,
        f"user {session.user}" if session.user else None,
        f"client {session.client}" if session.client else None,
    ) if part]
    text = f"pid {session.pid}" + (f" ({', '.join(about)})" if about else "")
    if session.state:
        text += f": {session.state}" + (f" {moment(session.since, now)}" if session.since else "")
    if session.holds:
        text += f", holds {session.holds}"
    if session.waits_for:
        text += f", waits for pid {', '.join(str(pid) for pid in session.waits_for)}"
    if session.statement:
        text += f"; {'last ' if session.state and session.state.startswith('idle') else ''}statement: " \
                f"{session.statement}"
    if session.hidden:
        text += f" ({session.hidden})"
    return printable(text)


def printable(text: str) -> str:
    return "".join(character if character.isprintable() else "?" for character in text)


def report(wait: LockWait, waited: float, limit: float | None, policy: LockPolicy, now=None) -> list[str]:
    """The lines that say who holds up a statement: the wait, one line per session, and what happens next."""
    lines = [f"Waiting {duration(waited)} for {wait.what}, held up by:"]
    lines += [f"  {who(session, now)}" for session in wait.sessions]
    if not wait.sessions:
        lines.append(f"  {wait.unknown or 'a session that the database does not show'}")
    if limit is None and wait.behind_a_run:
        lines.append("  Another etl.py run loads this database: waiting for it to finish, without a limit "
                     "(--lock-timeout SECONDS sets one).")
    elif limit is None:
        lines.append(f"  Waiting without a limit ({policy.describe()}): {advice(wait)}.")
    else:
        lines.append(f"  Gives up in {duration(limit - waited)} (lock timeout {policy.describe()}): "
                     f"{advice(wait)}.")
    return lines


def advice(wait: LockWait) -> str:
    """What a person can do: about the sessions at the end of the chain, which wait for no one, but another
    etl.py run (which ends by itself)."""
    outside = [session for session in wait.sessions if not session.waits_for and not session.is_run]
    if not outside:
        return "wait for it to finish"
    if len(outside) == 1:
        return (f"commit or close the session of pid {outside[0].pid} (or end it: SELECT "
                f"pg_terminate_backend({outside[0].pid}); no command here ever does)")
    pids = ", ".join(str(session.pid) for session in outside)
    return (f"commit or close the sessions of pids {pids} (or end them: SELECT pg_terminate_backend(pid); "
            "no command here ever does)")


def short(session: Session, now=None) -> str:
    """'pid 4242 (psql, idle in transaction for 3 min, since 10:02:11 UTC)'."""
    about = [part for part in (
        "another etl.py run" if session.is_run else session.application,
        session.state and (f"{session.state} {moment(session.since, now)}" if session.since else session.state),
    ) if part]
    return f"pid {session.pid}" + (f" ({', '.join(about)})" if about else "")


def gave_up(wait: LockWait, waited: float, policy: LockPolicy, now=None) -> str:
    """The one line a command ends with when it gave up waiting: the session it waited for, and the one at the
    end of the chain when that is another."""
    direct = [session for session in wait.sessions if session.pid in wait.blockers]
    if direct:
        held = short(direct[0], now)
        if len(direct) > 1:
            held += f" and {len(direct) - 1} other session{'s' if len(direct) > 2 else ''}"
        root = next((session for session in wait.sessions if not session.waits_for and session not in direct),
                    None)
        if root is not None:
            held += f", which waits for {short(root, now)}"
    else:
        held = wait.unknown or "a session the database does not show"
    return printable(f"gave up after waiting {duration(waited)} for {wait.what}, held by {held}: {advice(wait)}, "
                     f"then run the command again; lock timeout {policy.describe()}")


# ---------------------------------------------------------------------------
# The watch
# ---------------------------------------------------------------------------


@dataclass
class _Statement:
    number: int
    started: float
    reported: float | None = None  # when its wait was last reported (the clock's time)
    gave_up: str | None = None  # the message, once the watch cancelled it


class LockWatch:
    """Watches the statements of one connection from a thread, on a connection of its own (see the module).

    ``engine``: whose ``lock_wait()`` reads who blocks, and whose ``cancel()``
    cancels the statement. ``connect``: opens the watch's own connection,
    once a statement has run long enough to be looked at. ``say``: prints
    one line (a Reporter's ``always``: the lines are printed with --quiet too).
    """

    def __init__(self, engine, connection, connect, say, policy: LockPolicy | None = None, clock=time.monotonic):
        self.engine = engine
        self.connection = connection
        self.connect = connect
        self.say = say
        self.policy = policy or LockPolicy()
        self.clock = clock
        self.first_report, self.repeat, self.poll = FIRST_REPORT, REPEAT, POLL
        self.pid = getattr(getattr(connection, "info", None), "backend_pid", None)
        self._changed = threading.Condition()
        self._statement: _Statement | None = None
        self._count = 0
        self._stopping = False
        self._thread = None
        self._session = None
        self._broken = False

    def watches(self, connection) -> bool:
        return connection is self.connection and self.pid is not None

    def __enter__(self):
        if self.pid is not None:
            self._thread = threading.Thread(target=self._run, name="lock-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=LOOK_TIMEOUT_MS / 1000 + 1)
        return False

    @contextlib.contextmanager
    def statement(self):
        """Around one statement of the watched connection: a LockTimeout if the watch cancelled it."""
        with self._changed:
            self._count += 1
            current = self._statement = _Statement(self._count, self.clock())
            self._changed.notify_all()
        try:
            yield
        except QueryCancelled:
            if current.gave_up is not None:
                raise LockTimeout(current.gave_up) from None
            raise
        finally:
            with self._changed:
                self._statement = None
                self._changed.notify_all()
        if current.reported is not None:
            self.say(f"The lock came after {duration(self.clock() - current.started)}: going on.")

    # -- the thread ---------------------------------------------------------

    def _run(self):
        try:
            while True:
                current = self._next_to_look_at()
                if current is None:
                    return
                wait = self._look()
                if self._broken:
                    return
                self._pause(current, self._consider(current, wait))
        except Exception as error:  # noqa: BLE001 - a thread's exception would pass unseen: say it, stop looking
            self.say(f"warning: the watch of lock waits stopped ({type(error).__name__}: {error}): for the rest "
                     "of this command, lock waits are neither said nor timed out")
        finally:
            if self._session is not None:
                with contextlib.suppress(Exception):
                    self._session.close()

    def _pause(self, current, seconds):
        """Sleep ``seconds``, or less if the watch stops or ``current`` ends."""
        with self._changed:
            self._changed.wait_for(lambda: self._stopping or self._statement is not current, seconds)

    def _first_look_after(self) -> float:
        return min(self.first_report, self.policy.seconds or self.first_report)

    def _next_to_look_at(self) -> _Statement | None:
        """Wait until a statement has run long enough to be looked at; None once the watch stops."""
        with self._changed:
            while not self._stopping:
                current = self._statement
                if current is not None:
                    due = current.started + self._first_look_after() - self.clock()
                    if due <= 0:
                        return current
                    self._changed.wait(due)
                else:
                    self._changed.wait()
            return None

    def _look(self) -> LockWait | None:
        """What the watched session waits for now, read on the watch's own connection; None: no lock."""
        try:
            if self._session is None:
                self._session = self.connect()
                self._session.autocommit = True
                with self.engine.cursor_on(self._session) as cursor:
                    cursor.execute(f"SET statement_timeout = {LOOK_TIMEOUT_MS}")
            with self.engine.cursor_on(self._session) as cursor:
                return self.engine.lock_wait(cursor, self.pid)
        except Exception as error:  # noqa: BLE001 - the command goes on: say why, and stop looking
            self._broken = True
            reason = " ".join(str(error).split()) or type(error).__name__
            self.say(f"warning: whether a statement waits for another session's lock cannot be read ({reason}): "
                     "for the rest of this command, lock waits are neither said nor timed out")
            return None

    def _consider(self, current: _Statement, wait: LockWait | None) -> float:
        """Report ``wait``, or give up on it; the seconds until the next look."""
        if wait is None:
            return self.poll
        now = self.clock()
        waited = wait.seconds if wait.seconds is not None else now - current.started
        limit = self.policy.limit(wait)
        if limit is not None and waited >= limit:
            self._give_up(current, wait, waited, limit)
            return self.poll
        if waited >= self.first_report and (current.reported is None or now - current.reported >= self.repeat):
            current.reported = now
            for line in report(wait, waited, limit, self.policy):
                self.say(line)
        next_report = self.first_report - waited if current.reported is None else \
            current.reported + self.repeat - now
        pause = min(self.poll, max(next_report, 0.05))
        return min(pause, max(limit - waited, 0.05)) if limit is not None else pause

    def _give_up(self, current, wait, waited, limit):
        """Say who holds it up (unless just said), then cancel the statement, unless it ended meanwhile."""
        if current.reported is None:
            for line in report(wait, waited, limit, self.policy):
                self.say(line)
        with self._changed:
            if self._statement is not current:
                return
            current.reported = self.clock()
            current.gave_up = gave_up(wait, waited, self.policy)
            self.engine.cancel(self.connection)
