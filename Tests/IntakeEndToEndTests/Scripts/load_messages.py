"""Sends messages number FIRST..LAST-1 over SESSIONS parallel smtplib sessions and prints
"ack <message-id>" for each 250, as soon as it arrives. Stops a session at its first error.

usage: load_messages.py PORT MAIL_FROM RCPT SESSIONS NUMBERS_FILE [KILL_PID KILL_AFTER]
NUMBERS_FILE holds the message numbers to send, one per line. With KILL_PID, the process KILL_PID
(the daemon) gets SIGKILL right after the KILL_AFTER-th acknowledgement: mid-stream, whatever the
machine's speed. Every tenth message carries a 30 KB attachment.
"""
import base64
import hashlib
import os
import signal
import smtplib
import sys
import threading

port, mail_from, rcpt, sessions, numbers_file = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
kill_pid, kill_after = (int(sys.argv[6]), int(sys.argv[7])) if len(sys.argv) > 7 else (None, None)
numbers = [int(line) for line in open(numbers_file) if line.strip()]
lock = threading.Lock()
acknowledged = 0


def message(number):
    head = (
        f"From: Bob Carter <{mail_from}>\r\n"
        f"To: Client {number} <client{number}@client-co.example>\r\n"
        f"Subject: Durability {number}\r\n"
        f"Message-ID: <durability-{number}@harbourview.example>\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    )
    text = f"Message number {number}.\r\n" + "Some body text to give the message a realistic size.\r\n" * 20
    if number % 10:
        return (head + "\r\n" + text).encode()
    # Every tenth carries a 30 KB attachment: over a low smtp.memory_threshold it arrives in a
    # spool file and is kept in the raw folder.
    attachment = base64.encodebytes(hashlib.sha256(str(number).encode()).digest() * 960).decode().replace("\n", "\r\n")
    return (
        head + "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="part"\r\n\r\n'
        "--part\r\nContent-Type: text/plain\r\n\r\n" + text
        + f'--part\r\nContent-Type: application/octet-stream; name="figures-{number}.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + attachment + "--part--\r\n"
    ).encode()


def session(mine):
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
            client.ehlo("load.test")
            for number in mine:
                client.sendmail(mail_from, [rcpt], message(number))
                with lock:
                    global acknowledged
                    print(f"ack durability-{number}@harbourview.example", flush=True)
                    acknowledged += 1
                    if kill_pid is not None and acknowledged == kill_after:
                        os.kill(kill_pid, signal.SIGKILL)
    except Exception as error:  # the daemon was killed: this session ends
        with lock:
            print(f"error {type(error).__name__}", flush=True)


threads = [threading.Thread(target=session, args=(numbers[index::sessions],)) for index in range(sessions)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
