-- iotrules-lsp for Neovim 0.7 and later: AWS IoT SQL, topic rule JSON and IoT policy JSON.
--
-- Load it from your init.lua with one of
--   dofile("/path/to/iotrules/editors/neovim/iotrules.lua").setup()
--   require("iotrules").setup()   -- after copying this file to ~/.config/nvim/lua/iotrules.lua
--
-- Which files it handles, as the VS Code extension does:
--   *.iotsql      always, as the filetype `iotsql`
--   *.sql         only where `sql_patterns` says (none by default), so other SQL stays with
--                 whatever SQL tooling you use; IoT SQL has no comments, so no modeline can
--                 mark a file
--   JSON files    those matching `json_patterns`: `*.rule.json`, `*.policy.json`, and any
--                 `.json` under a `rules/` or `policies/` folder; they keep the filetype `json`
--
-- On Neovim 0.11 and later the server is declared with vim.lsp.config and vim.lsp.enable; on
-- earlier versions a FileType autocommand starts it (vim.lsp.start, or vim.lsp.start_client
-- on 0.7). Either way one server runs per project root.

local M = {}

M.defaults = {
  -- The server command; `cargo install --path lsp` puts `iotrules-lsp` in ~/.cargo/bin.
  cmd = { "iotrules-lsp" },
  -- Autocommand patterns (`:h autocmd-pattern`) of `.sql` files that hold IoT SQL, such as
  -- "*/rules/*.sql"; those files get the filetype `iotsql`.
  sql_patterns = {},
  -- Autocommand patterns of the JSON files sent to the server: the VS Code extension's.
  json_patterns = { "*.rule.json", "*/rules/*.json", "*.policy.json", "*/policies/*.json" },
  -- Files or folders that mark a project root; without one, the file's own folder is the root.
  root_markers = { ".git" },
  -- Called as on_attach(client, bufnr) when the server attaches to a buffer.
  on_attach = nil,
}

local NAME = "iotrules"
local uv = vim.uv or vim.loop

-- Whether `path` matches an autocommand pattern: against the file name alone when the
-- pattern has no `/`, against the whole path otherwise.
local function matches(path, patterns)
  local tail = vim.fn.fnamemodify(path, ":t")
  for _, pattern in ipairs(patterns) do
    local subject = pattern:find("/", 1, true) and path or tail
    if vim.fn.match(subject, vim.fn.glob2regpat(pattern)) >= 0 then
      return true
    end
  end
  return false
end

-- The nearest folder above the buffer's file that holds a marker, else the file's folder.
local function root_of(bufnr, markers)
  local path = vim.api.nvim_buf_get_name(bufnr)
  local start = vim.fn.fnamemodify(path, ":p:h")
  local dir = start
  while true do
    for _, marker in ipairs(markers) do
      if uv.fs_stat(dir .. "/" .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ":h")
    if parent == dir then
      return start
    end
    dir = parent
  end
end

-- Whether the server should see this buffer.
local function wanted(bufnr, options)
  local filetype = vim.bo[bufnr].filetype
  local path = vim.api.nvim_buf_get_name(bufnr)
  if path == "" then
    return false
  end
  if filetype == "iotsql" then
    return true
  end
  return filetype == "json" and matches(path, options.json_patterns)
end

local function set_filetypes(options, group)
  if vim.fn.has("nvim-0.8") == 1 then
    vim.filetype.add({ extension = { iotsql = "iotsql" } })
  else
    -- 0.7 runs Lua filetype detection only with g:do_filetype_lua set.
    vim.api.nvim_create_autocmd({ "BufNewFile", "BufRead" }, {
      group = group,
      pattern = "*.iotsql",
      command = "setfiletype iotsql",
    })
  end
  -- IoT SQL is close enough to SQL for Vim's SQL highlighting, unless a syntax/iotsql.vim is
  -- installed. Scheduled, so it comes after the `syntax=iotsql` that `:syntax on` sets.
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = "iotsql",
    callback = function(args)
      vim.schedule(function()
        local own = #vim.api.nvim_get_runtime_file("syntax/iotsql.vim", false) > 0
        if not own and vim.api.nvim_buf_is_valid(args.buf) and vim.bo[args.buf].syntax == "iotsql" then
          vim.bo[args.buf].syntax = "sql"
        end
      end)
    end,
  })
  if #options.sql_patterns > 0 then
    vim.api.nvim_create_autocmd({ "BufNewFile", "BufRead" }, {
      group = group,
      pattern = options.sql_patterns,
      -- Overrides the `sql` that filetype detection may already have set.
      callback = function(args)
        vim.bo[args.buf].filetype = "iotsql"
      end,
    })
  end
end

-- Neovim 0.11 and later: the built-in configuration, with root_dir keeping the server off
-- the JSON files it does not handle.
local function enable(options)
  vim.lsp.config(NAME, {
    cmd = options.cmd,
    filetypes = { "iotsql", "json" },
    root_dir = function(bufnr, on_dir)
      if wanted(bufnr, options) then
        on_dir(root_of(bufnr, options.root_markers))
      end
    end,
    on_attach = options.on_attach,
  })
  vim.lsp.enable(NAME)
end

-- Neovim 0.7 to 0.10: a FileType autocommand attaches each wanted buffer.
local function autostart(options, group)
  local clients = {} -- root folder -> client id, for start_client on 0.7
  local function attach(bufnr)
    if not wanted(bufnr, options) then
      return
    end
    local root = root_of(bufnr, options.root_markers)
    local config = { name = NAME, cmd = options.cmd, root_dir = root, on_attach = options.on_attach }
    if vim.lsp.start then
      vim.lsp.start(config, { bufnr = bufnr })
      return
    end
    local id = clients[root]
    if id == nil or vim.lsp.get_client_by_id(id) == nil then
      config.on_exit = function(_, _, exited)
        if clients[root] == exited then
          clients[root] = nil
        end
      end
      id = vim.lsp.start_client(config)
      if id == nil then
        return
      end
      clients[root] = id
    end
    vim.lsp.buf_attach_client(bufnr, id)
  end
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = { "iotsql", "json" },
    callback = function(args)
      attach(args.buf)
    end,
  })
end

--- Sets up the `iotsql` filetype and starts iotrules-lsp for the files it handles.
--- Calling it again replaces the earlier set-up.
function M.setup(options)
  -- A shallow merge: a list given replaces the default list.
  options = vim.tbl_extend("force", M.defaults, options or {})
  local group = vim.api.nvim_create_augroup("iotrules", { clear = true })
  set_filetypes(options, group)
  if vim.lsp.config ~= nil and vim.lsp.enable ~= nil then
    enable(options)
  else
    autostart(options, group)
  end
end

return M
