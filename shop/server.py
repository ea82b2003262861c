"""The gunicorn worker the shop runs under (config/gunicorn.py): gunicorn's threaded worker, which
answers a request line over its limit as the shop answers any error, not with its own HTML.

gunicorn refuses such a line before any request exists, so nothing downstream can tell /api/
from a storefront page; the worker keeps the first bytes of the refused line to tell (issue 11).
"""

from gunicorn import util
from gunicorn.http.errors import LimitRequestLine
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser
from gunicorn.workers.gthread import ThreadWorker

from shop.views import uri_too_long_answer

# Bytes of a refused request line kept: its method and the start of its path.
KEPT_LINE_START = 64


class _RequestKeepingARefusedLine(Request):
    def read_line(self, unreader, buf, limit=0):
        try:
            return super().read_line(unreader, buf, limit)
        except LimitRequestLine as refusal:
            # buf holds what was read of this request: each request parses from its own start.
            refusal.line_start = bytes(buf[:KEPT_LINE_START])
            raise


def _targets_the_api(line_start: bytes) -> bool:
    _method, _, target = line_start.partition(b" ")
    return target.startswith(b"/api/")


class ShopWorker(ThreadWorker):
    """gunicorn's gthread worker (one thread unless --threads says more), with the shop's 414."""

    def init_process(self):
        # gunicorn's parser builds its requests from this class attribute; this process only.
        RequestParser.mesg_class = _RequestKeepingARefusedLine
        super().init_process()

    def handle_error(self, req, client, addr, exc):
        if not isinstance(exc, LimitRequestLine):
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        api = _targets_the_api(getattr(exc, "line_start", b""))
        content_type, body = uri_too_long_answer(api=api)
        head = (
            "HTTP/1.1 414 URI Too Long\r\nConnection: close\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            util.write_nonblock(client, head.encode("latin-1") + body)
        except OSError:
            self.log.debug("Failed to send the 414.")
        return None
