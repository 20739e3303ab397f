"""Build ``scenarios/history.yaml`` from the data beside this script.

    python scenarios/data/build_history.py           # write scenarios/history.yaml
    python scenarios/data/build_history.py --check   # exit 1 if the file is not what the data give

The history scenario's inputs come from data files with their sources: host countries' regime and
state capacity (``hosts.yaml``: EIU Democracy Index, V-Dem, WGI government effectiveness), donors'
aid budgets (``donors.yaml``: OECD DAC net ODA) and the timeline of crises and institutional
events (``crises.yaml``). The organisations, donors' tastes and hosts' baseline pressures are the
baseline's stylised values, named as such. No organisation's budget, membership or office count
is an input: those are what the run produces and ``migov validate history`` compares.

Every mapping from a published figure to a model attribute is a function below with its reason;
the generated file says which values are data and which are stylised.
"""

from __future__ import annotations

import sys
from pathlib import Path
from statistics import mean

import yaml

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parent
OUT = SCENARIOS / "history.yaml"

EUR_TO_USD = 1.1  # stylised: approximate average rate 2015-2023, for funds given in euros
FIELD_SHARE = 0.03  # hand-set: see the donors' comment in the generated file

# baseline names -> history names
BASELINE_DONORS = {"USA": "United States", "EU": "EU institutions", "Germany": "Germany", "UK": "United Kingdom",
                   "Nordics": ["Sweden", "Norway", "Denmark"], "Japan": "Japan", "Switzerland": "Switzerland"}
BASELINE_HOSTS = {"Türkiye": "Turkey"}

# Donors not in the baseline: stylised tastes (priorities and strategic regions) from each state's
# well-known neighbourhood and migration interests; choice weights at the defaults.
NEW_DONORS = {
    "France": {"earmarking": 0.6, "scale_preference": 0.55,
               "priorities": {"labour": 0.4, "protection": 0.5, "trafficking": 0.5, "border_return": 0.8,
                              "development": 0.7, "displacement": 0.5},
               "strategic_regions": {"North Africa": 0.8, "Sahel": 0.8, "West Africa": 0.6, "Middle East": 0.3}},
    "Italy": {"earmarking": 0.65, "scale_preference": 0.6,
              "priorities": {"labour": 0.3, "protection": 0.4, "trafficking": 0.5, "border_return": 1.0,
                             "development": 0.4, "displacement": 0.4},
              "strategic_regions": {"North Africa": 1.0, "Horn of Africa": 0.5, "Sahel": 0.4, "Western Balkans": 0.4}},
    "Netherlands": {"earmarking": 0.5, "scale_preference": 0.5,
                    "priorities": {"labour": 0.3, "protection": 0.6, "trafficking": 0.4, "border_return": 0.6,
                                   "development": 0.6, "displacement": 0.6},
                    "strategic_regions": {"Horn of Africa": 0.6, "Middle East": 0.5, "North Africa": 0.3}},
    "Canada": {"earmarking": 0.5, "scale_preference": 0.5,
               "priorities": {"labour": 0.4, "protection": 0.7, "trafficking": 0.4, "border_return": 0.2,
                              "development": 0.6, "displacement": 0.7},
               "strategic_regions": {"Latin America": 0.6, "Middle East": 0.5, "South Asia": 0.3}},
    "Australia": {"earmarking": 0.6, "scale_preference": 0.6,
                  "priorities": {"labour": 0.3, "protection": 0.4, "trafficking": 0.6, "border_return": 0.8,
                                 "development": 0.6, "displacement": 0.5},
                  "strategic_regions": {"Southeast Asia": 1.0, "South Asia": 0.6}},
}

# Baseline pressure profiles for regions the baseline does not have: stylised, by the regions'
# main migration issues in 1995 (labour emigration, trafficking, displacement, return).
ISSUES = ["labour", "protection", "trafficking", "border_return", "development", "displacement"]
REGION_PRESSURE = {
    "Western Balkans": [1.2, 0.8, 1.5, 1.0, 1.0, 1.2],
    "Central and Southern Africa": [1.0, 1.2, 0.8, 0.6, 2.0, 1.8],
    "South Asia": [2.0, 0.8, 1.5, 0.6, 1.8, 1.2],
    "Southeast Asia": [1.8, 0.8, 1.5, 0.6, 1.2, 0.8],
    "Latin America": [1.5, 0.8, 1.2, 1.0, 1.5, 0.8],
}

