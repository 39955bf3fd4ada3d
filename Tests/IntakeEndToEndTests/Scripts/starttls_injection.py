"""CVE-2011-0411: commands pipelined in plaintext after STARTTLS must never run after the handshake."""
import socket
import ssl
import sys

port = int(sys.argv[1])
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
reader = raw.makefile("rb")
assert reader.readline().startswith(b"220")
raw.sendall(b"EHLO attacker.test\r\n")
while True:
    line = reader.readline()
    if line[3:4] == b" ":
        break
# STARTTLS and an injected transaction in one write.
raw.sendall(
    b"STARTTLS\r\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<tok@dropbox.localhost>\r\nDATA\r\n"
    b"Subject: injected\r\n\r\nx\r\n.\r\n"
)
reply = reader.readline()
assert reply.startswith(b"220 2.0.0"), reply
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
tls = context.wrap_socket(raw, server_hostname="localhost")
tls.settimeout(10)
# If the injected commands had been kept, their replies would come first now.
tls.sendall(b"RCPT TO:<tok@dropbox.localhost>\r\n")
first = tls.recv(4096)
assert first.startswith(b"503 5.5.1"), first
tls.sendall(b"NOOP\r\n")
second = tls.recv(4096)
assert second.startswith(b"250 2.0.0"), second
tls.sendall(b"QUIT\r\n")
print("injected commands ignored")
