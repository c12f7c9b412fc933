// The JSON schemas accept the repository's example rules and policies and reject documents
// that AWS IoT Core rejects.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const Ajv = require('ajv');

const { repository, skip } = require('./repository');

const ajv = new Ajv({ allErrors: true, strict: false });
const rule = ajv.compile(require('../schemas/topic-rule-payload.schema.json'));
const policy = ajv.compile(require('../schemas/iot-policy.schema.json'));

function jsonFiles(folder) {
  const dir = path.join(repository, folder);
  return fs.readdirSync(dir).filter((name) => name.endsWith('.json')).map((name) => path.join(dir, name));
}

function expectValid(validate, document, label) {
  assert.ok(validate(document), `${label}: ${ajv.errorsText(validate.errors)}`);
}

function expectInvalid(validate, document, label) {
  assert.equal(validate(document), false, `${label} should be rejected`);
}

test('example rule files are valid', { skip }, () => {
  const files = jsonFiles('examples/rules');
  assert.ok(files.length > 0);
  for (const file of files) {
    expectValid(rule, JSON.parse(fs.readFileSync(file, 'utf8')), file);
  }
});

test('example policies are valid', { skip }, () => {
  const files = jsonFiles('examples/policies');
  assert.ok(files.length > 0);
  for (const file of files) {
    expectValid(policy, JSON.parse(fs.readFileSync(file, 'utf8')), file);
  }
});

const minimalRule = { sql: "SELECT * FROM 'a/b'", actions: [] };
const republish = { republish: { topic: 'out/${topic(2)}', roleArn: 'arn:aws:iam::123456789012:role/r', qos: 1 } };

