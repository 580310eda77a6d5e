-- gerbil-lsp with nvim-lspconfig (Neovim 0.8-0.10), registered as a custom server.
local configs = require("lspconfig.configs")
local util = require("lspconfig.util")

if not configs.gerbil_lsp then
  configs.gerbil_lsp = {
    default_config = {
      cmd = { "gerbil-lsp", "serve" },
      filetypes = { "scheme", "gerbil" },
      root_dir = util.root_pattern("gerbil.pkg", ".gerbil-lsp.toml", ".git"),
      init_options = {},
    },
  }
end
require("lspconfig").gerbil_lsp.setup({})
