"""The one schema registry: every table that stages hand each other, as a named Arrow schema.

Stages share nothing but these tables (see ``docs/data-contracts.md``). Each field carries its
meaning in the schema's metadata, so the docs come from one place; a test fails if one field
name has two types anywhere.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
"""Every timestamp in every table: microseconds, UTC."""


class EventKind(StrEnum):
    """What an access event records; one value per row of the event store."""

    LOGON = "logon"  # 4624: a successful logon on the recording host
    LOGON_FAILURE = "logon_failure"  # 4625 (and 4771/4776 failures)
    LOGOFF = "logoff"  # 4634/4647
    EXPLICIT_CREDENTIALS = "explicit_credentials"  # 4648: a process used other credentials
    PRIVILEGE_GRANT = "privilege_grant"  # 4672: special privileges assigned to a new logon
    KERBEROS_TGT = "kerberos_tgt"  # 4768: a ticket-granting ticket requested (on a DC)
    KERBEROS_SERVICE = "kerberos_service"  # 4769: a service ticket requested (on a DC)
    SHARE_ACCESS = "share_access"  # 5140: a network share was accessed
    SHARE_OBJECT = "share_object"  # 5145: an object in a share was checked for access
    NETWORK_FLOW = "network_flow"  # a connection seen on the wire (Zeek conn, flows)
    PROCESS_START = "process_start"  # 4688 / Sysmon 1
    SERVICE_INSTALL = "service_install"  # 7045 / 4697: a service was installed
    ACCOUNT_CHANGE = "account_change"  # 4720-4738, 4756...: accounts and groups created or changed
    LOG_CLEARED = "log_cleared"  # 1102 / 104: an event log was cleared
    OTHER = "other"  # any other event id: stored, raw fields kept, for Sigma and analysts


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


def _field(name: str, typ: pa.DataType, doc: str) -> pa.Field:
    return pa.field(name, typ, metadata={"doc": doc})


ACCESS_EVENT = pa.schema(
    [
        _field(
            "event_id",
            pa.string(),
            "Unique in the store: '<first 16 hex of the input file's SHA-256>-<source_offset>'. "
            "Findings cite it as evidence; it breaks ties in every ordering.",
        ),
        _field("ts", TS, "When the event happened, UTC."),
        _field("kind", pa.string(), "What happened: one of EventKind."),
        _field("event_code", pa.int32(), "Source event id (Windows 4624, ...); null for flows."),
        _field("outcome", pa.string(), "success, failure or unknown (Outcome)."),
        _field("status", pa.string(), "Failure status or sub-status code (0xC000006A, ...)."),
        _field("user", pa.string(), "Account name, lower case, without domain (TargetUserName)."),
        _field("domain", pa.string(), "Account's domain, upper case NetBIOS form."),
        _field(
            "logon_type", pa.int32(), "Windows logon type (2 interactive, 3 network, 10 RDP...)."
        ),
        _field("auth_package", pa.string(), "Kerberos, NTLM, Negotiate, ..."),
        _field("src_host", pa.string(), "Source host short name, lower case."),
        _field("src_ip", pa.string(), "Source IP address as text."),
        _field("src_port", pa.int32(), "Source port."),
        _field("dst_host", pa.string(), "Destination host short name, lower case."),
        _field("dst_ip", pa.string(), "Destination IP address as text."),
        _field("dst_port", pa.int32(), "Destination port."),
        _field("protocol", pa.string(), "Transport protocol (tcp, udp, icmp)."),
        _field("service", pa.string(), "Application service: Zeek service, Kerberos SPN service."),
        _field("bytes_out", pa.int64(), "Bytes sent by the source (Zeek orig_bytes)."),
        _field("bytes_in", pa.int64(), "Bytes sent by the destination (Zeek resp_bytes)."),
        _field("duration_s", pa.float64(), "Connection or session duration in seconds."),
        _field("share", pa.string(), "Network share name (\\\\*\\ADMIN$, ...)."),
        _field("path", pa.string(), "Object path inside the share, or a process path."),
        _field("process", pa.string(), "Process name or path that acted (4648, 4688)."),
        _field(
            "subject_user",
            pa.string(),
            "Whose logon session supplied the credentials of a 4648 (SubjectUserName, the same "
            "form as user); null for other kinds. Taken from raw at ingest, so detectors can tell "
            "a person typing a service account's password from the service using its own.",
        ),
        _field(
            "log_host", pa.string(), "Host that recorded the event (Windows Computer), lower case."
        ),
        _field("source", pa.string(), "Name of the parser that produced the row."),
        _field("source_file", pa.string(), "SHA-256 of the input file (evidence manifest key)."),
        _field(
            "source_offset",
            pa.int64(),
            "Where in the input file: 1-based line number for line formats, record index else.",
        ),
        _field(
            "record_id", pa.string(), "The source's own record id (Windows RecordNumber, Zeek uid)."
        ),
        _field(
            "record_key",
            pa.string(),
            "The record's natural identity, the same whichever file or format it arrived in: "
            "'win|<log_host>|<channel>|<record number>|<epoch second>|<event id>', "
            "'zeek|<log type>|<uid>|<ts in us>', 'journald|<cursor>'; null where the source has "
            "none (LANL, syslog, mapped CSV/JSON): such rows are identified by their content. "
            "Ingest stores each identity once (docs/formats.md, 'Record identity').",
        ),
        _field(
            "raw",
            pa.map_(pa.string(), pa.string()),
            "Source fields kept verbatim as text (Windows EventData names) for Sigma and analysts.",
        ),
    ],
    metadata={
        "doc": "The event store's one table, partitioned by UTC day (events/day=YYYY-MM-DD/)."
    },
)

MANIFEST = pa.schema(
    [
        _field("sha256", pa.string(), "SHA-256 of the input file's bytes as read."),
        _field("path", pa.string(), "Path of the input file when ingested (absolute)."),
        _field("size", pa.int64(), "Input file size in bytes."),
        _field("parser", pa.string(), "Parser used."),
        _field("records_read", pa.int64(), "Records read: always stored + rejected + duplicate."),
        _field("records_stored", pa.int64(), "Records written to the event store."),
        _field("records_rejected", pa.int64(), "Records rejected, each with a reason in rejects/."),
        _field(
            "records_duplicate",
            pa.int64(),
            "Records not stored because the store already held them (same record identity, "
            "from an earlier input or earlier in this one); read as 0 from manifests written "
            "before duplicates were counted.",
        ),
        _field("first_ts", TS, "Earliest event time stored from this file."),
        _field("last_ts", TS, "Latest event time stored from this file."),
        _field("ingested_at", TS, "When the ingest of this file finished."),
        _field(
            "partitions", pa.list_(pa.string()), "Parquet files written (relative to the store)."
        ),
        _field(
            "parquet_sha256", pa.list_(pa.string()), "SHA-256 of each Parquet file, same order."
        ),
    ],
    metadata={"doc": "Evidence manifest: one row per input file ingested (chain of custody)."},
)

REJECTION = pa.schema(
    [
        _field("source_file", pa.string(), "SHA-256 of the input file."),
        _field("path", pa.string(), "Path of the input file when ingested."),
        _field("source_offset", pa.int64(), "Line number (1-based) or record index."),
        _field("parser", pa.string(), "Parser that rejected the record."),
        _field("reason", pa.string(), "Why, in words: what is wrong and with which field."),
        _field("excerpt", pa.string(), "The first 200 characters of the record."),
    ],
    metadata={"doc": "Rejected records: one row each, so that read = stored + rejected."},
)

ENTITIES = pa.struct(
    [
        pa.field("accounts", pa.list_(pa.string())),
        pa.field("hosts", pa.list_(pa.string())),
        pa.field("sites", pa.list_(pa.string())),
        pa.field("ips", pa.list_(pa.string())),
    ]
)

FINDING = pa.schema(
    [
        _field("finding_id", pa.string(), "Stable id: hash of detector and its grouping key."),
        _field("detector", pa.string(), "Detector id (its module path)."),
        _field("detector_version", pa.string(), "Detector version."),
        _field("title", pa.string(), "Short title."),
        _field("severity", pa.string(), "informational, low, medium, high, critical."),
        _field("score", pa.float64(), "0-100; higher is more suspicious."),
        _field("technique", pa.list_(pa.string()), "MITRE ATT&CK technique ids."),
        _field("first_seen", TS, "Time of the earliest evidence event."),
        _field("last_seen", TS, "Time of the latest evidence event."),
        _field("entities", ENTITIES, "Accounts, hosts, sites and IPs involved."),
        _field("reason", pa.string(), "Why, in plain language, with the numbers behind it."),
        _field("evidence", pa.list_(pa.string()), "Event ids (capped; see evidence_count)."),
        _field("evidence_count", pa.int64(), "How many events support the finding in all."),
        _field("details", pa.string(), "Detector-specific numbers as a JSON object."),
    ],
    metadata={"doc": "One evidence-backed alarm."},
)

INCIDENT = pa.schema(
    [
        _field("incident_id", pa.string(), "Stable id: hash of the incident's first finding id."),
        _field("title", pa.string(), "Short title."),
        _field("risk", pa.float64(), "Incident risk; the queue is sorted by it."),
        _field("severity", pa.string(), "Highest severity among its findings."),
        _field("status", pa.string(), "new, investigating, false_positive, confirmed, closed."),
        _field("first_seen", TS, "Earliest finding evidence."),
        _field("last_seen", TS, "Latest finding evidence."),
        _field("entities", ENTITIES, "Union of the findings' entities."),
        _field("finding_ids", pa.list_(pa.string()), "Findings grouped here."),
        _field("detectors", pa.list_(pa.string()), "Distinct detectors that fired."),
        _field("n_findings", pa.int64(), "Number of findings."),
        _field("summary", pa.string(), "One paragraph an analyst reads first."),
    ],
    metadata={"doc": "Findings grouped by shared entity and time; the analyst's queue."},
)

ENTITY_RISK = pa.schema(
    [
        _field("entity", pa.string(), "Account name or host (host name, or IP when unresolved)."),
        _field("entity_type", pa.string(), "account or host."),
        _field("risk", pa.float64(), "Sum of its findings' scores, halved every 7 days of age."),
        _field("n_findings", pa.int64(), "Findings that name it."),
        _field("detectors", pa.list_(pa.string()), "Distinct detectors among them."),
        _field("first_seen", TS, "Earliest evidence of those findings."),
        _field("last_seen", TS, "Latest evidence of those findings."),
    ],
    metadata={"doc": "Accounts and hosts ranked by the suspicion their findings gathered."},
)

SCHEMAS: dict[str, pa.Schema] = {
    "access_event": ACCESS_EVENT,
    "manifest": MANIFEST,
    "rejection": REJECTION,
    "finding": FINDING,
    "incident": INCIDENT,
    "entity_risk": ENTITY_RISK,
}


def field_doc(schema: pa.Schema, name: str) -> str:
    """Return the documentation string of one field."""
    meta = schema.field(name).metadata or {}
    return str(meta.get(b"doc", b"").decode())
