"""Run real OpenCode offline: inside ``unshare -n``, against the loopback fake model.

Run as ``unshare -n python opencode_offline.py --opencode BIN --home H --workspace W --prompt P [--config JSON]``.
In the new network namespace only loopback exists (we bring it up), so OpenCode
cannot reach the internet and fails fast on models.dev; the fake model
(:mod:`fake_chat_model`) listens on 127.0.0.1 in the same namespace. OpenCode's
home, config and data dirs all live under ``--home``; its database lands in
``H/.local/share/opencode/opencode.db``. Unix sockets are files, so a harvest
daemon outside the namespace still hears the plugin.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fake_chat_model import MODEL, serve  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opencode", required=True)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--workspace", required=True, type=Path)
    parser.add_argument("--prompt", action="append", required=True, help="one `opencode run` per prompt, same session")
    parser.add_argument("--config", default="{}", help="extra opencode.json keys (JSON)")
    parser.add_argument("--log", type=Path)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for OpenCode (its feature flags)")
    args = parser.parse_args()

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    server = serve(0, args.log)
    home = args.home.resolve()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "OPENCODE"))},
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        **dict(pair.split("=", 1) for pair in args.env),
    }
    config = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {"fake": {"npm": "@ai-sdk/openai-compatible", "name": "Fake",
                              "options": {"baseURL": f"http://127.0.0.1:{server.server_port}/v1", "apiKey": "none"},
                              "models": {MODEL: {"name": "fake gerbil model", "tool_call": True}}}},
        "model": f"fake/{MODEL}",
        "autoupdate": False,
        "share": "disabled",
        **json.loads(args.config),
    }
    workspace = args.workspace.resolve()
    (workspace / "opencode.json").write_text(json.dumps(config, indent=2))
    # OpenCode installs @opencode-ai/plugin into each config dir in the background and, once
    # plugins are configured, waits for it: offline that stalls ~80 s. It skips the install
    # when node_modules exists and package-lock.json already lists what it would add.
    lock = {"lockfileVersion": 3, "packages": {"": {"dependencies": {"@opencode-ai/plugin": "*"}}}}
    for folder in (workspace / ".opencode", home / ".config" / "opencode"):
        (folder / "node_modules").mkdir(parents=True, exist_ok=True)
        (folder / "package-lock.json").write_text(json.dumps(lock))
    rc = 0
    for i, prompt in enumerate(args.prompt):
        command = [str(Path(args.opencode).resolve()), "run", "--print-logs"]
        if i:
            command.append("--continue")
        command.append(prompt)
        # OpenCode takes its directory from $PWD, not from the process's cwd
        done = subprocess.run(command, cwd=workspace, env={**env, "PWD": str(workspace)}, stdin=subprocess.DEVNULL, timeout=240)
        rc = rc or done.returncode
    server.shutdown()
    return rc


if __name__ == "__main__":
    sys.exit(main())
