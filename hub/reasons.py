"""Stable reason codes for dead letters and department feedback.

Departments build alerting on these codes: never rename one, only add.
"""

from enum import StrEnum


class Reason(StrEnum):
    VALUE_NULL = "value_null"
    VALUE_TOO_LARGE = "value_too_large"
    VALUE_NOT_UTF8 = "value_not_utf8"
    VALUE_NOT_JSON = "value_not_json"
    VALUE_NOT_OBJECT = "value_not_object"
    ENVELOPE_FIELD_MISSING = "envelope_field_missing"
    ENVELOPE_FIELD_INVALID = "envelope_field_invalid"
    TYPE_UNKNOWN_FAMILY = "type_unknown_family"
    TYPE_UNKNOWN_VERSION = "type_unknown_version"
    TYPE_FAMILY_MISMATCH = "type_family_mismatch"
    SCHEMA_INVALID = "schema_invalid"
    DEPARTMENT_UNKNOWN = "department_unknown"
    DEPARTMENT_MISMATCH = "department_mismatch"
    KEY_MISMATCH = "key_mismatch"
    EVENT_TIME_IN_FUTURE = "event_time_in_future"


DESCRIPTIONS = {
    Reason.VALUE_NULL: "The record has no value (a tombstone); inputs are never deleted this way.",
    Reason.VALUE_TOO_LARGE: "The value is larger than the hub's maximum message size.",
    Reason.VALUE_NOT_UTF8: "The value is not UTF-8 text.",
    Reason.VALUE_NOT_JSON: "The value is not JSON.",
    Reason.VALUE_NOT_OBJECT: "The value is JSON but not an object.",
    Reason.ENVELOPE_FIELD_MISSING: "A required CloudEvents attribute (or data) is missing.",
    Reason.ENVELOPE_FIELD_INVALID: "A CloudEvents attribute has a wrong value.",
    Reason.TYPE_UNKNOWN_FAMILY: "The type names a message family the hub does not know.",
    Reason.TYPE_UNKNOWN_VERSION: "The type names a major version of the family the hub does not know.",
    Reason.TYPE_FAMILY_MISMATCH: "The type's family is not the family of the topic.",
    Reason.SCHEMA_INVALID: "The data does not match the family's schema; the message names the field.",
    Reason.DEPARTMENT_UNKNOWN: "The payload's department is not in the registry.",
    Reason.DEPARTMENT_MISMATCH: "The payload's department is not the department of the topic.",
    Reason.KEY_MISMATCH: "The record key is not the entity id of the payload.",
    Reason.EVENT_TIME_IN_FUTURE: "The event time is further in the future than the allowed clock skew.",
}
