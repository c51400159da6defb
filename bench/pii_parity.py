"""PII parity with datatrove: writes tests/data/pii_cases.jsonl (hand-made
edge cases plus the forum sample) and, through datatrove's own
PIIFormatter with one placeholder each, tests/data/pii_datatrove.jsonl,
which tests/it/transform.rs compares with sift's pii stage
(entities = ["email", "ipv4"]).

    bench/.venv/bin/python bench/pii_parity.py   # needs datatrove in the venv
"""
import json
import sys
from pathlib import Path

from datatrove.pipeline.formatters.pii import PIIFormatter

ROOT = Path(__file__).resolve().parent.parent
cases = [
    "Write to jane.doe@example.com today.",
    "Two: a@b.co and first.last+tag@sub.domain.example.org.",
    "Odd local parts: o'brien@example.ie, x_y=z@example.net, {braces}@example.com.",
    "Bracketed: admin@[192.168.1.1] and root@[8.8.8.8].",
    "Not emails: @handle, user@, a@b, mail at example dot com.",
    "Trailing dot: me@example.com. Hyphen host: me@my-host.example.",
    "Unicode before: café@example.com and Zoë@example.com.",
    "Public DNS 8.8.8.8, 1.1.1.1 and 9.9.9.9 answered.",
    "Private 10.0.0.1, 172.16.5.4, 192.168.0.10 and loopback 127.0.0.1 stay.",
    "Shared space 100.64.0.1 and link-local 169.254.1.1 stay.",
    "Documentation 192.0.2.1, 198.51.100.7 and 203.0.113.9 stay.",
    "192.0.0.9 and 192.0.0.10 are global; 192.0.0.170 is not (in any Python).",
    "Multicast 224.0.0.1 and 239.255.255.250, broadcast 255.255.255.255.",
    "Reserved 240.0.0.1 and this-network 0.1.2.3.",
    "Leading zeros 01.02.03.04 and 8.8.8.08 do not parse.",
    "Longer numbers: 1234.5.6.7, 8.8.8.8.8, v1.2.3.45 and 300.1.1.1.",
    "Version 2.10.3.4 of the tool shipped, see 10.10.10.10:8080.",
    "Glued: ip=8.8.4.4;next and (1.0.0.1) and [208.67.222.222].",
    "Email then IP: ops@8.8.8.8.example.com and ping 8.8.8.8.",
    "No personal data here at all.",
]
for line in open(ROOT / "pipelines/data/forum.jsonl"):
    cases.append(json.loads(line)["text"])

pii = PIIFormatter(email_replacement="<EMAIL>", ip_replacement="<IP_ADDRESS>")
with open(ROOT / "tests/data/pii_cases.jsonl", "w") as a, open(ROOT / "tests/data/pii_datatrove.jsonl", "w") as b:
    for i, text in enumerate(cases):
        a.write(json.dumps({"id": i, "text": text}) + "\n")
        b.write(json.dumps({"id": i, "text": pii.format(text)}) + "\n")
print(len(cases), "cases, python", sys.version.split()[0], file=sys.stderr)
