"""Every detector, listed in one place. A detector's id is its module path under ``detectors``."""

from __future__ import annotations

from ashiato.detect.detectors.exfil import (
    beaconing,
    bulk_collection,
    new_external_destination,
    outbound_volume,
)
from ashiato.detect.detectors.fanout import credential_fanout, failure_burst
from ashiato.detect.detectors.lateral import hop_chain
from ashiato.detect.detectors.novelty import (
    dormant_account,
    first_seen_privileged_cross_site,
    rare_access,
)
from ashiato.detect.detectors.privilege import (
    explicit_credentials,
    ntlm_where_kerberos,
    off_hours,
    rdp_network_only,
    service_account_interactive,
    service_account_new_source_class,
    ticket_without_tgt,
)
from ashiato.detect.detectors.segmentation import policy_violation
from ashiato.detect.detectors.technique import samaccountname_spoofing
from ashiato.detect.detectors.travel import concurrent_sites
from ashiato.detect.spec import DetectorModule

DETECTORS: tuple[DetectorModule, ...] = (
    policy_violation,
    first_seen_privileged_cross_site,
    rare_access,
    credential_fanout,
    failure_burst,
    outbound_volume,
    new_external_destination,
    beaconing,
    bulk_collection,
    service_account_interactive,
    ntlm_where_kerberos,
    rdp_network_only,
    explicit_credentials,
    hop_chain,
    off_hours,
    concurrent_sites,
    dormant_account,
    service_account_new_source_class,
    ticket_without_tgt,
    samaccountname_spoofing,
)


def by_id(detector_id: str) -> DetectorModule:
    for d in DETECTORS:
        if d.SPEC.id == detector_id:
            return d
    raise KeyError(detector_id)
