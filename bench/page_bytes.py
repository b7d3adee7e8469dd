#!/usr/bin/env python3
"""The page's bytes over the wire: `GET /` and every asset it loads (the
scripts and style it names, and every module those import), fetched as a
browser does (asking for gzip) and uncompressed.

Usage: bench/page_bytes.py BASE_URL   prints "COMPRESSED RAW FILES"
"""
import gzip
import re
import sys
import urllib.request

base = sys.argv[1].rstrip("/")


def fetch(path, compressed):
    request = urllib.request.Request(base + path)
    if compressed:
        request.add_header("Accept-Encoding", "gzip")
    with urllib.request.urlopen(request) as response:
        body = response.read()
        encoding = response.headers.get("Content-Encoding", "")
    text = gzip.decompress(body) if encoding == "gzip" else body
    return len(body), text.decode("utf-8", "replace")


def named(text):
    found = re.findall(r'(?:src|href)="(/static/[^"]+)"', text)
    found += ["/static/" + name for name in re.findall(r"(?:from|import) '\./([^']+)'", text)]
    return found


seen, queue, wire, raw = set(), ["/"], 0, 0
while queue:
    path = queue.pop()
    if path in seen:
        continue
    seen.add(path)
    size, text = fetch(path, True)
    wire += size
    raw += fetch(path, False)[0]
    queue.extend(named(text))
print(wire, raw, len(seen))
