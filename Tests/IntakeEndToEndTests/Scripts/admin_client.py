"""Talks to the admin socket as whoever runs it (the permission tests run it as nobody) and prints
what happened as JSON: {"connect_error": "EACCES"} or {"responses": [...], "closed": true|false}.

usage: admin_client.py SOCKET REQUEST_LINE...
Sends each request line, then reads until every request is answered or the daemon closes.
"""
import errno
import json
import socket
import sys

path, lines = sys.argv[1], sys.argv[2:]
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
client.settimeout(10)
try:
    client.connect(path)
except OSError as error:
    print(json.dumps({"connect_error": errno.errorcode.get(error.errno, str(error.errno))}))
    sys.exit(0)
responses, closed, pending = [], False, b""
try:
    for line in lines:
        client.sendall(line.encode() + b"\n")
except OSError:
    pass
while len(responses) < len(lines):
    try:
        data = client.recv(65536)
    except OSError:
        closed = True
        break
    if not data:
        closed = True
        break
    pending += data
    while b"\n" in pending:
        line, pending = pending.split(b"\n", 1)
        responses.append(json.loads(line))
if not closed:
    client.settimeout(1)
    try:
        closed = client.recv(1) == b""
    except OSError:
        closed = False
print(json.dumps({"responses": responses, "closed": closed}))
