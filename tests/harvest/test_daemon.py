"""The daemon's unix-socket endpoint, spoken to over HTTP like the plugin does (httpx over the socket)."""

from __future__ import annotations

import stat

import httpx
import pytest

from gerbil_lsp.harvest.daemon import HarvestDaemon, daemon_status, socket_path


@pytest.fixture
def daemon(workspace):
    d = HarvestDaemon(poll_s=3600, retrain=False)
    d.start()
    yield d
    d.stop()


def client() -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path())), base_url="http://gerbil-lsp")


def test_permission_replies_and_status(daemon):
    assert stat.S_IMODE(socket_path().stat().st_mode) & 0o077 == 0  # only this user
    with client() as http:
        reply = http.post("/opencode/permission", json={"sessionID": "ses_1", "requestID": "per_1", "reply": "reject",
                                                        "permission": "edit", "patterns": ["src/a.ss"]})
        assert reply.json() == {"ok": True}
        old_shape = http.post("/opencode/permission", json={"sessionID": "ses_1", "permissionID": "per_2",
                                                            "response": "once"})
        assert old_shape.status_code == 200
        assert http.post("/opencode/permission", json={"sessionID": "ses_1"}).status_code == 400
        assert http.post("/opencode/session-idle", content=b"{oops").status_code == 400
        assert http.post("/opencode/session-idle", json={"sessionID": "ses_unknown"}).json()["ok"] is True
        status = http.get("/status").json()
    assert [(p["id"], p["reply"], p["patterns"]) for p in daemon.store.permissions("ses_1")] == [
        ("per_1", "reject", ["src/a.ss"]), ("per_2", "once", [])]
    assert status["workspaces"] and status["counts"]["pending"] >= 1  # greet.ss from the catch-up scan


def test_a_second_daemon_is_refused_and_status_is_published(daemon):
    with pytest.raises(RuntimeError, match="another harvest daemon is running"):
        HarvestDaemon(poll_s=3600, retrain=False).start()
    daemon._write_status()
    assert daemon_status()["socket"] == str(socket_path())
