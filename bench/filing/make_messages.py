#!/usr/bin/env python3
"""Writes the benchmark's message templates into FOLDER: 2k.eml, 5k.eml, fwd.eml, 50k.eml, 2m.eml.

    make_messages.py FOLDER --user EMAIL --dropbox ADDRESS

Each template is a message the user sends (header From: the user's primary address), so that
both servers accept it. The load client (smtpload) replaces every occurrence of the marker
@@@@@@@UNIQUE-ID@@@@@@@@ by 24 hex digits unique to the message: it is in the Message-ID of every
template, and in the first line of the attachment of the 50 KB and 2 MB messages, so that no two
messages (and no two attachments) are the same.

- 2k, 5k: a plain-text mail from the user to a customer (To: the customer; the dropbox is the
  envelope recipient, as with a Bcc), padded with prose to 2,048 and 5,120 octets in all.
- fwd: an inline Gmail-style forward (the shape of Tests/Fixtures/mail/clients/
  gmail_forward_with_note.eml): the user forwards a customer's mail To: the dropbox, so the only
  people are in the forwarded original; multipart/alternative, quoted-printable text and HTML.
- 50k: multipart/mixed: multipart/alternative (text and HTML) and a 27 KB PDF attachment (base64),
  about 50 KB.
- 2m: multipart/mixed: a short text and a 1.5 MB PDF attachment (base64), about 2 MB.
"""
import argparse
import base64
import os
import random
import textwrap

MARKER = "@@@@@@@UNIQUE-ID@@@@@@@@"
assert len(MARKER) == 24

PROSE = (
    "Thanks for the call this morning. As discussed, we can deliver the first batch of forty "
    "ergonomic chairs (model HV-220) to the Leeds warehouse by the end of April, with the remaining "
    "units following in May once the fabric samples are approved. The quote includes delivery, "
    "assembly on site and the removal of the old furniture; the warranty is five years on the frame "
    "and two on the upholstery. Could you confirm the delivery address and whether the loading bay "
    "is available in the mornings? I have also attached the maintenance schedule we talked about. "
)


def prose(n, seed):
    rng = random.Random(seed)
    words = PROSE.split()
    out = []
    size = 0
    while size < n:
        para = " ".join(rng.choice(words) for _ in range(rng.randint(40, 90))).capitalize() + "."
        out.append(textwrap.fill(para, 72))
        size += len(out[-1]) + 2
    return "\n\n".join(out)


def headers(user, to, subject, extra=""):
    return (
        f"From: Ada Lovelace <{user}>\n"
        f"To: {to}\n"
        f"Subject: {subject}\n"
        f"Date: Tue, 5 Mar 2024 10:14:09 +0000\n"
        f"Message-ID: <{MARKER}@mail.acme-bench.example>\n"
        f"MIME-Version: 1.0\n"
        f"User-Agent: Mozilla Thunderbird\n"
        f"{extra}"
    )


CUSTOMER = "Jane Fenwick <jane.fenwick@fenwick-logistics.example>"


def plain(user, size):
    """A plain-text message of exactly `size` octets in CRLF form."""
    head = headers(user, CUSTOMER, "Re: Quote request for 40 office chairs",
                   "Content-Type: text/plain; charset=UTF-8; format=flowed\nContent-Transfer-Encoding: 7bit\n")
    greeting = "Hi Jane,\n\n"
    closing = "\n\nKind regards,\nAda\n-- \nAda Lovelace, Account Manager, Acme\n+44 20 7946 0000\n"

    def crlf_len(text):
        m = head + "\n" + greeting + text + closing
        return len(m) + m.count("\n")

    text = prose(size, size)
    while crlf_len(text) > size:
        text = text[:-1]
    text = text.rstrip() + "."
    while crlf_len(text) > size:
        text = text[:-2].rstrip() + "."
    text += " " * (size - crlf_len(text))   # trailing spaces on the last line of prose
    assert crlf_len(text) == size
    return head + "\n" + greeting + text + closing


