"""Every problem the suite provokes is checked (RFC 9457, issue 13 item 6): an httpx response hook on the shared
client, so that no test has to remember it.

For every answer with status >= 400 (except `POST /auth/token`, which answers the OAuth2 way): the content type
is `application/problem+json`, `status` equals the HTTP status, `code` is a non-empty string, and `type`,
`title`, `detail`, `instance` are strings.
"""

from __future__ import annotations

import httpx

OAUTH_PATHS = ("/auth/token",)
SEEN = {"problems": 0}


def problem_violations(response: httpx.Response) -> list[str]:
    if response.status_code < 400:
        return []
    path = response.request.url.path
    if path.endswith(OAUTH_PATHS):
        return []
    out = []
    ctype = response.headers.get("content-type", "")
    if not ctype.startswith("application/problem+json"):
        return [f"{response.status_code} {path}: content type {ctype!r}, not problem+json"]
    body = response.json()
    if not isinstance(body, dict):
        return [f"{response.status_code} {path}: body is not an object"]
    if body.get("status") != response.status_code:
        out.append(f"{response.status_code} {path}: status member {body.get('status')!r}")
    if not isinstance(body.get("code"), str) or not body["code"]:
        out.append(f"{response.status_code} {path}: code member {body.get('code')!r}")
    for member in ("type", "title", "detail", "instance"):
        if not isinstance(body.get(member), str):
            out.append(f"{response.status_code} {path}: {member} member {body.get(member)!r}")
    if "errors" in body and not isinstance(body["errors"], list):
        out.append(f"{response.status_code} {path}: errors member is not a list")
    return out


async def check_problem(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    await response.aread()
    bad = problem_violations(response)
    SEEN["problems"] += 1
    assert not bad, "problem response breaks RFC 9457: " + "; ".join(bad)