UN_SYSTEM = ("UNHCR", "ILO", "UNODC", "UNDP", "World Bank", "UN Women")  # IOM joins in 2016 (an event)

# crisis kinds -> the model's issue areas
KIND_ISSUE = {"displacement": "displacement", "disaster": "displacement",
              "migrant_crisis": "border_return", "mixed": "border_return"}

TRANSNATIONAL_NGOS = {  # stylised: branches of large international NGOs where they work in crises
    "NRC": ["Jordan", "Lebanon", "Iraq", "Somalia", "South Sudan", "Colombia", "Afghanistan", "Ukraine"],
    "IRC": ["Jordan", "Lebanon", "Syria", "Kenya", "Ethiopia", "DR Congo", "Pakistan", "Thailand"],
    "Save the Children": ["Bangladesh", "Yemen", "Sudan", "Niger", "Mali", "Haiti", "Philippines", "Guatemala"],
    "DRC": ["Turkey", "Libya", "Tunisia", "Kenya", "Uganda", "Myanmar", "Georgia", "Bosnia and Herzegovina"],
}


def load(name: str) -> dict:
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))


def authoritarian(entry: dict) -> float:
    """1 - democracy: the EIU Democracy Index (0-10) averaged over its years, scaled to 0-1; V-Dem's
    electoral democracy index (0-1) for the three countries the EIU does not rate."""
    eiu = [p["value"] for p in entry.get("regime") or [] if p.get("value") is not None]
    if eiu:
        return round(1.0 - mean(eiu) / 10.0, 3)
    vdem = [p["value"] for p in entry.get("regime_alt") or [] if p.get("value") is not None]
    return round(1.0 - mean(vdem), 3)


def capacity(entry: dict) -> float:
    """State capacity: WGI government effectiveness percentile rank (0-100), mean of its years, /100."""
    return round(mean(p["pctrank"] for p in entry["capacity"]) / 100.0, 3)


def host_entry(name: str, entry: dict, pressure: dict[str, float]) -> dict:
    a, c = authoritarian(entry), capacity(entry)
    return {
        "region": entry["region"],
        "authoritarian": a,
        "capacity": c,
        # modelling assumption: authoritarian regimes guard their sovereignty more (seed 000), and
        # states of low capacity want project money more
        "sovereignty": round(0.2 + 0.6 * a, 3),
        "pressure": pressure,
        "wants": {"money": round(0.3 + 0.6 * (1.0 - c), 3)},
    }


def pressures(baseline: dict, hosts: dict) -> dict[str, dict[str, float]]:
    """Each host's baseline pressure: its own in the baseline, else its baseline region's mean, else
    the stylised regional profile."""
    base = {BASELINE_HOSTS.get(h, h): spec for h, spec in baseline["hosts"].items()}
    by_region: dict[str, list[dict]] = {}
    for spec in base.values():
        by_region.setdefault(spec["region"], []).append(spec["pressure"])
    out = {}
    for name, entry in hosts.items():
        if name in base:
            out[name] = dict(base[name]["pressure"])
        elif entry["region"] in by_region:
            rows = by_region[entry["region"]]
            out[name] = {k: round(mean(r.get(k, 0.0) for r in rows), 2) for k in ISSUES}
        else:
            out[name] = dict(zip(ISSUES, REGION_PRESSURE[entry["region"]], strict=True))
    return out


def donors(baseline: dict, data: dict) -> dict:
    out = {}
    for old, new in BASELINE_DONORS.items():
        for name in [new] if isinstance(new, str) else new:
            spec = {k: v for k, v in baseline["donors"][old].items() if k not in ("envelope", "trend")}
            out[name] = spec
    for name, spec in NEW_DONORS.items():
        out[name] = {**spec, "familiarity": dict(out["Germany"]["familiarity"])}
    for name, spec in out.items():
        spec["strategic_regions"] = {r: w for r, w in spec.get("strategic_regions", {}).items()}
        spec["budget"] = [{"year": p["year"], "value": p["value"]} for p in data["donors"][name]["oda"]]
        spec["field_share"] = FIELD_SHARE
    return {name: out[name] for name in data["donors"]}


