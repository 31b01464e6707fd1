#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets into fuzz/corpus/<target>/ (generated at run time,
never checked in): responses from the lab routes and the wire test tables, nginx/PHP-FPM/Apache
files from the lint corpus, log lines from the signature reference, the edge's TOML examples."""
import hashlib, pathlib, re, sys

root = pathlib.Path(__file__).resolve().parent.parent
out = root / "fuzz" / "corpus"

def rust_bytes(lit):
    """Unescapes the body of a Rust (byte) string literal."""
    lit = re.sub(r"\\\n\s*", "", lit)
    b, i = bytearray(), 0
    simple = {"r": 13, "n": 10, "t": 9, "0": 0, "\\": 92, '"': 34, "'": 39}
    while i < len(lit):
        c = lit[i]
        if c == "\\" and i + 1 < len(lit):
            n = lit[i + 1]
            if n in simple:
                b.append(simple[n]); i += 2; continue
            if n == "x":
                b.append(int(lit[i + 2:i + 4], 16)); i += 4; continue
            if n == "u":
                end = lit.index("}", i)
                b += chr(int(lit[i + 3:end], 16)).encode(); i = end + 1; continue
        b += c.encode()
        i += 1
    return bytes(b)

def literals(path, must):
    text = path.read_text(errors="replace")
    for m in re.finditer(r'b?"((?:[^"\\]|\\.|\\\n)*)"', text, re.S):
        body = m.group(1)
        if must(body):
            try:
                yield rust_bytes(body)
            except (ValueError, IndexError):
                pass

def write(target, items, limit=300):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    seen = 0
    for data in items:
        if not data or seen >= limit:
            continue
        (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)
        seen += 1
    return seen

def rs(*globs):
    for g in globs:
        yield from sorted(root.glob(g))

responses = []
for p in rs("crates/lab/src/*.rs", "crates/wire/tests/*.rs", "crates/wire/src/*.rs"):
    responses += list(literals(p, lambda s: s.startswith("HTTP/") or s.startswith("\\r\\nHTTP")))
chunk_bodies = []
for p in rs("crates/wire/src/chunked.rs", "crates/wire/tests/*.rs"):
    chunk_bodies += list(literals(p, lambda s: re.match(r"^[0-9a-fA-F]+[;\\ \t]", s) is not None))

counts = {}
# wire_reader: 5 control bytes (end event and request, split points) before the bytes.
counts["wire_reader"] = write("wire_reader", (bytes([k % 4, 60, 120, 180, 240]) + r for k, r in enumerate(responses)))
counts["wire_chunked"] = write("wire_chunked", (bytes([85, 170]) + c for c in chunk_bodies + [r.split(b"\r\n\r\n", 1)[-1] for r in responses if b"chunked" in r.lower()]))
import gzip, zlib
plain = b"<html>" + b"hello origin " * 50 + b"</html>"
enc = [bytes([0]) + gzip.compress(plain), bytes([1]) + zlib.compress(plain),
       bytes([1]) + zlib.compress(plain)[2:-4], bytes([0]) + gzip.compress(plain)[:40],
       bytes([4]) + gzip.compress(b""), bytes([2]) + b"\x0b\x02\x80hello\x03"]
counts["wire_encoding"] = write("wire_encoding", enc)
requests = [b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc",
            b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive, x-a\r\nX-A: 1\r\nUpgrade: websocket\r\n\r\n",
            b"GET / HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"]
smuggling = root / "crates/cli/tests/data/smuggling.tsv"
if smuggling.exists():
    for line in smuggling.read_text(errors="replace").splitlines():
        for col in line.split("\t"):
            if re.match(r"^[A-Z]+ \S+ HTTP/", col):
                requests.append(col.encode().decode("unicode_escape").encode("latin-1", "replace"))
counts["edge_request"] = write("edge_request", requests)
tomls = []
for p in rs("crates/edge/src/file.rs", "crates/cli/tests/edge*.rs"):
    tomls += list(literals(p, lambda s: "[[origin]]" in s or "url =" in s))
tomls += [m.encode() for m in re.findall(r"```toml\n(.*?)```", (root / "crates/edge/README.md").read_text(), re.S)]
counts["edge_config"] = write("edge_config", tomls)
counts["lint_nginx"] = write("lint_nginx", (p.read_bytes() for p in rs("crates/lint/tests/corpus/nginx/**/*.conf")))
counts["lint_fpm_apache"] = write("lint_fpm_apache", (p.read_bytes() for p in rs("crates/lint/tests/corpus/fpm/**/*.conf", "crates/lint/tests/corpus/apache/**/*.conf")))
logs = re.findall(r"`([^`\n]{12,})`", (root / "docs/reference/log-signatures.md").read_text(errors="replace"))
counts["logs_lines"] = write("logs_lines", (l.encode() + b"\n" for l in logs))
for t, n in counts.items():
    print(f"{t}: {n} seeds", file=sys.stderr)
