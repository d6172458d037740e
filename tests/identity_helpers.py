"""GraphQL snippets and steps shared by the identity tests."""

from __future__ import annotations

import re

LOGIN = """
mutation Login($identifier: String!, $password: String!, $channel: CodeChannel) {
  login(identifier: $identifier, password: $password, channel: $channel) {
    __typename
    ... on LoginChallenge { challengeId channel maskedDestination expiresAt resendsLeft }
    ... on Error { message }
    ... on RateLimited { retryAfterSeconds }
    ... on TemporarilyLocked { retryAfterSeconds }
  }
}"""

VERIFY = """
mutation Verify($challengeId: String!, $code: String!) {
  verifyLoginCode(challengeId: $challengeId, code: $code) {
    __typename
    ... on Session { token expiresAt idleTimeoutSeconds }
    ... on InvalidCode { attemptsLeft }
    ... on Error { message }
  }
}"""

ME = "query { me { id identifier role email patient { insMatricule } professional { rpps } } }"


def code_from(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, "no code in message"
    return match.group(1)


async def login(gql, notifier, identifier: str, password: str, channel: str | None = None):
    body = await gql(LOGIN, {"identifier": identifier, "password": password, "channel": channel})
    result = body["data"]["login"]
    assert result["__typename"] == "LoginChallenge", body
    return result["challengeId"], code_from(notifier.last().text)


async def sign_in(gql, notifier, identifier: str, password: str) -> str:
    challenge_id, code = await login(gql, notifier, identifier, password)
    body = await gql(VERIFY, {"challengeId": challenge_id, "code": code})
    session = body["data"]["verifyLoginCode"]
    assert session["__typename"] == "Session", body
    return session["token"]