def ngos(hosts: dict) -> dict:
    out = {f"Local NGOs ({h})": {"host": h} for h in hosts}
    for org, places in TRANSNATIONAL_NGOS.items():
        for h in places:
            out[f"{org} ({h})"] = {"host": h, "capacity": 20.0, "efficiency": 0.62, "track_record": 0.5,
                                   "expertise": 0.6, "normative": 0.7}
    return out


def crisis_events(data: dict, hosts: dict) -> list[dict]:
    events = []
    for c in data["crises"]:
        if c.get("displaced_million") is None:
            continue  # no published count of people displaced (e.g. Iraq 2003): nothing to put in
        events.append({"type": "crisis", "at": c["start"], "hosts": [h for h in c["countries"] if h in hosts],
                       "issue": KIND_ISSUE[c["kind"]], "displaced": c["displaced_million"],
                       "note": f"{c['name']}: {c['displaced_million']:g} million displaced ({c['source']})"})
    return events


def gmg(data: dict) -> dict:
    """The Global Migration Group as the venue: founded by the Geneva Migration Group's agencies
    among the model's organisations (the founding date and members are data), admitting UN
    organisations by consensus (seed 004); its later membership is what the run produces."""
    founded = next(e for e in data["institutional_events"] if e["id"] == "geneva_migration_group_2003")
    members = [o for o in ("ILO", "IOM", "UNHCR", "UNODC") if o in founded["what"]]
    return {"name": "Global Migration Group", "start": founded["date"], "chair_period": 2, "members": members,
            "admission": "consensus", "un_only": True}


def institutional_events(data: dict) -> list[dict]:
    by_id = {e["id"]: e for e in data["institutional_events"]}
    eutf_total = by_id["eutf_state_of_play_2023"]["amount_eur_million"]
    frit_total = by_id["eu_turkey_statement_2016"]["amount_eur_million"]
    mptf = by_id["migration_mptf_2019"]["amount_usd_million"]
    return [
        {"type": "trust_fund", "name": "eutf_2015", "at": by_id["eutf_africa_2015"]["date"], "donor": "EU institutions",
         "amount": round(eutf_total * EUR_TO_USD / 32, 1), "duration": 32, "grants": 6,
         "issues": ["border_return", "protection", "displacement", "development"],
         "regions": ["North Africa", "Sahel", "West Africa", "Horn of Africa"],
         "note": "the EU Emergency Trust Fund for Africa opens (about EUR 5bn by 2023 over 32 quarters)"},
        {"type": "trust_fund", "name": "frit_2016", "at": "2016Q1", "donor": "EU institutions",
         "amount": round(frit_total * EUR_TO_USD / 16, 1), "duration": 16, "grants": 4,
         "issues": ["displacement", "protection", "development"], "hosts": ["Turkey"],
         "note": "the EU Facility for Refugees in Turkey (EUR 6bn in two tranches, 2016-2019)"},
        {"type": "un_system_entry", "name": "iom_joins_un_2016", "at": by_id["iom_joins_un_2016"]["date"],
         "organisation": "IOM",
         "note": "IOM joins the UN system as a related organisation (September 2016)"},
        {"type": "compact", "name": "gcm_2018", "at": by_id["gcm_adopted_2018"]["date"],
         "coordinator": "IOM", "authority": 0.3,
         "fund": round(mptf / 4, 1), "duration": 24,
         "note": "the Global Compact for Migration names IOM coordinator; the Migration MPTF follows"},
        {"type": "compact", "name": "gcr_2018", "at": by_id["gcr_affirmed_2018"]["date"],
         "coordinator": "UNHCR", "authority": 0.3,
         "indicator_weight": 0.0, "note": "the Global Compact on Refugees is affirmed, with UNHCR at its centre"},
    ]


