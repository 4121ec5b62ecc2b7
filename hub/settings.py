"""The hub's one configuration object.

Every field can be set from the environment as PELASTUS_HUB_<FIELD> (upper case),
e.g. PELASTUS_HUB_BOOTSTRAP_SERVERS=127.0.0.1:9092; the README lists them all.
"""

import os
import socket
import ssl
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PACKAGE = Path(__file__).resolve().parent


def packaged_schemas() -> Path:
    """The contract (schemas/): package data in an installed wheel; in a checkout (an
    editable install maps no data folder) the repository's own, beside the source."""
    installed = PACKAGE / "schemas"
    return installed if installed.is_dir() else PACKAGE.parent / "schemas"


ENV_PREFIX = "PELASTUS_HUB_"
# Each may instead be read from a file: PELASTUS_HUB_<NAME>_FILE, as orchestrators mount
# secrets, so that a secret need appear in no command line, environment listing or log.
# Room in a record the hub writes for the record's and its batch's own overhead, above
# the max_message_bytes its content is kept within (HubSettings.max_record_bytes).
RECORD_OVERHEAD_BYTES = 64 * 1024
SECRET_FIELDS = ("sasl_password", "api_token", "metrics_token", "health_token")


class SettingsError(ValueError):
    """Settings that cannot be read: the message names the variable."""


def read_secret(path: Path) -> str:
    """A secret from its file, without the one final newline an editor adds."""
    return path.read_text().removesuffix("\n")


