// The official OpenAI Node SDK (pinned in package.json) against `kvactor serve` on
// stories260K: a chat completion, the same one streamed (with usage), a second turn
// served partly from the prefix cache, a field the server does not honour and a context
// overflow coming back as the SDK's BadRequestError with OpenAI's type/param/code,
// x-request-id as the SDK's _request_id, and models.retrieve (found and 404). Exit 77 (skip) only when the SDK is not installed
// (tests/http/openai_sdk/setup.sh installs it).
"use strict";

const path = require("path");
const { SKIP, parseArgs, freePort, waitHealthy, startServer, stopProcess } =
  require(path.join(__dirname, "..", "..", "console", "console_harness"));

function log(...args) { console.log("[openai_sdk_test]", ...args); }

let failures = 0;
function check(what, ok, detail) {
  if (!ok) { failures++; log("FAIL:", what, detail === undefined ? "" : JSON.stringify(detail)); }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let OpenAI;
  try {
    OpenAI = require(path.join(__dirname, "node_modules", "openai"));
    OpenAI = OpenAI.default || OpenAI.OpenAI || OpenAI;
  } catch (e) {
    log("SKIP: the openai package is not installed (run tests/http/openai_sdk/setup.sh):", e.message);
    return SKIP;
  }
  const port = await freePort();
  const base = "http://127.0.0.1:" + port;
  const server = startServer(args, port, path.join(args.out || "/tmp", "openai_sdk_server.log"));
  try {
    await waitHealthy(base, server, 30000);
    const client = new OpenAI({ baseURL: base + "/v1", apiKey: "not-needed-without-a-key", maxRetries: 0 });
    const messages = [{ role: "system", content: "You tell short stories." },
      { role: "user", content: [{ type: "text", text: "Tell me about a cat." }] }];

    const reply = await client.chat.completions.create({ model: "stories260K", messages, max_tokens: 24, temperature: 0 });
    const answer = reply.choices[0].message.content;
    check("object", reply.object === "chat.completion", reply.object);
    check("role", reply.choices[0].message.role === "assistant", reply.choices[0].message);
    check("content", typeof answer === "string" && answer.length > 0, answer);
    check("finish_reason", ["stop", "length"].includes(reply.choices[0].finish_reason), reply.choices[0].finish_reason);
    check("usage", reply.usage.total_tokens === reply.usage.prompt_tokens + reply.usage.completion_tokens, reply.usage);
    log("answer:", JSON.stringify(answer), "usage:", JSON.stringify(reply.usage));

    const stream = await client.chat.completions.create({ model: "stories260K", messages, max_tokens: 24, temperature: 0,
      stream: true, stream_options: { include_usage: true } });
    let streamed = "", chunks = 0, usage = null, finish = null;
    for await (const chunk of stream) {
      chunks++;
      check("chunk object", chunk.object === "chat.completion.chunk", chunk.object);
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices.length === 0) continue;
      streamed += chunk.choices[0].delta.content || "";
      if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
    }
    check("streamed text equals the answer", streamed === answer, { streamed, answer });
    check("stream finish_reason", finish === reply.choices[0].finish_reason, finish);
    check("stream usage", usage && usage.completion_tokens === reply.usage.completion_tokens, usage);
    log("stream:", chunks, "chunks");

    const second = await client.chat.completions.create({ model: "stories260K", max_tokens: 8, temperature: 0,
      messages: [...messages, { role: "assistant", content: answer }, { role: "user", content: "And then?" }] });
    const cached = second.usage.prompt_tokens_details.cached_tokens;
    check("second turn reuses the first turn's KV", cached >= Math.floor(reply.usage.prompt_tokens / 16) * 16,
      { cached, first_prompt: reply.usage.prompt_tokens });
    log("second turn: prompt", second.usage.prompt_tokens, "cached", cached);

    // Sampling fields as the SDK sends them: n, logprobs, penalties, logit_bias, seed.
    const many = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 6,
      temperature: 1, seed: 7, n: 2, logprobs: 2, presence_penalty: 0.5, frequency_penalty: 0.5,
      logit_bias: { "0": -100 } });
    check("n choices", many.choices.length === 2 && many.choices[1].index === 1, many.choices);
    const lp = many.choices[0].logprobs;
    check("completion logprobs shape", lp && lp.tokens.length === lp.token_logprobs.length &&
      lp.top_logprobs.length === lp.tokens.length && lp.text_offset.length === lp.tokens.length &&
      lp.tokens.join("") === many.choices[0].text, lp);
    const alone = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 6,
      temperature: 1, seed: 8, presence_penalty: 0.5, frequency_penalty: 0.5, logit_bias: { "0": -100 } });
    check("choice 1 equals seed + 1 alone", alone.choices[0].text === many.choices[1].text,
      { alone: alone.choices[0].text, choice: many.choices[1].text });
    // echo + logprobs, as evaluation harnesses score text: the prompt's tokens first, the first with null.
    const scored = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 2,
      temperature: 0, echo: true, logprobs: 2 });
    const slp = scored.choices[0].logprobs;
    check("echo logprobs: prompt tokens first", slp && slp.token_logprobs[0] === null && slp.top_logprobs[0] === null &&
      slp.tokens.length === scored.usage.prompt_tokens + scored.usage.completion_tokens &&
      slp.token_logprobs.slice(1).every((v) => typeof v === "number" && v <= 0) &&
      scored.choices[0].text.startsWith("Once upon a time"), slp);
    const withLogprobs = await client.chat.completions.create({ model: "stories260K", messages, max_tokens: 6,
      temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = withLogprobs.choices[0].logprobs.content;
    check("chat logprobs per token", content.length === withLogprobs.usage.completion_tokens &&
      content.every((e) => e.top_logprobs.length === 3 && Array.isArray(e.bytes) && e.logprob <= 0), content);

    // Structured output as the SDK sends it: the content parses and follows the schema.
    const schema = { type: "object", properties: { name: { type: "string", maxLength: 8 },
      age: { type: "integer", minimum: 0, maximum: 99 } }, required: ["name", "age"], additionalProperties: false };
    const structured = await client.chat.completions.create({ model: "stories260K", messages, max_tokens: 60,
      temperature: 0.8, seed: 3, response_format: { type: "json_schema", json_schema: { name: "person", strict: true,
        schema } } });
    let doc = null;
    try { doc = JSON.parse(structured.choices[0].message.content); } catch (e) { /* checked below */ }
    check("json_schema content parses", doc !== null, structured.choices[0].message.content);
    check("json_schema content follows the schema", doc && Object.keys(doc).join(",") === "name,age" &&
      typeof doc.name === "string" && Number.isInteger(doc.age) && doc.age >= 0 && doc.age <= 99, doc);
    check("json_schema finish_reason stop", structured.choices[0].finish_reason === "stop",
      structured.choices[0].finish_reason);
    try {
      await client.chat.completions.create({ model: "stories260K", messages, tools: [{ type: "function",
        function: { name: "f", parameters: { type: "object" } } }] });
      check("tools refused", false);
    } catch (e) {
      check("tools refused as BadRequestError", e instanceof OpenAI.BadRequestError && e.status === 400,
        { status: e.status, name: e.constructor.name });
      check("the error names the field", String(e.message).includes("tools"), e.message);
      // OpenAI's error shape: the SDK reads type, param and code from the body.
      check("error type", e.type === "invalid_request_error", e.type);
      check("error param", e.param === "tools", e.param);
      check("error code", e.code === "UNSUPPORTED_FIELD", e.code);
    }
    try {
      await client.chat.completions.create({ model: "stories260K", messages, max_tokens: 500 });
      check("a context overflow refused", false);
    } catch (e) {
      check("context overflow: 400 context_length_exceeded naming messages",
        e instanceof OpenAI.BadRequestError && e.code === "context_length_exceeded" && e.param === "messages",
        { status: e.status, code: e.code, param: e.param });
    }
    check("x-request-id reaches the SDK", typeof reply._request_id === "string" && reply._request_id.startsWith("req-"),
      reply._request_id);
    const model = await client.models.retrieve("stories260K");
    check("models.retrieve", model.id === "stories260K" && model.object === "model", model);
    try {
      await client.models.retrieve("no-such-model");
      check("an unknown model is 404", false);
    } catch (e) {
      check("an unknown model is NotFoundError", e instanceof OpenAI.NotFoundError && e.type === "not_found_error",
        { status: e.status, type: e.type });
    }
  } finally {
    stopProcess(server);
  }
  log(failures === 0 ? "PASS" : failures + " failures");
  return failures === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => { log("ERROR:", e.stack || e); process.exit(1); });
