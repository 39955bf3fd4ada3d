"""Sends the message on standard input with Python's smtplib and prints the outcome as JSON.

usage: send_message.py PORT MAIL_FROM RCPT[,RCPT...]
"""
import json
import smtplib
import sys

port, mail_from, recipients = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
data = sys.stdin.buffer.read()
result = {}
with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
    client.ehlo("sender.test")
    try:
        refused = client.sendmail(mail_from, recipients, data, mail_options=["BODY=8BITMIME"])
        code, text = client.noop()
        result = {"code": 250, "refused": {rcpt: [c, t.decode()] for rcpt, (c, t) in refused.items()}}
    except smtplib.SMTPRecipientsRefused as error:
        result = {"code": 0, "refused": {rcpt: [c, t.decode()] for rcpt, (c, t) in error.recipients.items()}}
    except smtplib.SMTPDataError as error:
        result = {"code": error.smtp_code, "text": error.smtp_error.decode()}
    except smtplib.SMTPResponseException as error:
        result = {"code": error.smtp_code, "text": error.smtp_error.decode()}
print(json.dumps(result))
