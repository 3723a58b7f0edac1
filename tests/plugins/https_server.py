# An HTTPS server on 127.0.0.1 for notify_webhook_test: prints its port, then appends
# each POST it receives to a JSON-lines file and answers 200 {}.
# usage: https_server.py CERT KEY LOGFILE   (run with /usr/bin/python3)
import http.server
import json
import ssl
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[3], "a", encoding="utf-8") as f:
            f.write(json.dumps({"path": self.path, "body": body.decode("utf-8"),
                                "signature": self.headers.get("X-Bihuan-Signature"),
                                "key": self.headers.get("Idempotency-Key")}, ensure_ascii=False) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
