"""The operator's web console at ``/console/``: server-rendered pages in Russian over the API's services.

It lives in the composition root because it shows every feature at once, and only
``gateway.app`` may import features (they never import each other).  Pages call the same
service and feature functions as the API with the same :class:`Actor`, so the console
never shows or does what the API would refuse.
"""

from gateway.app.console.app import console_app, mount_console

__all__ = ["console_app", "mount_console"]
