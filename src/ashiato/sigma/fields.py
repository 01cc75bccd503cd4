"""Where Sigma's Windows vocabulary lives in the event store: logsources, field names, columns.

One table of facts shared by the processing pipeline (which rewrites rules), the backend (which
renders field references as SQL) and correlations (which group by fields). Keeping it in one place
means a field renders the same way in a rule's condition and in a correlation's ``group-by``.

Windows events keep every EventData/UserData field verbatim in the ``raw`` map under its
original, case-sensitive name, plus the System fields (Channel, Computer, EventID, Provider,
EventRecordID, TimeCreated). Sigma's Windows field names are those names, so most fields map to
``raw['Name']``; a missing key reads as NULL, which never matches.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from sigma.pipelines.common import windows_logsource_mapping
from sigma.rule import SigmaLogSource

from ashiato.events import ACCESS_EVENT

RAW_PREFIX = "raw."
"""Pipeline-side spelling of a ``raw`` map key; the backend renders ``raw.X`` as ``raw['X']``."""

COLUMNS = frozenset(ACCESS_EVENT.names)
TEXT_COLUMNS = frozenset(f.name for f in ACCESS_EVENT if str(f.type) == "string")

COLUMN_FIELDS: dict[str, str] = {"EventID": "event_code"}
"""Sigma fields better read from a normalised column: ``event_code`` is an integer column with
Parquet statistics, so ``EventID: 4624`` prunes row groups instead of probing every map.
``Computer`` stays in ``raw``: ``log_host`` is lower-cased and shortened, so an FQDN in a rule
would never equal it."""

SERVICES: dict[str, tuple[str, ...]] = {
    k: (v,) if isinstance(v, str) else tuple(v) for k, v in windows_logsource_mapping.items()
}
"""Sigma ``service`` -> Windows channel names (pySigma's own table)."""

SYSMON = "sysmon"
CATEGORIES: dict[str, tuple[str, tuple[int, ...]]] = {
    "process_creation": (SYSMON, (1,)),  # plus Security 4688, see PROCESS_CREATION_4688
    "process_termination": (SYSMON, (5,)),
    "network_connection": (SYSMON, (3,)),
    "sysmon_status": (SYSMON, (4, 16)),
    "driver_load": (SYSMON, (6,)),
    "image_load": (SYSMON, (7,)),
    "create_remote_thread": (SYSMON, (8,)),
    "raw_access_thread": (SYSMON, (9,)),
    "process_access": (SYSMON, (10,)),
    "file_event": (SYSMON, (11,)),
    "registry_add": (SYSMON, (12,)),
    "registry_delete": (SYSMON, (12,)),
    "registry_set": (SYSMON, (13,)),
    "registry_rename": (SYSMON, (14,)),
    "registry_event": (SYSMON, (12, 13, 14)),
    "create_stream_hash": (SYSMON, (15,)),
    "pipe_created": (SYSMON, (17, 18)),
    "wmi_event": (SYSMON, (19, 20, 21)),
    "dns_query": (SYSMON, (22,)),
    "file_delete": (SYSMON, (23, 26)),
    "clipboard_capture": (SYSMON, (24,)),
    "process_tampering": (SYSMON, (25,)),
    "file_block_executable": (SYSMON, (27,)),
    "file_block_shredding": (SYSMON, (28,)),
    "file_executable_detected": (SYSMON, (29,)),
    "sysmon_error": (SYSMON, (255,)),
    "ps_module": ("powershell", (4103,)),
    "ps_script": ("powershell", (4104,)),
    "ps_classic_start": ("powershell-classic", (400,)),
    "ps_classic_provider_start": ("powershell-classic", (600,)),
    "ps_classic_script": ("powershell-classic", (800,)),
}
"""Sigma ``category`` -> (service whose channel records it, event ids)."""

PROCESS_CREATION_4688 = ("security", 4688)
"""Security 4688 also records process creation, with its own field names (below)."""

PROCESS_CREATION_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "Image": ("Image", "NewProcessName"),
    "ParentImage": ("ParentImage", "ParentProcessName"),
    "User": ("User", "SubjectUserName"),
    "LogonId": ("LogonId", "SubjectLogonId"),
}
"""Sysmon 1 field -> the same fact under Sysmon's and 4688's names (ORed in conditions)."""

