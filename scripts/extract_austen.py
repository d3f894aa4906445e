"""Extract Jane Austen's six novels from Debian's r-cran-janeaustenr into kbert's bundled corpus.

    apt-get install -y r-cran-janeaustenr
    python scripts/extract_austen.py            # writes kbert/data/corpus/austen.txt + LICENSE.md

The R package stores each novel as a character vector of printed lines (blank strings between
paragraphs) in a lazy-load database (data/Rdata.rdx index + data/Rdata.rdb zlib blobs); the `rdata`
package parses R's serialization. Output: one document per chapter, one paragraph per line,
documents separated by a blank line; title pages and front matter before the first chapter dropped.
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import zlib

NOVELS = [  # (object name, title, year) in publication order
    ("sensesensibility", "Sense and Sensibility", 1811),
    ("prideprejudice", "Pride and Prejudice", 1813),
    ("mansfieldpark", "Mansfield Park", 1814),
    ("emma", "Emma", 1815),
    ("northangerabbey", "Northanger Abbey", 1817),
    ("persuasion", "Persuasion", 1817),
]
DATA_DIR = "/usr/lib/R/site-library/janeaustenr/data"
OUT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kbert", "data", "corpus")
MAX_BYTES = 5_000_000
CHAPTER = re.compile(r"^(chapter|volume)\s+([0-9ivxlc]+|the first|the last)\b", re.I)

LICENSE = """# The bundled corpus: Jane Austen's novels

`austen.txt` holds the text of {titles} by Jane Austen (1775–1817), {n_chapters} chapters,
{size:,} bytes. One document per chapter, one paragraph per line, a blank line between chapters.

**Licence: public domain.** The novels were published between 1811 and 1817; their author died in 1817,
and the texts are in the public domain worldwide. The text comes from Project Gutenberg via the R package
`janeaustenr` by Julia Silge (MIT licence for the package code; the texts themselves are public domain),
as packaged by Debian in `r-cran-janeaustenr`. Extracted by `scripts/extract_austen.py`.
"""


def read_novels(data_dir=DATA_DIR) -> dict:
    import rdata

    index = rdata.read_rds(os.path.join(data_dir, "Rdata.rdx"))
    with open(os.path.join(data_dir, "Rdata.rdb"), "rb") as f:
        blob = f.read()
    novels = {}
    for name, (offset, length) in index["variables"].items():
        chunk = blob[int(offset):int(offset) + int(length)]
        (size,) = struct.unpack(">I", chunk[:4])
        raw = zlib.decompress(chunk[4:])
        assert len(raw) == size, name
        novels[str(name)] = [str(x) for x in rdata.conversion.convert(rdata.parser.parse_data(raw))]
    return novels


def chapters(lines: list[str]) -> list[str]:
    """Chapters as documents: paragraphs (blank-line separated in the source) one per line."""
    docs, paragraphs, para, started = [], [], [], False
    for line in lines + [""]:
        line = line.strip()
        if CHAPTER.match(line):
            if para:
                paragraphs.append(" ".join(para))
            if started and paragraphs:
                docs.append("\n".join(paragraphs))
            paragraphs, para, started = [], [], True
            continue
        if not started:
            continue
        if line:
            para.append(line)
        elif para:
            paragraphs.append(" ".join(para))
            para = []
    if para:
        paragraphs.append(" ".join(para))
    if paragraphs:
        docs.append("\n".join(paragraphs))
    return [d.replace("_", "") for d in docs if d.strip()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument("--out", default=OUT_DIR)
    args = p.parse_args(argv)
    if not os.path.isdir(args.data_dir):
        raise SystemExit(f"{args.data_dir} not found: apt-get install -y r-cran-janeaustenr")
    novels = read_novels(args.data_dir)
    docs, titles, total = [], [], 0
    for name, title, year in NOVELS:
        chs = chapters(novels[name])
        size = sum(len(c.encode()) + 2 for c in chs)
        if total + size > MAX_BYTES:
            print(f"skipping {title}: would exceed {MAX_BYTES} bytes")
            continue
        docs.extend(chs)
        titles.append(f"*{title}* ({year})")
        total += size
        print(f"{title}: {len(chs)} chapters, {size:,} bytes")
    os.makedirs(args.out, exist_ok=True)
    text = "\n\n".join(docs) + "\n"
    with open(os.path.join(args.out, "austen.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    names = ", ".join(titles[:-1]) + " and " + titles[-1] if len(titles) > 1 else titles[0]
    with open(os.path.join(args.out, "LICENSE.md"), "w", encoding="utf-8") as f:
        f.write(LICENSE.format(titles=names, n_chapters=len(docs), size=len(text.encode())))
    print(f"wrote {len(docs)} chapters, {len(text.encode()):,} bytes to {args.out}")


if __name__ == "__main__":
    main()
