/**
 * gerbil-lsp harvest plugin for OpenCode.
 *
 * OpenCode keeps every session in its own storage, and the gerbil-lsp harvest
 * daemon (`gerbil-lsp harvest watch`) reads that storage read-only. Without
 * this plugin the daemon finds a finished session on its next poll; with it,
 * the daemon hears `session.idle` at once and harvests immediately. It also
 * passes on edit permission replies (allowed once / always / rejected), so a
 * rejected edit is known as one.
 *
 * The daemon listens on a unix socket (a file only this user can open): the
 * `socket` plugin option, else $GERBIL_LSP_HARVEST_SOCKET, else
 * $GERBIL_LSP_HOME/state/harvest.sock, else $XDG_STATE_HOME/gerbil-lsp/harvest.sock.
 * When no daemon is listening the notice is dropped: nothing is lost, the
 * daemon catches up from OpenCode's storage when it starts.
 */
import type { Plugin, PluginOptions } from "@opencode-ai/plugin"
import { homedir } from "node:os"
import { join } from "node:path"

export function socketPath(options?: PluginOptions): string {
  const fromOptions = options?.["socket"]
  if (typeof fromOptions === "string" && fromOptions) return fromOptions
  const env = process.env
  if (env.GERBIL_LSP_HARVEST_SOCKET) return env.GERBIL_LSP_HARVEST_SOCKET
  if (env.GERBIL_LSP_HOME) return join(env.GERBIL_LSP_HOME, "state", "harvest.sock")
  const state = env.XDG_STATE_HOME || join(homedir(), ".local", "state")
  return join(state, "gerbil-lsp", "harvest.sock")
}

type Asked = { permission: string; patterns: string[] }

async function tell(socket: string, route: string, body: Record<string, unknown>): Promise<void> {
  try {
    // Bun's fetch speaks HTTP over a unix socket with the `unix` option.
    const init = {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      unix: socket,
      signal: AbortSignal.timeout(10_000),
    }
    await fetch(`http://gerbil-lsp${route}`, init as RequestInit)
  } catch {
    // No daemon listening: it reads OpenCode's storage when it starts, so nothing is lost.
  }
}

export const GerbilLspHarvest: Plugin = async (_input, options) => {
  const socket = socketPath(options)
  const asked = new Map<string, Asked>()
  return {
    event: async ({ event }) => {
      // Event shapes differ across OpenCode versions; read them loosely.
      const e = event as { type: string; properties: Record<string, any> }
      const p = e.properties ?? {}
      switch (e.type) {
        case "session.idle":
          if (p.sessionID) await tell(socket, "/opencode/session-idle", { sessionID: p.sessionID })
          break
        case "permission.asked": // 1.18: { id, sessionID, permission, patterns }
        case "permission.updated": // before: { id, sessionID, type, pattern }
          if (p.id) {
            const patterns = Array.isArray(p.patterns) ? p.patterns : p.pattern ? [].concat(p.pattern) : []
            asked.set(p.id, { permission: String(p.permission ?? p.type ?? ""), patterns })
          }
          break
        case "permission.replied": {
          // 1.18: { sessionID, requestID, reply: once|always|reject }; before: { permissionID, response }
          const id = p.requestID ?? p.permissionID
          const reply = p.reply ?? p.response
          if (!id || !reply) break
          const info = asked.get(id)
          asked.delete(id)
          await tell(socket, "/opencode/permission", {
            sessionID: p.sessionID,
            requestID: id,
            reply,
            permission: info?.permission ?? "",
            patterns: info?.patterns ?? [],
          })
          break
        }
      }
    },
  }
}

export default { id: "gerbil-lsp-harvest", server: GerbilLspHarvest }
