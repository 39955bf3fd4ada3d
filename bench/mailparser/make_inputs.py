#!/usr/bin/env python3
"""Writes the synthetic benchmark messages (deterministic) into the folder given as argument:
plain-5k.eml (a plain 5 KB reply), base64-attachment.eml (a short note and a 4 MiB base64
attachment), html-newsletter.eml (a 60 KB HTML-only message) and forward-outlook.eml."""
import base64
import os
import random
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = random.Random(6)
words = ("the quarterly numbers look fine but we still need the signed contract before friday "
         "please call me when you have a minute regarding the renewal and the new pricing").split()


def para(n):
    return " ".join(rng.choice(words) for _ in range(n))


def wrap(text, width=72):
    lines, cur = [], ""
    for w in text.split():
        if len(cur) + len(w) + 1 > width:
            lines.append(cur)
            cur = w
        else:
            cur = (cur + " " + w).strip()
    lines.append(cur)
    return "\r\n".join(lines)


headers = (
    "Return-Path: <bob@partner.example>\r\n"
    "Received: from mail.partner.example (mail.partner.example [203.0.113.5])\r\n"
    "\tby mx.intake.example with ESMTPS id 4Tq; Mon, 4 Mar 2024 10:00:01 +0000\r\n"
    "From: Bob Smith <bob@partner.example>\r\n"
    "To: Alice Jones <alice@corp.example>, dropbox+case@intake.example\r\n"
    "Cc: \"Roe, Carol\" <carol@partner.example>\r\n"
    "Subject: Re: Renewal #CS1001\r\n"
    "Date: Mon, 4 Mar 2024 10:00:00 +0000\r\n"
    "Message-ID: <CAF123abc@mail.partner.example>\r\n"
    "In-Reply-To: <CAF122abc@mail.corp.example>\r\n"
    "References: <CAF121abc@mail.corp.example> <CAF122abc@mail.corp.example>\r\n"
    "MIME-Version: 1.0\r\n"
)

# plain 5 KB reply with quoted history and a signature
body = wrap(para(330)) + "\r\n\r\n-- \r\nBob Smith\r\nPartner Inc. | +1 555 0100 | bob@partner.example\r\n\r\n"
body += "On Fri, Mar 1, 2024 at 9:00 AM Alice Jones <alice@corp.example> wrote:\r\n"
body += "\r\n".join("> " + l for l in wrap(para(380)).split("\r\n")) + "\r\n"
plain = headers + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + body
with open(os.path.join(out, "plain-5k.eml"), "wb") as f:
    f.write(plain.encode())

# mostly a base64 attachment
payload = bytes(rng.getrandbits(8) for _ in range(4 << 20))
b64 = base64.encodebytes(payload).decode().replace("\n", "\r\n")
att = (headers.replace("text/plain", "") + "Content-Type: multipart/mixed; boundary=\"==b\"\r\n\r\n"
       "--==b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nContract attached.\r\n"
       "--==b\r\nContent-Type: application/pdf; name=\"contract.pdf\"\r\n"
       "Content-Disposition: attachment; filename=\"contract.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
       + b64 + "--==b--\r\n")
with open(os.path.join(out, "base64-attachment.eml"), "wb") as f:
    f.write(att.encode())

# HTML-only newsletter
html = "<html><head><style>p{margin:0}</style></head><body>" + "".join(
    f"<div><p>{para(30)}</p><a href=\"https://example.com/item/{i}\">item {i}</a><br></div>" for i in range(200)) + "</body></html>"
news = headers + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + html + "\r\n"
with open(os.path.join(out, "html-newsletter.eml"), "wb") as f:
    f.write(news.encode())

# Outlook forward
fwd = headers.replace("Subject: Re: Renewal", "Subject: FW: Renewal") + "Content-Type: text/plain; charset=utf-8\r\n\r\n"
fwd += "Please file.\r\n\r\n________________________________\r\nFrom: Dan Brown <dan@vendor.example>\r\n"
fwd += "Sent: Monday, March 4, 2024 9:00 AM\r\nTo: Bob Smith <bob@partner.example>\r\nSubject: Renewal\r\n\r\n" + wrap(para(300)) + "\r\n"
with open(os.path.join(out, "forward-outlook.eml"), "wb") as f:
    f.write(fwd.encode())
