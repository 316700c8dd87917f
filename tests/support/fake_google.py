"""A local stand-in for Google: the OAuth 2.0 endpoints (authorize, token, revoke) and the
two Calendar API v3 reads the MCP server makes, for several accounts; plus an HTTPS
proxy that lets the real ``@cocal/google-calendar-mcp`` reach it unchanged.

It behaves as Google documents, not as our code expects: the consent screen only
redirects for a registered client and redirect URI, with a PKCE S256 challenge; codes are
single use and bound to the redirect URI and the challenge; refresh tokens are issued
only for ``access_type=offline``; revoked tokens stop working; the Calendar API answers
401 without a valid bearer token and only ever shows the token owner's calendar.

The consent screen has no login form: the request says who is signed in at "Google"
(header ``X-Fake-Google-Account``) and what they click (``X-Fake-Google-Decision: deny``,
``X-Fake-Google-Scope`` for the scopes they leave ticked).

The real MCP server talks to ``https://www.googleapis.com``. :class:`InterceptingProxy`
is given to it as ``HTTPS_PROXY``: it answers ``CONNECT`` for Google's hosts with TLS under
a throwaway test CA (trusted through ``NODE_EXTRA_CA_CERTS``) and pipes the requests to
the stand-in. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import secrets
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.conftest import serving

CLIENT_ID = "mcos-test.apps.googleusercontent.com"
CLIENT_SECRET = "fake-google-client-secret"
READONLY = "https://www.googleapis.com/auth/calendar.readonly"
GOOGLE_HOSTS = ("www.googleapis.com", "oauth2.googleapis.com")
ACCESS_TTL_S = 3599


@dataclass
class Account:
    email: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Code:
    account: str
    challenge: str
    redirect_uri: str
    scope: str
    offline: bool
    used: bool = False


@dataclass
class _Access:
    account: str
    expires: float
    refresh: str | None


@dataclass
class ApiCall:
    account: str
    calendar_id: str
    path: str


class FakeGoogle:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.redirect_uris: set[str] = set()
        self._codes: dict[str, _Code] = {}
        self.refresh_tokens: dict[str, str] = {}  # token -> account
        self.access_tokens: dict[str, _Access] = {}
        self.revoked: set[str] = set()
        self.token_requests: list[dict[str, str]] = []
        self.api_calls: list[ApiCall] = []
        self.unauthorized_calls = 0
        self.rotate_refresh_tokens = False  # Google may hand out a new one on refresh
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/o/oauth2/v2/auth", self.authorize, methods=["GET"]),
                Route("/token", self.token, methods=["POST"]),
                Route("/revoke", self.revoke, methods=["POST"]),
                Route(
                    "/calendar/v3/users/me/calendarList/{calendar_id:path}",
                    self.calendar_list_entry,
                    methods=["GET"],
                ),
                Route(
                    "/calendar/v3/calendars/{calendar_id}/events",
                    self.events,
                    methods=["GET"],
                ),
            ]
        )

    # --- set-up by the test ---------------------------------------------------------

    def add_account(self, email: str, events: list[dict[str, Any]]) -> Account:
        account = Account(email, events)
        self.accounts[email] = account
        return account

    def grant(self, email: str) -> str:
        """A refresh token for ``email``, as if the user had consented earlier."""
        token = "1//" + secrets.token_urlsafe(32)
        self.refresh_tokens[token] = email
        return token

    def access_token_for(self, email: str, ttl_s: float = 24 * 3600) -> str:
        token = "ya29." + secrets.token_urlsafe(24)
        self.access_tokens[token] = _Access(email, time.time() + ttl_s, None)
        return token

    def settings(self) -> dict[str, Any]:
        """Our settings that point the server at this stand-in."""
        return {
            "google_client_id": CLIENT_ID,
            "google_client_secret": CLIENT_SECRET,
            "google_auth_url": f"{self.url}/o/oauth2/v2/auth",
            "google_token_url": f"{self.url}/token",
            "google_revoke_url": f"{self.url}/revoke",
        }

    def calls_by_account(self) -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for call in self.api_calls:
            seen.setdefault(call.account, set()).add(call.calendar_id)
        return seen

    # --- OAuth ------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID:
            return _page(400, "invalid_client: the OAuth client was not found")
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return _page(400, f"redirect_uri_mismatch: {redirect_uri!r} is not registered")
        if q.get("response_type") != "code":
            return _page(400, "unsupported_response_type")
        challenge = q.get("code_challenge", "")
        if q.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
            return _page(400, "invalid_request: PKCE code_challenge (S256) is required")
        scope = q.get("scope", "")
        if READONLY not in scope.split():
            return _page(400, "invalid_scope")
        account = request.headers.get("x-fake-google-account", "")
        if account not in self.accounts:
            return _page(401, "sign in to Google first")
        back: dict[str, str] = {"state": q.get("state", "")}
        if request.headers.get("x-fake-google-decision") == "deny":
            back["error"] = "access_denied"
        else:
            code = "4/" + secrets.token_urlsafe(24)
            self._codes[code] = _Code(
                account=account,
                challenge=challenge,
                redirect_uri=redirect_uri,
                scope=request.headers.get("x-fake-google-scope", scope),
                offline=q.get("access_type") == "offline",
            )
            back["code"] = code
            back["scope"] = self._codes[code].scope
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if auth := request.headers.get("authorization", ""):
            if auth.startswith("Basic "):
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
            return _error(401, "invalid_client", "The OAuth client was not found.")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = self._codes.get(form.get("code", ""))
            if code is None or code.used:
                return _error(400, "invalid_grant", "Malformed auth code.")
            code.used = True
            if form.get("redirect_uri") != code.redirect_uri:
                return _error(400, "redirect_uri_mismatch", "Bad Request")
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != code.challenge:
                return _error(400, "invalid_grant", "Invalid code verifier.")
            refresh = self.grant(code.account) if code.offline else None
            return self._issue(code.account, code.scope, refresh, include_refresh=True)
        if grant_type == "refresh_token":
            refresh = form.get("refresh_token", "")
            account = self.refresh_tokens.get(refresh)
            if account is None or refresh in self.revoked:
                return _error(400, "invalid_grant", "Token has been expired or revoked.")
            if self.rotate_refresh_tokens:
                self.revoked.add(refresh)
                refresh = self.grant(account)
            return self._issue(
                account, READONLY, refresh, include_refresh=self.rotate_refresh_tokens
            )
        return _error(400, "unsupported_grant_type", "Invalid grant_type")

    def _issue(
        self, account: str, scope: str, refresh: str | None, include_refresh: bool
    ) -> Response:
        access = "ya29." + secrets.token_urlsafe(24)
        self.access_tokens[access] = _Access(account, time.time() + ACCESS_TTL_S, refresh)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": ACCESS_TTL_S,
            "scope": scope,
            "token_type": "Bearer",
        }
        if include_refresh and refresh:
            body["refresh_token"] = refresh
        return JSONResponse(body)

    async def revoke(self, request: Request) -> Response:
        token = str((await request.form()).get("token", "")) or request.query_params.get(
            "token", ""
        )
        if token in self.refresh_tokens:
            self.revoked.add(token)
            for access, info in self.access_tokens.items():
                if info.refresh == token:
                    self.revoked.add(access)
            return JSONResponse({})
        if token in self.access_tokens:
            self.revoked.add(token)
            return JSONResponse({})
        return _error(400, "invalid_token", "Token expired or revoked")

    # --- Calendar API -------------------------------------------------------------------

    def _bearer(self, request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        info = self.access_tokens.get(token)
        if info is None or token in self.revoked or info.expires < time.time():
            return None
        return info.account

    async def calendar_list_entry(self, request: Request) -> Response:
        account = self._bearer(request)
        if account is None:
            return _unauthenticated()
        calendar_id = request.path_params["calendar_id"]
        if calendar_id not in ("primary", account):
            return _not_found()
        return JSONResponse(
            {
                "kind": "calendar#calendarListEntry",
                "id": account,
                "timeZone": "UTC",
                "accessRole": "owner",
                "primary": True,
            }
        )

    async def events(self, request: Request) -> Response:
        account = self._bearer(request)
        if account is None:
            self.unauthorized_calls += 1
            return _unauthenticated()
        calendar_id = request.path_params["calendar_id"]
        self.api_calls.append(ApiCall(account, calendar_id, request.url.path))
        if calendar_id not in ("primary", account):
            return _not_found()  # another user's calendar: this token cannot see it
        q = request.query_params
        low, high = _instant_or(q.get("timeMin")), _instant_or(q.get("timeMax"))
        items = [
            e
            for e in self.accounts[account].events
            if (low is None or _instant(e["end"]) > low)
            and (high is None or _instant(e["start"]) < high)
        ]
        items.sort(key=lambda e: _instant(e["start"]))
        return JSONResponse(
            {"kind": "calendar#events", "summary": account, "timeZone": "UTC", "items": items}
        )


def _instant(value: dict[str, str]) -> dt.datetime:
    if value.get("dateTime"):
        return dt.datetime.fromisoformat(value["dateTime"]).astimezone(dt.UTC)
    return dt.datetime.fromisoformat(value["date"]).replace(tzinfo=dt.UTC)


def _instant_or(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _page(status: int, text: str) -> Response:
    return Response(f"<html><body>Error: {text}</body></html>", status, media_type="text/html")


def _error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status)


def _unauthenticated() -> Response:
    return JSONResponse(
        {
            "error": {
                "code": 401,
                "message": "Request had invalid authentication credentials.",
                "status": "UNAUTHENTICATED",
            }
        },
        401,
    )


def _not_found() -> Response:
    return JSONResponse({"error": {"code": 404, "message": "Not Found"}}, 404)


def google_event(event_id: str, title: str, start: dt.datetime, hours: float = 1) -> dict[str, Any]:
    end = start + dt.timedelta(hours=hours)
    return {
        "kind": "calendar#event",
        "id": event_id,
        "status": "confirmed",
        "summary": title,
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": end.isoformat(), "timeZone": "UTC"},
    }


# --- TLS for the real MCP package ------------------------------------------------------


@dataclass(frozen=True)
class TestCa:
    ca_file: Path  # NODE_EXTRA_CA_CERTS
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def make_test_ca(directory: Path, hosts: tuple[str, ...] = GOOGLE_HOSTS) -> TestCa:
    """A throwaway CA and a certificate for ``hosts`` signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcos test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = TestCa(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class InterceptingProxy:
    """An HTTP ``CONNECT`` proxy for Google's hosts only: TLS with the test certificate,
    then the bytes go to the stand-in. Other hosts get 403 (and are counted)."""

    def __init__(self, upstream_port: int, ca: TestCa) -> None:
        self.upstream_port = upstream_port
        self.context = ca.server_context()
        self.tunnels: list[str] = []
        self.refused: list[str] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            host = target.rsplit(":", 1)[0]
            if method != "CONNECT" or host not in GOOGLE_HOSTS:
                self.refused.append(target)
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            self.tunnels.append(host)
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
            await writer.start_tls(self.context)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


@dataclass
class RunningGoogle:
    fake: FakeGoogle
    proxy: InterceptingProxy
    proxy_url: str
    ca: TestCa

    def mcp_env(self) -> dict[str, str]:
        """What the real MCP package needs to reach the stand-in as ``www.googleapis.com``."""
        return {"HTTPS_PROXY": self.proxy_url, "NODE_EXTRA_CA_CERTS": str(self.ca.ca_file)}

    def operator_files(self, directory: Path, email: str) -> dict[str, str]:
        """An operator's own MCP credentials (client file + token file for ``email``)."""
        keys = directory / "operator-keys.json"
        tokens = directory / "operator-tokens.json"
        keys.write_text(
            json.dumps(
                {
                    "installed": {
                        "client_id": CLIENT_ID,
                        "client_secret": CLIENT_SECRET,
                        "redirect_uris": ["http://localhost"],
                    }
                }
            )
        )
        access = self.fake.access_token_for(email)
        expiry = int((time.time() + 24 * 3600) * 1000)
        tokens.write_text(
            json.dumps(
                {
                    "normal": {
                        "access_token": access,
                        "token_type": "Bearer",
                        "expiry_date": expiry,
                    }
                }
            )
        )
        return {
            "GOOGLE_OAUTH_CREDENTIALS": str(keys),
            "GOOGLE_CALENDAR_MCP_TOKEN_PATH": str(tokens),
        }


@contextlib.asynccontextmanager
async def running_google(directory: Path) -> AsyncIterator[RunningGoogle]:
    fake = FakeGoogle()
    ca = make_test_ca(directory / "tls")
    async with serving(fake.app) as url:
        fake.url = url
        proxy = InterceptingProxy(int(url.rsplit(":", 1)[1]), ca)
        proxy_url = await proxy.start()
        try:
            yield RunningGoogle(fake, proxy, proxy_url, ca)
        finally:
            await proxy.close()