class SecretFiles(PydanticBaseSettingsSource):
    """The secrets given as PELASTUS_HUB_<NAME>_FILE: the file's text, one final newline cut."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads every secret at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRET_FIELDS:
            variable = f"{ENV_PREFIX}{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            if os.environ.get(variable):
                raise SettingsError(f"set {variable} or {variable}_FILE, not both")
            try:
                values[name] = read_secret(Path(path))
            except OSError as error:
                raise SettingsError(
                    f"{variable}_FILE: cannot read {path}: {error.strerror}"
                ) from None
            except UnicodeDecodeError:
                raise SettingsError(f"{variable}_FILE: {path} is not UTF-8 text") from None
        return values


class HubSettings(BaseSettings):
    # An empty variable counts as unset, as it does for most programs.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, env_ignore_empty=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, SecretFiles(settings_cls)

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How clients connect: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="With SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
    )
    sasl_username: str | None = Field(None, description="The user to log in as.")
    sasl_password: SecretStr | None = Field(None, description="Its password.")
    ssl_cafile: Path | None = Field(
        None,
        description="CA certificate(s) the broker's is checked against (PEM); "
        "default: the system's.",
    )
    ssl_certfile: Path | None = Field(
        None, description="This client's certificate (PEM), where the broker asks for one."
    )
    ssl_keyfile: Path | None = Field(None, description="The private key of ssl_certfile (PEM).")

    @field_validator(*SECRET_FIELDS)
    @classmethod
    def _secret_is_not_empty(cls, secret: SecretStr | None) -> SecretStr | None:
        # An empty token would lock its routes, an empty password fail every login.
        if secret is not None and not secret.get_secret_value().strip():
            raise ValueError("is empty: give the secret, or leave it unset")
        return secret

    @model_validator(mode="after")
    def _connection_is_complete(self) -> "HubSettings":
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not self.sasl_mechanism:
            raise ValueError(
                f"{ENV_PREFIX}SECURITY_PROTOCOL={self.security_protocol} needs "
                f"{ENV_PREFIX}SASL_MECHANISM"
            )
        if not sasl and self.sasl_mechanism:
            raise ValueError(
                f"{ENV_PREFIX}SASL_MECHANISM is set but {ENV_PREFIX}SECURITY_PROTOCOL is "
                f"{self.security_protocol}: use SASL_SSL (or SASL_PLAINTEXT)"
            )
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ValueError(f"give {ENV_PREFIX}SSL_CERTFILE and {ENV_PREFIX}SSL_KEYFILE together")
        return self

    group_id: str = Field("pelastus-hub", description="Consumer group the workers share.")
    snapshot_interval_seconds: float = Field(5.0, gt=0, description="Capability snapshot cadence.")
    snapshot_min_spacing_seconds: float = Field(
        0.25,
        ge=0,
        description="Besides the cadence, the leader publishes a snapshot this soon after a "
        "change to the states, and no sooner after the one before; 0: the cadence only.",
    )
    max_message_bytes: int = Field(
        1024 * 1024, gt=0, description="Larger values are dead-lettered."
    )
    max_header_bytes: int = Field(
        64 * 1024, gt=0, description="Records with more header bytes are dead-lettered."
    )
    max_json_depth: int = Field(
        32, ge=4, description="Values nesting arrays and objects deeper are dead-lettered."
    )
    max_clock_skew_seconds: float = Field(
        300.0, ge=0, description="How far in the future an event time may lie."
    )
    input_partitions: int = Field(
        3, ge=1, description="Partitions of the input topics and hub.dead-letter it creates."
    )
    replication_factor: int = Field(
        1, ge=1, description="Replicas of the topics the hub creates; 3 on a production cluster."
    )
    batch_max_records: int = Field(5000, ge=1, description="Most records processed in one batch.")
    stale_after_seconds: float = Field(
        900.0, gt=0, description="Silence after which a department is flagged stale."
    )
    # Longer than the longest target: an alarm at the end of an hour still gets its
    # arrival counted when the response is on target.
    kpi_grace_seconds: float = Field(
        1800.0, ge=0, description="How long after its end a KPI window still takes events."
    )
    kpi_time_zone: str = Field("Europe/Helsinki", description="Where a KPI day begins and ends.")

    @field_validator("kpi_time_zone")
    @classmethod
    def _zone_is_known(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "give a time zone of the IANA database, e.g. Europe/Helsinki"
            ) from None
        return zone

    # First-unit response-time targets by risk class (Ministry of the Interior 21/2012).
    kpi_target_seconds: dict[Literal["I", "II", "III"], float] = Field(
        {"I": 360.0, "II": 600.0, "III": 1200.0},
        description="First-unit response-time targets by risk class, JSON.",
    )

    @field_validator("kpi_target_seconds")
    @classmethod
    def _every_class_has_a_target(cls, targets: dict[str, float]) -> dict[str, float]:
        if set(targets) != {"I", "II", "III"} or not all(t > 0 for t in targets.values()):
            raise ValueError(
                "give a positive target for each of I, II and III, e.g. "
                '{"I": 360, "II": 600, "III": 1200}'
            )
        return targets

    worker_instance: str | None = Field(
        None,
        description="This worker's name, the same across its restarts (e.g. the pod's name); "
        "default: the host name and the web port.",
    )
    transaction_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="How long the broker keeps a killed worker's open transaction before "
        "aborting it; other workers' reads of the changelogs wait that long at most.",
    )
    web_host: str = Field("127.0.0.1", description="Address of the HTTP API and /metrics.")
    web_port: int = Field(6066, ge=0, le=65535, description="Port of the HTTP API and /metrics.")
    # Bearer tokens of the HTTP routes, one per group; a group without one is open.
    api_token: SecretStr | None = Field(None, description="Required by /api/v1/*.")
    metrics_token: SecretStr | None = Field(None, description="Required by /metrics.")
    health_token: SecretStr | None = Field(None, description="Required by /healthz and /readyz.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="debug, info, warning or error."
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one JSON object a line, for a log pipeline."
    )
    schemas_dir: Path = Field(
        default_factory=packaged_schemas, description="The contract: the package's own."
    )

    @property
    def instance(self) -> str:
        return self.worker_instance or f"{socket.gethostname()}-{self.web_port}"

    @property
    def max_record_bytes(self) -> int:
        """The most the hub's producers send in one record: what the hub writes is kept
        within max_message_bytes (pelastus_hub.pipeline.outputs), plus room for record and batch overhead."""
        return self.max_message_bytes + RECORD_OVERHEAD_BYTES

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of a connection to the broker: None without TLS. It checks the
        broker's certificate and host name."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def login(self) -> tuple[str, str] | None:
        """The SASL user and password; None without SASL. Checked here, where a client
        connects, not when the settings are read: the simulator logs each department in as
        its own user, with only the rest of the connection set."""
        if not self.sasl_mechanism:
            return None
        if not (self.sasl_username and self.sasl_password):
            raise ValueError(
                f"{self.security_protocol} needs PELASTUS_HUB_SASL_USERNAME and "
                "PELASTUS_HUB_SASL_PASSWORD (or PELASTUS_HUB_SASL_PASSWORD_FILE)"
            )
        return self.sasl_username, self.sasl_password.get_secret_value()

    def kafka_options(self) -> dict[str, object]:
        """Connection keyword arguments common to aiokafka clients."""
        options: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if login := self.login():
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"], options["sasl_plain_password"] = login
        return options


def explain(error: ValidationError) -> str:
    """Settings' validation errors as a person fixes them: a line for each, naming the
    variable, the value given (never a secret's) and what is allowed."""
    lines = []
    for problem in error.errors(include_url=False):
        where = problem["loc"]
        message = problem["msg"].removeprefix("Value error, ")
        if not where:  # a rule across settings
            lines.append(message)
            continue
        variable = f"{ENV_PREFIX}{str(where[0]).upper()}"
        given = "" if where[0] in SECRET_FIELDS else f"={problem.get('input')!r}"
        key = "".join(f"[{part!r}]" for part in where[1:])
        lines.append(f"{variable}{key}{given}: {message}")
    return "\n".join(lines)


def settings_help() -> str:
    """Every setting's variable, default and meaning, for `worker --help`."""
    lines = ["settings (environment variables; a secret may also be given as <NAME>_FILE):"]
    for name, field in HubSettings.model_fields.items():
        default = "(computed)" if field.default_factory else field.default
        shown = "unset" if default is None else default
        lines.append(f"  {ENV_PREFIX}{name.upper()} (default: {shown})")
        if field.description:
            lines.append(f"      {field.description}")
    return "\n".join(lines)
