import Foundation
import Testing

/// Real SMTP clients against the real daemon: Python's smtplib and swaks.
@Suite struct ClientTests {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts").path

    /// Runs one of the Python scripts with arguments; returns its standard output.
    func python(_ script: String, _ arguments: [String]) throws -> String {
        let result = try runCommand("/usr/bin/env", ["python3", "\(Self.scripts)/\(script)"] + arguments)
        #expect(result.status == 0, "\(script) failed:\n\(result.output)\n\(result.error)")
        return result.output
    }

    @Test func smtplibSendsAndIsRefusedWithReasons() async throws {
        let daemon = try await Daemon()
        let output = try python("smtplib_client.py", ["plain", String(daemon.port)])
        #expect(output.contains("sent 3"))
        #expect(output.contains("refused 550 5.7.1"))
        #expect(output.contains("utf8 ok"))
        #expect(daemon.spooledMessages().count == 4)
        let utf8 = daemon.spooledMessages().values.map { String(decoding: $0, as: UTF8.self) }.filter { $0.contains("josé") }
        #expect(utf8.count == 1)
        // RFC 6531 §3.7.3: the trace names the protocol of a message sent with SMTPUTF8.
        #expect(utf8.first?.contains("(Intake) with UTF8SMTP id") == true, "\(utf8)")
        await daemon.stop()
    }

    @Test func smtplibOverSTARTTLS() async throws {
        let certificate = try TestCertificate()
        let daemon = try await Daemon(settings: [
            "smtp.tls.certificate": certificate.certificatePath, "smtp.tls.private_key": certificate.keyPath,
        ])
        let output = try python("smtplib_client.py", ["starttls", String(daemon.port), certificate.certificatePath])
        #expect(output.contains("starttls ok"))
        #expect(output.contains("ehlo after tls has no STARTTLS"))
        let stored = daemon.spooledMessages().values.map { String(decoding: $0, as: UTF8.self) }
        #expect(stored.count == 1)
        #expect(stored.first?.contains("with ESMTPS id") == true)
        await daemon.stop()
    }

    @Test func plaintextPipelinedAfterSTARTTLSIsNeverExecuted() async throws {
        let certificate = try TestCertificate()
        let daemon = try await Daemon(settings: [
            "smtp.tls.certificate": certificate.certificatePath, "smtp.tls.private_key": certificate.keyPath,
        ])
        let output = try python("starttls_injection.py", [String(daemon.port)])
        #expect(output.contains("injected commands ignored"), "\(output)")
        #expect(daemon.spooledMessages().isEmpty)
        await daemon.stop()
    }

    /// Python that defines `starttls()`: a session to the port in `sys.argv[1]` that has said
    /// EHLO and STARTTLS and had its 220, its socket ready for the handshake.
    static let startTLSPython = """
        import socket, ssl, sys, time
        def starttls():
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO c.test\\r\\n")
            while f.readline()[3:4] == b"-": pass
            s.sendall(b"STARTTLS\\r\\n")
            assert f.readline().startswith(b"220 2.0.0"), "no 220 to STARTTLS"
            return s

        """

