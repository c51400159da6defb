"""Reads gen_corpus.py JSONL on stdin and writes it with personal data and
broken text mixed in: about 2% of the documents get an email, phone number,
public IP address or card number; about 1% get CRLF line endings and a
mojibake character. Seeded by each document's id.

    python3 bench/gen_corpus.py --bytes 1000000000 --seed 1 | python3 bench/add_pii.py > big.jsonl
"""
import json
import sys
import zlib

EXTRA = [
    "Write to j.doe{0}@mail.example.com for the minutes.",
    "Call +1 415-555-{0:04d} after six.",
    "The mirror at 93.184.{1}.{2} was down again.",
    "Card 4111 1111 1111 1111 was refused.",
]
for line in sys.stdin:
    row = json.loads(line)
    h = zlib.crc32(str(row["id"]).encode())
    if h % 50 == 0:
        row["text"] += " " + EXTRA[h // 50 % 4].format(h % 10000, h % 256, h // 256 % 256)
    elif h % 100 == 1:
        row["text"] = row["text"].replace("\n", "\r\n").replace("e", "\u00c3\u00a9", 1)
    sys.stdout.write(json.dumps(row) + "\n")
