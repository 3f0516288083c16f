"""A Flyte 2 app, deployed by the real flyte client on a roost server (tests/server/test_flyte_client.py).
Its port comes from the deploying process (FB_APP_PORT): the test picks a free one. The app's command
runs this file (it travels in the code bundle) as a small HTTP server."""

import http.server
import os
import sys

import flyte
import flyte.app

PORT = int(os.environ.get("FB_APP_PORT", "8091"))

app_env = flyte.app.AppEnvironment(
    name="fb-app",
    image="roost-flyte-runtime",
    port=PORT,
    args=["python", "flyte_app.py", str(PORT)],
    requires_auth=False,
    env_vars={"APP_GREETING": "hello from a flyte app"},
)


class Greeting(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = os.environ["APP_GREETING"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Greeting).serve_forever()