DEFENDER_FIELDS = (
    "Action ID", "Action Name", "Additional Actions ID", "Additional Actions String",
    "Category ID", "Category Name", "Detection ID", "Detection Time", "Detection User",
    "Engine Version", "Error Code", "Error Description", "Execution ID", "Execution Name",
    "Feature ID", "Feature Name", "New Value", "Old Value", "Origin ID", "Origin Name",
    "Post Clean Status", "Pre Execution Status", "Process Name", "Product Name",
    "Product Version", "Remediation User", "Scan ID", "Scan Parameters", "Scan Type",
    "Severity ID", "Severity Name", "Signature Version", "Source ID", "Source Name",
    "Status Code", "Status Description", "Threat ID", "Threat Name", "Type ID", "Type Name",
)  # fmt: skip
"""EventData names Microsoft Defender writes with spaces (``Threat Name``); Sigma spells them
without (``ThreatName``) or, for a few, with an underscore (``Feature_Name``)."""

FIELD_KEYS: dict[str, tuple[str, ...]] = {
    # Every form ingest reads (EVTX, Winlogbeat/ECS, NXLog) stores the System provider as
    # ``Provider``; Sigma (after the EVTX XML attribute ``Provider/@Name``) says Provider_Name.
    "Provider_Name": ("Provider_Name", "Provider"),
    # A 104 "log cleared" event's UserData names the cleared log ``Channel``; where it differs
    # from the System channel, ingest keeps it as ``EventData.Channel``. Sigma's 104 rules
    # mean the cleared log: read it first. (A logsource's own channel test reads
    # ``raw.Channel``, the System channel, directly: see ``pipeline``.)
    "Channel": ("EventData.Channel", "Channel"),
    # Likewise a WMI 5859/5861 event's EventData ``Provider`` (``SCM Event Provider``): the
    # System provider is Sigma's ``Provider_Name``, and ingest keeps a differing EventData
    # ``Provider`` as ``EventData.Provider``.
    "Provider": ("EventData.Provider", "Provider"),
}
"""Sigma field -> the ``raw`` keys that may hold it, tried in order (COALESCE): one fact that
sources spell differently is read where it is, instead of rewriting the stored events."""

DEFENDER_SERVICE = "windefend"
DEFENDER_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    sigma: (sigma, name)
    for name in DEFENDER_FIELDS
    for sigma in (name.replace(" ", ""), name.replace(" ", "_"))
}
"""Defender rule field -> the Sigma spelling, then Defender's (only for ``service: windefend``
rules: a Security ``ProcessName`` has no spaced twin to look up)."""

_WINDOWS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

KNOWN_FIELDS = (
    frozenset(
        """
    Channel Computer EventID Provider Provider_Name EventRecordID TimeCreated Level Keywords
    Task Opcode Version Security UserID Correlation Execution ProcessID ThreadID AccessList
    AccessMask AccessReason AccountDomain AccountExpires AccountName AllowedToDelegateTo
    AttributeLDAPDisplayName AttributeValue AuditPolicyChanges AuthenticationPackageName
    CallerProcessId CallerProcessName CallTrace CategoryId CertIssuerName CertSerialNumber
    CertThumbprint ClientAddress ClientName ClientProcessId CommandLine Company Configuration
    Contents ContextInfo CreationUtcTime CurrentDirectory Data Description Destination
    DestinationHostname DestinationIp DestinationIsIpv6 DestinationPort DestinationPortName
    Details Device DisplayName DnsHostName ElevatedToken EnabledPrivilegeList EngineVersion
    EventType FailureReason FileName FileVersion Hash Hashes HandleId HomeDirectory
    HostApplication HostName HostVersion Image ImageLoaded ImagePath ImpersonationLevel
    Initiated IntegrityLevel IpAddress IpPort KeyLength LmPackageName LogonGuid LogonHours
    LogonId LogonProcessName LogonType MandatoryLabel MemberName MemberSid Message
    ModifiedObjectProperties NewName NewProcessId NewProcessName NewSd NewTargetUserName
    NewUacValue NewValue ObjectClass ObjectDN ObjectName ObjectServer ObjectType
    ObjectValueName OldSd OldTargetUserName OldUacValue OldValue OperationType
    OriginalFileName ParentCommandLine ParentImage ParentProcessGuid ParentProcessId
    ParentProcessName ParentUser Path Payload PipeName PreAuthType PrivilegeList ProcessGuid
    ProcessId ProcessName Product Properties Protocol PublicKey QueryName QueryResults
    QueryStatus RelativeTargetName RestrictedAdminMode RuleName SamAccountName ScriptBlockId
    ScriptBlockText ScriptPath ServiceAccount ServiceFileName ServiceName ServiceSid
    ServiceStartType ServiceType ShareLocalPath ShareName Signature SignatureStatus Signed
    SidHistory SourceAddress SourceHostname SourceImage SourceIp SourceIsIpv6 SourcePort
    SourcePortName SourceProcessGUID SourceProcessGuid SourceProcessId SourceThreadId
    SourceUser StartAddress StartFunction StartModule StartType State Status SubStatus
    SubjectDomainName SubjectLogonId SubjectUserName SubjectUserSid TargetDomainName
    TargetFilename TargetImage TargetInfo TargetLinkedLogonId TargetLogonId TargetName
    TargetObject TargetOutboundDomainName TargetOutboundUserName TargetProcessGUID
    TargetProcessGuid TargetProcessId TargetServerName TargetSid TargetUser TargetUserName
    TargetUserSid TaskContent TaskName TicketEncryptionType TicketOptions TokenElevationType
    TransmittedServices User UserAccountControl UserName UserParameters UserPrincipalName
    UserWorkstations UtcTime VirtualAccount Workstation WorkstationName param1 param2 param3
    param4 param5 param6 param7 param8 param9 param10
    """.split()  # noqa: SIM905
    )
    | frozenset(FIELD_KEYS)
    | frozenset(DEFENDER_ALTERNATIVES)
)
"""Windows field names ashiato knows by heart (Security, System, Sysmon, PowerShell). Other
names shaped like an EventData name are accepted too: the ``raw`` map keeps every field."""

