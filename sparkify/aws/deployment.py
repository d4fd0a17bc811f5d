"""A Redshift deployment that cluster.py creates, reports, pauses and deletes: the steps every kind shares.

A provisioned cluster (provisioned.py) and a Serverless workgroup
(serverless.py) are two implementations of ``Deployment``, as the engines
are of ``Engine``: each overrides only what differs. What they share is done
here once, in the same order for both:

- ``create``: refuse early what cannot work (no password, a refused CIDR,
  what the kind itself refuses), then the IAM role (role.py), the security
  group (network.py), the warehouse itself (``make``, the kind's own), the
  port opened to one CIDR, and the endpoint and the role ARN written into
  the config (config.write_keys, the one writer of dwh.cfg);
- ``teardown``: the port closed, the warehouse removed (``remove``), the
  group and the role deleted, the endpoint cleared from the config;
- ``status``: the kind's own report (``describe``), the role and the group;
- ``pause`` and ``resume``, where the kind has them;
- ``cost_text``: what it costs, in the kind's own terms.

Every boto3 client comes from clients.py; an AWS refusal is a ClusterError,
AWS out of reach an AwsUnreachable (both exit 2). No password or key is ever
said.
"""

import contextlib
import time

from botocore.exceptions import BotoCoreError, ClientError

from sparkify.aws import clients, network, role
from sparkify.aws.resources import ClusterError, resource_tags, wait_until
from sparkify.config import PASSWORD_ENV, Settings, write_keys


