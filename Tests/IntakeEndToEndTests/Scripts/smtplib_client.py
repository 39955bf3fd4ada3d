"""Drives intaked with Python's smtplib: plain sessions, SMTPUTF8, refusals, STARTTLS."""
import smtplib
import ssl
import sys
from email.message import EmailMessage


def message(subject, sender="alice@example.org", to="tok@dropbox.localhost", body="Hello from smtplib.\n"):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def plain(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("smtplib.test")
        assert client.has_extn("pipelining") and client.has_extn("smtputf8") and client.has_extn("8bitmime")
        assert int(client.esmtp_features["size"]) == 25 * 1024 * 1024
        for index in range(3):
            client.send_message(message(f"message {index}"))
        print("sent 3")
        try:
            client.sendmail("alice@example.org", ["someone@example.com"], message("relay").as_bytes())
        except smtplib.SMTPRecipientsRefused as refused:
            code, text = refused.recipients["someone@example.com"]
            print(f"refused {code} {text.decode().split()[0]}")
        # SMTPUTF8: an internationalised sender and a UTF-8 header.
        utf8 = message("Grüße aus Köln", sender="josé@exämple.de", body="Schöne Grüße\n")
        client.send_message(utf8, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        print("utf8 ok")


def starttls(port, certificate):
    context = ssl.create_default_context(cafile=certificate)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("smtplib.test")
        assert client.has_extn("starttls")
        code, _ = client.starttls(context=context)
        assert code == 220, code
        print("starttls ok")
        client.ehlo("smtplib.test")
        if not client.has_extn("starttls"):
            print("ehlo after tls has no STARTTLS")
        client.send_message(message("over tls"))


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "plain":
        plain(port)
    else:
        starttls(port, sys.argv[3])
