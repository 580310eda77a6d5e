-- Drives gerbil-lsp through Neovim's own LSP client (0.7+): diagnostics, hover, completion, workspace symbols,
-- incoming calls, and formatting another file of the folder.
-- Usage: nvim --headless -u NONE -c "luafile neovim_client.lua" FILE.ss ; writes $RESULT_JSON.
local out = {}
local file = vim.fn.expand("%:p")
local client_id = vim.lsp.start_client({
  name = "gerbil-lsp",
  cmd = { vim.env.GERBIL_LSP_PYTHON, "-m", "gerbil_lsp", "serve" },
  root_dir = vim.fn.fnamemodify(file, ":h"),
  init_options = { diagnostics = { debounce_ms = 0 } },
})
vim.lsp.buf_attach_client(0, client_id)

local function wait(pred, ms) return vim.wait(ms or 20000, pred, 50) end

wait(function() return #vim.diagnostic.get(0) > 0 end)
out.diagnostics = {}
for _, d in ipairs(vim.diagnostic.get(0)) do
  table.insert(out.diagnostics, { message = d.message, lnum = d.lnum, severity = d.severity })
end

local client = vim.lsp.get_client_by_id(client_id)
local hover = client.request_sync("textDocument/hover", {
  textDocument = { uri = vim.uri_from_fname(file) }, position = { line = 1, character = 4 },
}, 20000, 0)
out.hover = hover and hover.result and hover.result.contents.value or vim.NIL

local completion = client.request_sync("textDocument/completion", {
  textDocument = { uri = vim.uri_from_fname(file) }, position = { line = 2, character = 6 },
}, 20000, 0)
out.completion = {}
if completion and completion.result then
  for _, item in ipairs(completion.result.items or completion.result) do
    table.insert(out.completion, item.label)
  end
end

-- the workspace's other module, found by the server's scan of the folder
out.workspace_symbols = {}
wait(function()
  local found = client.request_sync("workspace/symbol", { query = "frobn" }, 20000, 0)
  for _, symbol in ipairs(found and found.result or {}) do
    table.insert(out.workspace_symbols, symbol.name)
  end
  return #out.workspace_symbols > 0
end, 10000)

-- call hierarchy: who calls frobnicate-widget (calls.ss, never opened), as :lua vim.lsp.buf.incoming_calls() lists it
vim.cmd("edit " .. vim.fn.fnameescape(vim.fn.fnamemodify(file, ":h") .. "/util.ss"))
vim.lsp.buf_attach_client(0, client_id)
vim.api.nvim_win_set_cursor(0, { 2, 8 }) -- on the name in (def (frobnicate-widget w) w)
vim.fn.setqflist({}, "r")
vim.lsp.buf.incoming_calls()
out.incoming_calls = {}
wait(function() return #vim.fn.getqflist() > 0 end, 20000)
for _, entry in ipairs(vim.fn.getqflist()) do
  table.insert(out.incoming_calls, { caller = entry.text, file = vim.fn.fnamemodify(vim.fn.bufname(entry.bufnr), ":t"),
                                     line = entry.lnum })
end
vim.cmd("cclose")

-- formatting: the folder's badly indented messy.ss, through the client's own formatting call
vim.cmd("edit " .. vim.fn.fnameescape(vim.fn.fnamemodify(file, ":h") .. "/messy.ss"))
vim.bo.expandtab = true -- as plugin/editors/neovim.lua sets for Gerbil files
vim.lsp.buf_attach_client(0, client_id)
if vim.lsp.buf.format then
  vim.lsp.buf.format({ timeout_ms = 20000 })
else
  vim.lsp.buf.formatting_sync(nil, 20000) -- Neovim 0.7
end
out.formatted = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")

local fh = io.open(vim.env.RESULT_JSON, "w")
fh:write(vim.fn.json_encode(out))
fh:close()
vim.lsp.stop_client(client_id)
vim.cmd("qa!")