class Deployment:
    name = ""  # as [DWH] DEPLOYMENT says it
    kind = ""  # what a person calls the warehouse: "cluster", "workgroup"
    label = "Redshift"  # the service that assumes the role
    trusted_services = ("redshift.amazonaws.com",)  # who may assume the role
    expect = "a few minutes"  # how long becoming available usually takes
    timeout = 45 * 60

    def __init__(self, settings: Settings, say=print, session=None, find_address=network.my_address, delay=30,
                 sleep=time.sleep):
        self.settings = settings
        self.provisioning = settings.aws.provisioning
        self.say = say
        self.find_address = find_address
        self.delay = delay
        self.sleep = sleep
        self._session = session

    # -----------------------------------------------------------------------
    # What each kind provides
    # -----------------------------------------------------------------------

    @property
    def resource(self) -> str:
        """The warehouse's name: the cluster identifier, the workgroup."""
        raise NotImplementedError

    @property
    def holdings(self) -> str:
        """What ``delete`` loses, for the question it asks first."""
        return f"{self.kind} {self.resource} and its data"

    def check(self) -> None:
        """Refuse, before anything is created, what this kind cannot make."""

    def make(self, ec2, password: str, role_arn: str, group_id: str, tags) -> dict:
        """Create the warehouse (or keep ours), wait until it is available; its description."""
        raise NotImplementedError

    def endpoint(self, described: dict) -> dict[str, str]:
        """The [CLUSTER] keys the scripts connect with: HOST, DB_PORT, DB_NAME, DB_USER."""
        raise NotImplementedError

    def remove(self) -> None:
        """Delete the warehouse and wait until it is gone; nothing when it already is."""
        raise NotImplementedError

    def describe(self, now=None) -> dict:
        """The kind's part of the status report, with its "warnings"."""
        raise NotImplementedError

    @classmethod
    def format_lines(cls, report: dict) -> list[str]:
        raise NotImplementedError

    def cost_text(self) -> str:
        raise NotImplementedError

    def pause(self) -> None:
        raise ClusterError(f"a {self.name} deployment cannot be paused")

    def resume(self) -> None:
        raise ClusterError(f"a {self.name} deployment cannot be resumed")

    # -----------------------------------------------------------------------
    # What they share
    # -----------------------------------------------------------------------

    @property
    def session(self):
        if self._session is None:
            self._session = clients.new_session(self.settings)
        return self._session

    def client(self, service: str):
        return clients.client(service, self.settings, session=self.session)

    @property
    def port(self) -> int:
        return self.settings.target.port

    @property
    def db_name(self) -> str:
        return self.settings.target.db_name or "dev"

    @property
    def db_user(self) -> str:
        return self.settings.target.db_user or "awsuser"

    @property
    def ttl_tag(self) -> dict:
        return {"Key": "time-to-live", "Value": f"{self.provisioning.ttl_hours:g}h"}

    @contextlib.contextmanager
    def aws_errors(self, password: str | None = None):
        """An AWS refusal as a ClusterError (the password masked, should AWS quote it), AWS out of reach as
        an AwsUnreachable."""
        try:
            yield
        except ClientError as error:
            message = clients.refusal(error)
            raise ClusterError(message.replace(password, "***") if password else message) from None
        except BotoCoreError as error:
            raise clients.unreachable(error) from None

    def wait_for(self, state, kind: str, name: str, goal: str, never=()) -> None:
        wait_until(state, kind, name, goal, self.say, never=never, delay=self.delay, timeout=self.timeout,
                   expect=self.expect, sleep=self.sleep)

    def create(self) -> dict:
        """Role, security group, the warehouse, the port; then the endpoint and the role ARN into the config.

        Returns the warehouse's description. Safe to run again: what exists is kept.
        """
        path = self.config_file()
        self.check()
        password = master_password(self.settings)
        cidr = network.ingress_cidr(self.provisioning, self.port, path, self.find_address, self.say)
        sources = role.role_sources(self.settings)
        with self.aws_errors(password):
            iam, ec2 = self.client("iam"), self.client("ec2")
            tags = resource_tags(self.provisioning.owner, self.session)
            role_arn = role.ensure_role(iam, self.provisioning.role_name, sources, self.trusted_services, tags)
            self.say(f"role {self.provisioning.role_name}: {self.label} may assume it; it reads only "
                     f"{', '.join(sources)}")
            group_id = network.ensure_security_group(ec2, self.provisioning.security_group_name, tags)
            described = self.make(ec2, password, role_arn, group_id, tags + [self.ttl_tag])
            network.open_port(ec2, group_id, self.port, cidr)
            self.say(f"security group {self.provisioning.security_group_name}: port {self.port} open to {cidr} only")
        write_keys(path, {"CLUSTER": self.endpoint(described), "IAM_ROLE": {"ARN": role_arn}})
        self.say(f"wrote the {self.kind}'s endpoint and the role ARN into {path}: create_tables.py and etl.py "
                 f"now use this {self.kind}")
        return described

    def config_file(self):
        """The config file create writes back into: one the person has, with a [DWH] section of its own."""
        path = self.settings.path
        if path is None:
            raise ClusterError("no dwh.cfg: copy dwh.cfg.example to dwh.cfg and fill in its [DWH] section")
        if "DWH" not in self.settings.sections:
            raise ClusterError(f"{path} has no [DWH] section: copy it from dwh.cfg.example")
        return path

    def teardown(self) -> None:
        """Close the port, remove the warehouse, delete the security group, the role and its policy.

        Each step does nothing when its resource is already gone, so running it
        twice, or after a create that stopped half-way, succeeds.
        """
        group_name = self.provisioning.security_group_name
        with self.aws_errors():
            iam, ec2 = self.client("iam"), self.client("ec2")
            group_id = network.close_port(ec2, group_name, self.say)
            self.remove()
            if group_id:
                network.delete_security_group(ec2, group_name, group_id, self.say, delay=self.delay,
                                              sleep=self.sleep)
            role.delete_role(iam, self.provisioning.role_name, self.say)
        path = self.settings.path
        if path is not None and path.exists():
            write_keys(path, {"CLUSTER": {"HOST": ""}, "IAM_ROLE": {"ARN": ""}})
            self.say(f"cleared the endpoint and the role ARN in {path}: the scripts no longer point at the "
                     f"{self.kind}")

    def status(self, now=None) -> dict:
        """What exists of the setup, and the warnings a person should see."""
        with self.aws_errors():
            iam, ec2 = self.client("iam"), self.client("ec2")
            report = {"deployment": self.name, **self.describe(now)}
            report["role"] = role.role_status(iam, self.provisioning.role_name)
            report["security_group"], warnings = network.group_status(ec2, self.provisioning.security_group_name)
        report["warnings"] = report.get("warnings", []) + warnings
        return report

    @classmethod
    def format_status(cls, report: dict) -> str:
        """The status report as lines for a person. No password; the endpoint is shown."""
        lines = cls.format_lines(report)
        found = report["role"]
        lines.append(f"role {found['name']}: reads {', '.join(role.readable(found['policy']))}" if found
                     else "role: none")
        group = report["security_group"]
        if group:
            opened = ", ".join(f"port {port} from {cidr}" for port, cidr in group["ingress"]) or "nothing open"
            lines.append(f"security group {group['name']}: {opened}")
        else:
            lines.append("security group: none")
        lines += [f"WARNING: {warning}" for warning in report["warnings"]]
        return "\n".join(lines)


def master_password(settings: Settings) -> str:
    """The password of the database user: $DWH_DB_PASSWORD, else [CLUSTER] DB_PASSWORD.

    Checked against Redshift's rules here, so that a mistake is explained
    before anything is created. The password itself is never shown.
    """
    secret = settings.target.password
    if not secret:
        raise ClusterError(f"no database password: set the {PASSWORD_ENV} environment variable "
                           "(or [CLUSTER] DB_PASSWORD, which is less safe)")
    password = secret.reveal()
    problems = []
    if not 8 <= len(password) <= 64:
        problems.append("8 to 64 characters")
    if not (any(c.isupper() for c in password) and any(c.islower() for c in password)
            and any(c.isdigit() for c in password)):
        problems.append("an upper-case letter, a lower-case letter and a digit")
    if any(c in "'\"\\/@ " or not c.isascii() or not c.isprintable() for c in password):
        problems.append("no quote, backslash, slash, @, space or non-ASCII character")
    if problems:
        raise ClusterError(f"the database password does not meet Redshift's rules: it needs {'; '.join(problems)}")
    return password
