// Interop check: the official TypeScript MCP SDK connects to the server's /mcp
// endpoint with an API key, lists the tools and calls whoami. Exits non-zero on
// any failure. Never prints the key.
//
//   PTG_MCP_URL=http://127.0.0.1:8080/mcp PTG_MCP_KEY=ptg_... node check.mjs
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = process.env.PTG_MCP_URL;
const key = process.env.PTG_MCP_KEY;
if (!url || !key) {
  console.error("set PTG_MCP_URL and PTG_MCP_KEY");
  process.exit(2);
}

const expectedTools = [
  "create_api_key",
  "create_oauth_client",
  "list_api_keys",
  "list_members",
  "list_oauth_clients",
  "read_audit_log",
  "revoke_api_key",
  "revoke_oauth_client",
  "whoami",
];

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const client = new Client({ name: "pentographer-interop", version: "1.0.0" });

try {
  await client.connect(transport);
  const server = client.getServerVersion();
  check(server?.name === "pentographer", `unexpected server ${JSON.stringify(server)}`);

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  check(JSON.stringify(names) === JSON.stringify(expectedTools), `tools: ${names.join(", ")}`);
  for (const tool of tools) {
    check(tool.inputSchema?.type === "object", `${tool.name}: no input schema`);
    check(tool.outputSchema?.type === "object", `${tool.name}: no output schema`);
    check(typeof tool.annotations?.title === "string", `${tool.name}: no title annotation`);
  }
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  check(byName.whoami.annotations.readOnlyHint === true, "whoami is not read-only");
  check(byName.revoke_api_key.annotations.destructiveHint === true, "revoke_api_key is not destructive");

  // The client validates structuredContent against the tool's output schema.
  const who = await client.callTool({ name: "whoami", arguments: {} });
  check(!who.isError, `whoami failed: ${JSON.stringify(who.content)}`);
  const me = who.structuredContent;
  check(me?.auth_method === "API_KEY", `whoami: ${JSON.stringify(me)}`);
  check(["OWNER", "ADMIN", "MEMBER"].includes(me.role), `whoami role ${me.role}`);
  check(who.content?.[0]?.type === "text" && who.content[0].text.length > 0, "whoami: no text");

  // A refusal is a tool result, not a protocol error.
  const refused = await client.callTool({ name: "revoke_api_key", arguments: { id: "01900000-0000-7000-8000-000000000000" } });
  check(refused.isError === true && refused.content?.[0]?.text === "not found", `revoke of a missing key: ${JSON.stringify(refused)}`);

  console.log(`MCP interop ok: protocol ${transport.protocolVersion ?? "?"}, ${tools.length} tools, whoami as ${me.role}`);
  await client.close();
} catch (err) {
  console.error(`MCP interop failed: ${err?.message ?? err}`);
  process.exitCode = 1;
  await client.close().catch(() => {});
}
