"""A catalogue app reading a patient's weights from Carnet: the whole OAuth 2 flow (authorization
code with PKCE S256) with authlib's client, then one GraphQL query with the access token.

    python examples/measurements_app.py --carnet http://127.0.0.1:8000 --client-id <APP ID>

1. Reads Carnet's metadata (/.well-known/oauth-authorization-server, RFC 8414).
2. Builds the authorization URL (client id, redirect URI, scopes, state, PKCE challenge) and
   prints it (and opens it in a browser unless --no-browser): the patient signs in to Carnet,
   reads what the app asks for, and consents.
3. Listens on the redirect URI (http://127.0.0.1:PORT/callback, which the app registered in the
   catalogue) for Carnet's redirect with the code, checks the state, and exchanges the code
   (with the PKCE verifier) at the token endpoint.
4. Asks GraphQL for the WEIGHT series (`measurements(kind: WEIGHT)`, scope profile:read) and
   prints it. `--json` prints one JSON object instead (what tests/test_example_app.py reads).

A public client (no secret): the app is installed on the patient's device. Only the standard
library, httpx and authlib (pip install authlib httpx).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import webbrowser
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client

WEIGHTS = "query { measurements(kind: WEIGHT) { unit points { at value } } }"


async def wait_for_redirect(port: int, seconds: float) -> str:
    """Serve one request on 127.0.0.1:port and return its full URL (the redirect)."""
    arrived: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode("latin-1")
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # the headers
        target = request_line.split(" ")[1] if request_line.count(" ") >= 2 else "/"
        body = "Vous pouvez fermer cette page et revenir à l'application.".encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                     b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()
        if target.startswith("/callback") and not arrived.done():
            arrived.set_result(f"http://127.0.0.1:{port}{target}")

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        return await asyncio.wait_for(arrived, seconds)


async def run(args: argparse.Namespace) -> dict:
    carnet = args.carnet.rstrip("/")
    async with httpx.AsyncClient() as http:
        metadata = (await http.get(f"{carnet}/.well-known/oauth-authorization-server")).json()
    redirect_uri = f"http://127.0.0.1:{args.port}/callback"
    verifier = secrets.token_urlsafe(48)
    client = AsyncOAuth2Client(client_id=args.client_id, redirect_uri=redirect_uri,
                               scope=args.scope, code_challenge_method="S256",
                               token_endpoint_auth_method="none")  # noqa: S106 (a method)
    async with client:
        url, state = client.create_authorization_url(metadata["authorization_endpoint"],
                                                     code_verifier=verifier)
        print(f"AUTHORIZE {url}", flush=True)
        if not args.no_browser:
            webbrowser.open(url)
        redirect = await wait_for_redirect(args.port, args.timeout)
        answer = parse_qs(urlsplit(redirect).query)
        if answer.get("state", [None])[0] != state:
            raise SystemExit("the redirect's state is not ours: refused")
        if "error" in answer:
            raise SystemExit(f"the patient did not authorise the app: {answer['error'][0]}")
        token = await client.fetch_token(metadata["token_endpoint"],
                                         authorization_response=redirect,
                                         code_verifier=verifier)
        response = await client.post(f"{carnet}/graphql", json={"query": WEIGHTS})
        body = response.json()
    if "errors" in body:
        raise SystemExit(f"Carnet refused: {body['errors'][0]['message']}")
    series = body["data"]["measurements"]
    return {"scope": token.get("scope"), "unit": series["unit"],
            "weights": [point["value"] for point in series["points"]]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--carnet", default="http://127.0.0.1:8000", help="Carnet's API URL")
    parser.add_argument("--client-id", required=True, help="the app's id in the catalogue")
    parser.add_argument("--scope", default="profile:read")
    parser.add_argument("--port", type=int, default=8765, help="the redirect URI's port")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for the patient's consent")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        print(f"Granted scopes: {result['scope']}")
        for value in result["weights"]:
            print(f"  {value} {result['unit']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