def build() -> str:
    baseline = yaml.safe_load((SCENARIOS / "baseline.yaml").read_text(encoding="utf-8"))
    host_data, donor_data, crisis_data = load("hosts.yaml")["hosts"], load("donors.yaml"), load("crises.yaml")
    press = pressures(baseline, host_data)
    orgs = yaml.safe_load(yaml.safe_dump(baseline["organisations"], allow_unicode=True))
    for name, spec in orgs.items():
        spec["offices"] = [BASELINE_HOSTS.get(o, o) for o in spec.get("offices", [])]
        if name in UN_SYSTEM:
            spec["un_system"] = True
    scenario = {
        "title": "History: the field of migration governance, 1995-2025, from data",
        "summary": "70 host countries, 14 donors on their aid budgets, 33 crises and the field's institutional "
                   "events; budgets, memberships and offices are left to the mechanisms.",
        "narrative": (
            "The field as it was: from 1995 to 2025, fourteen donors whose aid budgets follow the OECD's "
            "records fund nine international organisations and hundreds of NGOs in seventy countries, "
            "whose regimes and state capacity come from published indices. The crises that moved money "
            "- Kosovo, Afghanistan, Darfur, the tsunami, Haiti, Libya, Syria, the Mediterranean, "
            "Venezuela, Ukraine, Sudan and others - arrive when they did, with the numbers of people "
            "they displaced; the EU's trust funds, the Global Migration Group and the compacts arrive "
            "on their dates. Nothing says how large any organisation becomes: compare what the "
            "mechanisms grow with the record (migov validate history)."),
        "watch": "IOM's and UNHCR's income and field locations against the record, who gains from each crisis, "
                 "and whose spending follows need and whose follows donors.",
        "sources": [
            {"seed": "EIU Democracy Index (via Our World in Data)", "passage": hosts_source("regime")},
            {"seed": "World Bank Worldwide Governance Indicators", "passage": hosts_source("capacity")},
            {"seed": "OECD DAC net ODA by donor",
             "passage": "donors' aid budgets 1995-2024, scenarios/data/donors.yaml"},
            {"seed": "UNHCR, OCHA and others",
             "passage": "crises and institutional events, scenarios/data/crises.yaml"},
            {"seed": "001_63b51afbea11493a.txt",
             "passage": "Project-based funding means that national offices are constantly busy expanding their "
                        "activities and developing new projects"},
            {"seed": "004_7707c8de1e078b7a.txt",
             "passage": "This results in a fragmented institutional picture, as there is no single agency in "
                        "charge of the cross-border movements of people."},
        ],
        "simulation": {"steps": 124, "start_year": 1995, "steps_per_year": 4, "spin_up": 20},
        "issue_sensitivity": baseline["issue_sensitivity"],
        "organisations": orgs,
        "donors": donors(baseline, donor_data),
        "hosts": {name: host_entry(name, entry, press[name]) for name, entry in host_data.items()},
        "ngos": ngos(host_data),
        "venue": gmg(crisis_data),
        "events": crisis_events(crisis_data, host_data) + institutional_events(crisis_data),
    }
    header = HEADER.format(field_share=FIELD_SHARE, eur=EUR_TO_USD)
    return header + yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True, width=110)


def hosts_source(key: str) -> str:
    return str(load("hosts.yaml")["indices"][key]["source"])


HEADER = """\
# GENERATED by scenarios/data/build_history.py from scenarios/data/{{hosts,donors,crises}}.yaml and the
# baseline: do not edit by hand; change the data or the script and run it again (a test checks).
#
# What is data (with sources in the data files): each host's region, regime (authoritarian =
# 1 - EIU Democracy Index / 10, mean of 2006, 2014, 2022; V-Dem for Kosovo, Somalia, South Sudan)
# and state capacity (WGI government effectiveness percentile / 100, mean of 2010 and 2020);
# each donor's aid budget (OECD DAC net ODA, USD billion a year; grant equivalent from 2018); each
# crisis's date, countries and people displaced; the trust funds' sizes (euros at {eur} USD) and the
# dates of the compacts, of the Global Migration Group (and its founding members) and of IOM's entry
# to the UN system.
# What is a modelling assumption: sovereignty = 0.2 + 0.6 x authoritarian; wants.money = 0.3 + 0.6 x
# (1 - capacity); crisis kinds map to issues (displacement and disasters -> displacement; migrant
# crises and mixed flows -> border_return).
# What is stylised: the organisations (the baseline's), donors' tastes (the baseline's, the Nordics'
# for Sweden, Norway and Denmark; new donors by their neighbourhoods), hosts' baseline pressures
# (the baseline's, its regional means, or regional profiles), the NGOs. field_share = {field_share}
# for every donor is hand-set: the order of the share of DAC aid that went to the field's agencies
# around 1995 (UNHCR alone about USD 1bn of about USD 59bn); formal calibration is issue 13.
# Known gap: EU institutions' ODA has no data before 2006, so their budget is held at 2006's before.
"""


def main(argv: list[str]) -> int:
    text = build()
    if "--check" in argv:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == text
        print("history.yaml is up to date" if same else "history.yaml differs from what the data give")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
