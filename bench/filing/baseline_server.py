#!/usr/bin/env python3
"""The baseline of the filing benchmark: a dropbox server in Python, written the straightforward way.

    baseline_server.py --port N --db PATH --user EMAIL --token TOKEN [--domain dropbox.localhost]

aiosmtpd takes the mail; at RCPT the address must be TOKEN@DOMAIN (else 550 5.1.1). At the end of
data the message is parsed with Python's `email` package (policy=default) and, before the 250,
filed in one SQLite transaction (WAL, synchronous=FULL, so the commit is durable):

- the header From must be the user's address (else 550 5.7.1);
- the people are the addresses of To and Cc other than the user and the dropbox domain, or, for a
  forward addressed only to the dropbox, the From/To/Cc lines of the forwarded original in the
  text body; no one left: 550 5.7.1 (like the CRM's "no contact address");
- duplicates: the same Message-ID (else the same SHA-256 of the content) gets 250 and nothing more;
- a message row (with the raw message), per person a contact (looked up by address, created when
  missing, with its address) and a note with the text of the body, and a row per attachment with
  its SHA-256 and size (every attachment is decoded).

The parse runs on the event loop; the transaction runs on one dedicated thread (SQLite has one
writer at a time anyway), so other sessions' parsing overlaps the fsync of a commit. Stops on
SIGTERM or SIGINT.
"""
import argparse
import asyncio
import concurrent.futures
import email
import email.policy
import email.utils
import hashlib
import re
import signal
import sqlite3
import time

from aiosmtpd.smtp import SMTP

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY, dedup_key TEXT NOT NULL UNIQUE, message_id TEXT, subject TEXT,
    from_address TEXT, received_at REAL NOT NULL, size INTEGER NOT NULL, raw BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS contact (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS contact_email (contact_id INTEGER NOT NULL REFERENCES contact(id), email TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS note (
    id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL REFERENCES contact(id),
    message_id INTEGER REFERENCES message(id), text TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS note_contact ON note(contact_id);
CREATE TABLE IF NOT EXISTS attachment (
    message_id INTEGER NOT NULL REFERENCES message(id), sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    filename TEXT, content_type TEXT);
"""

FORWARD_MARK = re.compile(r"^-{3,}\s*(Forwarded message|Original Message)", re.I | re.M)
FORWARD_PEOPLE = re.compile(r"^(?:From|To|Cc):\s*(.+)$", re.I | re.M)


class Filing:
    def __init__(self, db_path, user, token, domain):
        self.user, self.token, self.domain = user.lower(), token.lower(), domain.lower()
        self.db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        # SQLite allows one writer: one thread does every transaction, in arrival order
        self.writer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local, _, domain = address.lower().rpartition("@")
        if domain != self.domain or local != self.token:
            return "550 5.1.1 not a dropbox address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    def people(self, msg):
        found = []
        for field in ("to", "cc"):
            for header in msg.get_all(field, []):
                found += [a.addr_spec.lower() for a in header.addresses if a.addr_spec]
        found = [a for a in found if a != self.user and not a.endswith("@" + self.domain)]
        if found:
            return found
        body = msg.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        mark = FORWARD_MARK.search(text)
        if mark:
            for line in FORWARD_PEOPLE.findall(text[mark.end():]):
                for _, addr in email.utils.getaddresses([line]):
                    addr = addr.lower()
                    if "@" in addr and addr != self.user and not addr.endswith("@" + self.domain):
                        found.append(addr)
        return found

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        sender = msg["from"].addresses[0].addr_spec.lower() if msg["from"] and msg["from"].addresses else ""
        if sender != self.user:
            return f"550 5.7.1 {sender or 'the sender'} may not file into this dropbox"
        people = list(dict.fromkeys(self.people(msg)))
        if not people:
            return "550 5.7.1 no contact address found; forward the mail so that the original sender is kept"
        message_id = (msg["message-id"] or "").strip().strip("<>").lower()
        dedup = message_id or hashlib.sha256(raw).hexdigest()
        body = msg.get_body(preferencelist=("plain", "html"))
        try:
            text = body.get_content() if body is not None else ""
        except (LookupError, KeyError, ValueError):
            text = (body.get_payload(decode=True) or b"").decode("utf-8", "replace")
        attachments = []
        for part in msg.iter_attachments():
            content = part.get_payload(decode=True) or b""
            attachments.append((hashlib.sha256(content).hexdigest(), len(content),
                                part.get_filename(), part.get_content_type()))
        row = (dedup, message_id, str(msg["subject"] or ""), sender, time.time(), len(raw), raw)
        loop = asyncio.get_running_loop()
        try:
            filed = await loop.run_in_executor(self.writer, self.file, row, people, text, attachments)
        except sqlite3.Error as error:
            return f"451 4.3.0 could not file the message: {error}"
        return "250 2.0.0 filed" if filed else "250 2.0.0 already filed"

    def file(self, row, people, text, attachments):
        """One transaction; returns False for a duplicate."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM message WHERE dedup_key = ?", (row[0],)).fetchone():
                db.execute("COMMIT")
                return False
            message = db.execute(
                "INSERT INTO message (dedup_key, message_id, subject, from_address, received_at, size, raw) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", row).lastrowid
            now = row[4]
            for address in people:
                found = db.execute("SELECT contact_id FROM contact_email WHERE email = ?", (address,)).fetchone()
                if found:
                    contact = found[0]
                else:
                    contact = db.execute("INSERT INTO contact (name, created_at) VALUES (?, ?)",
                                         (address.split("@")[0], now)).lastrowid
                    db.execute("INSERT INTO contact_email (contact_id, email) VALUES (?, ?)", (contact, address))
                db.execute("INSERT INTO note (contact_id, message_id, text, created_at) VALUES (?, ?, ?, ?)",
                           (contact, message, text, now))
            db.executemany("INSERT INTO attachment (message_id, sha256, size, filename, content_type) "
                           "VALUES (?, ?, ?, ?, ?)", [(message, *a) for a in attachments])
            db.execute("COMMIT")
            return True
        except BaseException:
            db.execute("ROLLBACK")
            raise


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--domain", default="dropbox.localhost")
    a = ap.parse_args()
    handler = Filing(a.db, a.user, a.token, a.domain)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="baseline.bench", decode_data=False, data_size_limit=32 * 1024 * 1024),
        a.host, a.port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    handler.writer.shutdown(wait=True)
    handler.db.close()


if __name__ == "__main__":
    asyncio.run(main())
