"""The language server: index features with no model, model completions when one is configured."""

from gerbil_lsp.server.app import GerbilLanguageServer, create_server
from gerbil_lsp.server.heap import tune_for_server
from gerbil_lsp.server.stdio import serve_stdio


def serve(tcp: str | None = None, extensions=()) -> None:
    """Run over stdio, or on HOST:PORT when ``tcp`` is given."""
    server = create_server(extensions)
    tune_for_server(server)
    if tcp:
        host, _, port = tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        serve_stdio(server)


__all__ = ["GerbilLanguageServer", "create_server", "serve"]
