"""The study's figures: each a table with its exact definition, from the store's answers
(store/study.py). Units are defined in report/study.py and docs/measurement.md."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aicensus.assess import Severity, assess
from aicensus.store import longitudinal as lon
from aicensus.store.study import (
    AUTH_STATES,
    INVENTORY_BINS,
    PARAM_BANDS,
    PERSISTENCE_BINS,
    PERSISTENCE_CLASSES,
    TIERS,
    StudyQueries,
)

Figure = dict[str, Any]

PARAM_BAND_DEFINITION = (
    "Band of floor(parameters in billions), from the model's parameter_count (else its "
    "parameter_size, e.g. '7.6B' → 7, '70.6B' → 70, '751.63M' → 0): <1B = 0, 1–3B = 1–3, "
    "4–7B = 4–7, 8–14B = 8–14, 15–34B = 15–34, 35–70B = 35–70, >70B = 71 and more. Share of "
    "hosts with at least one model in the band."
)
QUANT_CLASS_DEFINITION = (
    "Bit-width class of quantization_level: 4-bit = Q4_*, IQ4_*, MXFP4, INT4; 8-bit = Q8_*, "
    "FP8_* (e.g. FP8_E4M3), INT8; 16-bit = F16, BF16, FP16; 32-bit = F32; n-bit = Qn_*/IQn_* "
    "for n = 1, 2, 3, 5, 6; unknown = not reported. Share of (host, model) instances that "
    "report a quantization — the denominator is model instances, not hosts."
)
CAPABILITIES = ("completion", "tools", "vision", "thinking", "embedding", "insert")
EXACT_CAPABILITIES = ("completion", "tools")


def _share(part: float | int | None, whole: float | int | None) -> float | None:
    if not whole:
        return None
    return round((part or 0) / whole, 4)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def figure(
    fid: str,
    title: str,
    definition: str,
    columns: list[str],
    table: list[list[Any]],
    *,
    chart: str | None = None,
    label: int = 0,
    notes: list[str] | None = None,
) -> Figure:
    """One figure: a table whose column `chart` (a share 0–1) is drawn as bars."""
    return {
        "id": fid,
        "title": title,
        "definition": definition,
        "columns": columns,
        "rows": table,
        "chart": chart,
        "label": label,
        "notes": notes or [],
    }


# ---------------------------------------------------------------- hosts over time


def scale(q: StudyQueries, meta: dict[str, Any]) -> Figure:
    """The Scale figure; also records the window and counts in meta."""
    s = q.scale()
    days = (s.last.date() - s.first.date()).days + 1 if s.first and s.last else 0
    meta["window"] = {
        "first": s.first.isoformat() + "Z" if s.first else None,
        "last": s.last.isoformat() + "Z" if s.last else None,
        "days": days,
    }
    meta["counts"] = {"observations": s.observations, "hosts": s.hosts}
    asn_row = (
        ["ASNs", s.asns, "distinct AS numbers of unique hosts (ASN database below)"]
        if meta["enrichment"]["asn_numbers"]
        else [
            "ASNs (AS organisations)",
            s.as_orgs,
            "distinct AS organisations of unique hosts: the GeoIP database below gives no AS "
            "numbers, so ASNs of one organisation count once (give an ASN .mmdb for numbers)",
        ]
    )
    return figure(
        "scale",
        "Scale",
        "Counts over the population: identified AI services with a timestamp.",
        ["figure", "value", "definition"],
        [
            ["observations", s.observations,
             "stored observations of an identified service in the window"],
            ["unique hosts", s.hosts, "distinct IP addresses among those observations"],
            ["services", s.services, "distinct (IP, port) pairs"],
            ["host-days", s.host_days, "distinct (IP, UTC date) pairs with ≥1 observation"],
            ["window days", days, "days from the first to the last observation, both counted"],
            ["first observation", meta["window"]["first"], "earliest observed_at (UTC)"],
            ["last observation", meta["window"]["last"], "latest observed_at (UTC)"],
            ["countries", s.countries, "distinct countries of unique hosts (GeoIP, below)"],
            asn_row,
            _honeypot_row(meta),
            [
                "observations per host-day",
                round(s.observations / s.host_days, 3) if s.host_days else None,
                "scan cadence: observations / host-days (1.0 = at most one sighting a day)",
            ],
        ],
    )  # fmt: skip


def _honeypot_row(meta: dict[str, Any]) -> list[Any]:
    hp = meta.get("honeypots") or {}
    if hp.get("included"):
        return [
            "honeypot hosts (included)",
            hp.get("hosts", 0),
            "named honeypots, counted in every figure (--include-honeypots)",
        ]
    return ["honeypot hosts (left out)", hp.get("hosts_excluded", 0),
            "hosts the honeypot classifier names, left out of every figure "
            f"({hp.get('observations_excluded', 0)} observations); see meta.honeypots"]  # fmt: skip


def persistence(q: StudyQueries, rule: lon.PersistenceRule, window_days: int) -> list[Figure]:
    p = q.persistence(window_days)
    described = rule.describe()
    table = []
    for klass in PERSISTENCE_CLASSES:
        hosts, obs, days, _uptime = p.classes.get(klass, (0, 0, None, None))
        table.append(
            [
                klass.replace("_", " "),
                hosts,
                _share(hosts, p.hosts),
                int(obs or 0),
                _share(obs, p.observations),
                round(days, 2) if days is not None else None,
                described[klass],
            ]
        )
    classes = figure(
        "persistence",
        "Persistence classes",
        "Each host's observation count k_h over the window decides its class "
        f"(thresholds configurable: --once-max {rule.once_max_observations}, "
        f"--persistent-min {rule.persistent_min_observations}, --persistent-days "
        f"{rule.persistent_min_days}). Share of hosts, and the class's share of all "
        "observations. They depend on scan cadence; the host-day view below does not.",
        ["class", "hosts", "share of hosts", "observations", "share of observations",
         "mean days observed", "rule"],
        table,
        chart="share of hosts",
    )  # fmt: skip
    histogram = figure(
        "persistence_histogram",
        "Observations per host (k_h)",
        "Histogram of k_h, the number of observations of each host over the window: share of "
        "hosts and share of observations per bin.",
        ["k_h", "hosts", "share of hosts", "share of observations"],
        [
            [b, p.bins.get(b, (0, 0))[0], _share(p.bins.get(b, (0, 0))[0], p.hosts),
             _share(p.bins.get(b, (0, 0))[1], p.observations)]
            for b in PERSISTENCE_BINS
        ],
        chart="share of hosts",
    )  # fmt: skip
    cadence_free = figure(
        "host_days",
        "Cadence-free persistence (host-days)",
        "Host-day measures that do not depend on how often hosts were scanned.",
        ["figure", "value", "definition"],
        [
            ["mean availability over the window", _round(p.mean_window_availability),
             "mean over hosts of days observed / window days"],
            ["mean availability over the host's span", _round(p.mean_span_availability),
             "mean over hosts of days observed / days from its first to its last sighting"],
            ["median days observed", p.median_days,
             "median over hosts of distinct UTC days seen"],
        ],
    )  # fmt: skip
    return [classes, histogram, cadence_free]


def uptime_subset(q: StudyQueries, threshold: float) -> Figure:
    u = q.uptime_subset(threshold)
    return figure(
        "uptime_subset",
        "High-capability, high-availability subset",
        f"Hosts with ≥1 model advertising `tools` and uptime ≥ {threshold:.0%}, where uptime = "
        "days observed / days from first to last sighting, over hosts seen across at least 7 "
        "days. Mean running models = mean over their observations of models in /api/ps.",
        ["figure", "value"],
        [["hosts", u.hosts], ["mean uptime", _round(u.mean_uptime)],
         ["mean running models per observation", _round(u.mean_running, 2)]],
    )  # fmt: skip


def inventory(q: StudyQueries, hosts: int) -> list[Figure]:
    inv = q.inventory()
    return [
        figure(
            "models_per_host",
            "Models per host",
            "Per-host inventory = the largest number of models (/api/tags entries) listed in "
            "any one observation of the host (the maximum, not the latest); share of hosts per "
            "bin.",
            ["models", "hosts", "share of hosts"],
            [[b, inv.bins.get(b, 0), _share(inv.bins.get(b, 0), hosts)] for b in INVENTORY_BINS],
            chart="share of hosts",
        ),
        figure(
            "monthly",
            "By month",
            "Per UTC calendar month: mean models listed per observation, observations, unique "
            "hosts, and new hosts (first seen that month).",
            ["month", "mean models per observation", "observations", "hosts", "new hosts"],
            [[m, _round(a, 2), n, h, inv.first_seen.get(m, 0)] for m, a, n, h in inv.monthly],
        ),
    ]


def running(q: StudyQueries, hosts: int) -> Figure:
    r = q.running()
    return figure(
        "running",
        "Running share",
        "A model is running when the server lists it as loaded (Ollama /api/ps; Censys "
        "running_models).",
        ["figure", "value", "definition"],
        [
            ["running share (hosts)", _share(r.hosts, hosts),
             "hosts with ≥1 running model in ≥1 observation / hosts"],
            ["running share (observations)", _share(r.running_observations, r.observations),
             "observations with ≥1 running model / observations"],
            ["mean running models", _round(r.mean_running, 3),
             "mean over observations of running models"],
            ["mean running models when any", _round(r.mean_running_when_any, 3),
             "the same over observations with ≥1 running model"],
        ],
    )  # fmt: skip


# ---------------------------------------------------------------- networks


def tiers(q: StudyQueries, hosts: int) -> list[Figure]:
    t = q.tiers()
    table = []
    for tier in TIERS:
        n, obs, uptime, run, inv = t.tiers.get(tier, (0, None, None, None, None))
        table.append(
            [tier, n, _share(n, hosts), _round(obs, 1), _round(uptime), _round(run),
             _round(inv, 2)]
        )  # fmt: skip
    table.append(
        ["hyperscalers (within cloud/hosting)", t.hyperscaler_hosts,
         _share(t.hyperscaler_hosts, hosts), None, None, None, None]
    )  # fmt: skip
    found = figure(
        "tiers",
        "Infrastructure tiers",
        "Share of unique hosts by the tier of their network (AS), from the bundled table "
        "aicensus/enrich/data/asn_tiers.csv (by AS number, else organisation name, else the "
        "documented name rules; else unknown). Per tier: mean observations per host, mean "
        "uptime (days observed / span), running share (hosts with ≥1 running model in ≥1 "
        "observation) and mean inventory (max models listed in one observation). The last "
        "row, hyperscalers (AWS, Azure, Google Cloud, Alibaba Cloud, Tencent Cloud, Oracle, "
        "IBM Cloud, Huawei Cloud), is a subset of cloud/hosting, not a sixth tier.",
        ["tier", "hosts", "share of hosts", "mean observations", "mean uptime",
         "running share", "mean inventory"],
        table,
        chart="share of hosts",
        notes=["classified by " + ", ".join(f"{k}: {v}" for k, v in sorted(t.basis.items()))],
    )  # fmt: skip
    return [found]


def geography(q: StudyQueries, hosts: int, top: int) -> list[Figure]:
    return [
        figure(
            "countries",
            f"Top {top} countries",
            "Share of unique hosts by the country of their IP address (GeoIP database below).",
            ["country", "hosts", "share of hosts"],
            [[c, n, _share(n, hosts)] for c, n in q.top_countries(top)],
            chart="share of hosts",
        ),
        figure(
            "asns",
            f"Top {top} networks (ASNs)",
            "Share of unique hosts by network: the AS number when the database has it, else "
            "the AS organisation.",
            ["AS", "organisation", "tier", "hosts", "share of hosts"],
            [[k, o, t, n, _share(n, hosts)] for k, o, t, n in q.top_networks(top)],
            chart="share of hosts",
            label=0,
        ),
    ]


# ---------------------------------------------------------------- models


def families(q: StudyQueries, hosts: int, top: int) -> list[Figure]:
    f = q.families(top)
    table = [
        [fam, h, _share(h, hosts), o, _share(o, f.observations), d, _share(d, f.host_days),
         rh, ro, rd]
        for fam, h, o, d, rh, ro, rd in f.ranked
    ]  # fmt: skip
    top3 = f.top3
    ranked = figure(
        "families",
        f"Top {top} model families",
        "details.family (the GGUF architecture: llama, qwen2, gemma2 …, not the name prefix), "
        "weighted three ways: unique hosts with ≥1 model of the family; observations listing "
        "≥1 such model; host-days (host, UTC date) with ≥1 such observation. Shares are of all "
        "hosts, observations and host-days. Ranks per weighting.",
        ["family", "hosts", "share of hosts", "observations", "share of observations",
         "host-days", "share of host-days", "rank (hosts)", "rank (observations)",
         "rank (host-days)"],
        table,
        chart="share of hosts",
        notes=[
            "top 3 by hosts / observations / host-days: "
            + " | ".join(", ".join(t) for t in top3)
            + ("; identical (zero rank volatility)" if top3[0] == top3[1] == top3[2] else "")
        ],
    )  # fmt: skip
    multi = f.multi_family_hosts
    codeploy = figure(
        "codeployment",
        "Co-deployed family pairs",
        "Hosts serving ≥1 model of each of two families (over the window), among hosts with "
        "≥2 distinct families; share = pair hosts / multi-family hosts.",
        ["pair", "hosts", "share of multi-family hosts"],
        [[p, n, _share(n, multi)] for p, n in f.pairs],
        chart="share of multi-family hosts",
        notes=[f"multi-family hosts: {multi} ({_share(multi, hosts)} of hosts)"],
    )
    return [ranked, codeploy]


def attribution(q: StudyQueries, hosts: int, top: int) -> list[Figure]:
    instances = q.instances()
    out = []
    for by, title, fid in (
        ("developer", "Model developers", "developers"),
        ("country", "Model developers' countries", "developer_countries"),
    ):
        found = q.attribution(by, top)
        out.append(
            figure(
                fid,
                title,
                f"Attribution of each served model to its developer (and the developer's "
                f"country) by the provenance catalog (aicensus models whois). Share of hosts "
                f"with ≥1 model by that {by}, and share of (host, model) instances; "
                "'(unattributed)' = no catalog match; '(family only, developer unknown)' = only the "
                "model family the server reported matched (matched_by: family).",
                ["value", "hosts", "share of hosts", "instances", "share of instances"],
                [[k, h, _share(h, hosts), n, _share(n, instances)] for k, h, n in found],
                chart="share of hosts",
            )
        )
    return out


def quantization(q: StudyQueries, hosts: int, top: int) -> list[Figure]:
    found = q.quantization(top)
    return [
        figure(
            "quantization_hosts",
            f"Top {top} quantization levels (hosts)",
            "Share of hosts with ≥1 model whose details.quantization_level is the level "
            "(upper-cased).",
            ["quantization", "hosts", "share of hosts"],
            [[level, n, _share(n, hosts)] for level, n in found.levels],
            chart="share of hosts",
            notes=[
                "most common level per tier: "
                + "; ".join(f"{t}: {level} ({n} hosts)" for t, level, n in found.by_tier)
            ],
        ),
        figure(
            "quantization_bits",
            "Quantization bit-width (model instances)",
            QUANT_CLASS_DEFINITION,
            ["class", "instances", "share of instances with a quantization"],
            [[c, n, _share(n, found.reported)] for c, n in found.classes],
            chart="share of instances with a quantization",
        ),
    ]


def parameters(q: StudyQueries, hosts: int) -> Figure:
    found = q.parameter_bands()
    return figure(
        "parameter_bands",
        "Parameter-size bands",
        PARAM_BAND_DEFINITION,
        ["band", "hosts", "share of hosts"],
        [[b, found.get(b, 0), _share(found.get(b, 0), hosts)] for b in PARAM_BANDS],
        chart="share of hosts",
    )


def capabilities(q: StudyQueries, hosts: int) -> Figure:
    c = q.capabilities(CAPABILITIES, EXACT_CAPABILITIES)
    table = [[cap, n, _share(n, hosts), _share(n, c.with_data)] for cap, n in c.hosts.items()]
    table.append([f"exactly [{', '.join(EXACT_CAPABILITIES)}]", c.exact, _share(c.exact, hosts),
                  _share(c.exact, c.with_data)])  # fmt: skip
    return figure(
        "capabilities",
        "Capabilities",
        "Share of hosts with ≥1 model whose capabilities (Ollama POST /api/show) include the "
        "capability; 'exactly [completion, tools]' = a model whose capability set is exactly "
        "those two. Denominators: all hosts, and hosts where ≥1 model reported capabilities "
        "(old Ollama versions and Censys records carry none).",
        ["capability", "hosts", "share of hosts", "share of hosts with capability data"],
        table,
        chart="share of hosts",
        notes=[
            f"hosts with capability data: {c.with_data} ({_share(c.with_data, hosts)} of hosts)"
        ],
    )


# ---------------------------------------------------------------- exposure


def auth(q: StudyQueries, hosts: int) -> Figure:
    a = q.auth()
    return figure(
        "auth",
        "Authentication state",
        "open = the model/inference routes answered without credentials; auth_required = they "
        "asked for credentials; partial = some open, some protected; unknown = not decided. "
        "Share of hosts by the state of their latest observation, and share of observations.",
        ["auth", "hosts", "share of hosts", "observations", "share of observations"],
        [
            [s, a.latest.get(s, 0), _share(a.latest.get(s, 0), hosts),
             a.by_observation.get(s, 0), _share(a.by_observation.get(s, 0), a.observations)]
            for s in AUTH_STATES
        ],
        chart="share of hosts",
    )  # fmt: skip


def prompts(q: StudyQueries, hosts: int) -> Figure:
    p = q.prompts()
    return figure(
        "prompts",
        "System prompts and guardrails",
        "Visible system prompt = the server returned a non-empty `system` for the model "
        "(Ollama /api/show); guardrails removed = the provenance catalog marks the model as an "
        "abliterated or uncensored derivative. Lower bounds: prompts sent per request are "
        "invisible.",
        ["figure", "value", "share"],
        [
            ["hosts with a visible system prompt", p.prompt_hosts, _share(p.prompt_hosts, hosts)],
            ["models (instances) with a visible system prompt", p.prompt_instances,
             _share(p.prompt_instances, p.instances)],
            ["hosts serving a guardrails-removed model", p.guardrails_removed_hosts,
             _share(p.guardrails_removed_hosts, hosts)],
        ],
    )  # fmt: skip


def findings(q: StudyQueries, sample: int) -> Figure:
    found = q.latest_services(sample)
    counts: Counter[tuple[str, str, str]] = Counter()
    flagged: Counter[str] = Counter()
    for obs in found.latest:
        results = assess(obs)
        worst = max((f.severity.rank for f in results), default=-1)
        for severity in Severity:
            if worst >= severity.rank:
                flagged[str(severity)] += 1
        for key in {(f.id, str(f.severity), f.title) for f in results}:
            counts[key] += 1
    n = len(found.latest)
    table = [
        [fid, severity, title, c, _share(c, n)]
        for (fid, severity, title), c in sorted(
            counts.items(), key=lambda kv: (-Severity(kv[0][1]).rank, -kv[1], kv[0][0])
        )
    ]
    scope = (
        "every service" if n == found.services else f"a sample of {n} of {found.services} services"
    )
    return figure(
        "findings",
        "Findings",
        "aicensus findings (docs/findings.md) of the latest observation of each service (IP, "
        f"port); computed over {scope} (ordered by a hash of IP:port, so the sample is fixed). "
        "Share = services with the finding / services assessed.",
        ["finding", "severity", "title", "services", "share of services"],
        table,
        chart="share of services",
        notes=[
            "services with ≥1 finding at or above: "
            + ", ".join(f"{s}: {_share(flagged.get(str(s), 0), n)}" for s in Severity)
        ],
    )
