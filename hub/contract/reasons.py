"""Stable reason codes for dead letters and department feedback, in the order checked.

Departments build alerting on these codes: never rename one, only add. The
README's table says when each applies.

Warnings are given on events that are accepted but worth the department's
attention; they are no outcome of their own.
"""

from enum import StrEnum


class Reason(StrEnum):
    VALUE_NULL = "value_null"
    VALUE_TOO_LARGE = "value_too_large"
    HEADERS_TOO_LARGE = "headers_too_large"
    VALUE_NOT_UTF8 = "value_not_utf8"
    VALUE_NOT_JSON = "value_not_json"
    VALUE_TOO_DEEP = "value_too_deep"
    VALUE_NOT_OBJECT = "value_not_object"
    ENVELOPE_FIELD_MISSING = "envelope_field_missing"
    ENVELOPE_FIELD_INVALID = "envelope_field_invalid"
    TYPE_UNKNOWN_FAMILY = "type_unknown_family"
    TYPE_FAMILY_MISMATCH = "type_family_mismatch"
    TYPE_UNKNOWN_VERSION = "type_unknown_version"
    SCHEMA_INVALID = "schema_invalid"
    DEPARTMENT_UNKNOWN = "department_unknown"
    DEPARTMENT_MISMATCH = "department_mismatch"
    KEY_MISMATCH = "key_mismatch"
    MUNICIPALITY_UNKNOWN = "municipality_unknown"
    EVENT_TIME_IN_FUTURE = "event_time_in_future"


# The reasons that say a department wrote for someone else: its record names another
# department than the one whose topic it came in on (the topic's ACL being the sender's
# identity), be that department in the registry (department_mismatch) or not
# (department_unknown). Either is a misrouted feed or an attempt to write into another
# department's picture, and worth a security look even though the record was refused.
# key_mismatch is not one of them: the record still speaks for its sender's own
# department, and a key that is not the entity id is an integration fault (a missing or
# differently built key), common enough that alerting on it would bury the real thing.
SECURITY_REASONS = frozenset({Reason.DEPARTMENT_MISMATCH, Reason.DEPARTMENT_UNKNOWN})


class WarningCode(StrEnum):
    INCIDENT_NOT_OPENED = "incident_not_opened"
    LATE_FOR_KPI_WINDOW = "late_for_kpi_window"
