"""Every tunable rate of the simulator in one place, each with its basis or an UNCONFIRMED label.

The benign model is calibrated against the design note ``simulation-realism.md`` (LANL shapes scaled
to our estate). Values with no citable source are design choices and are marked **UNCONFIRMED**, as
that guide requires; change them here, never inline in the behaviour modules.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- diurnal profiles (index = local hour); normalised where they are used -----------------------

#: Interactive logons per local hour on a workday: a sharp 08:00-10:00 rush (MS ACS sizing example:
#: 40% of a DC's daily events fall in 07:30-10:00 [M1]); the tail is re-logons after lunch/locks.
LOGON_PROFILE: tuple[float, ...] = (
    0,
    0,
    0,
    0,
    0,
    0.002,
    0.01,
    0.07,
    0.36,
    0.2,
    0.07,
    0.04,
    0.03,
    0.07,
    0.035,
    0.025,
    0.02,
    0.015,
    0.01,
    0.006,
    0.004,
    0.002,
    0.001,
    0,
)

#: Human network work (shares, servers, web) per local hour on a workday. UNCONFIRMED shape: morning
#: peak, lunch dip, afternoon plateau, a little overtime.
WORK_PROFILE: tuple[float, ...] = (
    0.001,
    0.001,
    0.001,
    0.001,
    0.001,
    0.002,
    0.006,
    0.03,
    0.16,
    0.15,
    0.12,
    0.1,
    0.045,
    0.1,
    0.1,
    0.09,
    0.075,
    0.05,
    0.025,
    0.012,
    0.008,
    0.005,
    0.003,
    0.002,
)


@dataclass(frozen=True)
class Rates:
    """Rates of every benign behaviour; see the field comments for basis or UNCONFIRMED."""

    # -- humans -------------------------------------------------------------------------------
    logons_per_user_workday: float = 1.2  # interactive logons incl. re-logons; UNCONFIRMED
    net_access_per_user_workday: float = 8.0  # network logons to servers/shares; UNCONFIRMED
    web_flows_per_user_workday: float = 1.6  # internet flows seen by the sensor; UNCONFIRMED
    offday_human_factor: float = 0.03  # weekend/holiday human activity vs a workday; UNCONFIRMED
    p_new_edge: float = 0.011  # per access: a host new to this user (C1 target 0.04-0.20/weekday)
    p_new_colleague: float = 0.3  # a new edge is a colleague's PC rather than a server; UNCONFIRMED
    p_tgs: float = 0.3  # a network logon needs a new service ticket (tickets live 10 h) [L4 ratio]
    p_ntlm: float = 0.15  # network logon by NTLM (legacy apps, IP-addressed shares) [L3, L7]
    p_logon_typo: float = 0.05  # interactive logon preceded by a bad password; UNCONFIRMED
    p_network_fail: float = 0.01  # network logon failing (wrong cached creds); UNCONFIRMED
    p_lockout_user_day: float = 0.004  # a user locks themselves out on a workday [L7 lockout share]
    files_per_share_access: float = 1.6  # mean 5145 objects per share session; UNCONFIRMED
    p_customer_share: float = (
        0.12  # share accesses that go to CustomerData (sales users) UNCONFIRMED
    )

    # -- machine accounts (60% of auth events at LANL [L3]; 50% in 2017 [L7]) ---------------------
    machine_dc_logons_per_host_hour: float = 0.55  # SYSVOL/GPO/LDAP binds as HOST$
    machine_tgs_per_host_hour: float = 0.12
    machine_tgt_per_host_hour: float = 0.1  # one TGT per ~10 h
    ws_night_power: float = 0.55  # share of workstations powered on off-hours; UNCONFIRMED
    p_machine_ntlm: float = 0.1  # machine logons by NTLM (IP-addressed SYSVOL, legacy); UNCONFIRMED
    p_machine_fail: float = 0.002  # broken secure channel: HOST$ pre-auth fails; UNCONFIRMED

    # -- service accounts and operations (UNCONFIRMED densities; see realism §1a) ----------------
    scan_fraction_per_night: float = 1 / 7  # vulnerability scanner covers the estate weekly
    stale_cred_per_1k_terminals_hour: float = 6.0  # old scripts with stale passwords; UNCONFIRMED.
    # Together with typos and lockouts this gives the 1.2% failure floor of [L4] (check C9).
    app_db_logons_per_hour: float = 6.0  # app servers -> databases as svc-app
    sched_tasks_per_server_day: float = 1.0  # 4648 by SYSTEM running a task as a service account

    # -- privileged humans ---------------------------------------------------------------------
    da_sessions_per_hour: float = 2.0  # per Domain Admin in JP working hours; UNCONFIRMED
    hd_sessions_per_hour: float = 4.0  # per help-desk account in its working hours; UNCONFIRMED
    site_admin_sessions_per_hour: float = 1.0  # UNCONFIRMED
    p_admin_overseas: float = 0.15  # DA session that targets an overseas host; UNCONFIRMED
    p_admin_rdp: float = 0.04  # admin session by RDP (type 10) instead of SMB/WinRM; UNCONFIRMED
    p_admin_after_hours: float = 0.06  # DA activity level in JP evening hours; UNCONFIRMED
    trips_per_30_days: float = 3.0  # JP admin business trips to an overseas office; UNCONFIRMED

    # -- hard negatives: IT operations that look like an intruder (realism §2.9, check C4) ---------
    # An IT migration week: departments move to new file servers (jp-osa-nfsNN) over a few working
    # days, so thousands of first-seen (user, host) edges appear at once. LANL days 127-133 had
    # 6-7x the median new edges for a week [L6]; the shares below aim for >= 4x. UNCONFIRMED values.
    migration_start_frac: float = 0.45  # first day (fraction of the run; next Monday if it fits)
    migration_workdays: int = 2  # days over which the users are moved
    migration_user_share: float = 0.8  # share of (non-new-office) users moved
    migration_servers_per_user: int = 3  # new servers a moved user maps (first-seen edges each)
    # A new office goes live mid-run: its hosts and users are silent before that day. UNCONFIRMED.
    new_office_online_frac: float = 0.5

    # -- network sensor (UNCONFIRMED: no public per-host conn.log volume, realism §1e) ------------
    p_flow_machine: float = 0.25  # a machine auth's connection is new (not reused) and logged
    p_flow_intra_server: float = 0.05  # sample of intra-site server flows kept
    server_cloud_flows_per_hour: float = 0.4  # per server, to cloud ranges, 24/7
    bytes_pareto_share: float = 0.04  # flows drawn from the Pareto tail [N1, N2]
    bytes_pareto_alpha: float = 1.1


#: Estate constants. One DC per 5,000 terminals is a design choice: UNCONFIRMED.
DC_PER_TERMINALS = 5000  # one domain controller per 5,000 terminals, at least 2
DOMAIN_SID = "S-1-5-21-3623811015-3361044348-30300820"
DOMAIN = "CORP"
REALM = "CORP.EXAMPLE.CO.JP"
FQDN_SUFFIX = ".corp.example.co.jp"
