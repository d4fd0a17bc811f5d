"""Who may load the warehouse: the arrangements of docs/iam-authentication.md, tried as written.

A GRANT on the tables is lost when create_tables.py drops and creates them
again. The guide's arrangements last: the tables belong to the user that
loads them, or default privileges give that user its rights on every table
the admin creates. And a ledger the user may not use is said to be so, not
taken for a missing one (information_schema lists only the tables a user
has a privilege on).

The guide's SQL is read from the page and run on the embedded PostgreSQL,
with a role of the test's in place of the IAM identity and a schema of its
own in place of public.
"""

import re
import uuid

import psycopg2
import pytest
from helpers import event, guide_sql, song, write_source

import sql_queries as q
from sparkify import api
from sparkify.engines.embedded import fresh_schema
from sparkify.results import LoadError
from sparkify.run.ledger import read_ledger

OWNERSHIP = "### The tables belong to the user that loads them"
DEFAULT_PRIVILEGES = "### Or: default privileges"


class Roles:
    """The admin (the test server's user), and a loading user of the test's own, in a schema of the test's."""

    def __init__(self, dsn, schema):
        self.admin_dsn = fresh_schema(dsn, schema)
        self.schema = schema
        self.user = f"sparkify_etl_{uuid.uuid4().hex[:8]}"
        self.admin = psycopg2.connect(self.admin_dsn)
        self.admin.autocommit = True
        with self.admin.cursor() as cursor:
            try:
                cursor.execute(f"CREATE ROLE {self.user} LOGIN")
            except psycopg2.errors.InsufficientPrivilege:
                pytest.skip("the test server's user may not create roles")
            cursor.execute("SELECT current_user")
            self.admin_name = cursor.fetchone()[0]
        self.connections = [self.admin]

    def run_guide(self, heading):
        with self.admin.cursor() as cursor:
            for statement in guide_sql(heading, self.user, self.schema, self.admin_name):
                cursor.execute(statement)

    def connect_as_user(self):
        connection = psycopg2.connect(psycopg2.extensions.make_dsn(self.admin_dsn, user=self.user))
        self.connections.append(connection)
        return connection

    def owners(self):
        with self.admin.cursor() as cursor:
            cursor.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = %s", (self.schema,))
            return dict(cursor.fetchall())

    def close(self):
        for connection in reversed(self.connections):
            connection.close()
        admin = psycopg2.connect(self.admin_dsn)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
            cursor.execute(f"DROP OWNED BY {self.user}")
            cursor.execute(f"DROP ROLE {self.user}")
        admin.close()


@pytest.fixture
def roles(dsn, request):
    roles = Roles(dsn, "test_privileges_" + re.sub(r"\W", "_", request.node.name)[-40:].lower())
    yield roles
    roles.close()


def read_ledger_as(connection):
    with connection.cursor() as cursor:
        try:
            return read_ledger(cursor)
        finally:
            connection.rollback()


def test_a_ledger_the_user_may_not_use_is_not_taken_for_a_missing_one(roles):
    api.create_tables(roles.admin, "postgres")
    with roles.admin.cursor() as cursor:
        cursor.execute(f"GRANT USAGE ON SCHEMA {roles.schema} TO {roles.user}")
    with pytest.raises(LoadError, match=rf"the database user {roles.user} may not read and write the loaded_files "
                                        r"ledger \(it needs SELECT, INSERT, DELETE on it\)"):
        read_ledger_as(roles.connect_as_user())


def test_a_missing_ledger_is_still_told_as_missing(roles):
    """None: a run then loads a warehouse that holds nothing, and refuses to replace rows no ledger accounts
    for (tests/test_incremental.py)."""
    assert read_ledger_as(roles.admin) is None


def test_the_tables_of_the_user_that_loads_them_survive_create_tables(roles, tmp_path):
    """The guide's first arrangement: tables another user created are handed over, then the loading user
    runs create_tables.py and etl.py itself, again and again."""
    api.create_tables(roles.admin, "postgres")  # as they were, before the arrangement
    roles.run_guide(OWNERSHIP)
    assert set(roles.owners().values()) == {roles.user}
    source = write_source(tmp_path, events=[event()], songs=[song()])
    loader = roles.connect_as_user()
    for _ in range(2):
        assert api.run(loader, "postgres", source).committed
        api.create_tables(loader, "postgres", drop_data=True)
        assert roles.owners() == {table: roles.user for table in q.all_tables}
    assert read_ledger_as(loader) == {}


def test_the_guide_hands_over_every_table():
    statements = guide_sql(OWNERSHIP, "etl", "public")
    assert [re.match(r"ALTER TABLE (\w+) OWNER TO \"etl\"$", statement).group(1) for statement in statements[1:]] \
        == q.all_tables


def test_default_privileges_give_the_loading_user_its_rights_after_each_create_tables(roles):
    """The guide's second arrangement: the admin recreates the tables; the loading user keeps its rights."""
    roles.run_guide(DEFAULT_PRIVILEGES)
    api.create_tables(roles.admin, "postgres")
    api.create_tables(roles.admin, "postgres")
    with roles.admin.cursor() as cursor:
        rights = {}
        for table in q.all_tables:
            cursor.execute("SELECT " + ", ".join(
                f"has_table_privilege(%(user)s, %(table)s, '{right}')" for right in ("SELECT", "INSERT", "UPDATE",
                                                                                     "DELETE")),
                {"user": roles.user, "table": f"{roles.schema}.{table}"})
            rights[table] = cursor.fetchone()
    assert rights == {table: (True, True, True, True) for table in q.all_tables}
    assert read_ledger_as(roles.connect_as_user()) == {}
