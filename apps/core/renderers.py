"""JSON rendering for the API, with orjson (several times faster than the standard
library on pages of hundreds of runs).

Non-finite floats never reach the renderer: services send them as the strings
"NaN", "Infinity", "-Infinity" (apps.core.floats.float_out), and the parser refuses
them on the way in.

Integers are written exactly, however large: JSON has no limit and the parser reads up
to apps.core.json_limits.MAX_INTEGER_DIGITS digits, so what a client stored as-is (a
run's summary, environment or CI context, a rule's threshold) can exceed the 64 bits
orjson writes. Such an answer goes through the standard library instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder()


def _default(value: Any) -> Any:
    # Lazy translation strings, decimals and the like, as DRF renders them.
    return _fallback.default(value)


class StrictJSONRenderer(JSONRenderer):
    """UTF-8 JSON with times as ISO-8601 ending in ``Z``."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        try:
            return orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z)
        except orjson.JSONEncodeError:
            # An integer past 64 bits (anything else fails here as well, as before).
            text = json.dumps(
                data, cls=JSONEncoder, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            )
            return text.encode("utf-8")