    /// The idle timeout holds from STARTTLS on: a handshake never finished ends the connection,
    /// and a session silent after its handshake gets `421 4.4.2` (both waited forever).
    @Test func idleTimeoutDuringAndAfterTheTLSHandshake() async throws {
        let certificate = try TestCertificate()
        let daemon = try await Daemon(settings: [
            "smtp.tls.certificate": certificate.certificatePath, "smtp.tls.private_key": certificate.keyPath,
            "smtp.idle_timeout_seconds": "1",
        ])
        let script =
            Self.startTLSPython + """
                s = starttls()
                s.sendall(b"\\x16\\x03\\x01\\x00\\x40")   # the start of a ClientHello, and no more
                started = time.monotonic()
                print("unfinished handshake closed" if s.recv(100) == b"" else "unfinished handshake got data",
                      "within 5 s" if time.monotonic() - started < 5 else "late")
                context = ssl.create_default_context(cafile=sys.argv[2])
                context.check_hostname = False
                t = context.wrap_socket(starttls())
                started = time.monotonic()
                reply = t.recv(200).decode()
                print("after the handshake:", reply.split(" ")[0] + " " + reply.split(" ")[1],
                      "within 5 s" if time.monotonic() - started < 5 else "late")
                """
        let result = try await runCommandDetached(
            "/usr/bin/env", ["python3", "-c", script, String(daemon.port), certificate.certificatePath])
        #expect(
            result.output == "unfinished handshake closed within 5 s\nafter the handshake: 421 4.4.2 within 5 s\n",
            "\(result.output)\(result.error)")
        await daemon.stop()
    }

    @Test func failedHandshakeEndsTheConnection() async throws {
        let certificate = try TestCertificate()
        let daemon = try await Daemon(settings: [
            "smtp.tls.certificate": certificate.certificatePath, "smtp.tls.private_key": certificate.keyPath,
        ])
        let client = try RawSMTPClient.greeted(port: daemon.port, helo: "client.test")
        #expect(try client.command("STARTTLS").summary == "220 2.0.0")
        try client.send("this is not a TLS client hello\r\nMAIL FROM:<a@example.org>\r\n")
        #expect(client.isClosedByServer())
        #expect(daemon.isRunning)
        await daemon.stop()
    }

    /// A TLS close (close_notify) ends the TCP connection: a command sent in plaintext after it
    /// is never answered, let alone carried out (`spec/smtp.md`: never fall back to plaintext).
    @Test func aTLSCloseEndsTheConnection() async throws {
        let certificate = try TestCertificate()
        let daemon = try await Daemon(settings: [
            "smtp.tls.certificate": certificate.certificatePath, "smtp.tls.private_key": certificate.keyPath,
        ])
        let script =
            Self.startTLSPython + """
                context = ssl.create_default_context(cafile=sys.argv[2])
                context.check_hostname = False
                t = context.wrap_socket(starttls())
                t.sendall(b"EHLO c.test\\r\\n")
                tf = t.makefile("rb")
                while tf.readline()[3:4] == b"-": pass
                print("ehlo over tls")
                plain = t.unwrap()
                print("close_notify answered")
                try:
                    plain.sendall(b"MAIL FROM:<a@example.org>\\r\\n")
                    print("after the close:", plain.recv(100) or b"closed")
                except (ConnectionResetError, BrokenPipeError):
                    print("after the close: b'closed'")
                """
        let result = try await runCommandDetached(
            "/usr/bin/env", ["python3", "-c", script, String(daemon.port), certificate.certificatePath])
        #expect(
            result.output == "ehlo over tls\nclose_notify answered\nafter the close: b'closed'\n",
            "\(result.output)\(result.error)")
        #expect(daemon.isRunning)
        await daemon.stop()
    }

    @Test func swaksPlainPipelinedAndTLS() async throws {
        guard let swaks = requireTool("swaks", package: "swaks") else { return }
        let certificate = try TestCertificate()
        let daemon = try await Daemon(settings: [
            "smtp.tls.certificate": certificate.certificatePath, "smtp.tls.private_key": certificate.keyPath,
        ])
        let common = [
            "--server", "127.0.0.1:\(daemon.port)", "--from", "alice@example.org", "--to", "tok@dropbox.localhost", "--helo", "swaks.test",
        ]
        let plain = try runCommand(swaks, common + ["--header", "Subject: plain"])
        #expect(plain.status == 0, "\(plain.output)")
        let pipelined = try runCommand(swaks, common + ["--pipeline", "--header", "Subject: pipelined"])
        #expect(pipelined.status == 0, "\(pipelined.output)")
        let tls = try runCommand(swaks, common + ["--tls", "--header", "Subject: tls"])
        #expect(tls.status == 0, "\(tls.output)")
        #expect(tls.output.contains("TLS started"))
        let refused = try runCommand(swaks, ["--server", "127.0.0.1:\(daemon.port)", "--from", "a@example.org", "--to", "x@example.com"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("550 5.7.1"))
        let subjects = daemon.spooledMessages().values.compactMap { data -> String? in
            String(decoding: data, as: UTF8.self).split(separator: "\r\n").first { $0.hasPrefix("Subject: ") }.map(String.init)
        }
        #expect(subjects.sorted() == ["Subject: pipelined", "Subject: plain", "Subject: tls"])
        await daemon.stop()
    }
}

/// A self-signed certificate for localhost made with openssl, in a temporary folder.
struct TestCertificate {
    let certificatePath: String
    let keyPath: String

    init() throws {
        let folder = Daemon.temporaryDirectory("intake-cert")
        certificatePath = folder + "/cert.pem"
        keyPath = folder + "/key.pem"
        let result = try runCommand(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", keyPath, "-out", certificatePath,
            ]
        )
        guard result.status == 0 else { throw CertificateError(message: result.error) }
    }

    struct CertificateError: Error { let message: String }
}

/// SIGHUP reloads the certificate: the next handshake sees the new one, open sessions go on.
@Suite struct CertificateReloadTests {
    @Test func sighupReloadsTheCertificate() async throws {
        let first = try TestCertificate()
        let second = try TestCertificate()
        let folder = Daemon.temporaryDirectory("intake-live-cert")
        let (certificate, key) = (folder + "/cert.pem", folder + "/key.pem")
        try FileManager.default.copyItem(atPath: first.certificatePath, toPath: certificate)
        try FileManager.default.copyItem(atPath: first.keyPath, toPath: key)
        let daemon = try await Daemon(settings: ["smtp.tls.certificate": certificate, "smtp.tls.private_key": key])
        let fingerprint = { () throws -> String in
            try runCommand("/usr/bin/env", ["python3", ClientTests.scripts + "/tls_fingerprint.py", String(daemon.port)]).output
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let before = try fingerprint()
        #expect(before.count == 64)
        // A session open across the reload keeps working.
        let open = try RawSMTPClient.greeted(port: daemon.port, helo: "open.test")
        for (source, destination) in [(second.certificatePath, certificate), (second.keyPath, key)] {
            try FileManager.default.removeItem(atPath: destination)
            try FileManager.default.copyItem(atPath: source, toPath: destination)
        }
        kill(daemon.pid, SIGHUP)
        var after = before
        for _ in 0..<50 where after == before {
            try await Task.sleep(for: .milliseconds(100))
            after = try fingerprint()
        }
        #expect(after != before && after.count == 64)
        #expect(daemon.logText.contains("msg=\"TLS certificate reloaded\""))
        #expect(try open.command("NOOP").summary == "250 2.0.0")
        // A broken certificate is refused and the current one stays.
        try "not a certificate".write(toFile: certificate, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try fingerprint() == after)
        #expect(daemon.isRunning)
        await daemon.stop()
    }
}
