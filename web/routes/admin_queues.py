"""(being built)"""

from __future__ import annotations

from typing import Any

# Handlers mounted under the /admin router (which answers StaffRequired with a redirect).
handlers: list[Any] = []