def forward(user, dropbox):
    boundary = "000000000000f9e672ba2144"
    return (
        headers(user, dropbox, "Fwd: Quote request for 40 office chairs",
                f'Content-Type: multipart/alternative;\n\tboundary="{boundary}"\n')
        + f"""
--{boundary}
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Please file under Fenwick Logistics - they want the quote by Friday.

Ada

---------- Forwarded message ---------
From: Jane Fenwick <jane.fenwick@fenwick-logistics.example>
Date: Mon, Mar 4, 2024 at 4:52=E2=80=AFPM
Subject: Quote request for 40 office chairs
To: Ada Lovelace <{user}>
Cc: Tom Reyes <t.reyes@fenwick-logistics.example>


Hi Ada,

Could you send us a quote for 40 ergonomic office chairs (model HV-220),
delivered to our Leeds warehouse by the end of April?

Kind regards,
Jane Fenwick
Office Manager, Fenwick Logistics
+44 113 496 0123
--{boundary}
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr"><div>Please file under Fenwick Logistics - they want the q=
uote by Friday.</div><div><br></div><div>Ada</div><br><div class=3D"gmail_q=
uote"><div dir=3D"ltr" class=3D"gmail_attr">---------- Forwarded message --=
-------<br>From: <strong class=3D"gmail_sendername" dir=3D"auto">Jane Fenwi=
ck</strong> <span dir=3D"auto">&lt;<a href=3D"mailto:jane.fenwick@fenwick-l=
ogistics.example">jane.fenwick@fenwick-logistics.example</a>&gt;</span><br>=
Date: Mon, Mar 4, 2024 at 4:52=E2=80=AFPM<br>Subject: Quote request for 40 =
office chairs<br>To: Ada Lovelace &lt;<a href=3D"mailto:{user}">{user}</a>&gt;<br>Cc: Tom Reyes &lt;<a h=
ref=3D"mailto:t.reyes@fenwick-logistics.example">t.reyes@fenwick-logistics.=
example</a>&gt;<br></div><br><br><div dir=3D"ltr"><div>Hi Ada,</div><div><b=
r></div><div>Could you send us a quote for 40 ergonomic office chairs (mode=
l HV-220),</div><div>delivered to our Leeds warehouse by the end of April?<=
/div><div><br></div><div>Kind regards,</div><div>Jane Fenwick</div><div>Off=
ice Manager, Fenwick Logistics</div><div>+44 113 496 0123</div><div><br></d=
iv></div>
</div></div>
--{boundary}--
"""
    )


def attachment(size, seed, name):
    """A base64 PDF part whose first line is the marker followed by 52 base64 characters."""
    data = random.Random(seed).randbytes(size)
    b64 = base64.b64encode(data).decode()
    b64 = MARKER + b64[len(MARKER):]   # 24 characters: a whole number of base64 quanta
    lines = "\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    return (
        f'Content-Type: application/pdf; name="{name}"\n'
        f'Content-Disposition: attachment; filename="{name}"\n'
        "Content-Transfer-Encoding: base64\n\n" + lines + "\n"
    )


def with_attachment(user, text_size, html, attachment_size, name):
    outer, inner = "----=_Part_bench_outer_0001", "----=_Part_bench_inner_0002"
    text = "Hi Jane,\n\n" + prose(text_size, attachment_size) + "\n\nKind regards,\nAda\n"
    parts = [headers(user, CUSTOMER, "Maintenance schedule and quote",
                     f'Content-Type: multipart/mixed; boundary="{outer}"\n') + "\n"]
    if html:
        paras = "".join(f"<p>{p}</p>\n" for p in text.split("\n\n"))
        body = (
            f'Content-Type: multipart/alternative; boundary="{inner}"\n\n'
            f"--{inner}\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 7bit\n\n{text}\n"
            f"--{inner}\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: 7bit\n\n"
            f"<html><body style=\"font-family: Arial, sans-serif\">\n{paras}</body></html>\n"
            f"--{inner}--\n"
        )
    else:
        body = f"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 7bit\n\n{text}"
    parts.append(f"--{outer}\n{body}\n--{outer}\n{attachment(attachment_size, attachment_size, name)}--{outer}--\n")
    return "".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--user", required=True)
    ap.add_argument("--dropbox", required=True)
    a = ap.parse_args()
    os.makedirs(a.folder, exist_ok=True)
    templates = {
        "2k": plain(a.user, 2048),
        "5k": plain(a.user, 5120),
        "fwd": forward(a.user, a.dropbox),
        "50k": with_attachment(a.user, 6000, True, 27200, "maintenance-schedule.pdf"),
        "2m": with_attachment(a.user, 1500, False, 1531000, "catalogue-2024.pdf"),
    }
    for name, text in templates.items():
        assert MARKER in text, name
        with open(os.path.join(a.folder, f"{name}.eml"), "w", newline="\n") as f:
            f.write(text)
        print(f"{name} {len(text.replace(chr(10), chr(13) + chr(10)))}")


if __name__ == "__main__":
    main()