_KNOWN_BY_LOWER = {f.lower(): f for f in KNOWN_FIELDS}


def canonical_field(name: str) -> str:
    """``name`` with the case Windows writes it (``targetusername`` -> ``TargetUserName``).

    Map keys are case-sensitive; a rule's spelling of a well-known field is not.
    """
    if name in KNOWN_FIELDS or name in COLUMN_FIELDS:
        return name
    return _KNOWN_BY_LOWER.get(name.lower(), name)


def field_problem(name: str) -> str | None:
    """Why ``name`` cannot name anything a Windows event stores, or None when it can.

    ECS-style dotted names, names with spaces or dashes belong to other log sources: a rule
    using them would silently never match, so it is skipped with this reason instead.
    """
    if name in COLUMN_FIELDS or canonical_field(name) in KNOWN_FIELDS:
        return None
    if _WINDOWS_NAME.match(name):
        return None
    return f"unknown field {name!r}: not a Windows event field name"


def logsource_problem(ls: SigmaLogSource) -> str | None:
    """Why events of logsource ``ls`` are not in the store, or None when they may be."""
    product, category, service = ls.product, ls.category, ls.service
    if product not in (None, "windows"):
        return f"unsupported logsource product {product!r} (only windows is mapped)"
    if product is None and category is None and service is None:
        return "logsource names no product, category or service"
    if service is not None and service not in SERVICES:
        return f"unknown logsource service {service!r} for product windows"
    if category is not None and category not in CATEGORIES:
        return f"unsupported logsource category {category!r} (no Windows event records it)"
    return None


def field_keys(
    name: str, category: str | None = None, service: str | None = None
) -> tuple[str, ...]:
    """The ``raw`` keys Sigma field ``name`` of a rule with logsource ``category``/``service``
    reads, in the order tried (the first that is not NULL)."""
    if category == "process_creation" and name in PROCESS_CREATION_ALTERNATIVES:
        return PROCESS_CREATION_ALTERNATIVES[name]
    canonical = canonical_field(name)
    if service == DEFENDER_SERVICE and canonical in DEFENDER_ALTERNATIVES:
        return DEFENDER_ALTERNATIVES[canonical]
    keys = FIELD_KEYS.get(canonical, (canonical,))
    if name != canonical and name not in keys:
        # The rule's own spelling first: OpenSSH writes ``payload``, which is not PowerShell's
        # well-known ``Payload`` (map keys are case-sensitive).
        keys = (name, *keys)
    return keys


def sql_field(name: str, category: str | None = None, service: str | None = None) -> str:
    """SQL for Sigma field ``name`` outside a rule condition (correlation group-by, values)."""
    if name in COLUMN_FIELDS:
        return quote_ident(COLUMN_FIELDS[name])
    keys = field_keys(name, category, service)
    if len(keys) == 1:
        return raw_key(keys[0])
    return "COALESCE(" + ", ".join(raw_key(k) for k in keys) + ")"


def raw_key(key: str) -> str:
    return "raw[" + sql_string(key) + "]"


_RAW_KEY = re.compile(r"raw\['((?:[^']|'')*)'\]")


