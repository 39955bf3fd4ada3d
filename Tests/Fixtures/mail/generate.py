#!/usr/bin/env python3
"""Generate the MailParser fixture corpus (Tests/Fixtures/mail).

Each fixture is a raw RFC 5322 message `<category>/<name>.eml` (CRLF line
endings, except where a broken fixture says otherwise) and a subset assertion
`<category>/<name>.expected.json`.  See README.md for the expected-file keys.

The output is deterministic: no clocks, no randomness; identifiers are derived
from the fixture name.  Re-running rewrites identical bytes and removes stale
fixture files that the script no longer produces.

    python3 generate.py            # write the corpus, then self-check it
    python3 generate.py --check    # only check what is on disk
"""

import base64
import hashlib
import html
import json
import os
import sys
import unicodedata

ROOT = os.path.dirname(os.path.abspath(__file__))
FIXTURES = {}          # (category, name) -> (raw bytes, expected dict, flags)
DROPBOX = "dropbox@intake.example.com"


# --------------------------------------------------------------------------
# Low-level encoders (written out by hand so the bytes look like real clients)
# --------------------------------------------------------------------------

def hexid(seed, n=16, upper=True):
    """Deterministic hex string derived from a seed."""
    out = ""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}/{i}".encode()).hexdigest()
        i += 1
    return out[:n].upper() if upper else out[:n]


def b64id(seed, n=28):
    raw = hashlib.sha256(seed.encode()).digest() + hashlib.sha256(seed.encode() + b"2").digest()
    return base64.b64encode(raw).decode()[:n]


def crlf(data):
    """Normalise line endings to CRLF (str or bytes in, bytes out)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def qp(data, line_len=76):
    """Quoted-printable encode bytes; input lines separated by LF; CRLF out."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    out_lines = []
    for line in data.replace(b"\r\n", b"\n").split(b"\n"):
        tokens = []
        for i, byte in enumerate(line):
            last = i == len(line) - 1
            if byte in (0x20, 0x09) and last:
                tokens.append("=%02X" % byte)
            elif byte == 0x3D or byte < 0x20 and byte != 0x09 or byte > 0x7E:
                tokens.append("=%02X" % byte)
            else:
                tokens.append(chr(byte))
        cur = ""
        for tok in tokens:
            if len(cur) + len(tok) > line_len - 1:
                out_lines.append(cur + "=")
                cur = ""
            cur += tok
        out_lines.append(cur)
    return "\r\n".join(out_lines)


def b64(data, line_len=76):
    if isinstance(data, str):
        data = data.encode("utf-8")
    enc = base64.b64encode(data).decode("ascii")
    return "\r\n".join(enc[i:i + line_len] for i in range(0, len(enc), line_len)) or ""


def ew_b(text, charset, max_len=75):
    """RFC 2047 B encoded words, split on character boundaries, folded."""
    words, chunk = [], ""
    prefix = f"=?{charset}?B?"
    for ch in text:
        cand = chunk + ch
        if len(prefix) + len(base64.b64encode(cand.encode(pycodec(charset)))) + 2 > max_len and chunk:
            words.append(chunk)
            chunk = ch
        else:
            chunk = cand
    if chunk:
        words.append(chunk)
    return "\r\n ".join(prefix + base64.b64encode(w.encode(pycodec(charset))).decode() + "?=" for w in words)


Q_SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def q_bytes(data):
    out = ""
    for byte in data:
        if byte == 0x20:
            out += "_"
        elif byte in Q_SAFE:
            out += chr(byte)
        else:
            out += "=%02X" % byte
    return out


def ew_q(text, charset, max_len=75):
    """RFC 2047 Q encoded words, split on character boundaries, folded."""
    words, chunk = [], ""
    prefix = f"=?{charset}?Q?"
    for ch in text:
        cand = chunk + ch
        if len(prefix) + len(q_bytes(cand.encode(pycodec(charset)))) + 2 > max_len and chunk:
            words.append(chunk)
            chunk = ch
        else:
            chunk = cand
    if chunk:
        words.append(chunk)
    return "\r\n ".join(prefix + q_bytes(w.encode(pycodec(charset))) + "?=" for w in words)


ALIASES = {"win-1252": "cp1252", "x-sjis": "shift_jis", "ks_c_5601-1987": "cp949",
           "iso8859-1": "latin-1", "utf8": "utf-8", "latin1": "latin-1"}


def pycodec(charset):
    return ALIASES.get(charset.lower(), charset)


def ew_auto(text, charset):
    """Encode a header phrase the way most clients do: Q for mostly-Latin, B otherwise."""
    if all(ord(c) < 128 for c in text):
        return text
    latin = sum(1 for c in text if ord(c) < 128) / max(1, len(text))
    return ew_q(text, charset) if latin > 0.6 else ew_b(text, charset)


def mailbox(name, addr, charset="utf-8", enc=None):
    """A mailbox as a client would write it in a header."""
    if not name:
        return addr
    if all(ord(c) < 128 for c in name):
        specials = set('()<>[]:;@\\,."')
        if any(c in specials for c in name):
            return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '" <' + addr + ">"
        return f"{name} <{addr}>"
    if enc == "B":
        return ew_b(name, charset) + f" <{addr}>"
    if enc == "Q":
        return ew_q(name, charset) + f" <{addr}>"
    return ew_auto(name, charset) + f" <{addr}>"


# --------------------------------------------------------------------------
# Message assembly
# --------------------------------------------------------------------------

def entity(headers, body):
    """Headers (list of str, may contain LF folds) + body (str or bytes) -> bytes."""
    head = b"".join(crlf(h.rstrip("\n") + "\n") if isinstance(h, str) else crlf(h.rstrip(b"\n") + b"\n")
                    for h in headers)
    if isinstance(body, str):
        body = body.encode("ascii") if body.isascii() else body.encode("utf-8")
    body = crlf(body)
    return head + b"\r\n" + body


def multipart(boundary, parts, preamble=None, epilogue=""):
    out = b""
    if preamble is not None:
        out += crlf(preamble + "\n")
    for p in parts:
        out += b"--" + boundary.encode() + b"\r\n" + p
        if not p.endswith(b"\r\n"):
            out += b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    if epilogue:
        out += crlf(epilogue)
    return out


def text_part(text, charset="utf-8", cte="quoted-printable", subtype="plain", params="", extra=()):
    """A text/* entity encoded for real: bytes in `charset`, then `cte`."""
    data = text.replace("\r\n", "\n").encode(pycodec(charset))
    if cte == "quoted-printable":
        body = qp(data)
    elif cte == "base64":
        body = b64(data.replace(b"\n", b"\r\n"))
    else:  # 7bit / 8bit / binary: the bytes as they are
        body = data
    ct = f'Content-Type: text/{subtype}; charset="{charset}"{params}'
    hdrs = [ct] + ([f"Content-Transfer-Encoding: {cte}"] if cte else []) + list(extra)
    b = entity(hdrs, body)
    return b if b.endswith(b"\r\n") else b + b"\r\n"


def html_doc(inner, head_extra=""):
    return ("<html><head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">"
            f"{head_extra}\n</head>\n<body>\n{inner}\n</body>\n</html>\n")


def text_to_html(text, line_tag="div"):
    """Rough HTML rendering of a plain text body (addresses become mailto links)."""
    import re
    out = []
    for line in text.split("\n"):
        esc = html.escape(line, quote=False)
        esc = re.sub(r"([\w.+-]+@[\w-]+(?:\.[\w-]+)+)", r'<a href="mailto:\1">\1</a>', esc)
        out.append(f"<{line_tag}>{esc or '<br>'}</{line_tag}>")
    return "\n".join(out)


def attachment(filename_header, ctype, data, cte="base64", disposition="attachment", extra=()):
    """A binary part. filename_header is the literal parameter text after the type/disposition."""
    body = b64(data) if cte == "base64" else data
    hdrs = [f"Content-Type: {ctype}" + (f";\n\t{filename_header[0]}" if filename_header[0] else ""),
            f"Content-Disposition: {disposition}" + (f";\n\t{filename_header[1]}" if filename_header[1] else ""),
            f"Content-Transfer-Encoding: {cte}"] + list(extra)
    b = entity(hdrs, body)
    return b if b.endswith(b"\r\n") else b + b"\r\n"


def fake_bytes(seed, size, magic=b""):
    """Deterministic pseudo-binary payload of exactly `size` bytes."""
    out = bytearray(magic)
    i = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:size])


def fake_pdf(seed, size):
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    return fake_bytes(seed, size, head)


