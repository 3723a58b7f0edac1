# A real SMTP server on 127.0.0.1 for notify_smtp_test (Debian's python3-aiosmtpd; run it
# with /usr/bin/python3). Prints its port, then appends each accepted message to a
# JSON-lines file, decoded by Python's own e-mail parser: envelope, headers (RFC 2047
# decoded), the text body, and whether the client authenticated.
# AUTH PLAIN/LOGIN accepts user "bihuan" with password "密码-pw" (no TLS needed).
# RCPT TO an address starting with "reject" gets 550; with "busy" 451.
# usage: smtp_server.py LOGFILE
import email
import email.policy
import json
import signal
import socket
import sys
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

warnings.simplefilter("ignore", DeprecationWarning)  # aiosmtpd itself sets Session.login_data


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy"):
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        record = {
            "mailFrom": envelope.mail_from,
            "mailOptions": envelope.mail_options,
            "rcptTos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "date": str(msg["Date"]),
            "messageId": str(msg["Message-ID"]),
            "bihuanKey": str(msg["X-Bihuan-Key"]),
            "contentType": msg.get_content_type(),
            "charset": msg.get_content_charset(),
            "transferEncoding": str(msg["Content-Transfer-Encoding"]),
            "body": msg.get_content(),
            "raw": envelope.content.decode("utf-8", "replace"),
        }
        with open(sys.argv[1], "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return "250 2.0.0 message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"bihuan"
          and auth_data.password == "密码-pw".encode("utf-8"))
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
# SIGTERM is blocked before the server's thread starts (it inherits the mask) and taken
# with sigwait: a handler with signal.pause() hung when the kernel gave the signal to the
# server's thread, since pause() in the main thread then never returned.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
controller = Controller(Handler(), hostname="127.0.0.1", port=port, ready_timeout=60,
                        authenticator=authenticator, auth_require_tls=False)
controller.start()
print(port, flush=True)
signal.sigwait({signal.SIGTERM})
controller.stop()
