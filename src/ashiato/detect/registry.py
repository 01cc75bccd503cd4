"""Every detector, listed in one place. A detector's id is its module path under ``detectors``."""

from __future__ import annotations

from ashiato.detect.detectors.exfil import outbound_volume
from ashiato.detect.detectors.fanout import credential_fanout, failure_burst
from ashiato.detect.detectors.lateral import hop_chain
from ashiato.detect.detectors.novelty import dormant_account, first_seen_privileged_cross_site
from ashiato.detect.detectors.privilege import off_hours, service_account_interactive
from ashiato.detect.detectors.segmentation import policy_violation
from ashiato.detect.detectors.travel import concurrent_sites
from ashiato.detect.spec import DetectorModule

DETECTORS: tuple[DetectorModule, ...] = (
    policy_violation,
    first_seen_privileged_cross_site,
    credential_fanout,
    failure_burst,
    outbound_volume,
    service_account_interactive,
    hop_chain,
    off_hours,
    concurrent_sites,
    dormant_account,
)


def by_id(detector_id: str) -> DetectorModule:
    for d in DETECTORS:
        if d.SPEC.id == detector_id:
            return d
    raise KeyError(detector_id)
