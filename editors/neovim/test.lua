-- Drives iotrules.lua in a headless Neovim against a real iotrules-lsp, as a user opens files:
--   IOTRULES_LSP=target/debug/iotrules-lsp nvim --headless -u NORC --noplugin -i NONE \
--     -c "luafile editors/neovim/test.lua"
-- Prints one line a check and a closing "N passed, N failed"; exits non-zero on a failure.
-- lsp/tests/neovim.rs runs it from `cargo test`.

local here = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h")
local server = os.getenv("IOTRULES_LSP") or "iotrules-lsp"
local PATIENCE = 10000

local passed, failed = 0, 0

local function check(ok, what, detail)
  if ok then
    passed = passed + 1
    io.stdout:write("ok - " .. what .. "\n")
  else
    failed = failed + 1
    io.stdout:write("not ok - " .. what .. (detail and (": " .. detail) or "") .. "\n")
  end
end

local function clients(bufnr)
  local found = {}
  local list
  if vim.lsp.get_clients then
    list = vim.lsp.get_clients(bufnr and { bufnr = bufnr } or nil)
  elseif bufnr then
    list = vim.lsp.buf_get_clients(bufnr)
  else
    list = vim.lsp.get_active_clients()
  end
  for _, client in pairs(list) do
    table.insert(found, client)
  end
  return found
end

local function write(path, text)
  vim.fn.mkdir(vim.fn.fnamemodify(path, ":h"), "p")
  vim.fn.writefile(vim.split(text, "\n"), path)
end

local function open(path)
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  return vim.api.nvim_get_current_buf()
end

-- The buffer's diagnostics with this code, once the server has published them.
local function diagnostics_with(bufnr, code)
  local found = {}
  vim.wait(PATIENCE, function()
    found = {}
    for _, diagnostic in ipairs(vim.diagnostic.get(bufnr)) do
      local lsp = diagnostic.user_data and diagnostic.user_data.lsp or {}
      if diagnostic.code == code or lsp.code == code then
        table.insert(found, diagnostic)
      end
    end
    return #found > 0
  end, 50)
  return found
end

local function run()
  local project = vim.fn.tempname() .. "/project"
  vim.fn.mkdir(project .. "/.git", "p")
  write(project .. "/plain.sql", "SELECT lenght(a) FROM t")
  write(project .. "/package.json", '{"name": "not-a-rule"}')
  write(project .. "/broken.iotsql", "SELECT temperature, FROM 'sensors/#'")
  write(project .. "/second.iotsql", "SELECT a FROM 'sensors/#'")
  write(project .. "/rules/alerts.sql", "SELECT temperature FROM 'sensors/+' WHERE temperature > tmestamp()")
  write(
    project .. "/policies/device.json",
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Publsh", "Resource": "*"}]}'
  )

  dofile(here .. "/iotrules.lua").setup({ cmd = { server }, sql_patterns = { "*/rules/*.sql" } })

  -- Files that are not IoT SQL, rules or policies: no server at all.
  local plain = open(project .. "/plain.sql")
  local package = open(project .. "/package.json")
  vim.wait(500)
  check(vim.bo[plain].filetype == "sql", "a plain .sql file keeps the filetype sql", vim.bo[plain].filetype)
  check(vim.bo[package].filetype == "json", "package.json keeps the filetype json", vim.bo[package].filetype)
  check(#clients() == 0, "neither starts the server", #clients() .. " client(s)")

  local broken = open(project .. "/broken.iotsql")
  check(vim.bo[broken].filetype == "iotsql", "an .iotsql file gets the filetype iotsql", vim.bo[broken].filetype)
  vim.wait(PATIENCE, function()
    return vim.bo[broken].syntax == "sql"
  end, 50)
  check(vim.bo[broken].syntax == "sql", "and SQL highlighting", vim.bo[broken].syntax)
  local syntax = diagnostics_with(broken, "iotsql::unexpected_token")
  check(#syntax == 1, "its syntax error arrives as a diagnostic", #vim.diagnostic.get(broken) .. " diagnostic(s)")
  if syntax[1] then
    check(syntax[1].lnum == 0 and syntax[1].col == 20, "on `FROM`", syntax[1].lnum .. ":" .. syntax[1].col)
  end

  local second = open(project .. "/second.iotsql")
  vim.wait(PATIENCE, function()
    return #clients(second) == 1
  end, 50)
  check(#clients(second) == 1 and #clients() == 1, "a second file in the project shares the server", #clients() .. " client(s)")

  local mapped = open(project .. "/rules/alerts.sql")
  check(vim.bo[mapped].filetype == "iotsql", "a .sql file under sql_patterns gets the filetype iotsql", vim.bo[mapped].filetype)
  check(#diagnostics_with(mapped, "iotsql::unknown_function") == 1, "and its diagnostics")

  local policy = open(project .. "/policies/device.json")
  check(#diagnostics_with(policy, "policy::unknown_action") == 1, "a policy under policies/ gets its diagnostics")

  check(#clients(plain) == 0 and #clients(package) == 0, "the plain .sql file and package.json stay without a server")
end

local ok, error = pcall(run)
check(ok, "the test ran to its end", tostring(error))
io.stdout:write(passed .. " passed, " .. failed .. " failed\n")
if failed > 0 then
  vim.cmd("cquit 1")
else
  vim.cmd("qall!")
end
