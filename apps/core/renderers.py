from rest_framework.renderers import JSONRenderer


class StrictJSONRenderer(JSONRenderer):
    """Refuses to emit bare NaN/Infinity; services send them as strings."""

    strict = True
