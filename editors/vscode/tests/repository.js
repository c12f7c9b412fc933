// The iotrules repository around the extension folder. Some tests check the extension against
// it: the grammar and schemas against the compiler's tables, the schemas against the example
// files. With the extension folder used on its own they are skipped with `skip` as the reason;
// inside the repository they always run.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..', '..');

function isRepository(folder) {
  try {
    return fs.readFileSync(path.join(folder, 'Cargo.toml'), 'utf8').includes('iotrules-compiler');
  } catch {
    return false;
  }
}

const repository = isRepository(root) ? root : undefined;
const skip = repository === undefined
  && 'needs the iotrules repository around editors/vscode (compiler/src and examples/)';

module.exports = { repository, skip };
