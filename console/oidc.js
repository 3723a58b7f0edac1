// Sign-in through the identity provider the server names (GET /v1/auth/sign-in): OAuth 2.0
// authorization code with PKCE (RFC 7636, S256), as a public client without a secret.
// begin() sends the browser to the provider with a fresh verifier's challenge and a
// random state, both kept in sessionStorage for this tab; the provider sends it back to
// the console with ?code=&state=; finish() checks the state, exchanges the code and the
// verifier at the token endpoint (the one other origin the CSP lets the page reach) and
// returns the access token (a JWT the server verifies: docs/operations.md, Identity).
// The code is removed from the address bar at once.
import { api } from "./api.js";

const PENDING = "bihuan.signin";

function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
const random = (n) => base64url(crypto.getRandomValues(new Uint8Array(n)));

export async function provider() {
  try { return (await api("/v1/auth/sign-in", { token: "" })).provider; } catch { return null; }
}

// The console's own address: where the provider sends the browser back.
const redirectUri = () => `${location.origin}/`;

export async function begin(p) {
  // SHA-256 needs a secure context (https, or the loopback address).
  if (!crypto.subtle) throw new Error("needs-secure-context");
  const verifier = random(32);
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  const state = random(16);
  sessionStorage.setItem(PENDING, JSON.stringify({
    verifier, state, tokenEndpoint: p.tokenEndpoint, clientId: p.clientId, redirectUri: redirectUri(),
    hash: location.hash,
  }));
  const q = new URLSearchParams({
    response_type: "code", client_id: p.clientId, redirect_uri: redirectUri(), scope: p.scope || "openid",
    state, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(p.authorizationEndpoint + (p.authorizationEndpoint.includes("?") ? "&" : "?") + q);
}

// null when this load is not the provider's answer; else the token, or an Error whose
// message is one of: signin-refused (the provider said error=...), signin-state (no
// sign-in of this tab, or another's state), signin-exchange (the token endpoint refused).
export async function finish() {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  // The code leaves the address bar (and the history) whatever happens next.
  history.replaceState(null, "", `/${pending?.hash || ""}`);
  if (params.has("error")) throw new Error("signin-refused");
  if (!pending || params.get("state") !== pending.state) throw new Error("signin-state");
  const res = await fetch(pending.tokenEndpoint, {
    method: "POST", credentials: "omit", cache: "no-store",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: pending.redirectUri,
      client_id: pending.clientId, code_verifier: pending.verifier,
    }),
  }).catch(() => null);
  const doc = res && res.ok ? await res.json().catch(() => null) : null;
  const token = doc?.access_token || doc?.id_token;
  if (!token) throw new Error("signin-exchange");
  return token;
}
