"""The customer's profile: password, email, contact data, language, sign-out everywhere."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Redirect

from web.auth import visitor

# Paths a customer who must change the initial password may still reach.
_ALLOWED_BEFORE_CHANGE = ("/profile/password", "/sign-out", "/static/", "/forms/check")


async def password_change_first(request: Request[Any, Any, Any]) -> Redirect | None:
    """A customer with an initial password goes to the password form before anything else."""
    current = visitor(request)
    if current is None or current.customer is None or not current.customer.must_change_password:
        return None
    if request.url.path.startswith(_ALLOWED_BEFORE_CHANGE):
        return None
    return Redirect("/profile/password", status_code=303)


routes: list[Any] = []