test('rule files AWS accepts are valid', () => {
  expectValid(rule, minimalRule, 'minimal payload');
  expectValid(rule, { ...minimalRule, awsIotSqlVersion: 'beta', ruleDisabled: true, description: 'd', ruleName: 'a_1' }, 'all fields');
  expectValid(rule, { ...minimalRule, actions: [republish, { lambda: { functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' } }] }, 'two actions');
  expectValid(rule, { ...minimalRule, actions: [{ http: { url: 'https://example.com/${topic()}', headers: [{ key: 'k', value: 'v' }], auth: { sigv4: { signingRegion: 'us-east-1', serviceName: 'execute-api', roleArn: 'arn:aws:iam::1:role/r' } } } }] }, 'http action');
  expectValid(rule, { ...minimalRule, errorAction: republish }, 'error action');
  expectValid(rule, { ruleArn: 'arn:aws:iot:us-east-1:1:rule/r', rule: { ...minimalRule, ruleName: 'r', createdAt: '2026-01-01T00:00:00Z' } }, 'get-topic-rule output');
});

test('the broken example rule file is invalid', { skip }, () => {
  const broken = JSON.parse(fs.readFileSync(path.join(repository, 'examples/broken/overheat.json'), 'utf8'));
  expectInvalid(rule, broken, 'examples/broken/overheat.json (misspelt action type, invalid rule name)');
});

test('broken rule files are invalid', () => {
  expectInvalid(rule, { actions: [] }, 'no sql');
  expectInvalid(rule, { sql: "SELECT * FROM 'a'" }, 'no actions');
  expectInvalid(rule, { ...minimalRule, sql: '  ' }, 'blank sql');
  expectInvalid(rule, { ...minimalRule, awsIotSqlVersion: '2017-01-01' }, 'unknown SQL version');
  expectInvalid(rule, { ...minimalRule, sqlVersion: '2016-03-23' }, 'unknown field');
  expectInvalid(rule, { ...minimalRule, ruleName: 'has-dash' }, 'invalid rule name');
  expectInvalid(rule, { ...minimalRule, actions: Array(11).fill(republish) }, 'eleven actions');
  expectInvalid(rule, { ...minimalRule, actions: [{ republsh: republish.republish }] }, 'unknown action type');
  expectInvalid(rule, { ...minimalRule, actions: [{ ...republish, lambda: { functionArn: 'arn:x' } }] }, 'two action types in one object');
  expectInvalid(rule, { ...minimalRule, actions: [{ republish: { roleArn: 'arn:aws:iam::1:role/r' } }] }, 'republish without topic');
  expectInvalid(rule, { ...minimalRule, actions: [{ republish: { ...republish.republish, qos: 2 } }] }, 'republish with QoS 2');
  expectInvalid(rule, { ...minimalRule, actions: [{ lambda: {} }] }, 'lambda without functionArn');
  expectInvalid(rule, { ruleArn: 'arn', rule: { ...minimalRule, extra: 1 } }, 'unknown field in get-topic-rule output');
});

const allow = (extra) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*', ...extra }] });

test('policies AWS accepts are valid', () => {
  expectValid(policy, allow({}), 'minimal policy');
  expectValid(policy, { Version: '2012-10-17', Statement: { Effect: 'Deny', NotAction: ['iot:publish', 'iot:Get*', '*', 'iot*:Describe?obExecution'], NotResource: 'arn:aws:iot:*:*:topic/a' } }, 'single statement, Not forms, lowercase action, glob');
  expectValid(policy, allow({ Action: 'iotjobsdata:DescribeJobExecution' }), 'iotjobsdata action');
  expectValid(policy, allow({ Condition: { 'ForAnyValue:StringLikeIfExists': { 'iot:Connection.Thing.Attributes[site]': ['a*'] }, Bool: { 'iot:Connection.Thing.IsAttached': true }, NumericLessThan: { 'aws:CurrentTime': 5 }, Null: { 'iot:clientid': 'false' } } }), 'conditions');
  expectValid(policy, allow({ Action: ['greengrass:GetConnectivityInfo', 'Greengrass:discover', 'greengr*', 'iotwireless:Get*'], Resource: ['arn:aws:greengrass:us-east-1:1:/greengrass/things/core/connectivityInfo', 'arn:aws:iotwireless:us-east-1:1:WirelessDevice/d'] }), 'Greengrass and IoT Wireless actions and ARNs');
  expectValid(policy, allow({ Condition: { BinaryEqualsIfExists: { 'iot:ClientId': 'YQ==' }, 'ForAnyValue:StringLike': { 'IOT:certificate.availablekeys': '*Subject.CommonName' }, StringEquals: { 'iot:Certificate.SerialNumber': '0a' }, DateLessThan: { 'aws:CurrentTime': '2030' } } }), 'certificate keys, BinaryEquals and dates');
});

test('policies AWS accepts but iotrules warns about are flagged', () => {
  // VS Code shows a schema mismatch as a warning, as the language server shows these.
  expectInvalid(policy, { ...allow({}), Version: '2008-10-17' }, 'Version 2008-10-17, which substitutes no variables');
  expectInvalid(policy, allow({ Action: 'iot:Publsh' }), 'unknown action of a service IoT policies carry');
  expectInvalid(policy, allow({ Action: 'greengrass:NoSuchAction' }), 'unknown Greengrass action');
});

test('broken policies are invalid', () => {
  expectInvalid(policy, { Statement: allow({}).Statement }, 'no Version');
  expectInvalid(policy, { ...allow({}), Version: '2012-10-18' }, 'Version IAM does not define');
  expectInvalid(policy, { Version: '2012-10-17' }, 'no Statement');
  expectInvalid(policy, allow({ Effect: 'allow' }), 'lowercase Effect');
  expectInvalid(policy, allow({ Action: 's3:GetObject' }), 'action of another service');
  expectInvalid(policy, allow({ Action: 's3:*' }), 'wildcard over another service');
  expectInvalid(policy, allow({ Action: [] }), 'empty Action list');
  expectInvalid(policy, allow({ NotAction: 'iot:Publish' }), 'both Action and NotAction');
  expectInvalid(policy, allow({ Resource: 'topic/a' }), 'resource that is not an ARN');
  expectInvalid(policy, allow({ Resource: 'arn:aws:s3:::bucket/a' }), 'ARN of another service');
  expectInvalid(policy, allow({ Principal: '*' }), 'Principal');
  expectInvalid(policy, allow({ Condition: { StringEqualz: { 'iot:ClientId': 'a' } } }), 'unknown condition operator');
  expectInvalid(policy, allow({ Condition: { NullIfExists: { 'iot:ClientId': 'true' } } }), 'Null has no IfExists form');
  expectInvalid(policy, allow({ Condition: { StringEquals: { 'iot:Client': 'a' } } }), 'unknown condition key');
  expectInvalid(policy, allow({ Condition: { StringEquals: { 'iot:ClientId': { a: 1 } } } }), 'object as condition value');
});
