// The grammar and the schemas name exactly what the compiler knows: keywords, functions and
// cast types from the lexer and the function catalogue, action types from the rule-file
// reader, and policy actions, condition operators and condition keys from the policy reader.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { repository, skip } = require('./repository');

const read = (file) => fs.readFileSync(path.join(repository, 'compiler', 'src', file), 'utf8');
const grammar = require('../syntaxes/iotsql.tmLanguage.json');
const ruleSchema = require('../schemas/topic-rule-payload.schema.json');
const policySchema = require('../schemas/iot-policy.schema.json');

/** The quoted strings of a Rust slice constant, from its declaration to the closing `];`. */
function rustList(source, declaration) {
  const start = source.indexOf(declaration);
  assert.notEqual(start, -1, `${declaration} not found`);
  const body = source.slice(start, source.indexOf('];', start));
  return [...body.matchAll(/"([^"]+)"/g)].map((match) => match[1]);
}

/** The alternatives of the first `(?:a|b|...)` or `(?i)\b(?:...)` group of a grammar match. */
function alternatives(match) {
  const group = /\(\?:([A-Za-z0-9_|]+)\)/.exec(match);
  assert.ok(group, `no alternatives in ${match}`);
  return group[1].split('|');
}

const sorted = (names) => [...names].map((name) => name.toLowerCase()).sort();

test('the grammar highlights every lexer keyword and nothing else as a keyword', { skip }, () => {
  const lexer = read('syntax/lexer.rs');
  const keywords = [...lexer.matchAll(/#\[token\("([a-z]+)", ignore\(case\)\)\]/g)].map((match) => match[1]);
  const highlighted = grammar.repository.keywords.patterns.flatMap((pattern) =>
    /\(\?:/.test(pattern.match) ? alternatives(pattern.match) : [/\\b([a-z]+)\\b/.exec(pattern.match)[1]]);
  assert.deepEqual(sorted(highlighted), sorted(keywords));
});

test('the grammar knows every function of the catalogue', { skip }, () => {
  const catalogue = read('check/functions.rs');
  const table = catalogue.slice(catalogue.indexOf('pub static FUNCTIONS'), catalogue.indexOf('pub static CAST_TARGETS'));
  const functions = [...table.matchAll(/f\("([A-Za-z0-9_]+)"/g)].map((match) => match[1]);
  assert.ok(functions.length > 50);
  const [cast, builtin] = grammar.repository.functions.patterns;
  assert.deepEqual(sorted(alternatives(builtin.match)), sorted(functions));
  assert.match(cast.match, /\(cast\)/);
  const castTypes = [...catalogue.matchAll(/\("([A-Za-z]+)", CastTarget::/g)].map((match) => match[1]);
  const castPattern = grammar.repository['cast-type'].match;
  assert.deepEqual(sorted(/\(((?:[A-Za-z]+\|)+[A-Za-z]+)\)/.exec(castPattern.replace('(as)', ''))[1].split('|')), sorted(castTypes));
});

test('the rule schema names every action type the rule-file reader accepts', { skip }, () => {
  const types = rustList(read('rule_file.rs'), 'pub const ACTION_TYPES');
  assert.deepEqual(Object.keys(ruleSchema.definitions.action.properties).sort(), [...types].sort());
  assert.equal(ruleSchema.definitions.payload.properties.actions.maxItems, Number(/MAX_ACTIONS: usize = (\d+)/.exec(read('rule_file.rs'))[1]));
});

test('the policy schema names every action, condition operator and condition key the policy reader accepts', { skip }, () => {
  const policy = read('policy.rs');
  const statement = policySchema.definitions.statement;
  const actions = statement.properties.Action.anyOf[0].anyOf[0].enum;
  assert.deepEqual([...actions].sort(), rustList(policy, 'pub const ACTIONS').sort());
  const operators = [...policy.matchAll(/\(Test::\w+, "(\w+)"\)/g)].map((match) => match[1]);
  assert.deepEqual(Object.keys(statement.properties.Condition.properties).sort(), [...operators].sort());
  assert.deepEqual(Object.keys(policySchema.definitions.conditionKeys.properties).sort(), rustList(policy, 'pub(crate) const IOT_KEYS').sort());
  assert.deepEqual(policySchema.properties.Version.enum, [/POLICY_VERSION: &str = "([^"]+)"/.exec(policy)[1]]);
});
