#!/usr/bin/env python3
"""Signing in to the console through an identity provider (docs/console.md, "Sign in").

A real identity provider peer runs in this process (http.server on 127.0.0.1:0): it
implements the authorization code flow with PKCE (RFC 7636) strictly, as Keycloak or any
OpenID provider would for a public client: /authorize checks the client, the redirect URI
and the S256 challenge and sends the browser back with a one-time code; /token checks the
code, the redirect URI and that SHA-256(code_verifier) is the challenge, and answers an
RS256 JWT signed with a key made by `openssl` for this run. `bihuan serve` verifies that
JWT against the JWKS in its identity file (docs/operations.md, "Identity").

The scenario: the sign-in page offers the provider; a click goes there and back, the
console holds the provider's token (this tab only) and shows the cadre's inbox; the code
is gone from the address bar; replaying the code is refused by the console (no sign-in
pending) and by the provider (used); a provider that refuses is told on the sign-in page;
the console's CSP lets the page reach the token endpoint and nothing else.

Usage: signin_test.py --cli build/cli/bihuan [--shots DIR]
"""
import base64
import datetime
import hashlib
import http.server
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from harness import (HERE, Server, api, arguments, browser_log_checks, check, chrome, close, failures, no_horizontal_scroll, on_failure, request, shot, token_entries, verdict)

ADMIN = "admin-token-0123456789abcdef"
CLIENT = "bihuan-console"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Provider:
    """The identity provider: an RSA key, /authorize, /token, and what it saw."""

    def __init__(self, tmp):
        self.key = os.path.join(tmp, "idp-key.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", self.key], check=True, capture_output=True)
        mod = subprocess.run(["openssl", "rsa", "-in", self.key, "-noout", "-modulus"], check=True,
                             capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        self.jwk = {"kty": "RSA", "kid": "idp-1", "alg": "RS256", "use": "sig",
                    "n": b64url(bytes.fromhex(mod)), "e": "AQAB"}
        self.codes = {}        # code -> {challenge, redirect_uri, used}
        self.seen = []         # (path, status) of every request
        self.refuse = False    # the next /authorize answers error=access_denied
        self.origin = ""       # the console's origin (CORS)
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body=None, headers=None):
                provider.seen.append((self.path.split("?")[0], status))
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                data = json.dumps(body).encode() if body is not None else b""
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if url.path != "/authorize":
                    return self.reply(404, {"error": "not_found"})
                back = q.get("redirect_uri", "")
                if (q.get("client_id") != CLIENT or q.get("response_type") != "code"
                        or q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43
                        or not back.startswith(provider.origin) or not q.get("state")):
                    return self.reply(400, {"error": "invalid_request", "got": q})
                if provider.refuse:
                    provider.refuse = False
                    where = back + "?" + urllib.parse.urlencode({"error": "access_denied", "state": q["state"]})
                    return self.reply(302, None, {"Location": where})
                code = secrets.token_urlsafe(24)
                provider.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": back, "used": False}
                where = back + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
                self.reply(302, None, {"Location": where})

            def do_POST(self):
                cors = {"Access-Control-Allow-Origin": provider.origin, "Vary": "Origin"}
                if self.path != "/token":
                    return self.reply(404, {"error": "not_found"}, cors)
                n = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
                c = provider.codes.get(form.get("code", ""))
                verifier = form.get("code_verifier", "")
                if (form.get("grant_type") != "authorization_code" or form.get("client_id") != CLIENT
                        or not c or c["used"] or form.get("redirect_uri") != c["redirect_uri"]
                        or b64url(hashlib.sha256(verifier.encode()).digest()) != c["challenge"]):
                    return self.reply(400, {"error": "invalid_grant"}, cors)
                c["used"] = True
                self.reply(200, {"access_token": provider.jwt({"sub": "CD0022", "roles": ["CADRE"]}),
                                 "token_type": "Bearer", "expires_in": 600}, cors)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def jwt(self, claims):
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": "idp-1"}
        body = {"iss": self.base, "aud": CLIENT, "iat": now, "exp": now + 600, **claims}
        signing = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(body).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing, check=True,
                             capture_output=True).stdout
        return signing.decode() + "." + b64url(sig)

    def stop(self):
        self.httpd.shutdown()


