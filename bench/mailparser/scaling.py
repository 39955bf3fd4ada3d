"""How parsing time scales on inputs that once made it quadratic: each pattern at n and 8n units,
parsed by `intakectl bench-parse`; linear parsing keeps MB/s about the same at both sizes, quadratic
parsing loses about 8x. Prints one row per pattern.

usage: scaling.py INTAKECTL OUT_FOLDER [SECONDS]
"""
import os
import subprocess
import sys

intakectl, out, seconds = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "1"
head = "From: a@b.org\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\r\n"
patterns = {
    "boundaries": lambda n: head + "--b-not-quite\r\n--\r\n--c\r\n" * n,
    "ats": lambda n: head + "@@a@b@c.d@ x@y.z a@ @b " * n,
    "quotes": lambda n: head + "> > > On x wrote:\r\n" * n,
    "forwards": lambda n: head + "From: x\r\n-----Original Message-----\r\n" * n,
    "encoded-words": lambda n: head + "=?utf-8?q?a?= =?x?b?QQ?= =?" * n,
    "to-angles": lambda n: "To: " + "<a@b <" * n + "\r\n\r\nx",
    "to-quotes": lambda n: "To: a@b, \"" + "\\\" x@y, " * n + "\r\n\r\nx",
    "html-tags": lambda n: "Content-Type: text/html\r\n\r\n" + "<script><!--<blockquote>&#x" * n,
}
os.makedirs(out, exist_ok=True)
print("pattern\tMB/s at n=2000\tMB/s at n=16000\tratio (linear ~1, quadratic ~8)")
for name, make in patterns.items():
    rates = []
    for n in (2000, 16000):
        path = os.path.join(out, f"{name}-{n}.eml")
        with open(path, "w") as f:
            f.write(make(n))
        result = subprocess.run([intakectl, "bench-parse", path, "--seconds", seconds], capture_output=True, text=True, check=True)
        rows = [line.split("\t") for line in result.stdout.splitlines()[1:] if line]
        rates.append(float(rows[0][4]))
    print(f"{name}\t{rates[0]:.1f}\t{rates[1]:.1f}\t{rates[0] / max(rates[1], 1e-9):.2f}")