def fake_png(seed, size):
    return fake_bytes(seed, size, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


# --------------------------------------------------------------------------
# Envelope headers typical of each client
# --------------------------------------------------------------------------

def fixed(category, name, raw, expected, allow_lf=False):
    key = (category, name)
    assert key not in FIXTURES, key
    FIXTURES[key] = (raw, expected, {"allow_lf": allow_lf})


def fwd(address, name, to=None, cc=None, subject=None, address_missing=None):
    d = {"from": {"address": address, "name": name}}
    if address is None:
        del d["from"]["address"]
    if name is None:
        del d["from"]["name"]
    if to is not None:
        d["to"] = to
    if cc is not None:
        d["cc"] = cc
    if subject is not None:
        d["subject"] = subject
    if address_missing:
        d["address_missing"] = True
    return d


def exp(**kw):
    """Expected-file dict; `from_` is spelled `from` in the JSON."""
    return {("from" if k == "from_" else k): v for k, v in kw.items() if v is not None}


def frm(address, name=None):
    d = {"address": address}
    if name is not None:
        d["name"] = name
    return d


# --------------------------------------------------------------------------
# Bodies: (content header lines, body bytes)
# --------------------------------------------------------------------------

def tbody(text, charset="utf-8", cte="quoted-printable", subtype="plain", params=""):
    """A single text/* body for the top level of a message."""
    data = text.replace("\r\n", "\n").encode(pycodec(charset))
    if cte == "quoted-printable":
        body = qp(data)
    elif cte == "base64":
        body = b64(data.replace(b"\n", b"\r\n"))
    else:
        body = data
    hdrs = [f'Content-Type: text/{subtype}; charset="{charset}"{params}']
    if cte:
        hdrs.append(f"Content-Transfer-Encoding: {cte}")
    data = crlf(body)
    return hdrs, data if data.endswith(b"\r\n") else data + b"\r\n"


def mbody(subtype, boundary, parts, preamble=None, params=""):
    """A multipart body. parts are entity bytes (from text_part/attachment/part)."""
    return ([f'Content-Type: multipart/{subtype};{params}\n\tboundary="{boundary}"'],
            multipart(boundary, parts, preamble))


def part(body):
    """Turn a (headers, bytes) body into an entity usable as a multipart part."""
    hdrs, data = body
    return entity(hdrs, data)


def alt(boundary, text, html_text, charset="utf-8", cte="quoted-printable", html_cte=None):
    """multipart/alternative with text/plain and text/html, both really encoded."""
    return mbody("alternative", boundary, [
        text_part(text, charset, cte),
        text_part(html_text, charset, html_cte or cte, subtype="html"),
    ])


def gmail_alt(boundary, text, html_text, charset="UTF-8", cte="quoted-printable"):
    """Gmail's multipart/alternative: charset="UTF-8", QP for text/plain and HTML."""
    return alt(boundary, text, html_text, charset, cte)


def message(env, body):
    """Envelope header lines + (content header lines, body bytes). "@CT@" marks where
    the content headers go (Outlook puts them before MIME-Version)."""
    hdrs, data = body
    out = []
    placed = False
    for h in env:
        if h == "@CT@":
            out.extend(hdrs)
            placed = True
        elif h is not None:
            out.append(h)
    if not placed:
        out.extend(hdrs)
    return entity(out, data)


def opt(name, value):
    return f"{name}: {value}" if value else None


# --------------------------------------------------------------------------
# Envelopes typical of each client (header order as those clients write it)
# --------------------------------------------------------------------------

MX = "mx1.intake.example.com"


def rcvd(seed, helo, ip, date, rcpt=DROPBOX, proto="ESMTPS"):
    return (f"Received: from {helo} ({helo} [{ip}])\n"
            f"\tby {MX} (Intake) with {proto} id {hexid(seed + 'qid', 12)}\n"
            f"\tfor <{rcpt}>; {date}")


def dkim(seed, domain, hdrs="from:to:subject:date:message-id"):
    return (f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=selector1;\n"
            f"\th={hdrs};\n"
            f"\tbh={b64id(seed + 'bh', 43)}=;\n"
            f"\tb={b64id(seed + 'b', 60)}...")


def env_gmail(seed, frm_mb, to, subject, date, cc=None, domain="gmail.com", rcvd_date=None,
              in_reply_to=None, references=None, extra=()):
    mid = "CA" + b64id(seed, 44).replace("/", "_").replace("+", "-") + "@mail.gmail.com"
    return [
        f"Return-Path: <{mb_addr(frm_mb)}>",
        rcvd(seed, "mail-ed1-f54.google.com", "209.85.208.54", rcvd_date or date),
        f"Received: by mail-ed1-f54.google.com with SMTP id 4fb4d7f45d1cf-5643eccad0bso{hexid(seed, 6, False)}a12.1\n"
        f"        for <{DROPBOX}>; {rcvd_date or date}",
        dkim(seed, domain, "mime-version:from:date:message-id:subject:to:cc"),
        "X-Google-Smtp-Source: " + b64id(seed + "gss", 60),
        "X-Received: by 2002:a17:906:c141:b0:a44:2b81:1d9b with SMTP id k1-20020a170906c141b0a442b811d9bmr2301ejz.3;\n"
        f"        {rcvd_date or date}",
        "MIME-Version: 1.0",
        opt("References", references),
        opt("In-Reply-To", in_reply_to),
        f"From: {frm_mb}",
        f"Date: {date}",
        f"Message-ID: <{mid}>",
        f"Subject: {subject}",
        f"To: {to}",
        opt("Cc", cc),
        *extra,
    ]


def mb_addr(mb):
    import re
    m = re.search(r"<([^>]+)>\s*$", mb)
    return m.group(1) if m else mb.strip()


def env_exchange(seed, frm_mb, to, subject, date, cc=None, lang="en-US", tenant="AM0PR07MB", has_attach=False,
                 in_reply_to=None, references=None, extra=()):
    """Outlook desktop / Outlook on the web through Exchange Online."""
    host = f"{tenant}{hexid(seed, 4)}.eurprd07.prod.outlook.com"
    return [
        f"Return-Path: <{mb_addr(frm_mb)}>",
        rcvd(seed, "EUR05-AM6-obe.outbound.protection.outlook.com", "2a01:111:f403:2612::700", date),
        dkim(seed, mb_addr(frm_mb).split("@")[1],
             "From:Date:Subject:Message-ID:Content-Type:MIME-Version:X-MS-Exchange-SenderADCheck"),
        f"Received: from {host} (2603:10a6:20b:3ba::12) by\n"
        f" {host.replace(hexid(seed, 4), hexid(seed + 'x', 4))} (2603:10a6:20b:3ba::9) with\n"
        " Microsoft SMTP Server (version=TLS1_2,\n"
        " cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7339.39; " + date,
        f"From: {frm_mb}",
        f"To: {to}",
        opt("CC", cc),
        f"Subject: {subject}",
        f"Thread-Topic: {subject}",
        f"Thread-Index: AQHab{b64id(seed + 'ti', 30)}==",
        f"Date: {date}",
        f"Message-ID:\n <{tenant}{hexid(seed, 4)}{hexid(seed + 'mid', 26)}@{host}>",
        opt("References", references),
        opt("In-Reply-To", in_reply_to),
        f"Accept-Language: {lang}, en-US",
        f"Content-Language: {lang}",
        "X-MS-Has-Attach: " + ("yes" if has_attach else ""),
        "X-MS-TNEF-Correlator:",
        "msip_labels:",
        "authentication-results: dkim=none (message not signed)\n header.d=none;dmarc=none action=none header.from=" + mb_addr(frm_mb).split("@")[1] + ";",
        f"x-ms-exchange-messagesentrepresentingtype: 1",
        *extra,
        "@CT@",
        "MIME-Version: 1.0",
    ]


def outlook_boundary(seed):
    h = hexid(seed + "bd", 8)
    return f"_000_AM0PR07MB{hexid(seed, 4)}{hexid(seed + 'mid', 26)}AM0PR07MB{hexid(seed, 4)}eurp_"


def env_outlook_smtp(seed, frm_mb, to, subject, date, cc=None, lang="en-us", extra=(), in_reply_to=None,
                     references=None):
    """Outlook desktop sending through a plain SMTP/IMAP account."""
    d = mb_addr(frm_mb).split("@")[1]
    mid = f"000001da6ed2${hexid(seed, 8, False)}${hexid(seed + 'b', 8, False)}$@{d}"
    return [
        f"Return-Path: <{mb_addr(frm_mb)}>",
        rcvd(seed, f"smtp.{d}", "198.51.100.23", date),
        f"From: {frm_mb}",
        f"To: {to}",
        opt("Cc", cc),
        opt("References", references),
        opt("In-Reply-To", in_reply_to),
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: <{mid}>",
        "MIME-Version: 1.0",
        "@CT@",
        "X-Mailer: Microsoft Outlook 16.0",
        f"Thread-Index: AQH{b64id(seed + 'ti', 40)}",
        f"Content-Language: {lang}",
        *extra,
    ]


def nextpart(seed, level=0):
    return f"----=_NextPart_{level:03d}_{hexid(seed, 4)}_01DA6ED2.{hexid(seed + 'np', 8)}"


def env_apple(seed, frm_mb, to, subject, date, cc=None, ios=False, domain="icloud.com", extra=(),
              in_reply_to=None, references=None):
    uuid = "-".join(hexid(seed + "u", n) for n in (8, 4, 4, 4, 12))
    mime = "Mime-Version: 1.0 (1.0)" if ios else "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.400.31\\))"
    return [
        f"Return-Path: <{mb_addr(frm_mb)}>",
        rcvd(seed, "st43p00im-ztfb10071701.me.com", "17.58.63.179", date),
        dkim(seed, domain, "From:Content-Type:Mime-Version:Subject:Message-Id:Date:To"),
        f"From: {frm_mb}",
        "@CT@",
        mime,
        f"Subject: {subject}",
        f"Message-Id: <{uuid}@{mb_addr(frm_mb).split('@')[1]}>",
        opt("References", references),
        opt("In-Reply-To", in_reply_to),
        opt("Cc", cc),
        f"Date: {date}",
        f"To: {to}",
        "X-Mailer: iPhone Mail (21D61)" if ios else "X-Mailer: Apple Mail (2.3774.400.31)",
        *extra,
    ]


def apple_boundary(seed):
    return "Apple-Mail=_" + "-".join(hexid(seed + "ab", n) for n in (8, 4, 4, 4, 12))


def env_thunderbird(seed, frm_mb, to, subject, date, cc=None, lang="en-US", extra=(), in_reply_to=None,
                    references=None):
    d = mb_addr(frm_mb).split("@")[1]
    uuid = "-".join(hexid(seed + "u", n, False) for n in (8, 4, 4, 4, 12))
    return [
        f"Return-Path: <{mb_addr(frm_mb)}>",
        rcvd(seed, f"mail.{d}", "203.0.113.45", date),
        f"Message-ID: <{uuid}@{d}>",
        f"Date: {date}",
        "MIME-Version: 1.0",
        "User-Agent: Mozilla Thunderbird",
        opt("References", references),
        opt("In-Reply-To", in_reply_to),
        f"Content-Language: {lang}",
        f"To: {to}",
        opt("Cc", cc),
        f"From: {frm_mb}",
        f"Subject: {subject}",
        *extra,
    ]


def tb_boundary(seed):
    return "------------" + b64id(seed + "tb", 24).replace("/", "0").replace("+", "1")


def env_yahoo(seed, frm_mb, to, subject, date, cc=None, aol=False, extra=()):
    n = int(hexid(seed, 8), 16)
    return [
        f"Return-Path: <{mb_addr(frm_mb)}>",
        rcvd(seed, "sonic312-24.consmr.mail.ir2.yahoo.com", "77.238.178.95", date),
        dkim(seed, "aol.com" if aol else "yahoo.com", "Date:From:To:Subject:References:From:Subject:Reply-To"),
        f"Date: {date}",
        f"From: {frm_mb}",
        f"To: {to}",
        opt("Cc", cc),
        f"Message-ID: <{n % 10**9}.{n % 10**6}.1709630049{n % 1000:03d}@mail.yahoo.com>",
        f"Subject: {subject}",
        "MIME-Version: 1.0",
        "@CT@",
        f"X-Mailer: WebService/1.1.22103 {'AolMailNorrin' if aol else 'YMailNorrin'}",
        *extra,
    ]


def yahoo_boundary(seed):
    n = int(hexid(seed + "yb", 8), 16)
    return f"----=_Part_{n % 10**7}_{n % 10**9}.1709630049{n % 1000:03d}"


# --------------------------------------------------------------------------
# HTML renderings typical of each client
# --------------------------------------------------------------------------

def esc(s):
    return html.escape(s, quote=False)


def linkify(s):
    import re
    s = esc(s)
    return re.sub(r"([\w.+-]+@[\w-]+(?:\.[\w-]+)+)", r'<a href="mailto:\1">\1</a>', s)


def gmail_html(note, sep, fields, body):
    """Gmail's HTML for a forward: note, gmail_attr header block, original body."""
    note_html = "".join(f"<div>{esc(l) or '<br>'}</div>" for l in note.split("\n")) if note else ""
    rows = []
    for label, value in fields:
        import re
        m = re.match(r"^(.*?)\s*<([^>]+)>$", value)
        if label == fields[0][0] and m and m.group(1):
            rows.append(f'{esc(label)} <strong class="gmail_sendername" dir="auto">{esc(m.group(1))}</strong> '
                        f'<span dir="auto">&lt;<a href="mailto:{m.group(2)}">{m.group(2)}</a>&gt;</span><br>')
        else:
            rows.append(f"{esc(label)} {linkify(value)}<br>")
    body_html = "".join(f"<div>{linkify(l) or '<br>'}</div>" for l in body.split("\n"))
    return (f'<div dir="ltr">{note_html}<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
            f'{esc(sep)}<br>' + "".join(rows) + f'</div><br><br><div dir="ltr">{body_html}</div>\n'
            "</div></div>\n")


def gmail_reply_html(new, attribution, quoted):
    new_html = "".join(f"<div>{esc(l) or '<br>'}</div>" for l in new.split("\n"))
    q = "".join(f"<div>{linkify(l) or '<br>'}</div>" for l in quoted.split("\n"))
    return (f'<div dir="ltr">{new_html}</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
            f'{linkify(attribution)}<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
            f'border-left:1px solid rgb(204,204,204);padding-left:1ex">{q}</blockquote></div>\n')


def outlook_html(note, fields, body, lang="EN-US", font="Calibri"):
    """Outlook desktop (Word) HTML with the border-top header block and no separator line."""
    p = lambda t: f'<p class="MsoNormal"><span lang="{lang}">{t}</span></p>\n'
    out = ['<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
           'xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" '
           'xmlns="http://www.w3.org/TR/REC-html40">\n<head>\n'
           '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
           '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">\n'
           f'<style><!--\n/* Font Definitions */\n@font-face\n\t{{font-family:"Cambria Math";}}\n'
           f'p.MsoNormal, li.MsoNormal, div.MsoNormal\n\t{{margin:0cm;\n\tfont-size:11.0pt;\n\tfont-family:"{font}",sans-serif;}}\n'
           '--></style>\n</head>\n<body lang="' + lang + '" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">\n'
           '<div class="WordSection1">\n']
    for l in note.split("\n"):
        out.append(p(esc(l) if l else "<o:p>&nbsp;</o:p>"))
    out.append('<div>\n<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">\n'
               f'<p class="MsoNormal"><span lang="{lang}">')
    out.append("<br>\n".join(f"<b>{esc(k)}</b> {esc(v)}" for k, v in fields))
    out.append("<o:p></o:p></span></p>\n</div>\n</div>\n")
    for l in body.split("\n"):
        out.append(p(esc(l) if l else "<o:p>&nbsp;</o:p>"))
    out.append("</div>\n</body>\n</html>\n")
    return "".join(out)


def block(sep, fields, colon_space=" ", blank_after=1):
    """Plain-text header block of an inline forward."""
    lines = [sep] if sep is not None else []
    lines += [f"{k}{colon_space}{v}" if v is not None else k for k, v in fields]
    return "\n".join(lines) + "\n" * (blank_after + 1)


def gm_boundary(seed):
    return "000000000000" + hexid(seed + "gm", 12, False)


# ==========================================================================
# clients/: inline forwards and forwards as attachments, per mail client
# ==========================================================================

BOB = ("Bob Carter", "bob.carter@harbourview.example")
SARAH = ("Sarah Okafor", "sarah.okafor@harbourview.example")


def mb(p):
    return mailbox(*p)


def clients():
    C = "clients"

    # --- Gmail (web), forward with the forwarder's note above -------------
    seed = "gmail_forward_with_note"
    note = "Please file under Fenwick Logistics - they want the quote by Friday.\n\nBob"
    fields = [("From:", "Jane Fenwick <jane.fenwick@fenwick-logistics.example>"),
              ("Date:", "Mon, Mar 4, 2024 at 4:52\u202fPM"),
              ("Subject:", "Quote request for 40 office chairs"),
              ("To:", "Bob Carter <bob.carter@harbourview.example>"),
              ("Cc:", "Tom Reyes <t.reyes@fenwick-logistics.example>")]
    orig = ("Hi Bob,\n\nCould you send us a quote for 40 ergonomic office chairs (model HV-220),\n"
            "delivered to our Leeds warehouse by the end of April?\n\nKind regards,\nJane Fenwick\n"
            "Office Manager, Fenwick Logistics\n+44 113 496 0123\n")
    text = note + "\n\n" + block("---------- Forwarded message ---------", fields, blank_after=2) + orig
    raw = message(env_gmail(seed, mb(BOB), DROPBOX, "Fwd: Quote request for 40 office chairs",
                            "Tue, 5 Mar 2024 10:14:09 +0000", domain="harbourview.example"),
                  gmail_alt(gm_boundary(seed), text, gmail_html(note, "---------- Forwarded message ---------", fields, orig)))
    fixed(C, seed, raw, exp(
        subject="Fwd: Quote request for 40 office chairs", from_=frm(BOB[1], BOB[0]),
        people_include=[BOB[1], "jane.fenwick@fenwick-logistics.example", "t.reyes@fenwick-logistics.example"],
        forwarded=[fwd("jane.fenwick@fenwick-logistics.example", "Jane Fenwick", to=[BOB[1]],
                       cc=["t.reyes@fenwick-logistics.example"], subject="Quote request for 40 office chairs")],
        new_text_contains=["Please file under Fenwick Logistics"],
        new_text_excludes=["40 ergonomic office chairs"], automated=False))

    # --- Android Gmail app, bare forward, original sender without a name ---
    seed = "android_gmail_forward"
    fields = [("From:", "<orders@fieldstone-supplies.example>"),
              ("Date:", "Sun, 3 Mar 2024, 21:40"),
              ("Subject:", "Your order FS-88213 has shipped"),
              ("To:", "<bob.carter@harbourview.example>")]
    orig = ("Hello Bob,\n\nGood news: order FS-88213 (12 x stackable crates) left our depot today.\n"
            "Tracking: https://track.fieldstone-supplies.example/FS-88213\n\nFieldstone Supplies\n")
    text = "\n\n" + block("---------- Forwarded message ---------", fields, blank_after=2) + orig
    raw = message(env_gmail(seed, mb(BOB), DROPBOX, "Fwd: Your order FS-88213 has shipped",
                            "Mon, 4 Mar 2024 08:02:51 +0000", domain="harbourview.example"),
                  gmail_alt(gm_boundary(seed), text, gmail_html("", "---------- Forwarded message ---------", fields, orig)))
    fixed(C, seed, raw, exp(
        subject="Fwd: Your order FS-88213 has shipped", from_=frm(BOB[1], BOB[0]),
        people_include=["orders@fieldstone-supplies.example"],
        forwarded=[fwd("orders@fieldstone-supplies.example", None, to=[BOB[1]],
                       subject="Your order FS-88213 has shipped")],
        body_contains=["12 x stackable crates"]))

    # --- Outlook desktop, plain-text format, "-----Original Message-----" ---
    seed = "outlook_original_message"
    text = ("Hi team, see below from Pieter - please log it against the Van Dijk account.\n\n"
            "Sarah\n\n"
            "-----Original Message-----\n"
            "From: Pieter van Dijk [mailto:pieter@vandijk-bouw.example] \n"
            "Sent: Monday, March 4, 2024 3:41 PM\n"
            "To: Sarah Okafor <sarah.okafor@harbourview.example>\n"
            "Cc: 'Marieke Jansen' <m.jansen@vandijk-bouw.example>; Ruud Smit <ruud.smit@vandijk-bouw.example>\n"
            "Subject: Delivery schedule for the Utrecht site\n\n"
            "Hello Sarah,\n\n"
            "As discussed, we would like the first delivery on 18 March and the second one\n"
            "two weeks later. Please confirm whether your driver can use the north gate.\n\n"
            "Regards,\nPieter van Dijk\nVan Dijk Bouw B.V.\n")
    raw = message(env_outlook_smtp(seed, mb(SARAH), f"Sales <sales@harbourview.example>; {DROPBOX}",
                                   "FW: Delivery schedule for the Utrecht site", "Tue, 5 Mar 2024 09:20:44 -0000"),
                  tbody(text, "us-ascii", "7bit"))
    fixed(C, seed, raw, exp(
        subject="FW: Delivery schedule for the Utrecht site", from_=frm(SARAH[1], SARAH[0]),
        people_include=[SARAH[1], "sales@harbourview.example", "pieter@vandijk-bouw.example",
                        "m.jansen@vandijk-bouw.example", "ruud.smit@vandijk-bouw.example"],
        forwarded=[fwd("pieter@vandijk-bouw.example", "Pieter van Dijk", to=[SARAH[1]],
                       cc=["m.jansen@vandijk-bouw.example", "ruud.smit@vandijk-bouw.example"],
                       subject="Delivery schedule for the Utrecht site")],
        new_text_contains=["please log it against the Van Dijk account"],
        new_text_excludes=["north gate"]))

    # --- Outlook desktop via Exchange, HTML, no separator line --------------
    seed = "outlook_no_separator"
    note = "Forwarding the signed order from Hallam.\n\nSarah"
    fields = [("From:", "Priya Hallam <priya@hallam-foods.example>"),
              ("Sent:", "Monday, March 4, 2024 11:02 AM"),
              ("To:", "Sarah Okafor <sarah.okafor@harbourview.example>"),
              ("Cc:", "Accounts <accounts@hallam-foods.example>"),
              ("Subject:", "Signed order form")]
    orig = ("Hi Sarah,\n\nPlease find the signed order form attached. Our PO number is HF-2024-117.\n\n"
            "Many thanks,\nPriya\n")
    text = note + "\n\n" + block(None, fields, blank_after=0) + " \n" + orig
    b = outlook_boundary(seed)
    raw = message(env_exchange(seed, mb(SARAH), DROPBOX, "FW: Signed order form", "Tue, 5 Mar 2024 09:31:12 +0000",
                               lang="en-GB"),
                  alt(b, text, outlook_html(note, fields, orig, lang="EN-GB")))
    fixed(C, seed, raw, exp(
        subject="FW: Signed order form", from_=frm(SARAH[1], SARAH[0]),
        people_include=["priya@hallam-foods.example", "accounts@hallam-foods.example"],
        forwarded=[fwd("priya@hallam-foods.example", "Priya Hallam", to=[SARAH[1]],
                       cc=["accounts@hallam-foods.example"], subject="Signed order form")],
        new_text_contains=["Forwarding the signed order from Hallam."],
        new_text_excludes=["HF-2024-117"], body_contains=["Our PO number is HF-2024-117."]))

    # --- Outlook desktop, internal (GAL) people: names only, no addresses ---
    seed = "outlook_names_only"
    note = "FYI - approval for the Hallam renewal pricing, please attach to the deal."
    fields = [("From:", "Sarah Okafor"),
              ("Sent:", "Monday, March 4, 2024 4:47 PM"),
              ("To:", "Bob Carter; Sales Team"),
              ("Cc:", "Daniel Whitfield"),
              ("Subject:", "Pricing approval for Hallam renewal")]
    orig = ("Bob,\n\nApproved: 8% discount on the 2024 renewal, payment terms 30 days.\n\nSarah\n")
    text = note + "\n\n" + block(None, fields, blank_after=0) + " \n" + orig
    raw = message(env_exchange(seed, mb(BOB), DROPBOX, "FW: Pricing approval for Hallam renewal",
                               "Tue, 5 Mar 2024 08:12:40 +0000", lang="en-GB"),
                  alt(outlook_boundary(seed), text, outlook_html(note, fields, orig, lang="EN-GB")))
    fixed(C, seed, raw, exp(
        subject="FW: Pricing approval for Hallam renewal",
        forwarded=[fwd(None, "Sarah Okafor", subject="Pricing approval for Hallam renewal", address_missing=True)],
        new_text_contains=["approval for the Hallam renewal pricing"],
        new_text_excludes=["8% discount"]))

    # --- Outlook on the web: underscore separator, divRplyFwdMsg ------------
    seed = "outlook_web"
    note = "Can you add this to the Brightwater deal? Thanks!"
    fields = [("From:", "Lena Fischer <lena.fischer@brightwater.example>"),
              ("Sent:", "Monday, March 4, 2024 2:15 PM"),
              ("To:", "Bob Carter <bob.carter@harbourview.example>"),
              ("Cc:", "Jonas Weber <jonas.weber@brightwater.example>; Sarah Okafor <sarah.okafor@harbourview.example>"),
              ("Subject:", "Brightwater - revised scope")]
    orig = ("Hi Bob,\n\nWe have reduced the scope to phase 1 only (site survey and design).\n"
            "Could you send a revised proposal?\n\nBest,\nLena\n")
    text = note + "\n\n" + "_" * 32 + "\n" + block(None, fields, blank_after=1) + orig
    h = ('<div class="elementToProof" style="font-family: Aptos, Aptos_EmbeddedFont, Calibri, Helvetica, sans-serif; '
         f'font-size: 12pt; color: rgb(0, 0, 0);">{esc(note)}</div>\n<div id="appendonsend"></div>\n'
         '<hr style="display:inline-block;width:98%" tabindex="-1">\n'
         '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">'
         + "<br>\n".join(f"<b>{esc(k)}</b> {esc(v)}" for k, v in fields) +
         '</font>\n<div>&nbsp;</div>\n</div>\n<div>' + "<br>\n".join(esc(l) for l in orig.split("\n")) + "</div>\n")
    raw = message(env_exchange(seed, mb(BOB), DROPBOX, "Fw: Brightwater - revised scope",
                               "Tue, 5 Mar 2024 10:01:33 +0000"),
                  alt(outlook_boundary(seed), text, html_doc(h)))
    fixed(C, seed, raw, exp(
        subject="Fw: Brightwater - revised scope",
        people_include=["lena.fischer@brightwater.example", "jonas.weber@brightwater.example", SARAH[1]],
        forwarded=[fwd("lena.fischer@brightwater.example", "Lena Fischer", to=[BOB[1]],
                       cc=["jonas.weber@brightwater.example", SARAH[1]], subject="Brightwater - revised scope")],
        new_text_contains=["Can you add this to the Brightwater deal?"], new_text_excludes=["phase 1 only"]))

    # --- Outlook for Mac: "Date:" instead of "Sent:" -------------------------
    seed = "outlook_mac"
    note = "Logging the call notes Greta sent over."
    fields = [("From:", "Greta Lindqvist <greta@lindqvist-design.example>"),
              ("Date:", "Monday, 4 March 2024 at 13:22"),
              ("To:", "Bob Carter <bob.carter@harbourview.example>"),
              ("Subject:", "Notes from today's call")]
    orig = ("Hi Bob,\n\nThanks for the call. Summary: 3 showrooms, fit-out in June, budget GBP 120k.\n\nGreta\n")
    text = note + "\n\n" + block(None, fields, blank_after=1) + orig
    raw = message(env_exchange(seed, mb(BOB), DROPBOX, "FW: Notes from today's call",
                               "Tue, 5 Mar 2024 11:45:02 +0000", lang="en-GB",
                               extra=["user-agent: Microsoft-MacOutlook/16.82.24021116"]),
                  alt(outlook_boundary(seed), text, outlook_html(note, fields, orig, lang="EN-GB")))
    fixed(C, seed, raw, exp(
        subject="FW: Notes from today's call",
        forwarded=[fwd("greta@lindqvist-design.example", "Greta Lindqvist", to=[BOB[1]],
                       subject="Notes from today's call")],
        new_text_contains=["Logging the call notes"], new_text_excludes=["fit-out in June"]))

    # --- Outlook mobile (iOS): "Get Outlook for iOS" then the OWA block -----
    seed = "outlook_ios"
    fields = [("From:", "Tom\u00e1s Ortega <tomas.ortega@ortega-wines.example>"),
              ("Sent:", "Monday, March 4, 2024 8:15:33 PM"),
              ("To:", "Bob Carter <bob.carter@harbourview.example>"),
              ("Subject:", "Pallet pricing 2024")]
    orig = "Bob,\n\nAttached is our 2024 pallet pricing. Prices are ex-works Jerez.\n\nSaludos,\nTom\u00e1s\n"
    text = ("Please log\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n" + "_" * 32 + "\n"
            + block(None, fields, blank_after=1) + orig)
    h = ('<div dir="ltr">Please log</div>\n<div id="ms-outlook-mobile-signature"><div><br></div>Get '
         '<a href="https://aka.ms/o0ukef">Outlook for iOS</a></div>\n<hr style="display:inline-block;width:98%" tabindex="-1">\n'
         '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">'
         + "<br>\n".join(f"<b>{esc(k)}</b> {esc(v)}" for k, v in fields) + "</font>\n<div>&nbsp;</div>\n</div>\n"
         + "<div>" + "<br>\n".join(esc(l) for l in orig.split("\n")) + "</div>\n")
    raw = message(env_exchange(seed, mb(BOB), DROPBOX, "Fwd: Pallet pricing 2024", "Mon, 4 Mar 2024 20:17:10 +0000"),
                  alt(outlook_boundary(seed), text, html_doc(h)))
    fixed(C, seed, raw, exp(
        subject="Fwd: Pallet pricing 2024",
        people_include=["tomas.ortega@ortega-wines.example"],
        forwarded=[fwd("tomas.ortega@ortega-wines.example", "Tom\u00e1s Ortega", to=[BOB[1]],
                       subject="Pallet pricing 2024")],
        new_text_contains=["Please log"], new_text_excludes=["ex-works Jerez"]))

    # --- Apple Mail (macOS) ---------------------------------------------------
    seed = "apple_mail_forward"
    note = "FYI \u2013 new enquiry from the trade show."
    fields = [("From:", "Marcus Lee <marcus.lee@northpeak.example>"),
              ("Subject:", "Follow-up from the Birmingham trade show"),
              ("Date:", "4 March 2024 at 17:21:08 GMT"),
              ("To:", "Bob Carter <bob.carter@harbourview.example>"),
              ("Cc:", "Aisha Khan <aisha.khan@northpeak.example>")]
    orig = ("Hi Bob,\n\nGreat to meet you at the stand. We\u2019d like a demo of the warehouse module\n"
            "for our team in Coventry \u2013 any day next week works.\n\nCheers,\nMarcus\n")
    text = note + "\n\n" + block("Begin forwarded message:\n", fields, blank_after=1) + orig
    h = ('<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
         '<body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">'
         f'{esc(note)}<br id="lineBreakAtBeginningOfMessage"><div><br><blockquote type="cite"><div>'
         'Begin forwarded message:</div><br class="Apple-interchange-newline">'
         + "".join(f'<div style="margin-top: 0px; margin-right: 0px; margin-bottom: 0px; margin-left: 0px;">'
                   f'<span style="font-family: -webkit-system-font, Helvetica Neue, Helvetica, sans-serif; '
                   f'color:rgba(0, 0, 0, 1.0);"><b>{esc(k[:-1])}: </b></span><span style="font-family: '
                   f'-webkit-system-font, Helvetica Neue, Helvetica, sans-serif;">{linkify(v)}<br></span></div>'
                   for k, v in fields)
         + "<br><div>" + "<br>".join(esc(l) for l in orig.split("\n")) + "</div></blockquote></div><br></body></html>\n")
    raw = message(env_apple(seed, mb(BOB), DROPBOX, "Fwd: Follow-up from the Birmingham trade show",
                            "Tue, 5 Mar 2024 09:03:27 +0000"),
                  mbody("alternative", apple_boundary(seed), [text_part(text, "utf-8"),
                                                               text_part(h, "utf-8", subtype="html")]))
    fixed(C, seed, raw, exp(
        subject="Fwd: Follow-up from the Birmingham trade show",
        people_include=["marcus.lee@northpeak.example", "aisha.khan@northpeak.example"],
        forwarded=[fwd("marcus.lee@northpeak.example", "Marcus Lee", to=[BOB[1]],
                       cc=["aisha.khan@northpeak.example"], subject="Follow-up from the Birmingham trade show")],
        new_text_contains=["new enquiry from the trade show"], new_text_excludes=["warehouse module"]))

    # --- iOS Mail ---------------------------------------------------------------
    seed = "ios_mail_forward"
    fields = [("From:", "Grace Liu <grace.liu@liu-dental.example>"),
              ("Date:", "4 March 2024 at 19:03:44 GMT"),
              ("To:", "Bob Carter <bob.carter@harbourview.example>"),
              ("Subject:", "Re: Equipment lease options")]
    orig = ("\ufeffThanks Bob, option B (36 months) works best for us. Can you draw up the paperwork?\n\n"
            "Grace Liu\nPractice Manager\n")
    text = ("Lead from the site visit, please log.\n\nSent from my iPhone\n\n"
            + block("Begin forwarded message:\n", fields, blank_after=1) + orig)
    h = ('<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body dir="auto">'
         '<div dir="ltr">Lead from the site visit, please log.</div><div dir="ltr"><br><div dir="ltr">Sent from my iPhone</div>'
         '<div dir="ltr"><br><blockquote type="cite">Begin forwarded message:<br><br></blockquote></div>'
         '<blockquote type="cite"><div dir="ltr">'
         + "".join(f"<b>{esc(k)}</b> {linkify(v)}<br>" for k, v in fields)
         + "<br></div></blockquote><blockquote type=\"cite\"><div dir=\"ltr\">"
         + "<br>".join(esc(l) for l in orig.split("\n")) + "</div></blockquote></div></body></html>\n")
    raw = message(env_apple(seed, mb(BOB), DROPBOX, "Fwd: Equipment lease options", "Mon, 4 Mar 2024 19:10:02 +0000",
                            ios=True),
                  mbody("alternative", apple_boundary(seed), [text_part(text, "utf-8"),
                                                               text_part(h, "utf-8", subtype="html")]))
    fixed(C, seed, raw, exp(
        subject="Fwd: Equipment lease options",
        people_include=["grace.liu@liu-dental.example"],
        forwarded=[fwd("grace.liu@liu-dental.example", "Grace Liu", to=[BOB[1]], subject="Re: Equipment lease options")],
        new_text_contains=["Lead from the site visit"], new_text_excludes=["option B (36 months)"]))

    # --- Thunderbird, plain text, format=flowed, tab after the labels --------
    seed = "thunderbird_forward"
    tb_fields = [("Subject:", "\tInvoice 4471 query"),
                 ("Date:", "\tMon, 4 Mar 2024 09:30:12 +0000"),
                 ("From:", "\tOlivia Grant <olivia.grant@kestrel-print.example>"),
                 ("To:", "\taccounts@harbourview.example"),
                 ("CC:", "\tBen Howe <ben.howe@kestrel-print.example>")]
    orig = ("Hello,\n\nInvoice 4471 lists 500 brochures but we only received 450. Could you \n"
            "issue a credit note for the difference?\n\nThanks,\nOlivia\n")
    text = ("Logging this one for the Kestrel account.\n\n"
            + block("-------- Forwarded Message --------", tb_fields, colon_space=" ", blank_after=3) + orig)
    raw = message(env_thunderbird(seed, mailbox("Sam Ito", "sam.ito@harbourview.example"), DROPBOX,
                                  "Fwd: Invoice 4471 query", "Tue, 5 Mar 2024 10:02:41 +0000"),
                  tbody(text, "UTF-8", "7bit", params="; format=flowed"))
    fixed(C, seed, raw, exp(
        subject="Fwd: Invoice 4471 query", from_=frm("sam.ito@harbourview.example", "Sam Ito"),
        people_include=["olivia.grant@kestrel-print.example", "ben.howe@kestrel-print.example",
                        "accounts@harbourview.example"],
        forwarded=[fwd("olivia.grant@kestrel-print.example", "Olivia Grant", to=["accounts@harbourview.example"],
                       cc=["ben.howe@kestrel-print.example"], subject="Invoice 4471 query")],
        new_text_contains=["Logging this one for the Kestrel account."], new_text_excludes=["credit note"]))

    # --- Yahoo Mail -------------------------------------------------------------
    seed = "yahoo_forward"
    fields = [("From:", "Daniel Moore <dan.moore@moore-electrical.example>"),
              ("To:", "Rachel Green <rachel.green@example.net>"),
              ("Sent:", "Monday, March 4, 2024 at 06:45:10 PM GMT"),
              ("Subject:", "Re: Rewiring quote - 14 Elm Road")]
    orig = "Hi Rachel,\n\nThe full rewire comes to GBP 4,850 including certification.\n\nDan\n"
    text = "Please add to CRM.\n\n\n" + block("----- Forwarded Message -----", fields, blank_after=1) + orig
    h = ('<html><head></head><body><div class="ydp3c1f2a0eyahoo-style-wrap" style="font-family:Helvetica Neue, '
         'Helvetica, Arial, sans-serif;font-size:13px;"><div dir="ltr" data-setdir="false">Please add to CRM.</div>'
         '<div><br></div><div id="ydp3c1f2a0eyahoo_quoted_1234567890" class="ydp3c1f2a0eyahoo_quoted">'
         '<div style="font-family:\'Helvetica Neue\', Helvetica, Arial, sans-serif;font-size:13px;color:#26282a;">'
         '<div>----- Forwarded Message -----</div>'
         + "".join(f"<div>{esc(k)} {esc(v)}</div>" for k, v in fields)
         + "<div><br></div>" + "".join(f"<div>{esc(l) or '<br>'}</div>" for l in orig.split("\n"))
         + "</div></div></div></body></html>\n")
    raw = message(env_yahoo(seed, mailbox("Rachel Green", "rachel.green@example.net"), DROPBOX,
                            "Fw: Re: Rewiring quote - 14 Elm Road", "Tue, 5 Mar 2024 09:14:09 +0000 (UTC)"),
                  mbody("alternative", yahoo_boundary(seed), [text_part(text, "UTF-8"),
                                                                text_part(h, "UTF-8", subtype="html")]))
    fixed(C, seed, raw, exp(
        subject="Fw: Re: Rewiring quote - 14 Elm Road",
        forwarded=[fwd("dan.moore@moore-electrical.example", "Daniel Moore", to=["rachel.green@example.net"],
                       subject="Re: Rewiring quote - 14 Elm Road")],
        new_text_contains=["Please add to CRM."], new_text_excludes=["GBP 4,850"]))

    # --- AOL (Yahoo infrastructure, Outlook-like block) --------------------------
    seed = "aol_forward"
    fields = [("From:", "Nina Patel <nina@patel-consulting.example>"),
              ("To:", "wendy.ross@example.net <wendy.ross@example.net>"),
              ("Sent:", "Mon, Mar 4, 2024 5:02 pm"),
              ("Subject:", "Workshop booking")]
    orig = "Hi Wendy,\n\nConfirming the leadership workshop for 12 people on 21 March.\n\nNina\n"
    text = "For the booking file.\n\n\n" + block("-----Original Message-----", fields, blank_after=1) + orig
    raw = message(env_yahoo(seed, mailbox("Wendy Ross", "wendy.ross@example.net"), DROPBOX, "Fwd: Workshop booking",
                            "Tue, 5 Mar 2024 07:30:00 +0000 (UTC)", aol=True),
                  mbody("alternative", yahoo_boundary(seed), [text_part(text, "UTF-8", "7bit"),
                                                                text_part(html_doc(text_to_html(text)), "UTF-8", "7bit", subtype="html")]))
    fixed(C, seed, raw, exp(
        subject="Fwd: Workshop booking",
        forwarded=[fwd("nina@patel-consulting.example", "Nina Patel", to=["wendy.ross@example.net"],
                       subject="Workshop booking")],
        new_text_contains=["For the booking file."], new_text_excludes=["leadership workshop"]))

    # --- Proton Mail, HTML only ----------------------------------------------
    seed = "proton_forward"
    h = ('<div style="font-family: Arial, sans-serif; font-size: 14px;">Forwarding for the file &ndash; '
         'renewal is due in April.</div><div style="font-family: Arial, sans-serif; font-size: 14px;"><br></div>\n'
         '<div class="protonmail_signature_block" style="font-family: Arial, sans-serif; font-size: 14px;">\n'
         '    <div class="protonmail_signature_block-user protonmail_signature_block-empty"></div>\n'
         '    <div class="protonmail_signature_block-proton">Sent with <a target="_blank" href="https://proton.me/">'
         'Proton Mail</a> secure email.</div>\n</div>\n'
         '<div style="font-family: Arial, sans-serif; font-size: 14px;"><br></div><div class="protonmail_quote">\n'
         '        ------- Forwarded Message -------<br>\n'
         '        From: Henrik Olsen &lt;henrik@olsen-marine.example&gt;<br>\n'
         '        Date: On Monday, March 4th, 2024 at 1:07 PM<br>\n'
         '        Subject: Mooring contract renewal<br>\n'
         '        To: Chris Abbott &lt;chris.abbott@proton.example&gt;<br>\n'
         '        <br>\n'
         '        <blockquote class="protonmail_quote" type="cite">\n'
         '            <div dir="ltr">Hi Chris,<div><br></div><div>The mooring contract for berth C-14 renews on '
         '1&nbsp;April. The new annual fee is &euro;3,200.</div><div><br></div><div>Henrik</div></div>\n'
         '        </blockquote><br>\n    </div>\n')
    raw = message([
        rcvd(seed, "mail-4322.protonmail.ch", "185.70.43.22", "Tue, 05 Mar 2024 09:40:11 +0000"),
        "Date: Tue, 05 Mar 2024 09:40:05 +0000",
        f"To: {DROPBOX}",
        "From: Chris Abbott <chris.abbott@proton.example>",
        "Subject: Fwd: Mooring contract renewal",
        f"Message-ID: <{b64id(seed, 30).replace('/', '_').replace('+', '-')}=@proton.example>",
        "Feedback-ID: 20572950:user:proton",
        f"X-Pm-Message-ID: {b64id(seed + 'pm', 30)}",
        "MIME-Version: 1.0",
    ], tbody(h, "utf-8", "base64", subtype="html"))
    fixed(C, seed, raw, exp(
        subject="Fwd: Mooring contract renewal", from_=frm("chris.abbott@proton.example", "Chris Abbott"),
        people_include=["henrik@olsen-marine.example"],
        forwarded=[fwd("henrik@olsen-marine.example", "Henrik Olsen", to=["chris.abbott@proton.example"],
                       subject="Mooring contract renewal")],
        body_contains=["berth C-14", "\u20ac3,200"],
        new_text_contains=["Forwarding for the file"], new_text_excludes=["berth C-14"]))

    # --- Zoho Mail ------------------------------------------------------------
    seed = "zoho_forward"
    fields = [("From:", "Arjun Rao <arjun.rao@raotextiles.example>"),
              ("To:", '"Meera Nair"<meera.nair@harbourview.example>'),
              ("Date:", "Mon, 04 Mar 2024 14:32:55 +0530"),
              ("Subject:", "Sample order - cotton blend")]
    orig = "Dear Meera,\n\nPlease send 5 m samples of the 60/40 cotton blend in navy and ecru.\n\nRegards,\nArjun\n"
    text = ("Adding this lead.\n\nRegards,\nMeera\n\n\n\n"
            + block("============ Forwarded message ============", fields, blank_after=0)
            + "============ Forwarded message ============\n\n" + orig)
    n = int(hexid(seed, 8), 16)
    raw = message([
        rcvd(seed, "sender4-op-o12.zoho.com", "136.143.188.12", "Tue, 05 Mar 2024 04:05:10 +0000"),
        "Date: Tue, 05 Mar 2024 09:35:01 +0530",
        "From: Meera Nair <meera.nair@harbourview.example>",
        f"To: \"dropbox\" <{DROPBOX}>",
        f"Message-Id: <18e0e5a1b2c.{hexid(seed, 12, False)}.{n}@harbourview.example>",
        "Subject: Fwd: Sample order - cotton blend",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; \n\tboundary="----=_Part_{n % 1000}_{n % 10**9}.1709611501123"',
        "Importance: Medium",
        "User-Agent: Zoho Mail",
        "X-Mailer: Zoho Mail",
    ], ([], multipart(f"----=_Part_{n % 1000}_{n % 10**9}.1709611501123", [
        text_part(text, "UTF-8", "7bit"), text_part(html_doc(text_to_html(text)), "UTF-8", "7bit", subtype="html")])))
    fixed(C, seed, raw, exp(
        subject="Fwd: Sample order - cotton blend",
        forwarded=[fwd("arjun.rao@raotextiles.example", "Arjun Rao", to=["meera.nair@harbourview.example"],
                       subject="Sample order - cotton blend")],
        new_text_contains=["Adding this lead."], new_text_excludes=["cotton blend in navy"]))

    # --- Samsung Email (trailing spaces on the header lines) ---------------------
    seed = "samsung_forward"
    text = ("Please add Kofi as contact.\n\n\n\nSent from my Galaxy\n\n\n"
            "-------- Original message --------\n"
            "From: Kofi Mensah <kofi.mensah@mensah-agro.example> \n"
            "Date: 04/03/2024  20:11  (GMT+00:00) \n"
            "To: Bob Carter <bob.carter@harbourview.example> \n"
            "Cc: Ama Owusu <ama.owusu@mensah-agro.example> \n"
            "Subject: Cocoa shipment paperwork \n\n"
            "Hi Bob, the bill of lading and phytosanitary certificate for container MSKU 402913 are attached.\n"
            "Kofi\n")
    sb = "--_com.samsung.android.email_" + str(int(hexid(seed, 12), 16))[:18]
    raw = message([
        rcvd(seed, "mail-wm1-f41.google.com", "209.85.128.41", "Mon, 04 Mar 2024 20:14:02 +0000"),
        "Date: Mon, 04 Mar 2024 20:13:55 +0000",
        "Subject: Fwd: Cocoa shipment paperwork",
        f"Message-ID: <{b64id(seed, 24).lower().replace('/', 'x').replace('+', 'y')}.1709583235123@email.android.com>",
        "Importance: normal",
        f"From: {mb(BOB)}",
        f"To: {DROPBOX}",
        "MIME-Version: 1.0",
    ], mbody("alternative", sb, [text_part(text, "UTF-8", "quoted-printable"),
                                 text_part(html_doc(text_to_html(text)), "UTF-8", "quoted-printable", subtype="html")]))
    fixed(C, seed, raw, exp(
        subject="Fwd: Cocoa shipment paperwork",
        people_include=["kofi.mensah@mensah-agro.example", "ama.owusu@mensah-agro.example"],
        forwarded=[fwd("kofi.mensah@mensah-agro.example", "Kofi Mensah", to=[BOB[1]],
                       cc=["ama.owusu@mensah-agro.example"], subject="Cocoa shipment paperwork")],
        new_text_contains=["Please add Kofi as contact."], new_text_excludes=["phytosanitary"]))

    # --- Forwarded as attachment (message/rfc822) ---------------------------------
    def inner_outlook(seed, frm_mb, to, cc, subject, date, text):
        return message(env_outlook_smtp(seed, frm_mb, to, subject, date, cc=cc), tbody(text, "us-ascii", "7bit"))

    seed = "forward_as_attachment"
    inner = inner_outlook(seed + "inner", "Hugo Brandt <hugo.brandt@brandt-logistik.example>", mb(SARAH),
                          "Petra Vogel <petra.vogel@brandt-logistik.example>", "Warranty claim WC-2231",
                          "Mon, 4 Mar 2024 14:03:19 +0100",
                          "Dear Sarah,\n\nThe forklift charger (serial 88-1192) failed again. We would like to\n"
                          "open a warranty claim.\n\nBest regards\nHugo Brandt\n")
    b = tb_boundary(seed)
    raw = message(env_thunderbird(seed, mb(SARAH), DROPBOX, "Fwd: Warranty claim WC-2231",
                                  "Tue, 5 Mar 2024 08:44:00 +0000"),
                  mbody("mixed", b, [
                      text_part("Warranty claim from Brandt, original attached.\n\nSarah\n", "UTF-8", "7bit",
                                params="; format=flowed"),
                      entity(['Content-Type: message/rfc822; charset=UTF-8; name="Warranty claim WC-2231.eml"',
                              'Content-Disposition: attachment; filename="Warranty claim WC-2231.eml"',
                              "Content-Transfer-Encoding: 7bit"], inner)],
                         preamble="This is a multi-part message in MIME format."))
    fixed(C, seed, raw, exp(
        subject="Fwd: Warranty claim WC-2231",
        people_include=["hugo.brandt@brandt-logistik.example", "petra.vogel@brandt-logistik.example"],
        forwarded=[fwd("hugo.brandt@brandt-logistik.example", "Hugo Brandt", to=[SARAH[1]],
                       cc=["petra.vogel@brandt-logistik.example"], subject="Warranty claim WC-2231")],
        new_text_contains=["Warranty claim from Brandt"], new_text_excludes=["forklift charger"]))

    # --- Two messages forwarded as attachments in one mail (Outlook) -------------
    seed = "two_attached_forwards"
    in1 = inner_outlook(seed + "1", "Carla Mendes <carla@mendes-cafe.example>", mb(BOB), None,
                        "Coffee machine service", "Fri, 1 Mar 2024 09:12:00 +0000",
                        "Hi Bob,\n\nOur espresso machine needs its annual service. Can you book it?\n\nCarla\n")
    in2 = message(env_gmail(seed + "2", "Ivo Petrov <ivo.petrov@petrov-bakery.example>", mb(BOB),
                            "Oven maintenance contract", "Sat, 2 Mar 2024 16:40:11 +0200",
                            cc="Mila Petrova <mila@petrov-bakery.example>", domain="petrov-bakery.example"),
                  tbody("Hello Bob,\n\nWe would like to renew the oven maintenance contract for another year.\n\nIvo\n",
                        "UTF-8", None))
    nb = nextpart(seed)
    raw = message(env_outlook_smtp(seed, mb(BOB), DROPBOX, "FW: two service requests", "Tue, 5 Mar 2024 12:00:00 -0000"),
                  mbody("mixed", nb, [
                      text_part("Two service requests from last week, both attached.\n\nBob\n", "us-ascii", "7bit"),
                      entity(["Content-Type: message/rfc822", "Content-Disposition: attachment"], in1),
                      entity(["Content-Type: message/rfc822", "Content-Disposition: attachment"], in2)],
                        preamble="This is a multipart message in MIME format.\n"))
    fixed(C, seed, raw, exp(
        subject="FW: two service requests",
        people_include=["carla@mendes-cafe.example", "ivo.petrov@petrov-bakery.example", "mila@petrov-bakery.example"],
        forwarded=[fwd("carla@mendes-cafe.example", "Carla Mendes", to=[BOB[1]], subject="Coffee machine service"),
                   fwd("ivo.petrov@petrov-bakery.example", "Ivo Petrov", to=[BOB[1]],
                       cc=["mila@petrov-bakery.example"], subject="Oven maintenance contract")],
        new_text_contains=["Two service requests from last week"], new_text_excludes=["espresso machine"]))

    # --- Forward of a forward: Gmail forwarding an Outlook forward ----------------
    seed = "forward_of_forward"
    inner_fields = [("From:", "Oskar Nowak <oskar.nowak@nowak-stal.example>"),
                    ("Sent:", "Friday, March 1, 2024 10:20 AM"),
                    ("To:", "Sarah Okafor <sarah.okafor@harbourview.example>"),
                    ("Subject:", "Steel beam delivery - revised dates")]
    inner_body = ("Sarah,\n\nThe HEB 300 beams will now arrive on 12 March instead of 8 March.\n\nOskar\n")
    mid_text = ("Bob - can you take this one over while I'm away?\n\nSarah\n\n"
                + block(None, inner_fields, blank_after=1) + inner_body)
    outer_fields = [("From:", "Sarah Okafor <sarah.okafor@harbourview.example>"),
                    ("Date:", "Fri, Mar 1, 2024 at 11:02\u202fAM"),
                    ("Subject:", "FW: Steel beam delivery - revised dates"),
                    ("To:", "Bob Carter <bob.carter@harbourview.example>")]
    note = "Logging for the Nowak account."
    text = note + "\n\n" + block("---------- Forwarded message ---------", outer_fields, blank_after=2) + mid_text
    raw = message(env_gmail(seed, mb(BOB), DROPBOX, "Fwd: FW: Steel beam delivery - revised dates",
                            "Tue, 5 Mar 2024 10:55:00 +0000", domain="harbourview.example"),
                  gmail_alt(gm_boundary(seed), text, gmail_html(note, "---------- Forwarded message ---------",
                                                          outer_fields, mid_text)))
    fixed(C, seed, raw, exp(
        subject="Fwd: FW: Steel beam delivery - revised dates",
        people_include=[SARAH[1], "oskar.nowak@nowak-stal.example"],
        forwarded=[fwd(SARAH[1], "Sarah Okafor", to=[BOB[1]], subject="FW: Steel beam delivery - revised dates"),
                   fwd("oskar.nowak@nowak-stal.example", "Oskar Nowak", to=[SARAH[1]],
                       subject="Steel beam delivery - revised dates")],
        new_text_contains=["Logging for the Nowak account."],
        new_text_excludes=["HEB 300 beams", "take this one over"]))

    # --- Apple Mail forwarding a Gmail forward ----------------------------------------
    seed = "apple_forward_of_gmail_forward"
    g_fields = [("From:", "Yusuf Demir <yusuf@demir-tekstil.example>"),
                ("Date:", "Thu, Feb 29, 2024 at 3:15\u202fPM"),
                ("Subject:", "Fabric order"),
                ("To:", "Anna Berg <anna.berg@example.org>")]
    g_text = ("Anna, this is the supplier I mentioned.\n\n"
              + block("---------- Forwarded message ---------", g_fields, blank_after=2)
              + "Hello Anna,\n\nWe can deliver 2,000 m of linen by mid-April.\n\nYusuf\n")
    a_fields = [("From:", "Anna Berg <anna.berg@example.org>"),
                ("Subject:", "Fwd: Fabric order"),
                ("Date:", "1 March 2024 at 08:10:44 GMT"),
                ("To:", "Bob Carter <bob.carter@harbourview.example>")]
    text = "New supplier lead.\n\n" + block("Begin forwarded message:\n", a_fields, blank_after=1) + g_text
    raw = message(env_apple(seed, mb(BOB), DROPBOX, "Fwd: Fabric order", "Tue, 5 Mar 2024 09:30:00 +0000"),
                  tbody(text, "utf-8", "quoted-printable"))
    fixed(C, seed, raw, exp(
        subject="Fwd: Fabric order",
        people_include=["anna.berg@example.org", "yusuf@demir-tekstil.example"],
        forwarded=[fwd("anna.berg@example.org", "Anna Berg", to=[BOB[1]], subject="Fwd: Fabric order"),
                   fwd("yusuf@demir-tekstil.example", "Yusuf Demir", to=["anna.berg@example.org"],
                       subject="Fabric order")],
        new_text_contains=["New supplier lead."], new_text_excludes=["2,000 m of linen"]))

    # --- Attached message whose own body is an inline Gmail forward ---------------
    seed = "attached_inline_forward"
    ga = [("From:", "Ruth Adeyemi <ruth@adeyemi-law.example>"),
          ("Date:", "Wed, Feb 28, 2024 at 9:05\u202fAM"),
          ("Subject:", "Lease review"),
          ("To:", "Sarah Okafor <sarah.okafor@harbourview.example>")]
    itext = ("Bob, over to you.\n\n" + block("---------- Forwarded message ---------", ga, blank_after=2)
             + "Sarah,\n\nI have reviewed the lease; clause 7.2 needs renegotiating.\n\nRuth\n")
    inner = message(env_gmail(seed + "in", mb(SARAH), mb(BOB), "Fwd: Lease review", "Wed, 28 Feb 2024 10:00:00 +0000",
                              domain="harbourview.example"), tbody(itext, "UTF-8", None))
    raw = message(env_apple(seed, mb(BOB), DROPBOX, "Fwd: Lease review", "Tue, 5 Mar 2024 09:00:00 +0000"),
                  mbody("mixed", apple_boundary(seed), [
                      text_part("See attached.\n", "us-ascii", "7bit"),
                      entity(['Content-Disposition: attachment;\n\tfilename="Fwd Lease review.eml"',
                              'Content-Type: message/rfc822;\n\tname="Fwd Lease review.eml"'], inner)]))
    fixed(C, seed, raw, exp(
        subject="Fwd: Lease review",
        people_include=[SARAH[1], "ruth@adeyemi-law.example"],
        forwarded=[fwd(SARAH[1], "Sarah Okafor", to=[BOB[1]], subject="Fwd: Lease review"),
                   fwd("ruth@adeyemi-law.example", "Ruth Adeyemi", to=[SARAH[1]], subject="Lease review")],
        new_text_contains=["See attached."], new_text_excludes=["clause 7.2"]))


# ==========================================================================
# languages/: localised forward blocks and reply attributions
# ==========================================================================
# Per language: the people, the original message, the labels Gmail and Outlook
# use in that language, and the charsets such mail typically arrives in.
# cs = (charset, transfer encoding) for the Gmail forward, Outlook forward, reply.

LANGS = [
    dict(code="en", fwd=("Bob Carter", "bob.carter@harbourview.example"),
         orig=("Emily Clarke", "emily.clarke@clarke-engineering.example"),
         cc=("Mark Hughes", "mark.hughes@clarke-engineering.example"),
         subject="Service contract renewal for 2024",
         body="Hello Bob,\n\nOur service contract expires on 31 March. Could you send us the renewal terms\n"
              "for 2024, including the on-site support option?\n\nBest regards,\nEmily Clarke\n",
         key="including the on-site support option",
         note="New renewal lead, please file.",
         reply="Thanks Emily, the renewal terms are attached. On-site support is included.",
         g_sep="---------- Forwarded message ---------", g_labels=["From:", "Date:", "Subject:", "To:", "Cc:"],
         g_date="Mon, Mar 4, 2024 at 3:41\u202fPM",
         o_line="-----Original Message-----", o_labels=["From:", "Sent:", "To:", "Cc:", "Subject:"],
         o_date="Monday, March 4, 2024 3:41 PM", o_prefix="FW: ",
         attr="On Mon, Mar 4, 2024 at 3:41\u202fPM {name} <{addr}> wrote:",
         cs=[("UTF-8", "quoted-printable"), ("us-ascii", "7bit"), ("UTF-8", "quoted-printable")]),
    dict(code="fr", fwd=("Thomas Martin", "thomas.martin@mobilier-durand.example"),
         orig=("\u00c9lodie Lef\u00e8vre", "elodie.lefevre@cafe-belleville.example"),
         cc=("Aur\u00e9lien Roux", "a.roux@cafe-belleville.example"),
         subject="Demande de devis pour le mobilier de terrasse",
         body="Bonjour Monsieur Martin,\n\nPourriez-vous nous envoyer un devis pour 12 tables et 48 chaises de terrasse,\n"
              "livr\u00e9es \u00e0 Lyon avant la fin avril ? Nous pr\u00e9f\u00e9rons le mod\u00e8le \u00ab Riviera \u00bb en teck.\n\n"
              "Bien cordialement,\n\u00c9lodie Lef\u00e8vre\nCaf\u00e9 Belleville\n",
         key="livr\u00e9es \u00e0 Lyon avant la fin avril",
         note="Nouveau prospect rencontr\u00e9 au salon, \u00e0 classer s'il vous pla\u00eet.",
         reply="Merci \u00c9lodie, vous trouverez le devis ci-joint. La livraison en avril est possible.",
         g_sep="---------- Message transf\u00e9r\u00e9 ---------", g_labels=["De :", "Date :", "Objet :", "\u00c0 :", "Cc :"],
         g_date="lun. 4 mars 2024 \u00e0 15:41",
         o_line=None, o_labels=["De :", "Envoy\u00e9 :", "\u00c0 :", "Cc :", "Objet :"],
         o_date="lundi 4 mars 2024 15:41", o_prefix="TR: ",
         attr="Le lun. 4 mars 2024 \u00e0 15:41, {name} <{addr}> a \u00e9crit :",
         cs=[("UTF-8", "quoted-printable"), ("Windows-1252", "quoted-printable"), ("iso-8859-1", "quoted-printable")]),
    dict(code="de", fwd=("Katrin Sch\u00e4fer", "katrin.schaefer@buero-hansen.example"),
         orig=("J\u00fcrgen M\u00fcller", "j.mueller@mueller-bau.example"),
         cc=("Sabine Wei\u00df", "s.weiss@mueller-bau.example"),
         subject="Angebot f\u00fcr B\u00fcrom\u00f6bel, Neubau K\u00f6ln",
         body="Sehr geehrte Frau Sch\u00e4fer,\n\nbitte senden Sie uns ein Angebot \u00fcber 25 Schreibtische und 25 B\u00fcrost\u00fchle\n"
              "f\u00fcr unseren Neubau in K\u00f6ln. Die Lieferung sollte bis Ende Mai erfolgen.\n\n"
              "Mit freundlichen Gr\u00fc\u00dfen\nJ\u00fcrgen M\u00fcller\nM\u00fcller Bau GmbH\n",
         key="25 Schreibtische und 25 B\u00fcrost\u00fchle",
         note="Bitte dem Kunden M\u00fcller Bau zuordnen, danke!",
         reply="Vielen Dank, Herr M\u00fcller, das Angebot folgt bis Freitag.",
         g_sep="---------- Weitergeleitete Nachricht ---------", g_labels=["Von:", "Datum:", "Betreff:", "An:", "Cc:"],
         g_date="Mo., 4. M\u00e4rz 2024 um 15:41 Uhr",
         o_line="-----Urspr\u00fcngliche Nachricht-----", o_labels=["Von:", "Gesendet:", "An:", "Cc:", "Betreff:"],
         o_date="Montag, 4. M\u00e4rz 2024 15:41", o_prefix="WG: ",
         attr="Am Mo., 4. M\u00e4rz 2024 um 15:41 Uhr schrieb {name} <{addr}>:",
         cs=[("UTF-8", "quoted-printable"), ("iso-8859-1", "quoted-printable"), ("iso-8859-15", "quoted-printable")]),
    dict(code="es", fwd=("Luc\u00eda Fern\u00e1ndez", "lucia.fernandez@distribuciones-sol.example"),
         orig=("Javier Ortega", "javier.ortega@hotel-mirador.example"),
         cc=("Nuria Gil", "nuria.gil@hotel-mirador.example"),
         subject="Presupuesto de ropa de cama para el hotel",
         body="Hola Luc\u00eda:\n\n\u00bfPodr\u00eda enviarnos un presupuesto para 200 juegos de s\u00e1banas y 150 edredones?\n"
              "Necesitamos la entrega en M\u00e1laga antes del 15 de abril.\n\nUn saludo,\nJavier Ortega\nHotel El Mirador\n",
         key="200 juegos de s\u00e1banas",
         note="Nuevo cliente potencial, por favor archivar.",
         reply="Gracias, Javier. Le env\u00edo el presupuesto ma\u00f1ana por la ma\u00f1ana.",
         g_sep="---------- Mensaje reenviado ---------", g_labels=["De:", "Fecha:", "Asunto:", "Para:", "CC:"],
         g_date="lun, 4 mar 2024 a las 15:41",
         o_line="-----Mensaje original-----", o_labels=["De:", "Enviado el:", "Para:", "CC:", "Asunto:"],
         o_date="lunes, 4 de marzo de 2024 15:41", o_prefix="RV: ",
         attr="El lun, 4 mar 2024 a las 15:41, {name} (<{addr}>) escribi\u00f3:",
         cs=[("UTF-8", "quoted-printable"), ("Windows-1252", "quoted-printable"), ("iso-8859-1", "quoted-printable")]),
    dict(code="it", fwd=("Giulia Bianchi", "giulia.bianchi@forniture-bianchi.example"),
         orig=("Marco Rossi", "marco.rossi@trattoria-rossi.example"),
         cc=("Francesca Conti", "f.conti@trattoria-rossi.example"),
         subject="Richiesta di preventivo per la cucina",
         body="Buongiorno Giulia,\n\npotrebbe inviarci un preventivo per il nuovo forno e la cappa? Vorremmo\n"
              "completare l'installazione entro met\u00e0 aprile, perch\u00e9 la stagione \u00e8 vicina.\n"
              "Il nostro budget \u00e8 di circa 8.000 \u20ac.\n\nCordiali saluti,\nMarco Rossi\nTrattoria Rossi\n",
         key="perch\u00e9 la stagione \u00e8 vicina",
         note="Nuovo contatto dalla fiera, da archiviare.",
         reply="Grazie Marco, le invio il preventivo entro venerd\u00ec.",
         g_sep="---------- Messaggio inoltrato ---------", g_labels=["Da:", "Data:", "Oggetto:", "A:", "Cc:"],
         g_date="lun 4 mar 2024 alle ore 15:41",
         o_line=None, o_labels=["Da:", "Inviato:", "A:", "Cc:", "Oggetto:"],
         o_date="luned\u00ec 4 marzo 2024 15:41", o_prefix="I: ",
         attr="Il giorno lun 4 mar 2024 alle ore 15:41 {name} <{addr}> ha scritto:",
         cs=[("UTF-8", "quoted-printable"), ("iso-8859-15", "quoted-printable"), ("windows-1252", "quoted-printable")]),
    dict(code="pt", fwd=("Ana Souza", "ana.souza@moveis-souza.example"),
         orig=("Jo\u00e3o Pereira", "joao.pereira@padaria-estrela.example"),
         cc=("Mariana Costa", "mariana.costa@padaria-estrela.example"),
         subject="Or\u00e7amento de balc\u00f5es refrigerados",
         body="Ol\u00e1 Ana,\n\nPoderia nos enviar um or\u00e7amento para tr\u00eas balc\u00f5es refrigerados? A entrega\n"
              "precisa ser feita em S\u00e3o Paulo at\u00e9 o fim de abril.\n\nAtenciosamente,\nJo\u00e3o Pereira\nPadaria Estrela\n",
         key="tr\u00eas balc\u00f5es refrigerados",
         note="Novo cliente, por favor arquivar.",
         reply="Obrigada, Jo\u00e3o. Envio o or\u00e7amento amanh\u00e3.",
         g_sep="---------- Mensagem encaminhada ---------", g_labels=["De:", "Data:", "Assunto:", "Para:", "Cc:"],
         g_date="seg., 4 de mar. de 2024 \u00e0s 15:41",
         o_line="-----Mensagem original-----", o_labels=["De:", "Enviada em:", "Para:", "Cc:", "Assunto:"],
         o_date="segunda-feira, 4 de mar\u00e7o de 2024 15:41", o_prefix="ENC: ",
         attr="Em seg., 4 de mar. de 2024 \u00e0s 15:41, {name} <{addr}> escreveu:",
         cs=[("UTF-8", "quoted-printable"), ("Windows-1252", "quoted-printable"), ("ISO-8859-1", "quoted-printable")]),
    dict(code="nl", fwd=("Sanne de Boer", "sanne.deboer@kantoorhuis.example"),
         orig=("Jan de Vries", "jan.devries@devries-installatie.example"),
         cc=("Eva Visser", "eva.visser@devries-installatie.example"),
         subject="Offerte voor kantoorinrichting",
         body="Beste Sanne,\n\nKunt u ons een offerte sturen voor de inrichting van ons nieuwe kantoor in\n"
              "Zwolle? Het gaat om 30 werkplekken en een vergaderruimte. Graag v\u00f3\u00f3r 1 april.\n\n"
              "Met vriendelijke groet,\nJan de Vries\n",
         key="Graag v\u00f3\u00f3r 1 april",
         note="Nieuwe lead, graag archiveren bij De Vries Installatie.",
         reply="Dank je, Jan. De offerte volgt deze week.",
         g_sep="---------- Doorgestuurd bericht ---------", g_labels=["Van:", "Datum:", "Onderwerp:", "Aan:", "Cc:"],
         g_date="ma 4 mrt 2024 om 15:41",
         o_line=None, o_labels=["Van:", "Verzonden:", "Aan:", "CC:", "Onderwerp:"],
         o_date="maandag 4 maart 2024 15:41", o_prefix="FW: ",
         attr="Op ma 4 mrt 2024 om 15:41 schreef {name} <{addr}>:",
         cs=[("UTF-8", "quoted-printable"), ("iso-8859-1", "quoted-printable"), ("windows-1252", "quoted-printable")]),
    dict(code="pl", fwd=("Agnieszka W\u00f3jcik", "a.wojcik@meble-wojcik.example"),
         orig=("Pawe\u0142 Kowalski", "pawel.kowalski@kowalski-serwis.example"),
         cc=("Ma\u0142gorzata Zieli\u0144ska", "m.zielinska@kowalski-serwis.example"),
         subject="Zapytanie ofertowe: wyposa\u017cenie biura",
         body="Dzie\u0144 dobry,\n\nprosz\u0119 o przes\u0142anie oferty na 20 biurek i 20 krzese\u0142 obrotowych z dostaw\u0105\n"
              "do \u0141odzi do ko\u0144ca kwietnia.\n\nZ powa\u017caniem,\nPawe\u0142 Kowalski\n",
         key="20 krzese\u0142 obrotowych z dostaw\u0105",
         note="Nowy klient, prosz\u0119 zarchiwizowa\u0107.",
         reply="Dzi\u0119kuj\u0119, Panie Pawle. Ofert\u0119 wy\u015bl\u0119 jutro.",
         g_sep="---------- Przekazana wiadomo\u015b\u0107 ---------", g_labels=["Od:", "Data:", "Temat:", "Do:", "DW:"],
         g_date="pon., 4 mar 2024 o 15:41",
         o_line="-----Wiadomo\u015b\u0107 oryginalna-----", o_labels=["Od:", "Wys\u0142ano:", "Do:", "DW:", "Temat:"],
         o_date="poniedzia\u0142ek, 4 marca 2024 15:41", o_prefix="PD: ",
         attr="pon., 4 mar 2024 o 15:41 {name} <{addr}> napisa\u0142(a):",
         cs=[("UTF-8", "quoted-printable"), ("iso-8859-2", "quoted-printable"), ("iso-8859-2", "base64")]),
    dict(code="sv", fwd=("Karin Lindberg", "karin.lindberg@kontorsdesign.example"),
         orig=("Erik Andersson", "erik.andersson@andersson-bygg.example"),
         cc=("\u00c5sa Nystr\u00f6m", "asa.nystrom@andersson-bygg.example"),
         subject="Offertf\u00f6rfr\u00e5gan f\u00f6r kontorsm\u00f6bler",
         body="Hej Karin,\n\nKan ni skicka en offert p\u00e5 15 h\u00f6j- och s\u00e4nkbara skrivbord till v\u00e5rt kontor i\n"
              "G\u00f6teborg? Leverans \u00f6nskas f\u00f6re p\u00e5sk.\n\nMed v\u00e4nliga h\u00e4lsningar,\nErik Andersson\n",
         key="h\u00f6j- och s\u00e4nkbara skrivbord",
         note="Ny kund, v\u00e4nligen arkivera.",
         reply="Tack Erik, offerten kommer i morgon.",
         g_sep="---------- Vidarebefordrat meddelande ---------", g_labels=["Fr\u00e5n:", "Datum:", "\u00c4mne:", "Till:", "Kopia:"],
         g_date="m\u00e5n 4 mars 2024 kl. 15:41",
         o_line=None, o_labels=["Fr\u00e5n:", "Skickat:", "Till:", "Kopia:", "\u00c4mne:"],
         o_date="den 4 mars 2024 15:41", o_prefix="VB: ",
         attr="Den m\u00e5n 4 mars 2024 kl 15:41 skrev {name} <{addr}>:",
         cs=[("UTF-8", "quoted-printable"), ("iso-8859-1", "quoted-printable"), ("windows-1252", "quoted-printable")]),
    dict(code="da", fwd=("Mette Jensen", "mette.jensen@kontorhuset.example"),
         orig=("Lars Nielsen", "lars.nielsen@nielsen-vvs.example"),
         cc=("S\u00f8ren Holm", "soren.holm@nielsen-vvs.example"),
         subject="Tilbud p\u00e5 kontorm\u00f8bler",
         body="Hej Mette,\n\nKan I sende os et tilbud p\u00e5 10 h\u00e6ve-s\u00e6nkeborde til vores kontor i \u00c5rhus?\n"
              "Vi vil gerne have leveringen inden udgangen af april.\n\nMed venlig hilsen\nLars Nielsen\n",
         key="10 h\u00e6ve-s\u00e6nkeborde til vores kontor i \u00c5rhus",
         note="Nyt kundeemne, arkiv\u00e9r venligst.",
         reply="Tak Lars, tilbuddet f\u00f8lger i morgen.",
         g_sep="---------- Videresendt besked ---------", g_labels=["Fra:", "Dato:", "Emne:", "Til:", "Cc:"],
         g_date="man. 4. mar. 2024 kl. 15.41",
         o_line="-----Oprindelig meddelelse-----", o_labels=["Fra:", "Sendt:", "Til:", "Cc:", "Emne:"],
         o_date="4. marts 2024 15:41", o_prefix="VS: ",
         attr="Den man. 4. mar. 2024 kl. 15.41 skrev {name} <{addr}>:",
         cs=[("UTF-8", "quoted-printable"), ("Windows-1252", "quoted-printable"), ("iso-8859-1", "quoted-printable")]),
    dict(code="no", fwd=("Ingrid Hansen", "ingrid.hansen@kontorpartner.example"),
         orig=("Ola Nordmann", "ola.nordmann@nordmann-ror.example"),
         cc=("Kari B\u00f8e", "kari.boe@nordmann-ror.example"),
         subject="Foresp\u00f8rsel om tilbud p\u00e5 kontorstoler",
         body="Hei Ingrid,\n\nKan dere sende oss et tilbud p\u00e5 25 kontorstoler til v\u00e5rt nye kontor i Troms\u00f8?\n"
              "Vi trenger dem f\u00f8r 1. mai.\n\nMed vennlig hilsen\nOla Nordmann\n",
         key="v\u00e5rt nye kontor i Troms\u00f8",
         note="Ny kunde, vennligst arkiver.",
         reply="Takk Ola, tilbudet kommer i morgen.",
         g_sep="---------- Videresendt melding ---------", g_labels=["Fra:", "Dato:", "Emne:", "Til:", "Kopi:"],
         g_date="man. 4. mar. 2024 kl. 15:41",
         o_line=None, o_labels=["Fra:", "Sendt:", "Til:", "Kopi:", "Emne:"],
         o_date="mandag 4. mars 2024 15:41", o_prefix="VS: ",
         attr="man. 4. mar. 2024 kl. 15:41 skrev {name} <{addr}>:",
         cs=[("UTF-8", "quoted-printable"), ("iso-8859-1", "quoted-printable"), ("windows-1252", "quoted-printable")]),
    dict(code="fi", fwd=("Laura Virtanen", "laura.virtanen@toimistokaluste.example"),
         orig=("Matti Korhonen", "matti.korhonen@korhonen-rakennus.example"),
         cc=("P\u00e4ivi M\u00e4kinen", "paivi.makinen@korhonen-rakennus.example"),
         subject="Tarjouspyynt\u00f6: toimistokalusteet",
         body="Hei Laura,\n\nVoisitteko l\u00e4hett\u00e4\u00e4 tarjouksen 20 s\u00e4hk\u00f6p\u00f6yd\u00e4st\u00e4 uuteen toimistoomme Tampereelle?\n"
              "Toimitus tarvitaan huhtikuun loppuun menness\u00e4. Budjettimme on noin 15 000 \u20ac.\n\n"
              "Yst\u00e4v\u00e4llisin terveisin\nMatti Korhonen\n",
         key="20 s\u00e4hk\u00f6p\u00f6yd\u00e4st\u00e4",
         note="Uusi asiakas, arkistoikaa.",
         reply="Kiitos Matti, tarjous tulee huomenna.",
         g_sep="---------- V\u00e4litetty viesti ---------",
         g_labels=["L\u00e4hett\u00e4j\u00e4:", "P\u00e4iv\u00e4m\u00e4\u00e4r\u00e4:", "Aihe:", "Vastaanottaja:", "Kopio:"],
         g_date="ma 4. maalisk. 2024 klo 15.41",
         o_line="-----Alkuper\u00e4inen viesti-----",
         o_labels=["L\u00e4hett\u00e4j\u00e4:", "L\u00e4hetetty:", "Vastaanottaja:", "Kopio:", "Aihe:"],
         o_date="maanantai 4. maaliskuuta 2024 15.41", o_prefix="VL: ",
         attr="ma 4. maalisk. 2024 klo 15.41 {name} ({addr}) kirjoitti:",
         cs=[("UTF-8", "quoted-printable"), ("iso-8859-15", "quoted-printable"), ("windows-1252", "quoted-printable")]),
    dict(code="cs", fwd=("Petra Dvo\u0159\u00e1kov\u00e1", "petra.dvorakova@kancelar-plus.example"),
         orig=("Jan Nov\u00e1k", "jan.novak@novak-stavby.example"),
         cc=("Tom\u00e1\u0161 \u010cern\u00fd", "tomas.cerny@novak-stavby.example"),
         subject="Popt\u00e1vka kancel\u00e1\u0159sk\u00e9ho n\u00e1bytku",
         body="Dobr\u00fd den,\n\npros\u00edm o zasl\u00e1n\u00ed nab\u00eddky na 12 kancel\u00e1\u0159sk\u00fdch \u017eidl\u00ed a 6 stol\u016f s dod\u00e1n\u00edm\n"
              "do Brna do konce dubna.\n\nS pozdravem\nJan Nov\u00e1k\nNov\u00e1k stavby s.r.o.\n",
         key="12 kancel\u00e1\u0159sk\u00fdch \u017eidl\u00ed",
         note="Nov\u00fd z\u00e1kazn\u00edk, pros\u00edm archivovat.",
         reply="D\u011bkuji, pane Nov\u00e1ku, nab\u00eddku po\u0161lu z\u00edtra.",
         g_sep="---------- P\u0159eposlan\u00e1 zpr\u00e1va ---------", g_labels=["Od:", "Datum:", "P\u0159edm\u011bt:", "Komu:", "Kopie:"],
         g_date="po 4. 3. 2024 v 15:41",
         o_line=None, o_labels=["Od:", "Odesl\u00e1no:", "Komu:", "Kopie:", "P\u0159edm\u011bt:"],
         o_date="pond\u011bl\u00ed 4. b\u0159ezna 2024 15:41", o_prefix="FW: ",
         attr="po 4. 3. 2024 v 15:41 odes\u00edlatel {name} <{addr}> napsal:",
         cs=[("UTF-8", "quoted-printable"), ("windows-1250", "quoted-printable"), ("iso-8859-2", "quoted-printable")]),
    dict(code="ru", fwd=("\u041e\u043b\u044c\u0433\u0430 \u0421\u043c\u0438\u0440\u043d\u043e\u0432\u0430", "o.smirnova@ofis-mebel.example"),
         orig=("\u0418\u0432\u0430\u043d \u041f\u0435\u0442\u0440\u043e\u0432", "ivan.petrov@petrov-stroy.example"),
         cc=("\u0410\u043d\u043d\u0430 \u041a\u0443\u0437\u043d\u0435\u0446\u043e\u0432\u0430", "anna.kuznetsova@petrov-stroy.example"),
         subject="\u0417\u0430\u043f\u0440\u043e\u0441 \u043a\u043e\u043c\u043c\u0435\u0440\u0447\u0435\u0441\u043a\u043e\u0433\u043e \u043f\u0440\u0435\u0434\u043b\u043e\u0436\u0435\u043d\u0438\u044f",
         body="\u0414\u043e\u0431\u0440\u044b\u0439 \u0434\u0435\u043d\u044c, \u041e\u043b\u044c\u0433\u0430!\n\n"
              "\u041f\u0440\u043e\u0448\u0443 \u043f\u0440\u0438\u0441\u043b\u0430\u0442\u044c \u043a\u043e\u043c\u043c\u0435\u0440\u0447\u0435\u0441\u043a\u043e\u0435 "
              "\u043f\u0440\u0435\u0434\u043b\u043e\u0436\u0435\u043d\u0438\u0435 \u043d\u0430 30 \u043e\u0444\u0438\u0441\u043d\u044b\u0445 "
              "\u043a\u0440\u0435\u0441\u0435\u043b \u0441 \u0434\u043e\u0441\u0442\u0430\u0432\u043a\u043e\u0439\n"
              "\u0432 \u041a\u0430\u0437\u0430\u043d\u044c \u0434\u043e \u043a\u043e\u043d\u0446\u0430 \u0430\u043f\u0440\u0435\u043b\u044f.\n\n"
              "\u0421 \u0443\u0432\u0430\u0436\u0435\u043d\u0438\u0435\u043c,\n\u0418\u0432\u0430\u043d \u041f\u0435\u0442\u0440\u043e\u0432\n"
              "\u041e\u041e\u041e \"\u041f\u0435\u0442\u0440\u043e\u0432 \u0421\u0442\u0440\u043e\u0439\"\n",
         key="30 \u043e\u0444\u0438\u0441\u043d\u044b\u0445 \u043a\u0440\u0435\u0441\u0435\u043b",
         note="\u041d\u043e\u0432\u044b\u0439 \u043a\u043b\u0438\u0435\u043d\u0442, \u043f\u0440\u043e\u0448\u0443 \u0437\u0430\u043d\u0435\u0441\u0442\u0438 \u0432 \u0431\u0430\u0437\u0443.",
         reply="\u0421\u043f\u0430\u0441\u0438\u0431\u043e, \u0418\u0432\u0430\u043d! \u041f\u0440\u0435\u0434\u043b\u043e\u0436\u0435\u043d\u0438\u0435 "
               "\u043e\u0442\u043f\u0440\u0430\u0432\u043b\u044e \u0437\u0430\u0432\u0442\u0440\u0430.",
         g_sep="---------- \u041f\u0435\u0440\u0435\u0441\u044b\u043b\u0430\u0435\u043c\u043e\u0435 \u0441\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0435 ---------",
         g_labels=["\u041e\u0442:", "\u0414\u0430\u0442\u0430:", "\u0422\u0435\u043c\u0430:", "\u041a\u043e\u043c\u0443:", "\u041a\u043e\u043f\u0438\u044f:"],
         g_date="\u043f\u043d, 4 \u043c\u0430\u0440. 2024\u00a0\u0433. \u0432 15:41",
         o_line="-----\u0418\u0441\u0445\u043e\u0434\u043d\u043e\u0435 \u0441\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0435-----",
         o_labels=["\u041e\u0442:", "\u041e\u0442\u043f\u0440\u0430\u0432\u043b\u0435\u043d\u043e:", "\u041a\u043e\u043c\u0443:",
                   "\u041a\u043e\u043f\u0438\u044f:", "\u0422\u0435\u043c\u0430:"],
         o_date="4 \u043c\u0430\u0440\u0442\u0430 2024 \u0433. 15:41", o_prefix="FW: ",
         attr="\u043f\u043d, 4 \u043c\u0430\u0440. 2024\u00a0\u0433. \u0432 15:41, {name} <{addr}>:",
         cs=[("UTF-8", "base64"), ("koi8-r", "quoted-printable"), ("windows-1251", "base64")]),
    dict(code="tr", fwd=("Elif Kaya", "elif.kaya@ofis-dunyasi.example"),
         orig=("Ahmet Y\u0131lmaz", "ahmet.yilmaz@yilmaz-insaat.example"),
         cc=("Zeynep \u015eahin", "zeynep.sahin@yilmaz-insaat.example"),
         subject="Ofis mobilyas\u0131 i\u00e7in fiyat teklifi",
         body="Merhaba Elif Han\u0131m,\n\n\u0130stanbul'daki yeni ofisimiz i\u00e7in 18 \u00e7al\u0131\u015fma masas\u0131 ve 18 sandalye i\u00e7in fiyat\n"
              "teklifi g\u00f6nderebilir misiniz? Teslimat\u0131n nisan sonuna kadar yap\u0131lmas\u0131 gerekiyor.\n\n"
              "Sayg\u0131lar\u0131mla,\nAhmet Y\u0131lmaz\n",
         key="18 \u00e7al\u0131\u015fma masas\u0131",
         note="Yeni m\u00fc\u015fteri, l\u00fctfen ar\u015fivleyin.",
         reply="Te\u015fekk\u00fcrler Ahmet Bey, teklifi yar\u0131n g\u00f6nderiyorum.",
         g_sep="---------- \u0130letilen ileti ---------", g_labels=["Kimden:", "Tarih:", "Konu:", "Kime:", "Cc:"],
         g_date="4 Mar 2024 Pzt 15:41",
         o_line=None, o_labels=["Kimden:", "G\u00f6nderildi:", "Kime:", "Bilgi:", "Konu:"],
         o_date="4 Mart 2024 Pazartesi 15:41", o_prefix="\u0130LT: ",
         attr="{name} <{addr}>, 4 Mar 2024 Pzt, 15:41 tarihinde \u015funu yazd\u0131:",
         cs=[("UTF-8", "quoted-printable"), ("windows-1254", "quoted-printable"), ("iso-8859-9", "quoted-printable")]),
    dict(code="ja", fwd=("\u4f50\u85e4 \u82b1\u5b50", "hanako.sato@office-sato.example"),
         orig=("\u5c71\u7530 \u592a\u90ce", "taro.yamada@yamada-kensetsu.example"),
         cc=("\u9234\u6728 \u4e00\u90ce", "ichiro.suzuki@yamada-kensetsu.example"),
         subject="\u4e8b\u52d9\u7528\u5bb6\u5177\u306e\u304a\u898b\u7a4d\u3082\u308a\u306e\u304a\u9858\u3044",
         body="\u4f50\u85e4\u69d8\n\n\u3044\u3064\u3082\u304a\u4e16\u8a71\u306b\u306a\u3063\u3066\u304a\u308a\u307e\u3059\u3002"
              "\u5c71\u7530\u5efa\u8a2d\u306e\u5c71\u7530\u3067\u3059\u3002\n"
              "\u65b0\u3057\u3044\u5927\u962a\u4e8b\u52d9\u6240\u7528\u306b\u3001\u673a\uff12\uff10\u53f0\u3068\u6905\u5b50\uff12\uff10\u811a"
              "\u306e\u304a\u898b\u7a4d\u3082\u308a\u3092\u304a\u9858\u3044\u3067\u304d\u307e\u3059\u3067\u3057\u3087\u3046\u304b\u3002\n"
              "\uff14\u6708\u672b\u307e\u3067\u306e\u7d0d\u54c1\u3092\u5e0c\u671b\u3057\u3066\u304a\u308a\u307e\u3059\u3002\n\n"
              "\u3088\u308d\u3057\u304f\u304a\u9858\u3044\u3044\u305f\u3057\u307e\u3059\u3002\n\u5c71\u7530 \u592a\u90ce\n",
         key="\u65b0\u3057\u3044\u5927\u962a\u4e8b\u52d9\u6240\u7528",
         note="\u65b0\u898f\u306e\u304a\u5ba2\u69d8\u3067\u3059\u3002\u767b\u9332\u3092\u304a\u9858\u3044\u3057\u307e\u3059\u3002",
         reply="\u5c71\u7530\u69d8\u3001\u3054\u9023\u7d61\u3042\u308a\u304c\u3068\u3046\u3054\u3056\u3044\u307e\u3059\u3002"
               "\u660e\u65e5\u304a\u898b\u7a4d\u3082\u308a\u3092\u304a\u9001\u308a\u3057\u307e\u3059\u3002",
         g_sep="---------- \u8ee2\u9001\u3055\u308c\u305f\u30e1\u30c3\u30bb\u30fc\u30b8 ---------",
         g_labels=["\u5dee\u51fa\u4eba:", "\u65e5\u4ed8:", "\u4ef6\u540d:", "\u5b9b\u5148:", "Cc:"],
         g_date="2024\u5e743\u67084\u65e5(\u6708) 15:41",
         o_line="-----Original Message-----",
         o_labels=["\u5dee\u51fa\u4eba:", "\u9001\u4fe1\u65e5\u6642:", "\u5b9b\u5148:", "CC:", "\u4ef6\u540d:"],
         o_date="2024\u5e743\u67084\u65e5 15:41", o_prefix="FW: ",
         attr="2024\u5e743\u67084\u65e5(\u6708) 15:41 {name} <{addr}>:",
         cs=[("UTF-8", "base64"), ("ISO-2022-JP", "7bit"), ("Shift_JIS", "base64")]),
    dict(code="zh", fwd=("\u674e\u5a1c", "li.na@bangong-jiaju.example"),
         orig=("\u5f20\u4f1f", "zhang.wei@zhang-jianzhu.example"),
         cc=("\u738b\u82b3", "wang.fang@zhang-jianzhu.example"),
         subject="\u529e\u516c\u5bb6\u5177\u62a5\u4ef7\u8bf7\u6c42",
         body="\u674e\u5973\u58eb\uff0c\u60a8\u597d\uff01\n\n"
              "\u8bf7\u4e3a\u6211\u4eec\u4e0a\u6d77\u65b0\u529e\u516c\u5ba4\u7684\u4e8c\u5341\u5f20\u529e\u516c\u684c\u548c"
              "\u4e8c\u5341\u628a\u6905\u5b50\u63d0\u4f9b\u62a5\u4ef7\uff0c\n\u5e0c\u671b\u5728\u56db\u6708\u5e95\u4e4b\u524d\u4ea4\u8d27\u3002\n\n"
              "\u6b64\u81f4\n\u656c\u793c\n\u5f20\u4f1f\n",
         key="\u4e0a\u6d77\u65b0\u529e\u516c\u5ba4",
         note="\u65b0\u5ba2\u6237\uff0c\u8bf7\u5f52\u6863\u3002",
         reply="\u5f20\u5148\u751f\uff0c\u8c22\u8c22\u60a8\u7684\u6765\u4fe1\uff0c\u62a5\u4ef7\u660e\u5929\u53d1\u7ed9\u60a8\u3002",
         g_sep="---------- \u8f6c\u53d1\u7684\u90ae\u4ef6 ---------",
         g_labels=["\u53d1\u4ef6\u4eba\uff1a", "\u65e5\u671f\uff1a", "\u4e3b\u9898\uff1a", "\u6536\u4ef6\u4eba\uff1a", "\u6284\u9001\uff1a"],
         g_date="2024\u5e743\u67084\u65e5\u5468\u4e00 15:41",
         o_line=None, o_labels=["\u53d1\u4ef6\u4eba:", "\u53d1\u9001\u65f6\u95f4:", "\u6536\u4ef6\u4eba:", "\u6284\u9001:", "\u4e3b\u9898:"],
         o_date="2024\u5e743\u67084\u65e5 15:41", o_prefix="\u8f6c\u53d1: ",
         attr="{name} <{addr}> \u4e8e2024\u5e743\u67084\u65e5\u5468\u4e00 15:41\u5199\u9053\uff1a",
         cs=[("UTF-8", "base64"), ("gb2312", "base64"), ("GB18030", "base64")]),
]


def hdr_text(text, charset, style):
    """Encode a header phrase as the named client would."""
    if text.isascii():
        return text
    if style == "B" or not all(ord(c) < 0x250 for c in text):
        return ew_b(text, charset)
    return ew_q(text, charset)


def lang_mailbox(p, charset, style):
    name, addr = p
    if name.isascii():
        return mailbox(name, addr)
    return hdr_text(name, charset, style) + f" <{addr}>"


def languages():
    C = "languages"
    for L in LANGS:
        code = L["code"]
        fname, faddr = L["fwd"]
        oname, oaddr = L["orig"]
        cname, caddr = L["cc"]

        # Gmail forward (Gmail writes UTF-8, subject as B words).
        cs, cte = L["cs"][0]
        gl = L["g_labels"]
        fields = [(gl[0], f"{oname} <{oaddr}>"), (gl[1], L["g_date"]), (gl[2], L["subject"]),
                  (gl[3], f"{fname} <{faddr}>"), (gl[4], f"{cname} <{caddr}>")]
        text = L["note"] + "\n\n" + block(L["g_sep"], fields, blank_after=2) + L["body"]
        seed = f"{code}_gmail_forward"
        raw = message(env_gmail(seed, lang_mailbox(L["fwd"], cs, "B"), DROPBOX,
                                hdr_text("Fwd: " + L["subject"], cs, "B"), "Tue, 5 Mar 2024 09:12:44 +0100",
                                domain=faddr.split("@")[1]),
                      gmail_alt(gm_boundary(seed), text, gmail_html(L["note"], L["g_sep"], fields, L["body"]), cs, cte))
        fixed(C, seed, raw, exp(
            subject="Fwd: " + L["subject"], from_=frm(faddr, fname),
            people_include=[faddr, oaddr, caddr],
            forwarded=[fwd(oaddr, oname, to=[faddr], cc=[caddr], subject=L["subject"])],
            new_text_contains=[L["note"]], new_text_excludes=[L["key"]], body_contains=[L["key"]]))

        # Outlook desktop forward, in the language's legacy charset.
        cs, cte = L["cs"][1]
        ol = L["o_labels"]
        seed = f"{code}_outlook_forward"
        outer_subject = L["o_prefix"] + L["subject"]
        if L["o_line"]:
            # Plain-text Outlook (2010-2016 style): separator line and "[mailto:...]".
            fields = [(ol[0], f"{oname} [mailto:{oaddr}] "), (ol[1], L["o_date"]), (ol[2], f"{fname} <{faddr}>"),
                      (ol[3], f"{cname} <{caddr}>"), (ol[4], L["subject"])]
            text = L["note"] + "\n\n" + block(L["o_line"], fields, blank_after=1) + L["body"]
            body = tbody(text, cs, cte)
        else:
            # HTML Outlook: the header block has no separator line in the text/plain part.
            fields = [(ol[0], f"{oname} <{oaddr}>"), (ol[1], L["o_date"]), (ol[2], f"{fname} <{faddr}>"),
                      (ol[3], f"{cname} <{caddr}>"), (ol[4], L["subject"])]
            text = L["note"] + "\n\n" + block(None, fields, blank_after=0) + " \n" + L["body"]
            h = outlook_html(L["note"], fields, L["body"], lang=code.upper()).replace("charset=utf-8", f"charset={cs}")
            body = mbody("alternative", nextpart(seed), [text_part(text, cs, cte), text_part(h, cs, cte, subtype="html")])
        raw = message(env_outlook_smtp(seed, lang_mailbox(L["fwd"], cs, "Q"), DROPBOX, hdr_text(outer_subject, cs, "Q"),
                                       "Tue, 5 Mar 2024 09:20:31 +0100", lang=code), body)
        fixed(C, seed, raw, exp(
            subject=outer_subject, from_=frm(faddr, fname),
            people_include=[oaddr, caddr],
            forwarded=[fwd(oaddr, oname, to=[faddr], cc=[caddr], subject=L["subject"])],
            new_text_contains=[L["note"]], new_text_excludes=[L["key"]], body_contains=[L["key"]]))

        # Gmail reply: localised attribution line, then "> " quoting.
        cs, cte = L["cs"][2]
        seed = f"{code}_gmail_reply"
        attribution = L["attr"].format(name=oname, addr=oaddr)
        quoted = "\n".join(("> " + l) if l else ">" for l in L["body"].rstrip("\n").split("\n"))
        text = L["reply"] + "\n\n" + attribution + "\n\n" + quoted + "\n"
        ref = f"<{hexid(seed + 'ref', 20, False)}@{oaddr.split('@')[1]}>"
        raw = message(env_gmail(seed, lang_mailbox(L["fwd"], cs, "B"), lang_mailbox(L["orig"], cs, "B"),
                                hdr_text("Re: " + L["subject"], cs, "B"), "Tue, 5 Mar 2024 11:02:09 +0100",
                                domain=faddr.split("@")[1], in_reply_to=ref, references=ref),
                      gmail_alt(gm_boundary(seed), text, gmail_reply_html(L["reply"], attribution, L["body"]), cs, cte))
        fixed(C, seed, raw, exp(
            subject="Re: " + L["subject"], from_=frm(faddr, fname),
            people_include=[faddr, oaddr],
            new_text_contains=[L["reply"]], new_text_excludes=[L["key"], attribution],
            body_contains=[L["key"]]))

    languages_extra()


def languages_extra():
    C = "languages"
    by = {L["code"]: L for L in LANGS}

    # Yandex Mail (Russian): single-line attribution inside the forward block, end marker.
    L = by["ru"]
    seed = "ru_yandex_forward"
    text = (L["note"] + "\n\n-------- \u041f\u0435\u0440\u0435\u0441\u044b\u043b\u0430\u0435\u043c\u043e\u0435 "
            "\u0441\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0435 --------\n"
            f"04.03.2024, 15:41, \"{L['orig'][0]}\" <{L['orig'][1]}>:\n" + L["body"]
            + "\n-------- \u041a\u043e\u043d\u0435\u0446 \u043f\u0435\u0440\u0435\u0441\u044b\u043b\u0430\u0435\u043c\u043e\u0433\u043e "
            "\u0441\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u044f --------\n")
    h = html_doc("<div>" + esc(L["note"]) + "</div><div>&nbsp;</div><div>-------- \u041f\u0435\u0440\u0435\u0441\u044b\u043b"
                 "\u0430\u0435\u043c\u043e\u0435 \u0441\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u0435 --------</div>"
                 f"<div>04.03.2024, 15:41, \"{esc(L['orig'][0])}\" &lt;{L['orig'][1]}&gt;:</div>"
                 "<div>" + "<br />".join(esc(l) for l in L["body"].split("\n")) + "</div><div>-------- \u041a\u043e\u043d"
                 "\u0435\u0446 \u043f\u0435\u0440\u0435\u0441\u044b\u043b\u0430\u0435\u043c\u043e\u0433\u043e "
                 "\u0441\u043e\u043e\u0431\u0449\u0435\u043d\u0438\u044f --------</div>")
    b = f"----ALT--{hexid(seed, 32, False)}1709630049"
    raw = message([
        rcvd(seed, "forward501b.mail.yandex.net", "178.154.239.145", "Tue, 05 Mar 2024 11:14:09 +0300"),
        f"From: {ew_b(L['fwd'][0], 'utf-8')} <{L['fwd'][1]}>",
        f"To: {DROPBOX}",
        f"Subject: {ew_b('Fwd: ' + L['subject'], 'utf-8')}",
        "MIME-Version: 1.0",
        "X-Mailer: Yamail [ http://yandex.ru ] 5.0",
        "Date: Tue, 05 Mar 2024 11:14:04 +0300",
        f"Message-Id: <{int(hexid(seed, 10), 16)}@mail.yandex.ru>",
    ], mbody("alternative", b, [text_part(text, "utf-8", "base64"), text_part(h, "utf-8", "base64", subtype="html")]))
    fixed(C, seed, raw, exp(
        subject="Fwd: " + L["subject"], people_include=[L["orig"][1]],
        forwarded=[fwd(L["orig"][1], L["orig"][0])],
        new_text_contains=[L["note"]], new_text_excludes=[L["key"]], body_contains=[L["key"]]))

    # Foxmail / QQ Mail (Chinese): "原始邮件" block, quoted names, trailing semicolons, GB18030.
    L = by["zh"]
    seed = "zh_foxmail_forward"
    text = (L["note"] + "\n\n\n------------------&nbsp;\u539f\u59cb\u90ae\u4ef6&nbsp;------------------".replace("&nbsp;", " ")
            + f"\n\u53d1\u4ef6\u4eba: \"{L['orig'][0]}\"<{L['orig'][1]}>;\n"
            "\u53d1\u9001\u65f6\u95f4: 2024\u5e743\u67084\u65e5(\u661f\u671f\u4e00) \u4e0b\u53483:41\n"
            f"\u6536\u4ef6\u4eba: \"{L['fwd'][0]}\"<{L['fwd'][1]}>;\n"
            f"\u6284\u9001: \"{L['cc'][0]}\"<{L['cc'][1]}>;\n"
            f"\u4e3b\u9898: {L['subject']}\n\n" + L["body"])
    b = f"----=_NextPart_65E6{hexid(seed, 4)}_{hexid(seed + 'x', 8)}_{hexid(seed + 'y', 8)}"
    raw = message([
        rcvd(seed, "out203-205-221.mail.qq.com", "203.205.221.205", "Tue, 05 Mar 2024 16:02:11 +0800"),
        f"From: \"{ew_b(L['fwd'][0], 'gb18030')}\" <{L['fwd'][1]}>",
        f"To: \"dropbox\" <{DROPBOX}>",
        f"Subject: {ew_b('Fw: ' + L['subject'], 'gb18030')}",
        "Mime-Version: 1.0",
        "@CT@",
        "Content-Transfer-Encoding: 8Bit",
        "Date: Tue, 5 Mar 2024 16:02:05 +0800",
        "X-Priority: 3",
        f"Message-ID: <tencent_{hexid(seed, 40)}@qq.com>",
        "X-QQ-MIME: TCMime 1.0 by Tencent",
        "X-Mailer: Foxmail 7.2.25.228[cn]",
        "X-QQ-Mailer: QQMail 2.x",
    ], mbody("alternative", b, [text_part(text, "gb18030", "base64"),
                                text_part(html_doc(text_to_html(text)).replace("utf-8", "gb18030"), "gb18030", "base64",
                                          subtype="html")]))
    fixed(C, seed, raw, exp(
        subject="Fw: " + L["subject"], from_=frm(L["fwd"][1], L["fwd"][0]),
        people_include=[L["orig"][1], L["cc"][1]],
        forwarded=[fwd(L["orig"][1], L["orig"][0], to=[L["fwd"][1]], cc=[L["cc"][1]], subject=L["subject"])],
        new_text_contains=[L["note"]], new_text_excludes=[L["key"]], body_contains=[L["key"]]), )
    FIXTURES[(C, seed)][2]["skip_python_from"] = True  # encoded word inside quotes: Python keeps it raw

    # Thunderbird (German): "Weitergeleitete Nachricht" table with tabs, "Kopie (CC):".
    L = by["de"]
    seed = "de_thunderbird_forward"
    text = (L["note"] + "\n\n-------- Weitergeleitete Nachricht --------\n"
            f"Betreff: \t{L['subject']}\nDatum: \tMon, 4 Mar 2024 15:41:02 +0100\n"
            f"Von: \t{L['orig'][0]} <{L['orig'][1]}>\nAn: \t{L['fwd'][0]} <{L['fwd'][1]}>\n"
            f"Kopie (CC): \t{L['cc'][0]} <{L['cc'][1]}>\n\n\n\n" + L["body"])
    raw = message(env_thunderbird(seed, f"{ew_q(L['fwd'][0], 'UTF-8')} <{L['fwd'][1]}>", DROPBOX,
                                  ew_q("Fwd: " + L["subject"], "UTF-8"), "Tue, 5 Mar 2024 09:40:10 +0100", lang="de-DE"),
                  tbody(text, "UTF-8", "8bit", params="; format=flowed"))
    fixed(C, seed, raw, exp(
        subject="Fwd: " + L["subject"], people_include=[L["orig"][1], L["cc"][1]],
        forwarded=[fwd(L["orig"][1], L["orig"][0], to=[L["fwd"][1]], cc=[L["cc"][1]], subject=L["subject"])],
        new_text_contains=[L["note"]], new_text_excludes=[L["key"]], body_contains=[L["key"]]))

    # Apple Mail, French and German; iPhone Mail, Spanish.
    for code, seed, intro, labels, date, ios in [
        ("fr", "fr_apple_mail_forward", "D\u00e9but du message r\u00e9exp\u00e9di\u00e9\u00a0:",
         ["De:", "Objet:", "Date:", "\u00c0:", "Cc:"], "4 mars 2024 \u00e0 15:41:02 UTC+1", False),
        ("de", "de_apple_mail_forward", "Anfang der weitergeleiteten Nachricht:",
         ["Von:", "Betreff:", "Datum:", "An:", "Kopie:"], "4. M\u00e4rz 2024 um 15:41:02 MEZ", False),
        ("es", "es_iphone_forward", "Inicio del mensaje reenviado:",
         ["De:", "Fecha:", "Para:", "Asunto:", "Cc:"], "4 de marzo de 2024, 15:41:02 CET", True)]:
        L = by[code]
        vals = {"from": f"{L['orig'][0]} <{L['orig'][1]}>", "subject": L["subject"], "date": date,
                "to": f"{L['fwd'][0]} <{L['fwd'][1]}>", "cc": f"{L['cc'][0]} <{L['cc'][1]}>"}
        order = ["from", "date", "to", "subject", "cc"] if ios else ["from", "subject", "date", "to", "cc"]
        fields = [(labels[i], vals[k]) for i, k in enumerate(order)]
        text = (L["note"] + ("\n\nEnviado desde mi iPhone" if ios else "") + "\n\n"
                + block(intro + "\n", fields, blank_after=1) + L["body"])
        raw = message(env_apple(seed, lang_mailbox(L["fwd"], "utf-8", "Q"), DROPBOX,
                                ew_q("Fwd: " + L["subject"], "utf-8"), "Tue, 5 Mar 2024 09:51:40 +0100", ios=ios),
                      tbody(text, "utf-8", "quoted-printable"))
        fixed(C, seed, raw, exp(
            subject="Fwd: " + L["subject"], people_include=[L["orig"][1], L["cc"][1]],
            forwarded=[fwd(L["orig"][1], L["orig"][0], to=[L["fwd"][1]], cc=[L["cc"][1]], subject=L["subject"])],
            new_text_contains=[L["note"]], new_text_excludes=[L["key"]], body_contains=[L["key"]]))


# ==========================================================================
# charsets/: one message per charset, encoded words, aliases, raw 8-bit headers
# ==========================================================================

def to_cp1258(s):
    """Vietnamese text as Windows-1258 can carry it: precomposed where the code page has
    the letter, otherwise base letter + combining tone mark (what real cp1258 mail holds)."""
    import itertools
    out = ""
    for ch in s:
        try:
            ch.encode("cp1258")
            out += ch
            continue
        except UnicodeEncodeError:
            pass
        nfd = unicodedata.normalize("NFD", ch)
        base, marks = nfd[0], nfd[1:]
        done = False
        for perm in itertools.permutations(marks):
            for k in range(len(perm), -1, -1):
                cand = unicodedata.normalize("NFC", base + "".join(perm[:k])) + "".join(perm[k:])
                try:
                    cand.encode("cp1258")
                    if len(unicodedata.normalize("NFC", base + "".join(perm[:k]))) == 1:
                        out += cand
                        done = True
                        break
                except UnicodeEncodeError:
                    continue
            if done:
                break
        assert done, ch
    return out


# (file name, charset label, subject text, body text, words style, CTE, body_contains)
CHARSET_CASES = [
    ("utf-8", "UTF-8", "Gr\u00fc\u00dfe aus Z\u00fcrich \u2013 \u6771\u4eac \u2013 \u041f\u0440\u0438\u0432\u0435\u0442 \U0001f389",
     "Hallo Team,\n\nGr\u00fc\u00dfe aus Z\u00fcrich! \u6771\u4eac\u306e\u30aa\u30d5\u30a3\u30b9\u3082\u3088\u308d\u3057\u304f\u3002 "
     "\u041f\u0440\u0438\u0432\u0435\u0442 \u0438\u0437 \u041c\u043e\u0441\u043a\u0432\u044b. \U0001f389\n",
     "B", "quoted-printable", ["Gr\u00fc\u00dfe aus Z\u00fcrich!", "\u6771\u4eac\u306e\u30aa\u30d5\u30a3\u30b9", "\U0001f389"]),
    ("us-ascii", "us-ascii", "Meeting notes, 5 March",
     "Hi all,\n\nNotes from today's meeting are below.\n1. Budget approved.\n2. Next review on 19 March.\n",
     "Q", "7bit", ["2. Next review on 19 March."]),
    ("iso-8859-1", "iso-8859-1", "Caf\u00e9 cr\u00e8me et fa\u00e7ade na\u00efve",
     "Bonjour,\n\nLe caf\u00e9 cr\u00e8me est servi sur la fa\u00e7ade, se\u00f1or Mu\u00f1oz. D\u00e9j\u00e0 vu !\n",
     "Q", "quoted-printable", ["Le caf\u00e9 cr\u00e8me est servi sur la fa\u00e7ade, se\u00f1or Mu\u00f1oz."]),
    ("iso-8859-2", "iso-8859-2", "Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144",
     "Dzie\u0144 dobry,\n\nZa\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144. P\u0159\u00edli\u0161 \u017elu\u0165ou\u010dk\u00fd "
     "k\u016f\u0148 \u00fap\u011bl \u010f\u00e1belsk\u00e9 \u00f3dy.\n",
     "Q", "quoted-printable", ["P\u0159\u00edli\u0161 \u017elu\u0165ou\u010dk\u00fd k\u016f\u0148"]),
    ("iso-8859-3", "iso-8859-3", "\u0108u vi \u015datas \u011din?",
     "Saluton,\n\n\u0108u vi \u015datas \u011din? \u0124oro kantos \u0135a\u016dde.\n",
     "Q", "quoted-printable", ["\u0124oro kantos \u0135a\u016dde."]),
    ("iso-8859-4", "iso-8859-4", "\u0122imenes \u0137irbis",
     "Labdien!\n\n\u0122imenes \u0137irbis ir \u013coti gar\u0161\u012bgs, \u0146em v\u0113l.\n",
     "Q", "quoted-printable", ["\u0137irbis ir \u013coti gar\u0161\u012bgs"]),
    ("iso-8859-5", "iso-8859-5", "\u0417\u0434\u0440\u0430\u0432\u0435\u0439\u0442\u0435",
     "\u0417\u0434\u0440\u0430\u0432\u0435\u0439\u0442\u0435,\n\n\u0431\u043b\u0430\u0433\u043e\u0434\u0430\u0440\u044f "
     "\u0437\u0430 \u043f\u043e\u0440\u044a\u0447\u043a\u0430\u0442\u0430.\n",
     "B", "quoted-printable", ["\u0431\u043b\u0430\u0433\u043e\u0434\u0430\u0440\u044f \u0437\u0430 \u043f\u043e\u0440\u044a\u0447\u043a\u0430\u0442\u0430"]),
    ("iso-8859-6", "iso-8859-6", "\u0645\u0631\u062d\u0628\u0627",
     "\u0645\u0631\u062d\u0628\u0627\u060c\n\n\u0634\u0643\u0631\u0627 \u0644\u0637\u0644\u0628\u0643.\n",
     "B", "base64", ["\u0634\u0643\u0631\u0627 \u0644\u0637\u0644\u0628\u0643"]),
    ("iso-8859-7", "iso-8859-7", "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03c3\u03b1\u03c2",
     "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1,\n\n\u03b5\u03c5\u03c7\u03b1\u03c1\u03b9\u03c3\u03c4\u03bf\u03cd\u03bc\u03b5 "
     "\u03b3\u03b9\u03b1 \u03c4\u03b7\u03bd \u03c0\u03b1\u03c1\u03b1\u03b3\u03b3\u03b5\u03bb\u03af\u03b1 \u03c3\u03b1\u03c2.\n",
     "B", "quoted-printable", ["\u03b5\u03c5\u03c7\u03b1\u03c1\u03b9\u03c3\u03c4\u03bf\u03cd\u03bc\u03b5"]),
    ("iso-8859-8", "iso-8859-8", "\u05e9\u05dc\u05d5\u05dd",
     "\u05e9\u05dc\u05d5\u05dd,\n\n\u05ea\u05d5\u05d3\u05d4 \u05e2\u05dc \u05d4\u05d4\u05d6\u05de\u05e0\u05d4.\n",
     "B", "base64", ["\u05ea\u05d5\u05d3\u05d4 \u05e2\u05dc \u05d4\u05d4\u05d6\u05de\u05e0\u05d4"]),
    ("iso-8859-9", "iso-8859-9", "Sipari\u015finiz i\u00e7in te\u015fekk\u00fcrler",
     "G\u00fcnayd\u0131n,\n\nsipari\u015finiz i\u00e7in te\u015fekk\u00fcrler. \u0130yi g\u00fcnler dileriz.\n",
     "Q", "quoted-printable", ["\u0130yi g\u00fcnler dileriz."]),
    ("iso-8859-10", "iso-8859-10", "Buorre beaivi",
     "Buorre beaivi,\n\ngiitu di\u014bgojumis. \u0110akk\u00e1\u0161 ja \u0167ea\u014b.\n",
     "Q", "quoted-printable", ["\u0110akk\u00e1\u0161 ja \u0167ea\u014b."]),
    ("iso-8859-11", "iso-8859-11", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
     "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a\n\n\u0e02\u0e2d\u0e1a\u0e04\u0e38\u0e13\u0e2a\u0e33\u0e2b\u0e23\u0e31\u0e1a"
     "\u0e04\u0e33\u0e2a\u0e31\u0e48\u0e07\u0e0b\u0e37\u0e49\u0e2d\n",
     "B", "base64", ["\u0e02\u0e2d\u0e1a\u0e04\u0e38\u0e13"]),
    ("iso-8859-13", "iso-8859-13", "A\u010di\u016b u\u017e u\u017esakym\u0105",
     "Laba diena,\n\na\u010di\u016b u\u017e u\u017esakym\u0105. Pristatysime \u0161iandien.\n",
     "Q", "quoted-printable", ["a\u010di\u016b u\u017e u\u017esakym\u0105"]),
    ("iso-8859-14", "iso-8859-14", "Diolch am eich archeb",
     "Bore da,\n\nMae'r \u0175yl yn dechrau ddydd Sadwrn; bydd y \u0177d yn barod.\n",
     "Q", "quoted-printable", ["Mae'r \u0175yl yn dechrau"]),
    ("iso-8859-15", "iso-8859-15", "Le c\u0153ur de l'\u0153uvre : 250 \u20ac",
     "Bonjour,\n\nLe c\u0153ur de l'\u0153uvre co\u00fbte 250 \u20ac. \u0160\u00e1rka confirme.\n",
     "Q", "quoted-printable", ["co\u00fbte 250 \u20ac", "\u0160\u00e1rka"]),
    ("iso-8859-16", "iso-8859-16", "Mul\u021bumim pentru comand\u0103",
     "Bun\u0103 ziua,\n\nmul\u021bumim pentru comand\u0103. \u0218tefan v\u0103 va suna m\u00e2ine.\n",
     "Q", "quoted-printable", ["\u0218tefan v\u0103 va suna m\u00e2ine."]),
    ("windows-1250", "windows-1250", "D\u011bkujeme za objedn\u00e1vku \u2013 \u201eP\u0159\u00edli\u0161 \u017elu\u0165ou\u010dk\u00fd\u201c",
     "Dobr\u00fd den,\n\nd\u011bkujeme za objedn\u00e1vku \u2013 \u201eP\u0159\u00edli\u0161 \u017elu\u0165ou\u010dk\u00fd k\u016f\u0148\u201c.\n",
     "Q", "quoted-printable", ["\u201eP\u0159\u00edli\u0161 \u017elu\u0165ou\u010dk\u00fd k\u016f\u0148\u201c"]),
    ("windows-1251", "windows-1251", "\u0421\u043f\u0430\u0441\u0438\u0431\u043e \u0437\u0430 \u0437\u0430\u043a\u0430\u0437 \u2014 \u2116 5",
     "\u0414\u043e\u0431\u0440\u044b\u0439 \u0434\u0435\u043d\u044c!\n\n\u0421\u043f\u0430\u0441\u0438\u0431\u043e "
     "\u0437\u0430 \u0437\u0430\u043a\u0430\u0437 \u00ab\u0420\u043e\u0433\u0430 \u0438 \u043a\u043e\u043f\u044b\u0442\u0430\u00bb \u2014 \u2116 5.\n",
     "B", "base64", ["\u00ab\u0420\u043e\u0433\u0430 \u0438 \u043a\u043e\u043f\u044b\u0442\u0430\u00bb \u2014 \u2116 5"]),
    ("windows-1252", "windows-1252", "\u201cSmart quotes\u201d \u2013 and the euro \u20ac",
     "Hi,\n\n\u201cSmart quotes\u201d \u2013 dashes \u2014 and the euro \u20ac; na\u00efve caf\u00e9 \u2026\n",
     "Q", "quoted-printable", ["\u201cSmart quotes\u201d \u2013 dashes \u2014 and the euro \u20ac"]),
    ("windows-1253", "windows-1253", "\u0395\u03c5\u03c7\u03b1\u03c1\u03b9\u03c3\u03c4\u03bf\u03cd\u03bc\u03b5",
     "\u0395\u03c5\u03c7\u03b1\u03c1\u03b9\u03c3\u03c4\u03bf\u03cd\u03bc\u03b5 \u03b3\u03b9\u03b1 \u03c4\u03b7\u03bd "
     "\u03c0\u03b1\u03c1\u03b1\u03b3\u03b3\u03b5\u03bb\u03af\u03b1 \u2013 50 \u20ac.\n",
     "B", "quoted-printable", ["\u03c0\u03b1\u03c1\u03b1\u03b3\u03b3\u03b5\u03bb\u03af\u03b1 \u2013 50 \u20ac"]),
    ("windows-1254", "windows-1254", "Sipari\u015finiz \u0130zmir\u2019e g\u00f6nderildi",
     "Merhaba,\n\nTe\u015fekk\u00fcrler \u2013 sipari\u015finiz \u0130zmir\u2019e g\u00f6nderildi. Tutar: 120 \u20ac.\n",
     "Q", "quoted-printable", ["sipari\u015finiz \u0130zmir\u2019e g\u00f6nderildi"]),
    ("windows-1255", "windows-1255", "\u05ea\u05d5\u05d3\u05d4 \u05e2\u05dc \u05d4\u05d4\u05d6\u05de\u05e0\u05d4",
     "\u05e9\u05dc\u05d5\u05dd,\n\n\u05ea\u05d5\u05d3\u05d4 \u05e2\u05dc \u05d4\u05d4\u05d6\u05de\u05e0\u05d4 \u2013 250 \u20aa.\n",
     "B", "base64", ["250 \u20aa"]),
    ("windows-1256", "windows-1256", "\u0634\u0643\u0631\u0627\u064b \u0644\u0637\u0644\u0628\u0643",
     "\u0645\u0631\u062d\u0628\u0627\u064b\u060c\n\n\u0634\u0643\u0631\u0627\u064b \u0644\u0637\u0644\u0628\u0643 \u2013 "
     "\u0633\u0646\u062a\u0648\u0627\u0635\u0644 \u0645\u0639\u0643 \u0642\u0631\u064a\u0628\u0627\u064b.\n",
     "B", "base64", ["\u0633\u0646\u062a\u0648\u0627\u0635\u0644 \u0645\u0639\u0643"]),
    ("windows-1257", "windows-1257", "Paldies par pas\u016bt\u012bjumu",
     "Labdien,\n\npaldies par pas\u016bt\u012bjumu \u2013 a\u010di\u016b u\u017e u\u017esakym\u0105.\n",
     "Q", "quoted-printable", ["paldies par pas\u016bt\u012bjumu \u2013 a\u010di\u016b"]),
    ("windows-1258", "windows-1258", "Xin ch\u00e0o, c\u00e1m \u01a1n",
     "Xin ch\u00e0o anh Minh,\n\nC\u00e1m \u01a1n anh \u0111\u00e3 \u0111\u1eb7t h\u00e0ng. Ch\u00fang t\u00f4i s\u1ebd giao h\u00e0ng v\u00e0o th\u1ee9 Hai.\n",
     "Q", "quoted-printable", ["Xin ch\u00e0o anh Minh", "C\u00e1m \u01a1n anh"]),
    ("koi8-r", "koi8-r", "\u0421\u0447\u0451\u0442 \u043d\u0430 \u043e\u043f\u043b\u0430\u0442\u0443",
     "\u0414\u043e\u0431\u0440\u044b\u0439 \u0434\u0435\u043d\u044c!\n\n\u0421\u0447\u0451\u0442 \u043d\u0430 \u043e\u043f\u043b\u0430\u0442\u0443 "
     "\u0432\u043e \u0432\u043b\u043e\u0436\u0435\u043d\u0438\u0438.\n",
     "B", "8bit", ["\u0421\u0447\u0451\u0442 \u043d\u0430 \u043e\u043f\u043b\u0430\u0442\u0443 \u0432\u043e \u0432\u043b\u043e\u0436\u0435\u043d\u0438\u0438"]),
    ("koi8-u", "koi8-u", "\u0490\u0430\u043d\u043e\u043a \u0456 \u0457\u0436\u0430\u043a",
     "\u0414\u043e\u0431\u0440\u0438\u0439 \u0434\u0435\u043d\u044c!\n\n\u0490\u0430\u043d\u043e\u043a, \u0457\u0436\u0430\u043a, "
     "\u0454\u043d\u043e\u0442 \u0456 \u0432\u0441\u0435 \u0456\u043d\u0448\u0435.\n",
     "B", "quoted-printable", ["\u0490\u0430\u043d\u043e\u043a, \u0457\u0436\u0430\u043a, \u0454\u043d\u043e\u0442"]),
    ("shift_jis", "Shift_JIS", "\u8acb\u6c42\u66f8\u306e\u9001\u4ed8\u306b\u3064\u3044\u3066",
     "\u304a\u4e16\u8a71\u306b\u306a\u3063\u3066\u304a\u308a\u307e\u3059\u3002\n\n\u8acb\u6c42\u66f8\u3092\u6dfb\u4ed8"
     "\u3044\u305f\u3057\u307e\u3059\u3002\uff83\uff7d\uff84\u7528\u306e\u534a\u89d2\u30ab\u30ca\u3082\u542b\u307f\u307e\u3059\u3002\n",
     "B", "base64", ["\u8acb\u6c42\u66f8\u3092\u6dfb\u4ed8", "\uff83\uff7d\uff84"]),
    ("euc-jp", "EUC-JP", "\u304a\u898b\u7a4d\u3082\u308a\u306e\u4ef6",
     "\u304a\u898b\u7a4d\u3082\u308a\u306e\u4ef6\u3001\u627f\u77e5\u3044\u305f\u3057\u307e\u3057\u305f\u3002\n",
     "B", "base64", ["\u627f\u77e5\u3044\u305f\u3057\u307e\u3057\u305f"]),
    ("iso-2022-jp", "ISO-2022-JP", "\u6765\u9031\u306e\u6253\u3061\u5408\u308f\u305b\u306e\u65e5\u7a0b",
     "\u6765\u9031\u306e\u6253\u3061\u5408\u308f\u305b\u306e\u65e5\u7a0b\u306b\u3064\u3044\u3066\u3054\u9023\u7d61\u3057\u307e\u3059\u3002\n"
     "\u6728\u66dc\u65e5\u306e\u5348\u5f8c\u306f\u3044\u304b\u304c\u3067\u3057\u3087\u3046\u304b\u3002\n",
     "B", "7bit", ["\u6728\u66dc\u65e5\u306e\u5348\u5f8c"]),
    ("gb2312", "gb2312", "\u611f\u8c22\u60a8\u7684\u8ba2\u5355",
     "\u60a8\u597d\uff0c\n\n\u611f\u8c22\u60a8\u7684\u8ba2\u5355\uff0c\u6211\u4eec\u5c06\u5c3d\u5feb\u53d1\u8d27\u3002\n",
     "B", "base64", ["\u6211\u4eec\u5c06\u5c3d\u5feb\u53d1\u8d27"]),
    ("gbk", "GBK", "\u6731\u9555\u57fa\u7eaa\u5ff5\u9986\u53c2\u89c2",
     "\u60a8\u597d\uff0c\n\n\u53c2\u89c2\u6731\u9555\u57fa\u7eaa\u5ff5\u9986\u7684\u5b89\u6392\u5df2\u786e\u8ba4\u3002\n",
     "B", "base64", ["\u6731\u9555\u57fa"]),
    ("gb18030", "GB18030", "\U00020bb7\u91ce\u5bb6\u7684\u8ba2\u5355",
     "\u60a8\u597d\uff0c\n\n\U00020bb7\u91ce\u5bb6\u7684\u8ba2\u5355\u5df2\u53d1\u8d27\u3002\n",
     "B", "base64", ["\U00020bb7\u91ce\u5bb6\u7684\u8ba2\u5355"]),
    ("big5", "big5", "\u611f\u8b1d\u60a8\u7684\u8a02\u55ae",
     "\u60a8\u597d\uff0c\n\n\u611f\u8b1d\u60a8\u7684\u8a02\u55ae\uff0c\u6211\u5011\u6703\u76e1\u5feb\u51fa\u8ca8\u3002\n",
     "B", "base64", ["\u6211\u5011\u6703\u76e1\u5feb\u51fa\u8ca8"]),
    ("euc-kr", "euc-kr", "\uc8fc\ubb38\ud574 \uc8fc\uc154\uc11c \uac10\uc0ac\ud569\ub2c8\ub2e4",
     "\uc548\ub155\ud558\uc138\uc694,\n\n\uc8fc\ubb38\ud574 \uc8fc\uc154\uc11c \uac10\uc0ac\ud569\ub2c8\ub2e4. "
     "\ub0b4\uc77c \ubc1c\uc1a1\ud558\uaca0\uc2b5\ub2c8\ub2e4.\n",
     "B", "base64", ["\ub0b4\uc77c \ubc1c\uc1a1\ud558\uaca0\uc2b5\ub2c8\ub2e4"]),
    # Aliases and misspellings seen in the wild.
    ("alias_utf8", "utf8", "Gr\u00fc\u00dfe aus K\u00f6ln",
     "Gr\u00fc\u00dfe aus K\u00f6ln, sch\u00f6nes Wochenende!\n", "Q", "quoted-printable", ["sch\u00f6nes Wochenende"]),
    ("alias_latin1", "latin1", "R\u00e9union de lundi",
     "La r\u00e9union de lundi est d\u00e9plac\u00e9e \u00e0 14 h.\n", "Q", "quoted-printable", ["d\u00e9plac\u00e9e \u00e0 14 h"]),
    ("alias_win_1252", "win-1252", "Preisliste \u2013 M\u00e4rz",
     "Die neue Preisliste f\u00fcr M\u00e4rz \u2013 g\u00fcltig ab sofort \u2013 kostet 49 \u20ac.\n", "Q", "quoted-printable",
     ["g\u00fcltig ab sofort \u2013 kostet 49 \u20ac"]),
    ("alias_x_sjis", "x-sjis", "\u7d0d\u671f\u306e\u3054\u78ba\u8a8d",
     "\u7d0d\u671f\u306f\u6765\u9031\u91d1\u66dc\u65e5\u3067\u3059\u3002\n", "B", "base64", ["\u6765\u9031\u91d1\u66dc\u65e5"]),
    ("alias_ks_c_5601_1987", "ks_c_5601-1987", "\ud68c\uc758 \uc77c\uc815 \uc548\ub0b4",
     "\ud68c\uc758\ub294 \ubaa9\uc694\uc77c \uc624\ud6c4 3\uc2dc\uc785\ub2c8\ub2e4.\n", "B", "base64",
     ["\ubaa9\uc694\uc77c \uc624\ud6c4 3\uc2dc"]),
    ("alias_iso8859_1", "iso8859-1", "Se\u00f1al recibida",
     "Hemos recibido la se\u00f1al, gracias por la informaci\u00f3n.\n", "Q", "quoted-printable", ["la informaci\u00f3n"]),
]

PY_UNKNOWN = {"win-1252", "x-sjis"}   # labels Python's codecs do not know (glibc iconv does)


def charsets():
    C = "charsets"
    envs = [env_thunderbird, env_outlook_smtp, env_apple]
    for i, (name, label, subj, body, style, cte, contains) in enumerate(CHARSET_CASES):
        seed = "charset_" + name
        if label.lower() == "windows-1258":
            body_enc = to_cp1258(body)
            subj_hdr = ew_q(to_cp1258(subj), label)
        else:
            body_enc = body
            subj_hdr = ew_b(subj, label) if style == "B" else ew_q(subj, label)
        env = envs[i % len(envs)](seed, mailbox("Dana Kim", "dana.kim@example.org"), DROPBOX, subj_hdr,
                                  "Wed, 6 Mar 2024 08:%02d:00 +0000" % (i % 60))
        raw = message(env, tbody(body_enc, label, cte))
        e = exp(subject=subj, from_=frm("dana.kim@example.org", "Dana Kim"), body_contains=contains)
        fixed(C, name.replace("-", "_"), raw, e)
        if label in PY_UNKNOWN:
            FIXTURES[(C, name.replace("-", "_"))][2].update(skip_python_subject=True, skip_python_text=True)

    # UTF-16 body (with BOM), base64; subject in UTF-8.
    seed = "charset_utf16"
    text = "Hello,\n\nthis body is UTF-16: Gr\u00fc\u00dfe, \u65e5\u672c\u8a9e, \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac.\n"
    raw = message(env_outlook_smtp(seed, mailbox("Dana Kim", "dana.kim@example.org"), DROPBOX,
                                   "UTF-16 body test", "Wed, 6 Mar 2024 09:00:00 +0000"),
                  (['Content-Type: text/plain; charset="utf-16"', "Content-Transfer-Encoding: base64"],
                   crlf(b64(text.replace("\n", "\r\n").encode("utf-16")) + "\n")))
    fixed(C, "utf_16", raw, exp(subject="UTF-16 body test",
                                body_contains=["Gr\u00fc\u00dfe, \u65e5\u672c\u8a9e, \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac"]))

    # Unknown charset: must degrade (ASCII survives), never fail.
    seed = "charset_unknown"
    raw = message(env_thunderbird(seed, mailbox("Dana Kim", "dana.kim@example.org"), DROPBOX,
                                  "=?x-unknown-klingon?Q?Status_report?= for March", "Wed, 6 Mar 2024 09:10:00 +0000"),
                  (['Content-Type: text/plain; charset="unknown-8bit"', "Content-Transfer-Encoding: 8bit"],
                   crlf(b"Status report for March.\nAll systems nominal. Caf\xc3\xa9 budget \xa3 12.\nRegards, Dana\n")))
    fixed(C, "unknown_charset", raw, exp(subject="Status report for March",
                                         body_contains=["Status report for March.", "All systems nominal."]))
    FIXTURES[(C, "unknown_charset")][2].update(skip_python_subject=True)

    # --- RFC 2047 details ---------------------------------------------------------
    def simple(name, subject_hdr, subject, from_hdr="Dana Kim <dana.kim@example.org>", from_exp=None, flags=None,
               body="See subject.\n", extra=()):
        raw = message(env_thunderbird("ew_" + name, from_hdr, DROPBOX, subject_hdr, "Wed, 6 Mar 2024 10:00:00 +0000",
                                      extra=extra),
                      tbody(body, "UTF-8", "7bit" if body.isascii() else "8bit"))
        fixed(C, name, raw, exp(subject=subject, from_=from_exp))
        if flags:
            FIXTURES[(C, name)][2].update(flags)

    simple("ew_adjacent_q_joined", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?UTF-8?Q?_aus_M=C3=BCnchen?=", "Gr\u00fc\u00dfe aus M\u00fcnchen")
    u = "\u65e5\u672c\u8a9e\u306e\u30c6\u30b9\u30c8\u30e1\u30fc\u30eb".encode("utf-8")
    words = [u[0:4], u[4:13], u[13:]]   # cuts inside the 2nd and 5th characters
    simple("ew_split_multibyte_b", "\n\t".join(f"=?UTF-8?B?{base64.b64encode(w).decode()}?=" for w in words),
           "\u65e5\u672c\u8a9e\u306e\u30c6\u30b9\u30c8\u30e1\u30fc\u30eb")
    sj = "\u304a\u898b\u7a4d\u3082\u308a\u306e\u4ef6".encode("shift_jis")
    simple("ew_split_multibyte_q_sjis", f"=?Shift_JIS?Q?{q_bytes(sj[:5])}?= =?Shift_JIS?Q?{q_bytes(sj[5:])}?=",
           "\u304a\u898b\u7a4d\u3082\u308a\u306e\u4ef6",
           flags={"skip_python_subject": True})  # Python decodes each word on its own
    simple("ew_mixed_with_plain_text", "Re: =?utf-8?Q?Caf=C3=A9?= meeting in =?iso-8859-1?Q?M=FCnchen?= (Room 2)",
           "Re: Caf\u00e9 meeting in M\u00fcnchen (Room 2)")
    simple("ew_lowercase_and_language", "=?utf-8*de?q?gr=c3=bc=c3=9fe_aus_k=c3=b6ln?=", "gr\u00fc\u00dfe aus k\u00f6ln",
           flags={"skip_python_subject": True})
    simple("ew_long_folded_b", ew_b("Zusammenfassung der Besprechung \u00fcber die Erweiterung des Lagers in "
                                    "D\u00fcsseldorf und die n\u00e4chsten Schritte", "UTF-8"),
           "Zusammenfassung der Besprechung \u00fcber die Erweiterung des Lagers in D\u00fcsseldorf und die "
           "n\u00e4chsten Schritte")
    simple("ew_in_quoted_display_name", "Angebot",
           "Angebot", from_hdr='"=?utf-8?Q?M=C3=BCller,_J=C3=BCrgen?=" <j.mueller@mueller-bau.example>',
           from_exp=frm("j.mueller@mueller-bau.example", "M\u00fcller, J\u00fcrgen"), flags={"skip_python_from": True})
    simple("ew_display_name_b", "Preise 2024",
           "Preise 2024", from_hdr="=?windows-1251?B?wuvg5Ojs6PAg0e7q7uvu4g==?= <v.sokolov@example.ru>",
           from_exp=frm("v.sokolov@example.ru", "\u0412\u043b\u0430\u0434\u0438\u043c\u0438\u0440 \u0421\u043e\u043a\u043e\u043b\u043e\u0432"))
    simple("ew_encoded_space_and_underscore", "=?UTF-8?Q?Q1_report=5Ffinal_=E2=80=93_v2?=", "Q1 report_final \u2013 v2")

    # --- Raw 8-bit header bytes ----------------------------------------------------
    # SMTPUTF8: raw UTF-8 in Subject, From and To.
    raw = entity([
        f"Received: from mail.example.de (mail.example.de [203.0.113.8])\n\tby {MX} (Intake) with UTF8SMTPS id "
        f"{hexid('raw8', 12)}\n\tfor <{DROPBOX}>; Wed, 6 Mar 2024 11:00:00 +0100",
        "From: J\u00fcrgen M\u00fcller <j.mueller@mueller-bau.example>",
        f"To: \u7530\u4e2d \u592a\u90ce <tanaka@example.jp>, {DROPBOX}",
        "Subject: Gr\u00fc\u00dfe aus K\u00f6ln \u2013 Angebot f\u00fcr \u7530\u4e2d\u69d8",
        "Date: Wed, 6 Mar 2024 11:00:00 +0100",
        "Message-ID: <raw-utf8-0001@mueller-bau.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ], "Hallo Herr Tanaka,\n\ndas Angebot folgt morgen.\n")
    fixed(C, "raw_utf8_headers", raw, exp(
        subject="Gr\u00fc\u00dfe aus K\u00f6ln \u2013 Angebot f\u00fcr \u7530\u4e2d\u69d8",
        from_=frm("j.mueller@mueller-bau.example", "J\u00fcrgen M\u00fcller"),
        people_include=["tanaka@example.jp"], body_contains=["das Angebot folgt morgen."]))
    FIXTURES[(C, "raw_utf8_headers")][2].update(skip_python_from=True)  # Python leaves surrogates

    # Raw Windows-1252 bytes in headers (an old client that never encodes headers).
    raw = entity([
        f"Received: from pc17.example.de (pc17.example.de [203.0.113.17])\n\tby {MX} (Intake) with ESMTP id "
        f"{hexid('raw1252', 12)}\n\tfor <{DROPBOX}>; Wed, 6 Mar 2024 11:05:00 +0100",
        "From: J\u00fcrgen M\u00fcller <j.mueller@mueller-bau.example>".encode("cp1252") + b"\n",
        "Subject: Caf\u00e9 \u2013 Angebot f\u00fcr M\u00fcller (\u20ac 450)".encode("cp1252") + b"\n",
        "To: dropbox@intake.example.com",
        "Date: Wed, 6 Mar 2024 11:05:00 +0100",
        "Message-ID: <raw-cp1252-0001@pc17.example.de>",
        "X-Mailer: QUALCOMM Windows Eudora Version 7.1.0.9",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="iso-8859-1"',
        "Content-Transfer-Encoding: 8bit",
    ], "Gr\u00fc\u00df Gott,\n\nanbei das Angebot.\n".encode("latin-1"))
    fixed(C, "raw_cp1252_headers", raw, exp(
        subject="Caf\u00e9 \u2013 Angebot f\u00fcr M\u00fcller (\u20ac 450)",
        from_=frm("j.mueller@mueller-bau.example", "J\u00fcrgen M\u00fcller"),
        body_contains=["Gr\u00fc\u00df Gott,", "anbei das Angebot."]))
    FIXTURES[(C, "raw_cp1252_headers")][2].update(skip_python_subject=True, skip_python_from=True)


# ==========================================================================
# structure/: MIME shapes, attachments, address syntax
# ==========================================================================

def att(filename, content_type, data):
    return {"filename": filename, "content_type": content_type, "size": len(data)}


def structure():
    C = "structure"
    ANNA = ("Anna Berg", "anna.berg@example.org")

    # --- Plain text (mutt) ---
    seed = "plain_text"
    raw = message([
        rcvd(seed, "shell.example.net", "198.51.100.77", "Wed, 6 Mar 2024 12:00:03 +0000"),
        "Date: Wed, 6 Mar 2024 12:00:01 +0000",
        "From: Tom Lund <tom.lund@example.net>",
        f"To: {DROPBOX}",
        "Subject: Plain text only",
        "Message-ID: <ZeheYV3kq1xT2f9a@shell.example.net>",
        "MIME-Version: 1.0",
        "Content-Disposition: inline",
        "User-Agent: Mutt/2.2.12 (2023-09-09)",
    ], tbody("Hello,\n\nthis message is plain text with no MIME structure at all.\n\n-- \nTom\n", "us-ascii", None))
    fixed(C, seed, raw, exp(subject="Plain text only", from_=frm("tom.lund@example.net", "Tom Lund"),
                            body_contains=["plain text with no MIME structure"], automated=False))

    # --- HTML only ---
    seed = "html_only"
    h = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
         '<style type="text/css">body { font-family: Verdana, sans-serif; } .price { color: #c00; }</style>\n'
         '<title>Quote Q-2291</title></head>\n<body>\n'
         '<p>Dear Mr&nbsp;Okafor,</p>\n'
         '<p>thank you for your enquiry. Our quote:</p>\n'
         '<table border="1" cellpadding="4"><tr><th>Item</th><th>Price</th></tr>\n'
         '<tr><td>Forklift charger, 48&nbsp;V</td><td class="price">&euro;1,250 &amp; VAT</td></tr></table>\n'
         '<p>Delivery: 2&ndash;3 weeks.<br>Questions? Reply to this e-mail.</p>\n'
         '<!-- internal: template v7 -->\n'
         '<p>Kind regards,<br><b>Hugo Brandt</b></p>\n</body></html>\n')
    raw = message(env_outlook_smtp(seed, "Hugo Brandt <hugo.brandt@brandt-logistik.example>", mb(SARAH),
                                   "Quote Q-2291", "Wed, 6 Mar 2024 12:10:00 +0100"),
                  tbody(h, "utf-8", "quoted-printable", subtype="html"))
    fixed(C, seed, raw, exp(
        subject="Quote Q-2291", body_contains=["Okafor,", "\u20ac1,250 & VAT", "Delivery: 2\u20133 weeks.",
                                               "Hugo Brandt"],
        new_text_contains=["thank you for your enquiry"],
        new_text_excludes=["<p>", "font-family", "&amp;", "&nbsp;", "internal: template v7"]))

    # --- multipart/alternative (Apple Mail) ---
    seed = "multipart_alternative"
    text = "Hi Bob,\n\nThe samples arrived today \u2013 thanks!\n\nAnna\n"
    h = ('<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body '
         'style="overflow-wrap: break-word;">Hi Bob,<div><br></div><div>The samples arrived today \u2013 '
         '<b>thanks!</b></div><div><br></div><div>Anna</div></body></html>\n')
    raw = message(env_apple(seed, mb(ANNA), mb(BOB), "Samples", "Wed, 6 Mar 2024 12:20:00 +0100",
                            extra=[f"Cc: {DROPBOX}"]),
                  mbody("alternative", apple_boundary(seed), [text_part(text, "utf-8"), text_part(h, "utf-8", subtype="html")]))
    fixed(C, seed, raw, exp(subject="Samples", from_=frm(ANNA[1], ANNA[0]), people_include=[ANNA[1], BOB[1], DROPBOX],
                            body_contains=["The samples arrived today \u2013 thanks!"]))

    # --- Attachments with RFC 2231 and RFC 2047 file names ---
    seed = "attachments_rfc2231_2047"
    pdf = fake_pdf(seed + "pdf", 18431)
    docx = fake_bytes(seed + "docx", 9120, b"PK\x03\x04\x14\x00\x06\x00")
    jpg = fake_bytes(seed + "jpg", 5210, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    csv = "Artikel;Menge;Preis\r\nStuhl;40;89,00\r\nTisch;10;249,00\r\n".encode("cp1252")
    f1 = "Angebot f\u00fcr M\u00fcller GmbH - Entwurf 2024 final.pdf"
    f2 = "\u00dcbersicht Preise \u2013 2024.docx"
    f3 = "Gr\u00fc\u00dfe.jpg"
    f4 = "Preisliste_M\u00e4rz.csv"
    from urllib.parse import quote
    enc = quote(f1.encode("utf-8"), safe="")
    b = tb_boundary(seed)
    raw = message(env_thunderbird(seed, mb(ANNA), DROPBOX, "Unterlagen f\u00fcr M\u00fcller".replace("\u00fc", "=C3=BC")
                                  .join(["=?UTF-8?Q?", "?="]).replace(" ", "_"), "Wed, 6 Mar 2024 12:30:00 +0100",
                                  lang="de-DE"),
                  mbody("mixed", b, [
                      text_part("Hallo,\n\nanbei die Unterlagen.\n\nAnna\n", "UTF-8", "7bit", params="; format=flowed"),
                      attachment((f'name="{ew_q(f1, "UTF-8").replace(chr(13) + chr(10) + " ", " ")}"',
                                  f"filename*0*=UTF-8''{enc[:50]};\n filename*1*={enc[50:]}"),
                                 "application/pdf", pdf),
                      attachment((f'name="{ew_b(f2, "UTF-8")}"', f'filename="{ew_b(f2, "UTF-8")}"'),
                                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx),
                      attachment(("", "filename*=iso-8859-1'de'" + quote(f3.encode("latin-1"), safe="")),
                                 "image/jpeg", jpg),
                      attachment((f"name*=windows-1252''{quote(f4.encode('cp1252'), safe='')}",
                                  f'filename="{ew_q(f4, "windows-1252")}"'), "text/csv; charset=windows-1252", csv),
                  ], preamble="This is a multi-part message in MIME format."))
    fixed(C, seed, raw, exp(
        subject="Unterlagen f\u00fcr M\u00fcller",
        attachments=[att(f1, "application/pdf", pdf),
                     att(f2, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx),
                     att(f3, "image/jpeg", jpg), att(f4, "text/csv", csv)],
        body_contains=["anbei die Unterlagen."]))

    # --- Outlook inline images: related/alternative, cid: references, [cid:...] in text ---
    seed = "inline_images_cid"
    cid1 = "image001.png@01DA6ED2.3C8B5E40"
    cid2 = "image002.jpg@01DA6ED2.3C8B5E40"
    png = fake_png(seed + "1", 4120)
    jpg = fake_bytes(seed + "2", 2890, b"\xff\xd8\xff\xe0")
    text = (f"Hi Bob,\n\nSee the photo of the damaged pallet below.\n\n[cid:{cid2}]\n\nKind regards\n\n"
            f"Priya Hallam\nHallam Foods Ltd\n[cid:{cid1}]\n")
    h = outlook_html("Hi Bob,\n\nSee the photo of the damaged pallet below.", [], "", lang="EN-GB")
    h = h.replace('<div>\n<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">\n'
                  '<p class="MsoNormal"><span lang="EN-GB"><o:p></o:p></span></p>\n</div>\n</div>\n',
                  f'<p class="MsoNormal"><img width="640" height="480" style="width:6.6666in;height:5.0in" '
                  f'id="Picture_x0020_2" src="cid:{cid2}"></p>\n'
                  '<p class="MsoNormal">Kind regards<o:p></o:p></p>\n<p class="MsoNormal">Priya Hallam<br>Hallam Foods Ltd'
                  f'<br><img width="120" height="40" style="width:1.25in;height:.4166in" id="Picture_x0020_1" '
                  f'src="cid:{cid1}" alt="Hallam Foods logo"></p>\n')
    ob = outlook_boundary(seed)
    rel = f"_004_{ob[5:]}"
    altb = f"_000_{ob[5:]}"
    inner_alt = entity([f'Content-Type: multipart/alternative;\n\tboundary="{altb}"'],
                       multipart(altb, [text_part(text, "us-ascii", "quoted-printable"),
                                        text_part(h, "us-ascii", "quoted-printable", subtype="html")]))
    raw = message(env_exchange(seed, "Priya Hallam <priya@hallam-foods.example>", mb(BOB), "Damaged pallet",
                               "Wed, 6 Mar 2024 12:40:00 +0000", lang="en-GB", has_attach=True,
                               extra=[f"X-MS-Exchange-Organization-SCL: 1", f"Cc: {DROPBOX}"]),
                  mbody("related", rel, [
                      inner_alt,
                      attachment(('name="image002.jpg"', 'filename="image002.jpg"; size=2890;\n\t'
                                  'creation-date="Wed, 06 Mar 2024 12:39:51 GMT";\n\t'
                                  'modification-date="Wed, 06 Mar 2024 12:39:51 GMT"'),
                                 "image/jpeg", jpg, disposition="inline",
                                 extra=[f"Content-ID: <{cid2}>", "Content-Description: image002.jpg"]),
                      attachment(('name="image001.png"', 'filename="image001.png"; size=4120'),
                                 "image/png", png, disposition="inline",
                                 extra=[f"Content-ID: <{cid1}>", "Content-Description: image001.png"]),
                  ], params='\n\ttype="multipart/alternative";'))
    fixed(C, seed, raw, exp(
        subject="Damaged pallet", people_include=["priya@hallam-foods.example", BOB[1]],
        people_exclude=["image001.png@01da6ed2.3c8b5e40", "image002.jpg@01da6ed2.3c8b5e40"],
        attachments=[att("image002.jpg", "image/jpeg", jpg), att("image001.png", "image/png", png)],
        body_contains=["See the photo of the damaged pallet below."]))

    # --- Nested 4 deep: signed > mixed > alternative > related ---
    seed = "nested_4_deep"
    logo = fake_png(seed + "logo", 1536)
    pdf = fake_pdf(seed + "pdf", 20480)
    sig = fake_bytes(seed + "sig", 3871, b"\x30\x82\x0f\x1b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02")
    text = "Dear Sarah,\n\nplease find the signed inspection report attached.\n\nMarek Novak\nQuality Assurance\n"
    h = html_doc('<p>Dear Sarah,</p><p>please find the signed inspection report attached.</p>'
                 '<p>Marek Novak<br>Quality Assurance<br><img src="cid:logo.5f3a@nowak-stal.example" alt="logo"></p>')
    bs, bm, ba, br = (nextpart(seed, i) for i in range(4))
    related = entity([f'Content-Type: multipart/related;\n\ttype="text/html";\n\tboundary="{br}"'],
                     multipart(br, [text_part(h, "utf-8", "quoted-printable", subtype="html"),
                                    attachment(('name="logo.png"', 'filename="logo.png"'), "image/png", logo,
                                               disposition="inline", extra=["Content-ID: <logo.5f3a@nowak-stal.example>"])]))
    alternative = entity([f'Content-Type: multipart/alternative;\n\tboundary="{ba}"'],
                         multipart(ba, [text_part(text, "utf-8", "quoted-printable"), related]))
    mixed = entity([f'Content-Type: multipart/mixed;\n\tboundary="{bm}"'],
                   multipart(bm, [alternative, attachment(('name="Inspection report 2024-03.pdf"',
                                                            'filename="Inspection report 2024-03.pdf"'),
                                                           "application/pdf", pdf)]))
    raw = message(env_outlook_smtp(seed, "Marek Novak <marek.novak@nowak-stal.example>", mb(SARAH),
                                   "Inspection report March", "Wed, 6 Mar 2024 13:00:00 +0100",
                                   extra=[f"Bcc: {DROPBOX}"]),
                  mbody("signed", bs, [mixed, attachment(('name="smime.p7s"', 'filename="smime.p7s"'),
                                                         "application/pkcs7-signature", sig)],
                        preamble="This is a multipart message in MIME format.\n",
                        params='\n\tprotocol="application/pkcs7-signature";\n\tmicalg=sha-256;'))
    fixed(C, seed, raw, exp(
        subject="Inspection report March", people_include=["marek.novak@nowak-stal.example", SARAH[1], DROPBOX],
        people_exclude=["logo.5f3a@nowak-stal.example"],
        attachments=[att("logo.png", "image/png", logo), att("Inspection report 2024-03.pdf", "application/pdf", pdf),
                     att("smime.p7s", "application/pkcs7-signature", sig)],
        body_contains=["please find the signed inspection report attached."]))

    # --- Groups ---
    def plain(seed, hdrs, body, subject="Update"):
        return message([rcvd(seed, "mail.example.org", "203.0.113.60", "Wed, 6 Mar 2024 13:10:00 +0000"),
                        "Date: Wed, 6 Mar 2024 13:10:00 +0000", f"Subject: {subject}",
                        f"Message-ID: <{hexid(seed, 16, False)}@example.org>", "MIME-Version: 1.0"] + hdrs,
                       tbody(body, "us-ascii", "7bit"))

    raw = plain("group_undisclosed", ["From: Anna Berg <anna.berg@example.org>", "To: undisclosed-recipients:;"],
                "Hello all,\n\nthe spring catalogue is out.\n\nAnna\n", "Spring catalogue")
    fixed(C, "group_undisclosed_recipients", raw, exp(
        subject="Spring catalogue", from_=frm(ANNA[1], ANNA[0]), people_include=[ANNA[1]],
        people_exclude=["undisclosed-recipients"], body_contains=["the spring catalogue is out."]))

    raw = plain("group_named", [
        "From: Anna Berg <anna.berg@example.org>",
        'To: Project Team: tom.lund@example.net, "Doe, John" <john@example.com>,\n'
        "  Mia Wong <mia.wong@example.com>;",
        "Cc: Board:;, Sarah Okafor <sarah.okafor@harbourview.example>"],
        "Team,\n\nkick-off is on Monday at 9:00.\n\nAnna\n", "Kick-off")
    fixed(C, "group_named", raw, exp(
        subject="Kick-off", people_include=["tom.lund@example.net", "john@example.com", "mia.wong@example.com", SARAH[1]]))

    # --- RFC 5322 Appendix A.5: comments and white space everywhere ---
    raw = entity([
        rcvd("a5", "silly.test", "192.0.2.5", "Thu, 14 Feb 1969 03:05:00 +0000"),
        "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
        "To:A Group(Some people)\n     :Chris Jones <c@(Chris's host.)public.example>,\n"
        "         joe@example.org,\n  John <jdoe@one.test> (my dear friend); (the end of the group)",
        "Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
        "Date: Thu,\n      13\n        Feb\n          1969\n      23:32\n               -0330 (Newfoundland Time)",
        "Message-ID:              <testabcd.1234@silly.test>",
        "Subject: Testing comments",
    ], "Testing.\n")
    fixed(C, "rfc5322_comments_cfws", raw, exp(
        subject="Testing comments", from_=frm("pete@silly.test", "Pete"),
        people_include=["pete@silly.test", "c@public.example", "joe@example.org", "jdoe@one.test"],
        people_exclude=["testabcd.1234@silly.test"]))

    # --- Obsolete syntax (RFC 5322 A.6.1 / A.6.3, 2-digit year) ---
    raw = entity([
        rcvd("obs", "machine.example", "192.0.2.9", "Fri, 21 Nov 1997 09:56:00 +0000", proto="SMTP"),
        "From: Joe Q. Public <john.q.public@example.com>",
        "To: Mary Smith <@node.test:mary@example.net>, , jdoe@test   . example",
        "Cc: John Doe <jdoe@machine(comment).  example>",
        "Reply-To: Mary Smith\n \n <mary@example.net>",
        "Date: 21 Nov 97 09:55:06 GMT",
        "Message-ID: <5678.21-Nov-1997@example.com>",
        "Subject: Saying Hello",
    ], "This is a message just to say hello.\nSo, \"Hello\".\n")
    fixed(C, "obsolete_syntax", raw, exp(
        subject="Saying Hello", from_=frm("john.q.public@example.com", "Joe Q. Public"),
        people_include=["mary@example.net", "jdoe@test.example", "jdoe@machine.example"],
        body_contains=["This is a message just to say hello."]))
    FIXTURES[(C, "obsolete_syntax")][2].update(skip_python_text=True)

    # --- Quoted local parts and quoted display names ---
    raw = plain("quoted_local", [
        'From: "Doe, John" <john@example.com>',
        'To: "john.doe"@example.com, "jane smith"@example.org, "o\'brien"@example.ie',
        'Cc: "Smith, Jane (Sales)" <jane.smith@example.com>'],
        "Hi,\n\nsee attached.\n", "Quoted local parts")
    fixed(C, "quoted_local_parts", raw, exp(
        subject="Quoted local parts", from_=frm("john@example.com", "Doe, John"),
        people_include=["john.doe@example.com", '"jane smith"@example.org', "o'brien@example.ie",
                        "jane.smith@example.com"]))
    FIXTURES[(C, "quoted_local_parts")][2].update(skip_python_text=True)

    # --- Old style: name only in a trailing comment ---
    raw = plain("comment_name", ["From: john.smith@example.com (John Smith)", f"To: {DROPBOX} (Intake dropbox)"],
                "Hello,\n\nplease call me back.\n", "Call back")
    fixed(C, "comment_as_display_name", raw, exp(
        subject="Call back", from_=frm("john.smith@example.com", "John Smith"), people_include=["john.smith@example.com"]))
    FIXTURES[(C, "comment_as_display_name")][2].update(skip_python_from=True)

    # --- SMTPUTF8 addresses (raw UTF-8 local parts and domains) ---
    raw = entity([
        f"Received: from mail.xn--fsqu00a.xn--4rr70v ([203.0.113.88])\n\tby {MX} (Intake) with UTF8SMTPS id "
        f"{hexid('smtputf8', 12)}\n\tfor <{DROPBOX}>; Wed, 6 Mar 2024 21:00:00 +0800",
        "From: \u7528\u6237 <\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a>",
        f"To: jos\u00e9@ex\u00e4mple.de, {DROPBOX}",
        "Cc: \u0421\u0435\u0440\u0433\u0435\u0439 <\u0441\u0435\u0440\u0433\u0435\u0439@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444>",
        "Subject: SMTPUTF8 addresses",
        "Date: Wed, 6 Mar 2024 21:00:00 +0800",
        "Message-ID: <smtputf8-0001@xn--fsqu00a.xn--4rr70v>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ], "\u4f60\u597d\uff0c\n\n\u8fd9\u662f\u4e00\u5c01\u6d4b\u8bd5\u90ae\u4ef6\u3002\n")
    fixed(C, "smtputf8_addresses", raw, exp(
        subject="SMTPUTF8 addresses", from_=frm("\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a", "\u7528\u6237"),
        people_include=["\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a", "jos\u00e9@ex\u00e4mple.de",
                        "\u0441\u0435\u0440\u0433\u0435\u0439@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"],
        body_contains=["\u8fd9\u662f\u4e00\u5c01\u6d4b\u8bd5\u90ae\u4ef6"]))
    FIXTURES[(C, "smtputf8_addresses")][2].update(skip_python_from=True)

    # --- IDNA (punycode) domains and upper-case domains normalise ---
    raw = plain("idna", [
        "From: J\u00f6rg Bauer <joerg@xn--exmple-cua.de>".replace("J\u00f6rg", "=?UTF-8?Q?J=C3=B6rg?="),
        "To: info@XN--MLLER-KVA.EXAMPLE, Sales@EXAMPLE.COM",
        "Cc: =?UTF-8?B?0KHQtdGA0LPQtdC5?= <sergey@xn--e1afmkfd.xn--p1ai>"],
        "Hallo,\n\nbitte an info@xn--mller-kva.example weiterleiten.\n", "IDNA domains")
    fixed(C, "idna_domains", raw, exp(
        subject="IDNA domains", from_=frm("joerg@ex\u00e4mple.de", "J\u00f6rg Bauer"),
        people_include=["joerg@ex\u00e4mple.de", "info@m\u00fcller.example", "sales@example.com",
                        "sergey@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"]))
    FIXTURES[(C, "idna_domains")][2].update(skip_python_from=True)

    # --- Resent-* (a message redirected by an assistant) ---
    seed = "resent"
    inner_env = env_outlook_smtp(seed, "Carla Mendes <carla@mendes-cafe.example>", mb(BOB),
                                 "Espresso machine service", "Mon, 4 Mar 2024 09:00:00 +0000")
    raw = message([
        rcvd(seed + "r", "mail.harbourview.example", "198.51.100.40", "Wed, 6 Mar 2024 14:00:02 +0000"),
        "Resent-From: Lucy Palmer <lucy.palmer@harbourview.example>",
        f"Resent-To: {DROPBOX}",
        "Resent-Cc: Bob Carter <bob.carter@harbourview.example>",
        "Resent-Date: Wed, 6 Mar 2024 14:00:00 +0000",
        "Resent-Message-ID: <resent.20240306140000.4411@harbourview.example>",
    ] + inner_env[1:], tbody("Hi Bob,\n\nour espresso machine needs its annual service.\n\nCarla\n", "us-ascii", "7bit"))
    fixed(C, "resent_headers", raw, exp(
        subject="Espresso machine service", from_=frm("carla@mendes-cafe.example", "Carla Mendes"),
        people_include=["carla@mendes-cafe.example", "lucy.palmer@harbourview.example", BOB[1], DROPBOX]))

    # --- Sender and Reply-To ---
    seed = "sender_reply_to"
    raw = message([
        rcvd(seed, "o1.esp.example.net", "198.51.100.90", "Wed, 6 Mar 2024 14:10:00 +0000"),
        "From: Vendor Sales <sales@vendor.example>",
        "Sender: bounces+12345@esp.example.net",
        'Reply-To: Anna Berg <anna.berg@example.org>, "Tom (backup)" <tom.lund@example.net>',
        f"To: {mb(SARAH)}",
        "Subject: Your account manager",
        "Date: Wed, 6 Mar 2024 14:10:00 +0000",
        f"Message-ID: <{hexid(seed, 24, False)}@esp.example.net>",
        "MIME-Version: 1.0",
    ], tbody("Dear Sarah,\n\nAnna Berg is your new account manager.\n", "us-ascii", "7bit"))
    fixed(C, "sender_and_reply_to", raw, exp(
        subject="Your account manager", from_=frm("sales@vendor.example", "Vendor Sales"),
        people_include=["sales@vendor.example", "bounces+12345@esp.example.net", ANNA[1], "tom.lund@example.net",
                        SARAH[1]]))

    # --- Addresses in body text, with false positives ---
    seed = "body_addresses"
    mid = "CAF1x2y3z4=Qa7bC9dE0fG1hI2jK3lM4nO5pQ6@mail.gmail.com"
    text = ("Hi Sarah,\n\n"
            "Please contact our new account manager, Anna Berg (anna.berg@example.org),\n"
            "or write to <support@vendor.example>. For invoices: mailto:billing@vendor.example\n"
            "Her old profile is at https://example.com/u/jane@example.com/profile and the\n"
            "directory entry at http://intranet.example.net/people?email=old.user@example.net .\n"
            "FTP drop: ftp://upload:secret@ftp.example.org/incoming/\n"
            "The logo file is logo@2x.png and the banner banner@3x.jpg.\n"
            f"This continues the thread <{mid}>.\n"
            "Inline image: [cid:image001.png@01DA6ED2.3C8B5E40]\n"
            "Not an address: user@localhost, foo@bar, @handle, a@b.c0m1\n"
            "Also reachable: MARK.JONES@Example.COM.\n\nThanks,\nTom\n")
    raw = message(env_gmail(seed, "Tom Lund <tom.lund@example.net>", mb(SARAH), "Contacts", "Wed, 6 Mar 2024 14:20:00 +0000",
                            domain="example.net", in_reply_to=f"<{mid}>", references=f"<{mid}>"),
                  tbody(text, "UTF-8", None))
    fixed(C, seed, raw, exp(
        subject="Contacts",
        people_include=["anna.berg@example.org", "support@vendor.example", "billing@vendor.example",
                        "mark.jones@example.com"],
        people_exclude=["jane@example.com", "old.user@example.net", "upload:secret@ftp.example.org",
                        "secret@ftp.example.org", "logo@2x.png", "banner@3x.jpg", mid.split("@")[0] + "@mail.gmail.com",
                        "image001.png@01da6ed2.3c8b5e40", "user@localhost", "foo@bar", "a@b.c0m1"]))

    # --- Addresses in an HTML-only body: mailto links count, image and URL paths do not ---
    seed = "html_body_addresses"
    h = html_doc('<p>Questions? <a href="mailto:sales@vendor.example?subject=Quote%20request">Contact sales</a> '
                 'or write to info@vendor.example.</p>\n'
                 '<p><a href="https://example.com/u/jane@example.com/profile">Jane\'s profile</a></p>\n'
                 '<p><img src="https://cdn.vendor.example/img/logo@2x.png" alt="Vendor"> '
                 '<img src="cid:image001.png@01DA6ED2.3C8B5E40" alt=""></p>\n'
                 '<p style="font-size:9px">Unsubscribe: <a href="https://vendor.example/unsub?u=sarah.okafor%40harbourview.example">here</a></p>')
    raw = message(env_outlook_smtp(seed, "Vendor Sales <sales@vendor.example>", mb(SARAH), "Spring offers",
                                   "Wed, 6 Mar 2024 14:30:00 +0000"), tbody(h, "utf-8", "quoted-printable", subtype="html"))
    fixed(C, seed, raw, exp(
        subject="Spring offers", people_include=["sales@vendor.example", "info@vendor.example"],
        people_exclude=["jane@example.com", "logo@2x.png", "image001.png@01da6ed2.3c8b5e40"],
        body_contains=["Contact sales", "or write to info@vendor.example."]))
    FIXTURES[(C, seed)][2].update(skip_python_text=True)

    # --- Misc attachments: name= only, zero bytes, winmail.dat, text attachment ---
    seed = "attachments_misc"
    xlsx = fake_bytes(seed + "x", 7342, b"PK\x03\x04")
    tnef = fake_bytes(seed + "t", 2210, b"\x78\x9f\x3e\x22")
    notes = "Site notes\r\n- gate code 4471\r\n- ask for Piet\r\n".encode("ascii")
    nb = nextpart(seed)
    raw = message(env_outlook_smtp(seed, mb(SARAH), DROPBOX, "Files for the Utrecht job", "Wed, 6 Mar 2024 14:40:00 -0000"),
                  mbody("mixed", nb, [
                      text_part("Files attached.\n\nSarah\n", "us-ascii", "7bit"),
                      entity(['Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;\n'
                              '\tname="Utrecht schedule.xlsx"', "Content-Transfer-Encoding: base64"], b64(xlsx) + "\r\n"),
                      entity(['Content-Type: application/octet-stream; name="empty.txt"',
                              'Content-Disposition: attachment; filename="empty.txt"',
                              "Content-Transfer-Encoding: base64"], ""),
                      entity(['Content-Type: text/plain; charset="us-ascii"; name="notes.txt"',
                              'Content-Disposition: attachment; filename="notes.txt"',
                              "Content-Transfer-Encoding: base64"], b64(notes) + "\r\n"),
                      attachment(('name="winmail.dat"', 'filename="winmail.dat"'), "application/ms-tnef", tnef),
                  ], preamble="This is a multipart message in MIME format.\n"))
    fixed(C, seed, raw, exp(
        subject="Files for the Utrecht job",
        attachments=[att("Utrecht schedule.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx),
                     att("empty.txt", "application/octet-stream", b""), att("notes.txt", "text/plain", notes),
                     att("winmail.dat", "application/ms-tnef", tnef)],
        body_contains=["Files attached."], new_text_excludes=["gate code 4471"]))
    FIXTURES[(C, seed)][2].update(skip_python_text=True)

    # --- Header folding, lower-case names, long unfolded subject ---
    raw = entity([
        rcvd("folding", "mail.example.org", "203.0.113.60", "Wed, 6 Mar 2024 15:00:00 +0000"),
        "from: Anna Berg\n <anna.berg@example.org>",
        "to: Tom Lund <tom.lund@example.net>,\n\tMia Wong <mia.wong@example.com>,\n\tSarah Okafor\n\t<sarah.okafor@harbourview.example>",
        "subject: Quarterly report for Q1 with a rather long title that\n continues on the next line",
        "date: Wed, 6 Mar 2024 15:00:00 +0000",
        "message-id: <fold.0001@example.org>",
        "mime-version: 1.0",
        "content-type: text/plain;\n charset=us-ascii",
    ], "Report attached.\n")
    fixed(C, "header_folding", raw, exp(
        subject="Quarterly report for Q1 with a rather long title that continues on the next line",
        from_=frm(ANNA[1], ANNA[0]), people_include=["tom.lund@example.net", "mia.wong@example.com", SARAH[1]]))


# ==========================================================================
# replies/: quoted history, attributions, signatures
# ==========================================================================

GRACE = ("Grace Liu", "grace.liu@liu-dental.example")


def replies():
    C = "replies"

    # Three levels of '>' quoting (Thunderbird).
    seed = "three_level_quotes"
    text = ("Agreed, let's go with the 36-month option. I'll send the paperwork today.\n\n"
            "On 05/03/2024 10:12, Grace Liu wrote:\n"
            "> Fine by me if Bob agrees.\n>\n"
            "> On 04/03/2024 18:30, Bob Carter wrote:\n"
            ">> We can offer 24 or 36 months.\n>>\n"
            ">> On 04/03/2024 09:02, Grace Liu wrote:\n"
            ">>> Which lease terms do you offer for the X-ray unit?\n")
    raw = message(env_thunderbird(seed, mb(BOB), mb(GRACE), "Re: Equipment lease options", "Tue, 5 Mar 2024 10:30:00 +0000",
                                  extra=[f"Bcc: {DROPBOX}"], in_reply_to="<b1e2@liu-dental.example>",
                                  references="<a0d1@liu-dental.example> <a9f3@harbourview.example> <b1e2@liu-dental.example>"),
                  tbody(text, "UTF-8", "7bit", params="; format=flowed"))
    fixed(C, seed, raw, exp(
        subject="Re: Equipment lease options", people_include=[BOB[1], GRACE[1]],
        new_text_contains=["Agreed, let's go with the 36-month option."],
        new_text_excludes=["Fine by me", "24 or 36 months", "Which lease terms", "Grace Liu wrote:"]))

    # Gmail wraps a long attribution line in the text/plain part.
    seed = "gmail_wrapped_attribution"
    attribution = ("On Tue, Mar 5, 2024 at 10:12\u202fAM Jane Fenwick <\n"
                   "jane.fenwick@fenwick-logistics.example> wrote:")
    quoted = ("> Hi Bob,\n>\n> Could you confirm the delivery date for the 40 chairs?\n>\n> Thanks,\n> Jane\n>\n")
    text = "Hi Jane,\n\nDelivery is confirmed for 22 April.\n\nBob\n\n" + attribution + "\n\n" + quoted
    raw = message(env_gmail(seed, mb(BOB), "Jane Fenwick <jane.fenwick@fenwick-logistics.example>",
                            "Re: Quote request for 40 office chairs", "Tue, 5 Mar 2024 11:00:00 +0000",
                            domain="harbourview.example", cc=DROPBOX),
                  gmail_alt(gm_boundary(seed), text, gmail_reply_html("Hi Jane,\n\nDelivery is confirmed for 22 April.\n\nBob",
                                                                attribution.replace("\n", ""),
                                                                "Hi Bob,\n\nCould you confirm the delivery date for the 40 chairs?\n\nThanks,\nJane")))
    fixed(C, seed, raw, exp(
        subject="Re: Quote request for 40 office chairs",
        people_include=["jane.fenwick@fenwick-logistics.example", BOB[1]],
        new_text_contains=["Delivery is confirmed for 22 April."],
        new_text_excludes=["confirm the delivery date", "wrote:", "jane.fenwick@fenwick-logistics.example"]))

    # Outlook desktop top-post: From/Sent/To/Subject block, no separator line.
    seed = "outlook_from_sent_block"
    new = "Hi Priya,\n\nThe replacement pallet ships tomorrow.\n\nKind regards\nSarah"
    fields = [("From:", "Priya Hallam <priya@hallam-foods.example>"), ("Sent:", "Wednesday, March 6, 2024 12:40 PM"),
              ("To:", "Sarah Okafor <sarah.okafor@harbourview.example>"), ("Subject:", "Damaged pallet")]
    orig = "Hi Sarah,\n\nOne pallet arrived damaged, photo attached.\n\nPriya\n"
    text = new + "\n\n" + block(None, fields, blank_after=0) + " \n" + orig
    raw = message(env_exchange(seed, mb(SARAH), "Priya Hallam <priya@hallam-foods.example>", "RE: Damaged pallet",
                               "Wed, 6 Mar 2024 13:05:00 +0000", lang="en-GB", cc=DROPBOX),
                  alt(outlook_boundary(seed), text, outlook_html(new, fields, orig, lang="EN-GB")))
    fixed(C, seed, raw, exp(
        subject="RE: Damaged pallet", people_include=["priya@hallam-foods.example"],
        new_text_contains=["The replacement pallet ships tomorrow."],
        new_text_excludes=["One pallet arrived damaged", "Sent: Wednesday, March 6, 2024"]))

    # Outlook plain text with "-----Original Message-----".
    seed = "outlook_original_message_reply"
    text = ("Pieter,\n\nConfirmed: north gate, 07:30 on 18 March.\n\nSarah\n\n"
            "-----Original Message-----\nFrom: Pieter van Dijk [mailto:pieter@vandijk-bouw.example] \n"
            "Sent: Monday, March 4, 2024 3:41 PM\nTo: Sarah Okafor <sarah.okafor@harbourview.example>\n"
            "Subject: Delivery schedule for the Utrecht site\n\n"
            "Hello Sarah,\n\nPlease confirm whether your driver can use the north gate.\n\nPieter\n")
    raw = message(env_outlook_smtp(seed, mb(SARAH), "'Pieter van Dijk' <pieter@vandijk-bouw.example>",
                                   "RE: Delivery schedule for the Utrecht site", "Tue, 5 Mar 2024 08:00:00 -0000",
                                   cc=DROPBOX), tbody(text, "us-ascii", "7bit"))
    fixed(C, seed, raw, exp(
        subject="RE: Delivery schedule for the Utrecht site", people_include=["pieter@vandijk-bouw.example"],
        new_text_contains=["Confirmed: north gate, 07:30 on 18 March."],
        new_text_excludes=["Please confirm whether your driver", "-----Original Message-----"]))

    # Signature after "-- " (and a quote below it).
    seed = "signature_delimiter"
    text = ("Hi Anna,\n\nyes, Thursday 14:00 works for me.\n\n-- \nTom Lund\nLund Consulting | +46 31 555 0192\n"
            "https://lund.example.net\n\nOn Wed, 6 Mar 2024 at 09:14, Anna Berg <anna.berg@example.org> wrote:\n"
            "> Does Thursday 14:00 work for a call?\n")
    raw = message(env_thunderbird(seed, "Tom Lund <tom.lund@example.net>", "Anna Berg <anna.berg@example.org>",
                                  "Re: Call on Thursday?", "Wed, 6 Mar 2024 09:30:00 +0100", extra=[f"Cc: {DROPBOX}"]),
                  tbody(text, "UTF-8", "7bit", params="; format=flowed"))
    fixed(C, seed, raw, exp(
        subject="Re: Call on Thursday?", new_text_contains=["yes, Thursday 14:00 works for me."],
        new_text_excludes=["Does Thursday 14:00 work for a call?"],
        body_contains=["Lund Consulting | +46 31 555 0192"]))

    # iOS Mail: the attribution line itself is quoted.
    seed = "ios_quoted_attribution"
    text = ("Perfect, see you then.\n\nSent from my iPhone\n\n"
            "> On 5 Mar 2024, at 18:02, Grace Liu <grace.liu@liu-dental.example> wrote:\n>\n"
            "> \ufeffShall we meet at the practice on Friday at 8?\n")
    raw = message(env_apple(seed, mb(BOB), mb(GRACE), "Re: Meeting", "Tue, 5 Mar 2024 18:10:00 +0000", ios=True,
                            extra=[f"Cc: {DROPBOX}"]), tbody(text, "utf-8", "quoted-printable"))
    fixed(C, seed, raw, exp(
        subject="Re: Meeting", new_text_contains=["Perfect, see you then."],
        new_text_excludes=["meet at the practice on Friday"]))

    # Interleaved (inline) answers.
    seed = "interleaved_reply"
    text = ("Hi Lena,\n\nanswers inline.\n\n"
            "On 06/03/2024 08:15, Lena Fischer wrote:\n"
            "> 1. Can phase 1 start in April?\n\nYes, from 8 April.\n\n"
            "> 2. Is the site survey included?\n\nIt is, at no extra cost.\n\n"
            "> Best,\n> Lena\n\nBob\n")
    raw = message(env_thunderbird(seed, mb(BOB), "Lena Fischer <lena.fischer@brightwater.example>",
                                  "Re: Brightwater questions", "Wed, 6 Mar 2024 10:00:00 +0000", extra=[f"Cc: {DROPBOX}"]),
                  tbody(text, "UTF-8", "7bit"))
    fixed(C, seed, raw, exp(
        subject="Re: Brightwater questions",
        new_text_contains=["Yes, from 8 April.", "It is, at no extra cost."],
        new_text_excludes=["Can phase 1 start in April?", "Is the site survey included?"]))

    # Outlook on the web, HTML only reply.
    seed = "outlook_web_html_reply"
    h = html_doc('<div class="elementToProof" style="font-family: Aptos, sans-serif; font-size: 12pt;">'
                 'Hi Lena, the revised proposal is attached.</div>\n<div id="appendonsend"></div>\n'
                 '<hr style="display:inline-block;width:98%" tabindex="-1">\n'
                 '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">'
                 '<b>From:</b> Lena Fischer &lt;lena.fischer@brightwater.example&gt;<br>\n'
                 '<b>Sent:</b> Monday, March 4, 2024 2:15 PM<br>\n'
                 '<b>To:</b> Bob Carter &lt;bob.carter@harbourview.example&gt;<br>\n'
                 '<b>Subject:</b> Brightwater - revised scope</font>\n<div>&nbsp;</div>\n</div>\n'
                 '<div>Could you send a revised proposal?</div>')
    raw = message(env_exchange(seed, mb(BOB), "Lena Fischer <lena.fischer@brightwater.example>",
                               "Re: Brightwater - revised scope", "Tue, 5 Mar 2024 12:00:00 +0000", cc=DROPBOX),
                  tbody(h, "utf-8", "quoted-printable", subtype="html"))
    fixed(C, seed, raw, exp(
        subject="Re: Brightwater - revised scope", people_include=["lena.fischer@brightwater.example"],
        new_text_contains=["the revised proposal is attached"], new_text_excludes=["Could you send a revised proposal?"]))

    # Localised attributions from other clients.
    senders = {"fr_apple_mail_reply": ("Thomas Martin", "thomas.martin@mobilier-durand.example"),
               "de_thunderbird_reply": ("Katrin Sch\u00e4fer", "katrin.schaefer@buero-hansen.example"),
               "es_outlook_ios_reply": ("Luc\u00eda Fern\u00e1ndez", "lucia.fernandez@distribuciones-sol.example")}
    for seed, env, attribution, new, quoted, subj, other in [
        ("fr_apple_mail_reply", env_apple,
         "Le 5 mars 2024 \u00e0 10:12, \u00c9lodie Lef\u00e8vre <elodie.lefevre@cafe-belleville.example> a \u00e9crit\u00a0:",
         "Bonjour \u00c9lodie,\n\nc'est not\u00e9, livraison le 22 avril.\n\nThomas",
         "Pouvez-vous confirmer la date de livraison ?", "Re: Livraison",
         ("\u00c9lodie Lef\u00e8vre", "elodie.lefevre@cafe-belleville.example")),
        ("de_thunderbird_reply", env_thunderbird,
         "Am 05.03.24 um 10:12 schrieb J\u00fcrgen M\u00fcller:",
         "Hallo Herr M\u00fcller,\n\ndas Angebot ist unterwegs.\n\nGr\u00fc\u00dfe\nKatrin Sch\u00e4fer",
         "K\u00f6nnen Sie mir das Angebot bis Freitag schicken?", "Re: Angebot",
         ("J\u00fcrgen M\u00fcller", "j.mueller@mueller-bau.example")),
        ("es_outlook_ios_reply", env_exchange,
         "El mar, 5 mar 2024 a las 10:12, Javier Ortega <javier.ortega@hotel-mirador.example> escribi\u00f3:",
         "Hola Javier,\n\nel presupuesto sale hoy.\n\nLuc\u00eda\n\nObtener Outlook para iOS<https://aka.ms/o0ukef>",
         "\u00bfNos puede enviar el presupuesto esta semana?", "RE: Presupuesto",
         ("Javier Ortega", "javier.ortega@hotel-mirador.example")),
    ]:
        text = new + "\n\n" + attribution + "\n\n> " + quoted + "\n"
        raw = message(env(seed, mailbox(*senders[seed], charset="utf-8", enc="Q"), mailbox(*other, charset="utf-8", enc="Q"), subj,
                          "Tue, 5 Mar 2024 11:00:00 +0100", cc=DROPBOX),
                      tbody(text, "utf-8", "quoted-printable"))
        fixed(C, seed, raw, exp(subject=subj, people_include=[other[1]],
                                new_text_contains=[new.split("\n\n")[1]], new_text_excludes=[quoted, attribution]))

    # Outlook desktop in Dutch: localised From/Sent block as reply separator.
    seed = "nl_outlook_reply"
    text = ("Beste Jan,\n\nde offerte is verstuurd.\n\nMet vriendelijke groet,\nSanne\n\n"
            "Van: Jan de Vries <jan.devries@devries-installatie.example> \nVerzonden: maandag 4 maart 2024 15:41\n"
            "Aan: Sanne de Boer <sanne.deboer@kantoorhuis.example>\nOnderwerp: Offerte voor kantoorinrichting\n \n"
            "Beste Sanne,\n\nKunt u ons een offerte sturen voor 30 werkplekken?\n")
    raw = message(env_exchange(seed, "Sanne de Boer <sanne.deboer@kantoorhuis.example>",
                               "Jan de Vries <jan.devries@devries-installatie.example>",
                               "RE: Offerte voor kantoorinrichting", "Tue, 5 Mar 2024 09:00:00 +0000", lang="nl-NL",
                               cc=DROPBOX),
                  tbody(text, "iso-8859-1", "quoted-printable"))
    fixed(C, seed, raw, exp(
        subject="RE: Offerte voor kantoorinrichting", people_include=["jan.devries@devries-installatie.example"],
        new_text_contains=["de offerte is verstuurd."], new_text_excludes=["offerte sturen voor 30 werkplekken"]))


# ==========================================================================
# refs/: #CS / #CO reference tags
# ==========================================================================

def refs():
    C = "refs"

    def mail(seed, subject_hdr, body, subtype="plain", cte="quoted-printable", charset="UTF-8"):
        return message(env_thunderbird(seed, mb(SARAH), DROPBOX, subject_hdr, "Thu, 7 Mar 2024 09:00:00 +0000"),
                       tbody(body, charset, cte, subtype=subtype))

    raw = mail("ref_subject_body", "Re: Delivery issue [#CS1001]",
               "Hi,\n\nthis is related to #co2002 as well. Please keep #CS1001 open\nuntil #CO2002 is closed.\n")
    fixed(C, "subject_and_body", raw, exp(subject="Re: Delivery issue [#CS1001]", refs=["CS1001", "CO2002"]))

    raw = mail("ref_boundaries", "Tag boundaries",
               "Valid: (#CS1001), #CS1002., #cs1003, \"#Co1004\", [#CO1005];\n"
               "#CS1006 at the start of a line\n"
               "Leading zeros are kept: #CS0018\n"
               "Not tags: abc#CS1, foo_#CS2, #CS, #CSX12, #CS 13, #CS14abc, caf\u00e9#CO77, x#co15, CS16 without hash,\n"
               "#CO-19, #C S20\n")
    fixed(C, "word_boundaries", raw, exp(refs=["CS1001", "CS1002", "CS1003", "CO1004", "CO1005", "CS1006", "CS0018"]))

    h = html_doc('<p>Case <b>#CS5005</b> &ndash; see also &#35;CO6006.</p>\n'
                 '<p><a href="https://crm.example.com/case#CS9999">Open the case</a></p>\n'
                 '<!-- #CS1111 in a comment -->\n'
                 '<table><tr><td>#CO8008</td><td>#CS5005</td></tr></table>',
                 head_extra="\n<style>/* #CS2222 */ p { margin: 0 }</style>")
    raw = mail("ref_html", "Case update", h, subtype="html")
    fixed(C, "html_only", raw, exp(subject="Case update", refs=["CS5005", "CO6006", "CO8008"]))
    FIXTURES[(C, "html_only")][2].update(skip_python_text=True)

    fields = [("From:", "Carla Mendes <carla@mendes-cafe.example>"), ("Date:", "Wed, Mar 6, 2024 at 8:00\u202fAM"),
              ("Subject:", "Issue #co7002"), ("To:", "Bob Carter <bob.carter@harbourview.example>")]
    text = ("Filing under #CS7001.\n\n" + block("---------- Forwarded message ---------", fields, blank_after=2)
            + "Hi Bob,\n\nthe grinder is broken again (previous case #CS7003).\n\nCarla\n")
    raw = message(env_gmail("ref_fwd", mb(BOB), DROPBOX, "Fwd: Issue #co7002", "Thu, 7 Mar 2024 09:10:00 +0000",
                            domain="harbourview.example"),
                  gmail_alt(gm_boundary("ref_fwd"), text, gmail_html("Filing under #CS7001.", "---------- Forwarded message ---------",
                                                               fields, "Hi Bob,\n\nthe grinder is broken again (previous case #CS7003).\n\nCarla\n")))
    fixed(C, "in_forwarded_original", raw, exp(subject="Fwd: Issue #co7002", refs=["CO7002", "CS7001", "CS7003"],
                                               forwarded=[fwd("carla@mendes-cafe.example", "Carla Mendes",
                                                              subject="Issue #co7002")]))

    text = ("Ja, erledigt.\n\nAm 06.03.24 um 17:02 schrieb J\u00fcrgen M\u00fcller:\n> Bezug: #CO8009, bitte pr\u00fcfen.\n")
    raw = mail("ref_encoded", "=?UTF-8?Q?R=C3=BCckfrage_zu_=23CS8008?=", text, cte="base64")
    fixed(C, "encoded_subject_and_quote", raw, exp(subject="R\u00fcckfrage zu #CS8008", refs=["CS8008", "CO8009"]))

    raw = mail("ref_none", "Order #1234",
               "Order #1234 shipped. Written in C#, see issue #42, ref CS1001 and CO-2002, #CS and #CO only.\n")
    fixed(C, "no_tags", raw, exp(subject="Order #1234", refs=[]))


# ==========================================================================
# automated/: auto-replies, bulk mail, bounces, and normal mail that looks similar
# ==========================================================================

def automated():
    C = "automated"

    seed = "sieve_vacation"
    raw = message([
        rcvd(seed, "mail.hallam-foods.example", "198.51.100.140", "Thu, 7 Mar 2024 10:00:02 +0000"),
        "Date: Thu, 7 Mar 2024 10:00:01 +0000",
        "From: Priya Hallam <priya@hallam-foods.example>",
        f"To: {mb(SARAH)}",
        "Subject: Auto: Signed order form",
        "Auto-Submitted: auto-replied (vacation)",
        "Precedence: bulk",
        "In-Reply-To: <AM0PR07MB1234@AM0PR07MB1234.eurprd07.prod.outlook.com>",
        f"Message-ID: <dovecot-sieve-1709805601-{hexid(seed, 8, False)}-0@mail.hallam-foods.example>",
        "X-Sieve: Pigeonhole Sieve 0.5.21",
        "MIME-Version: 1.0",
    ], tbody("I am out of the office until 18 March with limited access to e-mail.\n", "utf-8", "8bit"))
    fixed(C, seed, raw, exp(subject="Auto: Signed order form", automated=True,
                            body_contains=["I am out of the office until 18 March"]))

    seed = "exchange_automatic_reply"
    raw = message(env_exchange(seed, "Lena Fischer <lena.fischer@brightwater.example>", mb(BOB),
                               "Automatic reply: Brightwater - revised scope", "Thu, 7 Mar 2024 10:05:00 +0000",
                               extra=["Auto-Submitted: auto-generated", "X-Auto-Response-Suppress: All",
                                      "X-MS-Exchange-Inbox-Rules-Loop: lena.fischer@brightwater.example"]),
                  alt(outlook_boundary(seed), "I'm on leave until Monday. For urgent matters contact Jonas Weber.\n",
                      html_doc("<p>I'm on leave until Monday. For urgent matters contact Jonas Weber.</p>")))
    fixed(C, seed, raw, exp(subject="Automatic reply: Brightwater - revised scope", automated=True))

    seed = "x_autoreply"
    raw = message([
        rcvd(seed, "server.example.net", "203.0.113.99", "Thu, 7 Mar 2024 10:10:00 +0000"),
        "Date: Thu, 7 Mar 2024 10:10:00 +0000",
        "From: info@olsen-marine.example",
        f"To: {BOB[1]}",
        "Subject: Thank you for your message",
        "X-Autoreply: yes",
        "X-Autorespond: Thank you for your message",
        f"Message-ID: <autoresponder.{hexid(seed, 10, False)}@server.example.net>",
        "MIME-Version: 1.0",
    ], tbody("Thank you for contacting Olsen Marine. We will reply within two working days.\n", "us-ascii", "7bit"))
    fixed(C, seed, raw, exp(subject="Thank you for your message", automated=True))

    seed = "newsletter_bulk"
    h = html_doc('<h1>Spring offers</h1><p>20% off all mooring equipment until 31 March.</p>'
                 '<p><a href="https://news.vendor.example/unsubscribe?id=8842">Unsubscribe</a></p>')
    raw = message([
        rcvd(seed, "mta12.news.vendor.example", "198.51.100.212", "Thu, 7 Mar 2024 06:00:00 +0000"),
        dkim(seed, "news.vendor.example"),
        "From: Vendor News <news@news.vendor.example>",
        f"To: {BOB[1]}",
        "Subject: Spring offers: 20% off mooring equipment",
        "Date: Thu, 7 Mar 2024 06:00:00 +0000",
        f"Message-ID: <{hexid(seed, 20, False)}@news.vendor.example>",
        "Precedence: bulk",
        "List-Id: Vendor customer newsletter <newsletter.news.vendor.example>",
        "List-Unsubscribe: <https://news.vendor.example/unsubscribe?id=8842>, <mailto:unsubscribe-8842@news.vendor.example>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "MIME-Version: 1.0",
    ], alt("----=_Part_" + hexid(seed, 10, False), "Spring offers\n\n20% off all mooring equipment until 31 March.\n"
           "Unsubscribe: https://news.vendor.example/unsubscribe?id=8842\n", h))
    fixed(C, seed, raw, exp(subject="Spring offers: 20% off mooring equipment", automated=True))

    seed = "dsn_bounce"
    orig = message(env_outlook_smtp(seed + "o", mb(SARAH), "Nobody <nobody@nowhere-logistics.example>", "Delivery schedule",
                                    "Thu, 7 Mar 2024 10:20:00 +0000"), tbody("Hello,\n\nplease confirm.\n", "us-ascii", "7bit"))
    b = f"{hexid(seed, 10)}.1709806830/mx1.harbourview.example"
    raw = message([
        "Return-Path: <>",
        rcvd(seed, "mx1.harbourview.example", "198.51.100.40", "Thu, 7 Mar 2024 10:20:31 +0000", proto="ESMTP"),
        "Date: Thu,  7 Mar 2024 10:20:30 +0000 (UTC)",
        "From: MAILER-DAEMON@mx1.harbourview.example (Mail Delivery System)",
        "Subject: Undelivered Mail Returned to Sender",
        f"To: {SARAH[1]}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{b}"',
        "Content-Transfer-Encoding: 8bit",
        f"Message-Id: <20240307102030.{hexid(seed, 10)}@mx1.harbourview.example>",
    ], ([], multipart(b, [
        entity(["Content-Description: Notification", "Content-Type: text/plain; charset=us-ascii"],
               "This is the mail system at host mx1.harbourview.example.\n\nI'm sorry to have to inform you that your "
               "message could not\nbe delivered to one or more recipients. It's attached below.\n\n"
               "<nobody@nowhere-logistics.example>: host mx.nowhere-logistics.example[203.0.113.7]\n"
               "    said: 550 5.1.1 <nobody@nowhere-logistics.example>: Recipient address\n    rejected: User unknown\n"),
        entity(["Content-Description: Delivery report", "Content-Type: message/delivery-status"],
               "Reporting-MTA: dns; mx1.harbourview.example\nX-Postfix-Queue-ID: 4TrQ5k3Dq1z9rwK\n"
               "Arrival-Date: Thu,  7 Mar 2024 10:20:28 +0000 (UTC)\n\n"
               "Final-Recipient: rfc822; nobody@nowhere-logistics.example\nOriginal-Recipient: rfc822;nobody@nowhere-logistics.example\n"
               "Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.nowhere-logistics.example\n"
               "Diagnostic-Code: smtp; 550 5.1.1 <nobody@nowhere-logistics.example>: Recipient\n    address rejected: User unknown\n"),
        entity(["Content-Description: Undelivered Message", "Content-Type: message/rfc822", "Content-Transfer-Encoding: 8bit"],
               orig),
    ], preamble="This is a MIME-encapsulated message.\n")))
    fixed(C, seed, raw, exp(subject="Undelivered Mail Returned to Sender", automated=True,
                            body_contains=["I'm sorry to have to inform you"]))

    seed = "outlook_normal_with_suppress"
    raw = message(env_exchange(seed, mb(SARAH), "Priya Hallam <priya@hallam-foods.example>", "Order confirmation HF-2024-117",
                               "Thu, 7 Mar 2024 10:30:00 +0000", cc=DROPBOX, extra=["X-Auto-Response-Suppress: All"]),
                  alt(outlook_boundary(seed), "Hi Priya,\n\nyour order HF-2024-117 is confirmed.\n\nSarah\n",
                      html_doc("<p>Hi Priya,</p><p>your order HF-2024-117 is confirmed.</p><p>Sarah</p>")))
    fixed(C, seed, raw, exp(subject="Order confirmation HF-2024-117", automated=False))

    seed = "auto_submitted_no"
    raw = message(env_thunderbird(seed, mb(BOB), mb(GRACE), "Lease paperwork", "Thu, 7 Mar 2024 10:40:00 +0000",
                                  extra=["Auto-Submitted: no", f"Bcc: {DROPBOX}"]),
                  tbody("Hi Grace,\n\nthe lease paperwork is attached.\n\nBob\n", "UTF-8", "7bit"))
    fixed(C, seed, raw, exp(subject="Lease paperwork", automated=False))


# ==========================================================================
# broken/: defects the parser must report while still recovering content
# ==========================================================================

def broken():
    C = "broken"

    def env(seed, subject, ct_lines, extra=()):
        return [rcvd(seed, "mail.example.org", "203.0.113.60", "Fri, 8 Mar 2024 09:00:00 +0000"),
                "From: Anna Berg <anna.berg@example.org>", f"To: {DROPBOX}", f"Subject: {subject}",
                "Date: Fri, 8 Mar 2024 09:00:00 +0000", f"Message-ID: <{hexid(seed, 16, False)}@example.org>",
                "MIME-Version: 1.0", *ct_lines, *extra]

    def add(name, raw, **kw):
        fixed(C, name, raw, exp(defects_nonempty=True, **kw))

    # Closing boundary missing (message ends inside the last part).
    b = "----=_Part_0_missing_close"
    raw = entity(env("nb", "Missing close delimiter", [f'Content-Type: multipart/mixed; boundary="{b}"']),
                 f"--{b}\nContent-Type: text/plain; charset=us-ascii\n\nThe body text survives.\n"
                 f"--{b}\nContent-Type: text/csv; name=\"data.csv\"\nContent-Disposition: attachment; filename=\"data.csv\"\n\n"
                 "a,b\n1,2\n")
    add("missing_close_boundary", raw, subject="Missing close delimiter", from_=frm("anna.berg@example.org", "Anna Berg"),
        body_contains=["The body text survives."])

    # Declared boundary never appears; the body uses another one.
    raw = entity(env("wb", "Wrong boundary", ['Content-Type: multipart/alternative; boundary="declared-boundary"']),
                 "--actual-boundary\nContent-Type: text/plain; charset=us-ascii\n\nText under the wrong boundary.\n"
                 "--actual-boundary--\n")
    add("wrong_boundary", raw, subject="Wrong boundary", from_=frm("anna.berg@example.org", "Anna Berg"))

    # multipart/* without a boundary parameter at all.
    raw = entity(env("nbp", "No boundary parameter", ["Content-Type: multipart/mixed"]),
                 "This is a multipart message without a boundary parameter.\n")
    add("multipart_without_boundary", raw, subject="No boundary parameter")

    # Bad base64: characters outside the alphabet, missing padding, junk at the end.
    good = base64.b64encode(b"Invoice 4471 is attached. Please pay by 31 March.").decode()
    raw = entity(env("b64", "Bad base64", ['Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: base64"]),
                 good[:40] + "\n" + good[40:].rstrip("=") + "!!\n%%% not base64 %%%\n")
    add("bad_base64", raw, subject="Bad base64", body_contains=["Invoice 4471 is attached."])

    # Bad quoted-printable: "=ZZ", lower-case hex, a soft break at the very end, 8-bit byte.
    raw = entity(env("qp", "Bad quoted-printable", ['Content-Type: text/plain; charset="iso-8859-1"',
                                                    "Content-Transfer-Encoding: quoted-printable"]),
                 b"Price: 100 =ZZ discount applies.\nM=fcller and M=FCller are the same.\nThis line ends with a soft break =\n")
    add("bad_quoted_printable", raw, subject="Bad quoted-printable",
        body_contains=["Price: 100 =ZZ discount applies.", "M\u00fcller and M\u00fcller are the same."])

    # A header line without a colon between valid header fields.
    raw = entity([rcvd("hnc", "mail.example.org", "203.0.113.60", "Fri, 8 Mar 2024 09:00:00 +0000"),
                  "From: Anna Berg <anna.berg@example.org>", "Subject: Header without colon",
                  "Date: Fri, 8 Mar 2024 09:00:00 +0000", "This line is not a header field",
                  f"To: {DROPBOX}", "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii"],
                 "The body after a malformed header block.\n")
    add("header_without_colon", raw, subject="Header without colon", from_=frm("anna.berg@example.org", "Anna Berg"),
        body_contains=["The body after a malformed header block."])

    # Bare LF line endings throughout (a file saved on Unix, not CRLF).
    raw = (entity(env("lf", "Bare LF line endings", ['Content-Type: text/plain; charset="utf-8"',
                                                      "Content-Transfer-Encoding: 8bit"]),
                  "Hello,\n\nthis file uses bare LF line endings.\nGr\u00fc\u00dfe, Anna\n")).replace(b"\r\n", b"\n")
    fixed(C, "bare_lf_line_endings", raw, exp(
        subject="Bare LF line endings", from_=frm("anna.berg@example.org", "Anna Berg"),
        body_contains=["this file uses bare LF line endings.", "Gr\u00fc\u00dfe, Anna"], defects_nonempty=True),
        allow_lf=True)

    # 8-bit garbage: invalid UTF-8 in a body labelled UTF-8, and in the Subject.
    raw = entity(env("garbage", "placeholder", ['Content-Type: text/plain; charset="utf-8"',
                                                 "Content-Transfer-Encoding: 8bit"]),
                 b"Valid start.\n\xff\xfe\xc3\x28 garbage \xe2\x82 end\nValid end.\n")
    raw = raw.replace(b"Subject: placeholder", b"Subject: Status \xff\xc3 report")
    add("eight_bit_garbage", raw, from_=frm("anna.berg@example.org", "Anna Berg"), body_contains=["Valid start.", "Valid end."])

    # NUL bytes in a header and in the body.
    raw = entity(env("nul", "NUL bytes", ['Content-Type: text/plain; charset="us-ascii"']),
                 b"Before the NUL\x00after the NUL.\nSecond line.\n")
    raw = raw.replace(b"Subject: NUL bytes", b"Subject: NUL\x00 bytes")
    add("nul_bytes", raw, from_=frm("anna.berg@example.org", "Anna Berg"), body_contains=["Second line."])

    # No empty line between header and body.
    raw = crlf("From: Anna Berg <anna.berg@example.org>\nTo: dropbox@intake.example.com\nSubject: No separator\n"
               "Date: Fri, 8 Mar 2024 09:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n"
               "Hi Bob,\nthe header block ran straight into the body.\n")
    add("missing_header_body_separator", raw, subject="No separator", from_=frm("anna.berg@example.org", "Anna Berg"),
        body_contains=["the header block ran straight into the body."])

    # Truncated mid-attachment: base64 cut off, no closing boundary.
    b = "----=_NextPart_000_0042_01DA7120.5A2B3C40"
    pdf = fake_pdf("truncated", 6000)
    raw = entity(env("trunc", "Truncated message", [f'Content-Type: multipart/mixed;\n\tboundary="{b}"']),
                 f"This is a multipart message in MIME format.\n\n--{b}\nContent-Type: text/plain; charset=\"us-ascii\"\n"
                 "Content-Transfer-Encoding: 7bit\n\nSee the attached contract.\n\n"
                 f"--{b}\nContent-Type: application/pdf; name=\"contract.pdf\"\nContent-Transfer-Encoding: base64\n"
                 "Content-Disposition: attachment; filename=\"contract.pdf\"\n\n" + b64(pdf)[:1500].rsplit("\r\n", 1)[0][:-13])
    add("truncated_in_attachment", raw, subject="Truncated message", body_contains=["See the attached contract."])

    # Encoded word that never terminates, plus an invalid B payload.
    raw = entity(env("ewbad", "placeholder", ['Content-Type: text/plain; charset="us-ascii"']), "Body is fine.\n")
    raw = raw.replace(b"Subject: placeholder", b"Subject: =?utf-8?B?@@@notbase64@@@?= Report =?utf-8?Q?unterminated")
    add("bad_encoded_words", raw, from_=frm("anna.berg@example.org", "Anna Berg"), body_contains=["Body is fine."])


# ==========================================================================
# Writing and self-checking
# ==========================================================================

KEYS = {"subject", "from", "people_include", "people_exclude", "forwarded", "refs", "attachments",
        "new_text_contains", "new_text_excludes", "body_contains", "defects_nonempty", "automated"}
CATEGORIES = ["clients", "languages", "charsets", "structure", "replies", "refs", "automated", "broken"]


def write_all():
    written = set()
    for (cat, name), (raw, expected, _flags) in sorted(FIXTURES.items()):
        d = os.path.join(ROOT, cat)
        os.makedirs(d, exist_ok=True)
        for fn, data in ((f"{name}.eml", raw),
                         (f"{name}.expected.json",
                          (json.dumps(expected, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))):
            path = os.path.join(d, fn)
            written.add(path)
            old = open(path, "rb").read() if os.path.exists(path) else None
            if old != data:
                with open(path, "wb") as f:
                    f.write(data)
    for cat in CATEGORIES:
        d = os.path.join(ROOT, cat)
        if not os.path.isdir(d):
            continue
        for fn in os.listdir(d):
            path = os.path.join(d, fn)
            if (fn.endswith(".eml") or fn.endswith(".expected.json")) and path not in written:
                os.remove(path)


def _strip_html(s):
    import re
    s = re.sub(r"(?is)<(style|script|head)\b.*?</\1>", " ", s)
    s = re.sub(r"(?s)<[^>]+>", " ", s)
    return html.unescape(s)


def _python_text(msg):
    """Everything Python's email package can decode: headers and text parts, recursively."""
    from email.message import EmailMessage
    out = []
    for k, v in msg.items():
        try:
            out.append(f"{k}: {v}")
        except Exception:
            pass
    for p in msg.walk():
        ct = p.get_content_type()
        if ct == "message/rfc822":
            for sub in p.iter_parts() if p.is_multipart() else []:
                out.append(_python_text(sub))
            continue
        if p.get_content_maintype() != "text":
            continue
        try:
            t = p.get_content()
        except Exception:
            payload = p.get_payload(decode=True) or b""
            t = payload.decode("utf-8", "replace")
        out.append(_strip_html(t) + "\n" + t if ct == "text/html" else t)
    return "\n".join(out)


def check_fixture(cat, name, raw, expected, flags):
    """Return a list of problems (empty when the fixture looks right)."""
    import email
    import email.policy
    import re
    problems = []
    if not flags.get("allow_lf"):
        if re.search(rb"(?<!\r)\n", raw) or re.search(rb"\r(?!\n)", raw):
            problems.append("line endings are not all CRLF")
    bad = set(expected) - KEYS
    if bad:
        problems.append(f"unknown keys {sorted(bad)}")
    broken = expected.get("defects_nonempty")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if "subject" in expected and not broken and not flags.get("skip_python_subject"):
        got = str(msg["subject"]) if msg["subject"] is not None else None
        if got != expected["subject"]:
            problems.append(f"python subject {got!r} != {expected['subject']!r}")
    if "from" in expected and not broken and not flags.get("skip_python_from"):
        try:
            a = msg["from"].addresses[0]
            if a.addr_spec.lower() != expected["from"]["address"].lower():
                problems.append(f"python from {a.addr_spec!r}")
            if "name" in expected["from"] and a.display_name != expected["from"]["name"]:
                problems.append(f"python from name {a.display_name!r}")
        except Exception as e:  # noqa: BLE001
            problems.append(f"python from failed: {e}")
    if "attachments" in expected and not broken:
        got = []
        for p in msg.walk():
            if p.is_multipart() or p.get_content_type() == "message/rfc822":
                continue
            fn = p.get_filename()
            if fn is None:
                continue
            got.append({"filename": fn, "content_type": p.get_content_type(),
                        "size": len(p.get_payload(decode=True) or b"")})
        if got != expected["attachments"]:
            problems.append(f"python attachments {got!r}")
    text = _python_text(msg)
    folded = text.casefold()
    hay = [x for x in expected.get("body_contains", []) + expected.get("new_text_contains", [])
           + expected.get("new_text_excludes", [])]
    if not flags.get("skip_python_text"):
        for s in hay:
            if s.casefold() not in folded:
                problems.append(f"python text lacks {s!r}")
        for a in expected.get("people_include", []):
            local, _, dom = a.rpartition("@")
            forms = {a.casefold(), (local + "@" + _idna(dom)).casefold()}
            if not any(f in folded for f in forms):
                problems.append(f"python text lacks address {a!r}")
        for f in expected.get("forwarded", []):
            for s in [f.get("subject"), f["from"].get("address"), f["from"].get("name")] + f.get("to", []) + f.get("cc", []):
                if s and s.casefold() not in folded:
                    problems.append(f"python text lacks forwarded {s!r}")
        for r in expected.get("refs", []):
            if "#" + r.casefold() not in folded:
                problems.append(f"python text lacks ref #{r}")
    return problems


def _idna(dom):
    try:
        return dom.encode("idna").decode("ascii")
    except Exception:  # noqa: BLE001
        return dom


def check_all(from_disk=False):
    problems = 0
    items = FIXTURES.items()
    for (cat, name), (raw, expected, flags) in sorted(items):
        if from_disk:
            raw = open(os.path.join(ROOT, cat, name + ".eml"), "rb").read()
            expected = json.load(open(os.path.join(ROOT, cat, name + ".expected.json"), encoding="utf-8"))
        for p in check_fixture(cat, name, raw, expected, flags):
            problems += 1
            print(f"{cat}/{name}: {p}")
    counts = {}
    for cat, _ in FIXTURES:
        counts[cat] = counts.get(cat, 0) + 1
    print("fixtures:", ", ".join(f"{c} {counts.get(c, 0)}" for c in CATEGORIES), "| total", len(FIXTURES))
    return problems


def main():
    for section in (clients, languages, charsets, structure, replies, refs, automated, broken):
        section()
    if "--check" not in sys.argv:
        write_all()
    n = check_all(from_disk=True)
    if n:
        print(f"{n} problem(s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