def main():
    args = arguments()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bihuan-signin-")
    idp = Provider(tmp)
    with open(os.path.join(tmp, "jwks.json"), "w") as f:
        json.dump({"keys": [idp.jwk]}, f)
    with open(os.path.join(tmp, "identity.json"), "w") as f:
        json.dump({"jwt": {
            "issuer": idp.base, "audience": CLIENT, "keys": "jwks.json",
            "claims": {"actor": "sub", "roles": "roles"},
            "signIn": {"authorizationEndpoint": idp.base + "/authorize", "tokenEndpoint": idp.base + "/token",
                       "clientId": CLIENT, "title": {"zh": "测试统一认证", "en": "Test SSO"}},
        }}, f)
    wf = os.path.join(tmp, "workflows")
    os.makedirs(wf)
    shutil.copy(os.path.join(HERE, "recheck.json"), wf)
    server = Server.with_config(args.cli, tmp, {
        "dataDir": os.path.join(tmp, "data"),
        "workflowDirs": [wf],
        "server": {"listen": "127.0.0.1:0", "identityFile": "identity.json",
                   "tokens": token_entries({ADMIN: ("admin", ["admin"])})},
    })
    base = server.base
    idp.origin = base
    driver = None
    try:
        due = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)).isoformat(timespec="seconds")
        status, doc = api(base, "POST", "/v1/instances", ADMIN, {
            "definition": "console.recheck", "businessKey": "RC-SSO-1",
            "data": {"shop": "人民路 3 号", "cadreId": "CD0022", "dueAt": due}})
        assert status == 201, doc

        status, doc = api(base, "GET", "/v1/auth/sign-in")
        check(status == 200 and doc["provider"]["tokenEndpoint"] == idp.base + "/token"
              and doc["provider"]["clientId"] == CLIENT, "GET /v1/auth/sign-in names the provider, without a token")
        csp = request(base, "GET", "/")[1].get("Content-Security-Policy", "")
        check(f"connect-src 'self' {idp.base};" in csp, f"the CSP lets the page reach the token endpoint only ({csp})")

        driver = chrome(args)
        wait = WebDriverWait(driver, 20)
        driver.get(base + "/")
        button = wait.until(EC.element_to_be_clickable((By.ID, "sso-button")))
        check("测试统一认证" in button.text, f"the sign-in page offers the provider by its title ({button.text})")
        no_horizontal_scroll(driver, "sign-in with a provider")
        shot(driver, args.shots, "signin-sso-zh.png")

        # There and back: the provider's token is the tab's, the inbox is the cadre's.
        button.click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "me"), "CD0022"))
        tasks = wait.until(EC.presence_of_all_elements_located((By.CSS_SELECTOR, "li.task")))
        check(len(tasks) == 1 and "RC-SSO-1" in tasks[0].text, "signed in through the provider: the cadre's inbox")
        token = driver.execute_script("return sessionStorage.getItem('bihuan.token')") or ""
        check(token.count(".") == 2, "the tab holds the provider's JWT")
        check("code=" not in driver.current_url and "state=" not in driver.current_url,
              f"the code left the address bar ({driver.current_url})")
        check(driver.execute_script("return sessionStorage.getItem('bihuan.signin')") is None,
              "the verifier is forgotten once used")
        check(("/token", 200) in idp.seen, "the provider checked the verifier against the challenge and answered")
        status, me = api(base, "GET", "/v1/me", token)
        check(status == 200 and me["id"] == "CD0022" and me["roles"] == ["CADRE"], "the server takes the JWT")

        # A replayed code: the console has no sign-in pending (signin-state) and the
        # provider would refuse the used code anyway.
        used = next(iter(idp.codes))
        driver.find_element(By.ID, "signout").click()
        wait.until(EC.visibility_of_element_located((By.ID, "token")))
        driver.get(base + "/?" + urllib.parse.urlencode({"code": used, "state": "forged"}))
        err = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "form.signin .error")))
        check("重新登录" in err.text, f"a code this tab did not ask for is refused ({err.text})")
        check(driver.execute_script("return sessionStorage.getItem('bihuan.token')") is None, "not signed in")
        status, _ = api(base, "GET", "/v1/me")  # sanity: no token, no caller
        check(status == 401, "no token: 401")

        # The provider refuses: told on the sign-in page, in English too.
        driver.find_element(By.ID, "lang").click()
        idp.refuse = True
        wait.until(EC.element_to_be_clickable((By.ID, "sso-button"))).click()
        err = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "form.signin .error")))
        check("refused" in err.text, f"a refusal by the provider is told ({err.text})")
        shot(driver, args.shots, "signin-sso-refused-en.png")
        driver.find_element(By.ID, "lang").click()
        browser_log_checks(driver, base, ())
        origins = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
        check(set(origins) <= {base, idp.base}, f"the page reached only the server and the provider ({set(origins)})")
    except Exception:
        on_failure(driver, args.shots or tmp)
        raise
    finally:
        idp.stop()
        close(driver, server, tmp)
    return verdict(started)


if __name__ == "__main__":
    sys.exit(main())
