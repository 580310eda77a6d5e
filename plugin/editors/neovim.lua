-- gerbil-lsp for Neovim 0.11+ (vim.lsp.config). Put this in your init.lua.
vim.filetype.add({ extension = { ss = "scheme", sld = "scheme" } })

vim.lsp.config("gerbil_lsp", {
  cmd = { "gerbil-lsp", "serve" },
  filetypes = { "scheme", "gerbil" },
  root_markers = { "gerbil.pkg", ".gerbil-lsp.toml", ".git" },
  -- Any gerbil-lsp setting can go here (the same keys as config.toml):
  init_options = {
    -- model = { backend = "ollama", model = "gerbil-qwen", base_url = "http://127.0.0.1:11434" },
  },
})
vim.lsp.enable("gerbil_lsp")
-- Lisp indentation aligns on columns, not tab stops: indent with spaces. `gq` and
-- vim.lsp.buf.format() then use the server's indentation (it changes nothing else).
vim.api.nvim_create_autocmd("FileType", {
  pattern = { "scheme", "gerbil" },
  callback = function() vim.bo.expandtab = true end,
})
