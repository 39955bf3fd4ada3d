"""Prints the SHA-256 fingerprint of the certificate intaked presents after STARTTLS.

usage: tls_fingerprint.py PORT
"""
import hashlib
import smtplib
import ssl
import sys

context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as client:
    client.ehlo("fingerprint.test")
    client.starttls(context=context)
    print(hashlib.sha256(client.sock.getpeercert(binary_form=True)).hexdigest())
