"""Name pools for simulated people and customers (fictional; common surnames per country)."""

from __future__ import annotations

# fmt: off
SURNAMES: dict[str, list[str]] = {
    "JP": ["suzuki", "tanaka", "sato", "takahashi", "watanabe", "ito", "yamamoto", "nakamura",
           "kobayashi", "kato", "yoshida", "yamada", "sasaki", "yamaguchi", "matsumoto", "inoue",
           "kimura", "hayashi", "shimizu", "mori", "ikeda", "abe"],
    "TH": ["srisuk", "chaiyaporn", "wongsa", "boonmee", "saetang", "kittisak", "rattana",
           "somsak", "thongdee", "phromma", "sukjai", "charoen"],
    "ID": ["santoso", "wijaya", "hidayat", "saputra", "kurniawan", "pratama", "setiawan",
           "nugroho", "siregar", "halim", "gunawan", "lestari"],
    "PH": ["santos", "reyes", "cruz", "bautista", "ocampo", "garcia", "mendoza", "torres",
           "villanueva", "ramos", "aquino", "delacruz"],
    "VN": ["nguyen", "tran", "le", "pham", "hoang", "phan", "vu", "dang", "bui", "do", "ho",
           "ngo"],
}
CUST_A: list[str] = ["Aster", "Borealis", "Cedar", "Delta", "Everest", "Falcon", "Granite",
                     "Harbor", "Iris", "Juniper", "Kestrel", "Lotus"]
CUST_B: list[str] = ["Motors", "Foods", "Trading", "Electronics", "Logistics", "Chemicals",
                     "Retail", "Medical", "Energy", "Textiles"]
# fmt: on
