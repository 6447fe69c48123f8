"""The token every mutating call needs: `Authorization: Bearer $HELMQ_UI_TOKEN`."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from helmq.web.context import ctx

NO_TOKEN = ("no HELMQ_UI_TOKEN is configured; mutating calls are disabled "
            "(set HELMQ_UI_TOKEN and restart the UI)")
MISSING = ("missing or malformed Authorization header: send "
           "`Authorization: Bearer <HELMQ_UI_TOKEN>` (the page's Token field does)")
WRONG = "wrong token: it does not match HELMQ_UI_TOKEN"


def require_token(request: Request) -> None:
    """Refuse the call unless it carries the configured token (403 always when none is set)."""
    expected = ctx(request).settings.ui_token
    if not expected:
        raise HTTPException(403, NO_TOKEN)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(401, MISSING, headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(403, WRONG)
