// The application's client tested against mockmj's container: the happy path to SUCCESS, and a refusal the
// real service gives only now and then (code 25, queue full) forced by a rule.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { MidjourneyClient } from "../src/client.js";
import { DEFAULT_IMAGE, MockMJContainer, StartedMockMJContainer } from "../src/mockmj-container.js";

let mock: StartedMockMJContainer;

before(async () => {
  mock = await new MockMJContainer(process.env.MOCKMJ_TEST_IMAGE ?? DEFAULT_IMAGE)
    .withSeed(42)
    .withApiKeys("sk-node-1")
    .start();
});

after(async () => {
  await mock?.stop();
});

test("an imagine reaches SUCCESS and its grid downloads", async () => {
  const client = new MidjourneyClient(mock.getUrl(), mock.apiKey, 50);
  const task = await client.waitFor(await client.imagine("a paper boat on a pond"));
  assert.equal(task.status, "SUCCESS");
  assert.ok(task.imageUrl);
  const image = await fetch(task.imageUrl);
  assert.equal(image.status, 200);
  const signature = Buffer.from(await image.arrayBuffer()).subarray(0, 8);
  assert.deepEqual([...signature], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
});

test("the client reports a refused submission with the API's code", async () => {
  await mock.addRule({ operation: "submitImagine" }, { code: 25 }, 1);
  const client = new MidjourneyClient(mock.getUrl(), mock.apiKey);
  await assert.rejects(client.imagine("a paper boat"), /code 25/);
  // the rule was used up: the next submission goes through
  assert.match(await client.imagine("a paper boat"), /^\d+$/);
});