def flat_field(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` (from ``sql_field``) over a flattened relation: each ``raw['X']`` becomes the
    column ``"raw.X"``; returns the rewritten SQL and the flattened keys it reads."""
    keys: list[str] = []

    def column(m: re.Match[str]) -> str:
        keys.append(flat_key(m.group(1).replace("''", "'")))
        return flat_column(keys[-1])

    return _RAW_KEY.sub(column, sql), tuple(keys)


LOWER_PREFIX = "lower."
"""Flattened-column spelling of a lower-cased ``raw`` key (``raw.X`` is the key as written)."""
KEYWORD_PREFIX = "kw."
"""Flattened-column spelling of a keyword test: the prefix, then the test's SQL over FULLTEXT."""
FULLTEXT = '"_fulltext"'
"""All of an event's raw values in one string (unit separator between them), as ``flatten``
computes it once per row when a keyword column needs it."""
FULLTEXT_SQL = "array_to_string(map_values(raw), chr(31))"
LFULLTEXT = '"_lfulltext"'
CHANNEL = '"_channel"'
"""The lower-cased System channel, computed once per row for ``flatten``'s guards."""
"""FULLTEXT lower-cased (computed once per row when a case-insensitive keyword reads it)."""


def flat_key(key: str, *, lower: bool = False) -> str:
    """The flattened column name of ``raw[key]`` (``raw.Key``), or of its lower-cased text."""
    return (LOWER_PREFIX if lower else RAW_PREFIX) + key


def flat_column(name: str) -> str:
    """A flattened column (``flat_key``) as an identifier, unique without regard to case.

    DuckDB matches identifiers ignoring case, while ``raw`` keys are case-sensitive: a rule
    reading BITS' ``processPath`` and another reading ``ProcessPath`` must not share a column
    (the second would shadow the first). A name with capitals carries a short digest of its
    exact spelling."""
    if name == name.lower():
        return quote_ident(name)
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return quote_ident(f"{name}~{digest}")


def flat_expr(name: str) -> str:
    """How ``flatten`` computes flattened column ``name`` from the ``raw`` map."""
    if name.startswith(LOWER_PREFIX):
        return f"lower({raw_key(name[len(LOWER_PREFIX) :])})"
    if name.startswith(KEYWORD_PREFIX):
        return name[len(KEYWORD_PREFIX) :]
    return raw_key(name[len(RAW_PREFIX) :])


def flatten(
    table: str, keys: Iterable[str], where: str = "", guards: Mapping[str, str] | None = None
) -> str:
    """``table`` plus one plain VARCHAR column per flattened key (``flat_key``), as a FROM item.

    Rule conditions read ``"raw.Key"`` / ``"lower.Key"`` columns, not map lookups: a map lookup
    walks the event's keys, so extracting (and lower-casing) each key once per row and evaluating
    every rule over the extracted columns costs one lookup per (row, key) instead of one per
    (row, rule, key), and a case-insensitive test becomes a plain comparison.

    ``guards``: per key, a condition outside which no rule reading it can match (over the
    table's columns and ``CHANNEL``, the lower-cased channel): the column is NULL there instead
    of computed. Keyword tests search an event's whole text, the dearest columns by far; a key
    ``FULLTEXT`` guards the text itself.
    """
    names = sorted(set(keys))
    guards = guards or {}

    def column(k: str) -> str:
        guard = guards.get(k)
        return f"CASE WHEN {guard} THEN {flat_expr(k)} END" if guard else flat_expr(k)

    cols = "".join(f", {column(k)} AS {flat_column(k)}" for k in names)
    source = f"{table}{' WHERE ' + where if where else ''}"
    if guards:
        source = f"(SELECT *, lower({raw_key('Channel')}) AS {CHANNEL} FROM {source}) AS ch"
    if any(k.startswith(KEYWORD_PREFIX) for k in names):
        text = FULLTEXT_SQL
        if guards.get(FULLTEXT):
            text = f"CASE WHEN {guards[FULLTEXT]} THEN {FULLTEXT_SQL} END"
        source = f"(SELECT *, {text} AS {FULLTEXT} FROM {source}) AS ft"
        if any(k.startswith(KEYWORD_PREFIX) and LFULLTEXT in k for k in names):
            source = f"(SELECT *, lower({FULLTEXT}) AS {LFULLTEXT} FROM {source}) AS lft"
    return f"(SELECT *{cols} FROM {source}) AS flat"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    """A DuckDB string literal (backslashes are literal in DuckDB's standard strings)."""
    return "'" + text.replace("'", "''") + "'"
