"""Checks a `sift report` page against the report's JSON.

    python report_check.py PAGE.html REPORT.json one|diff

The page must parse as HTML5 without a single parse error (html5lib in
strict mode), hold every section, load nothing from outside, run no
script, and every chart must hold the numbers of the JSON. Prints what it
checked as one JSON line; exits non-zero (with the reason) on any mismatch.
"""

import json
import sys

import html5lib

SVG = "{http://www.w3.org/2000/svg}"


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def charts(root, name, **attrs):
    out = []
    for svg in root.iter(SVG + "svg"):
        if svg.get("data-chart") != name:
            continue
        if all(svg.get("data-" + k) == str(v) for k, v in attrs.items()):
            out.append(svg)
    return out


def bars(svg):
    """{(key, series): value} of a bar chart."""
    return {
        (r.get("data-key"), r.get("data-series")): int(r.get("data-value"))
        for r in svg.iter(SVG + "rect")
        if r.get("data-value") is not None
    }


def bins(svg):
    """{series: [counts by bin]} of a histogram."""
    out = {}
    for r in svg.iter(SVG + "rect"):
        if r.get("data-bin") is None:
            continue
        s = out.setdefault(r.get("data-series"), {})
        s[int(r.get("data-bin"))] = int(r.get("data-value"))
    return {k: [v[i] for i in sorted(v)] for k, v in out.items()}


def one_chart(root, name, **attrs):
    found = charts(root, name, **attrs)
    if len(found) != 1:
        fail(f"expected one chart {name} {attrs}, found {len(found)}")
    return found[0]


def expect(what, got, want):
    if got != want:
        fail(f"{what}: the page has {got!r}, the JSON {want!r}")


def check_metrics(root, quality, checked):
    for m in quality["metrics"]:
        svg = one_chart(root, "metric", metric=m["name"])
        expect(f"metric {m['name']}", bins(svg), m["counts"])
        lines = sorted(float(l.get("data-value")) for l in svg.iter(SVG + "line") if l.get("class") == "threshold")
        expect(f"thresholds of {m['name']}", lines, sorted(t["value"] for t in m["thresholds"]))
        checked["charts"] += 1


def check_one(root, r, checked):
    nodes = [
        (g.get("data-id"), int(g.get("data-rows")))
        for g in one_chart(root, "lineage").iter(SVG + "g")
        if g.get("class") == "node"
    ]
    expect("lineage", nodes, [(n["id"], n["rows"]) for n in r["lineage"]])
    checked["charts"] += 1
    if r["funnel"]:
        got = bars(one_chart(root, "funnel"))
        want = {}
        for f in r["funnel"]:
            want[(str(f["stage"]), "rows in")] = f["rows_in"]
            want[(str(f["stage"]), "rows out")] = f["rows_out"]
        expect("funnel", got, want)
        checked["charts"] += 1
    for f in r["funnel"]:
        removed = {k: v for k, v in f["removed"].items() if v > 0}
        if removed and not f.get("dedup"):
            got = bars(one_chart(root, "removed", stage=f["stage"]))
            expect(f"removed by stage {f['stage']}", got, {(k, "removed"): v for k, v in removed.items()})
            checked["charts"] += 1
        if f.get("dedup") and f["dedup"]["histogram"]:
            got = bars(one_chart(root, "clusters", stage=f["stage"]))
            expect("cluster sizes", got, {(k, "clusters"): v for k, v in f["dedup"]["histogram"].items()})
            checked["charts"] += 1
        if f.get("balance"):
            got = bars(one_chart(root, "classes", stage=f["stage"]))
            want = {}
            for c, n in f["balance"].items():
                want[(c, "before")] = n["before"]
                want[(c, "after")] = n["after"]
            expect("classes", got, want)
            checked["charts"] += 1
    for c in r["columns"]["columns"]:
        for h in c["histograms"]:
            svg = one_chart(root, "column", column=c["name"], of=h["of"])
            expect(f"column {c['name']} {h['of']}", bins(svg), {"sample": h["counts"]})
            checked["charts"] += 1
        if c["top"]:
            got = bars(one_chart(root, "top", column=c["name"]))
            expect(f"top values of {c['name']}", got, {(t["value"], "rows"): t["count"] for t in c["top"]})
            checked["charts"] += 1
    check_metrics(root, r["quality"], checked)
    rules = [
        (h.get("data-stage"), h.get("data-rule"))
        for h in root.iter("h3")
        if h.get("data-rule") is not None
    ]
    expect("sampled rules", rules, [(str(s["stage"]), s["rule"]) for s in r["samples"]["rules"]])
    pairs = [d for d in root.iter("div") if d.get("class") == "pair" and d.get("data-jaccard")]
    expect("dedup pairs", len(pairs), len(r["samples"]["clusters"]))


def check_diff(root, r, checked):
    d = r["diff"]
    want = {
        ("unchanged", "rows"): d["rows"]["unchanged"],
        ("added", "rows"): d["rows"]["added"],
        ("removed", "rows"): d["rows"]["removed"],
    }
    if d.get("keys"):
        want[("modified", "rows")] = d["keys"]["modified"]
    expect("rows", bars(one_chart(root, "rows")), want)
    checked["charts"] += 1
    if d.get("labels"):
        want = {}
        for c, n in d["labels"]["classes"].items():
            want[(c, "A")] = n["a"]
            want[(c, "B")] = n["b"]
        expect("labels", bars(one_chart(root, "labels")), want)
        checked["charts"] += 1
    check_metrics(root, r["quality"], checked)


def main():
    page, report, kind = sys.argv[1:4]
    text = open(page, encoding="utf-8").read()
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    try:
        root = parser.parse(text)
    except html5lib.html5parser.ParseError as e:
        fail(f"not valid HTML5: {e}")
    r = json.load(open(report, encoding="utf-8"))
    sections = [s.get("id") for s in root.iter("section")]
    want = (
        ["identity", "funnel", "columns", "quality", "samples"]
        if kind == "one"
        else ["identity", "changes", "classes", "schema", "quality"]
    )
    expect("sections", sections, want)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag.endswith("script"):
            fail("the page runs a script")
        for attr in ("src", "href"):
            v = el.get(attr)
            if v is not None and not v.startswith("#"):
                fail(f"the page loads {v}")
    checked = {"sections": len(sections), "charts": 0}
    (check_one if kind == "one" else check_diff)(root, r, checked)
    print(json.dumps(checked))


main()
