"""Writes pipelines/data/forum.jsonl: forum posts with contact details and
page boilerplate mixed in, for the pii and lines pipelines.

The sentences come from pipelines/data/web_sample.jsonl; the emails, phone
numbers, addresses, cards and IBANs are made up (test card and IBAN numbers
from the issuers' documentation, addresses from the documentation ranges
and public resolvers). Seeded: the same file every time.

    python3 bench/gen_forum.py
"""
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
rng = random.Random(20261202)

sentences = []
for line in open(ROOT / "pipelines/data/web_sample.jsonl"):
    text = json.loads(line)["text"]
    for s in re.split(r"(?<=[.!?])\s+", text):
        s = s.strip()
        if 6 <= len(s.split()) <= 30 and s[-1] in ".!?" and "{" not in s:
            sentences.append(s)
sentences = sorted(set(sentences))

names = ["jane.doe", "m.rossi", "li.wei", "olga_k", "sam+lists", "a.nguyen", "p.okafor", "dev-team"]
hosts = ["mail.example.com", "example.org", "uni-example.edu", "corp.example.net"]
contact = [
    lambda: f"Mail me at {rng.choice(names)}@{rng.choice(hosts)} if it still fails.",
    lambda: f"You can reach support on +1 415-555-{rng.randrange(100, 9999):04d} during office hours.",
    lambda: f"Our office line is (212) 555-{rng.randrange(100, 9999):04d}, ask for the night desk.",
    lambda: f"From London call 020 7946 {rng.randrange(1000, 9999)} and press two.",
    lambda: f"The server at {rng.choice(['8.8.8.8', '1.1.1.1', '9.9.9.9', '208.67.222.222'])} answered, but 10.0.{rng.randrange(256)}.{rng.randrange(1, 255)} did not.",
    lambda: f"Ping 2606:4700:4700::{rng.choice(['1111', '1001'])} to test the IPv6 route.",
    lambda: "I paid with 4111 1111 1111 1111 and it was refused twice.",
    lambda: "Wire it to DE89 3704 0044 0532 0130 00 before Friday.",
    lambda: f"The logs are at https://paste.example.com/{rng.randrange(16**6):06x} for anyone curious.",
]
boiler = [
    "Home | Forum | Members",
    "This site uses cookies to improve your experience.",
    "Please enable JavaScript to post a reply.",
    "Read the rest of the thread here...",
    "Reply",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
]

rows = []
for i in range(400):
    lines = [" ".join(rng.sample(sentences, rng.randint(1, 3))) for _ in range(rng.randint(2, 5))]
    if rng.random() < 0.35:
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(contact)())
    if rng.random() < 0.3:
        lines.insert(0, rng.choice(boiler[:5]))
    if rng.random() < 0.2:
        lines.append(rng.choice(boiler[:5]))
    if rng.random() < 0.01:
        lines.append(boiler[5])
    rows.append({"id": i, "forum": rng.choice(["python", "rust", "ops"]), "text": "\n".join(lines)})
# The same post signed by different people: one row once the emails are redacted.
for k in range(12):
    body = rows[k * 7]["text"].split("\n")[0]
    rows.append({"id": 400 + k, "forum": "python", "text": f"{body}\nMail me at {names[k % len(names)]}@{hosts[k % len(hosts)]} if it still fails."})
    rows.append({"id": 450 + k, "forum": "python", "text": f"{body}\nMail me at {names[(k + 3) % len(names)]}@{hosts[(k + 1) % len(hosts)]} if it still fails."})
with open(ROOT / "pipelines/data/forum.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
print(len(rows), "rows")
