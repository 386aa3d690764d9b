// A client developer's scenario through openapi-fetch and the types openapi-typescript generated
// from the served schema (generated/schema.d.ts): no hand-written request and no cast. `tsc
// --strict` checks it against the schema; running it checks the schema against the server.
// Usage: node generated/dist/scenario.js <base URL> <a PDF file>
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

type Schemas = components["schemas"];
const [baseUrl, pdfPath] = process.argv.slice(2) as [string, string];
const PASSWORD = "correct horse battery staple";
const email = `ts-${randomUUID()}@example.com`;

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`scenario failed: ${what}`);
}

function etag(version: number): string {
  return `"${version}"`;
}

let access = "";
const bearer: Middleware = {
  onRequest({ request }) {
    if (access) request.headers.set("Authorization", `Bearer ${access}`);
    return request;
  },
};
const api = createClient<paths>({ baseUrl });
api.use(bearer);

async function auth(): Promise<void> {
  const registered = await api.POST("/v1/auth/register", { body: { email, password: PASSWORD } });
  check(registered.response.status === 201, "register is 201");
  const login = await api.POST("/v1/auth/token", { body: { email, password: PASSWORD, device_name: "tsc" } });
  check(login.data !== undefined, "login answers a token pair");
  const refreshed = await api.POST("/v1/auth/token/refresh", { body: { refresh: login.data.refresh } });
  check(refreshed.data !== undefined, "refresh answers a new pair");
  access = refreshed.data.access;
  const me = await api.GET("/v1/users/me");
  check(me.data?.email === email, "users/me is the new account");
  check(me.response.headers.get("ETag") === etag(me.data.version), "users/me has its ETag");
}

async function todos(): Promise<void> {
  const created = await api.POST("/v1/todos/lists", { body: { name: "Errands" } });
  check(created.data !== undefined && created.response.status === 201, "a list is created");
  const list: Schemas["TaskListOutput"] = created.data;
  check(created.response.headers.get("Location") === `/v1/todos/lists/${list.id}`, "Location of the list");
  const task = await api.POST("/v1/todos", {
    body: { list: list.id, title: "Milk", notes: "semi-skimmed", priority: 2 },
  });
  check(task.data !== undefined, "a task is created");
  const path = { task_id: task.data.id };
  const done = await api.PATCH("/v1/todos/{task_id}", {
    params: { path, header: { "If-Match": etag(task.data.version) } },
    body: { done: true },
  });
  check(done.data?.done === true, "completed with If-Match");
  const renamed = await api.PATCH("/v1/todos/{task_id}", { params: { path }, body: { title: "Oat milk" } });
  check(renamed.data !== undefined, "renamed");
  check(renamed.data.done && renamed.data.priority === 2 && renamed.data.notes === "semi-skimmed", "a rename keeps the rest");
  const stale = await api.PATCH("/v1/todos/{task_id}", {
    params: { path, header: { "If-Match": etag(task.data.version) } },
    body: { title: "lost" },
  });
  check(stale.response.status === 412 && stale.error?.code === "precondition_failed", "a stale If-Match is 412");
  const gone = await api.DELETE("/v1/todos/{task_id}", { params: { path } });
  check(gone.response.status === 204, "deleted");

  for (const name of ["A", "B", "C", "D", "E"]) await api.POST("/v1/todos/lists", { body: { name } });
  const names: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await api.GET("/v1/todos/lists", { params: { query: { limit: 2, cursor } } });
    check(page.data !== undefined, "a page of lists");
    names.push(...page.data.results.map((item) => item.name));
    if (page.data.next_cursor === null) break;
    cursor = page.data.next_cursor;
  }
  check(names.length === 6, `paged through every list (${names.join(",")})`);
}

async function notes(): Promise<void> {
  const note = await api.POST("/v1/notes", { body: { title: "Plan", body: "one", tags: ["work"] } });
  check(note.data !== undefined, "a note is created");
  const path = { note_id: note.data.id };
  const pinned = await api.PATCH("/v1/notes/{note_id}", { params: { path }, body: { pinned: true } });
  check(pinned.data?.pinned === true && pinned.data.body === "one", "pinned, body kept");
  const stale = await api.PUT("/v1/notes/{note_id}", {
    params: { path, header: { "If-Match": etag(note.data.version) } },
    body: { title: "Plan", body: "two" },
  });
  check(stale.response.status === 412, "a stale PUT is 412");
}

async function library(): Promise<string> {
  const pdf = new Blob([readFileSync(pdfPath)], { type: "application/pdf" });
  const uploaded = await api.POST("/v1/files", {
    body: { file: pdf, name: "Tiny Tales" },
    bodySerializer(body) {
      const form = new FormData();
      form.append("file", body.file, "tales.pdf");
      if (body.name) form.append("name", body.name);
      return form;
    },
  });
  check(uploaded.data !== undefined && uploaded.response.status === 201, "a PDF is uploaded");
  const file = uploaded.data;
  const path = { file_id: file.id };
  const tagged = await api.PATCH("/v1/files/{file_id}", {
    params: { path, header: { "If-Match": etag(file.version) } },
    body: { tags: ["fiction"] },
  });
  check(tagged.data?.name === "Tiny Tales" && tagged.data.tags[0] === "fiction", "file metadata changed");
  const state = await api.PUT("/v1/files/{file_id}/viewer-state", {
    params: { path },
    body: { device: { id: "laptop", name: "Laptop" }, modified: new Date().toISOString(), pdf: { page: 2 } },
  });
  check(state.data?.applied === true && state.data.current?.pdf?.page === 2, "a viewer state is written");
  const stale = await api.PUT("/v1/files/{file_id}/viewer-state", {
    params: { path, header: { "If-Match": etag(state.data.version - 1) } },
    body: { device: { id: "laptop" }, modified: new Date().toISOString(), pdf: { page: 3 } },
  });
  check(stale.response.status === 412, "a stale viewer-state write is 412");
  return file.koreader_hash;
}

async function sync(): Promise<void> {
  const listId = randomUUID();
  const taskId = randomUUID();
  const pushed = await api.POST("/v1/sync/push", {
    body: {
      ops: [
        { op_id: "t1", type: "tasklist", action: "upsert", id: listId, fields: { name: "Synced" } },
        { op_id: "t2", type: "task", action: "upsert", id: taskId, fields: { list: listId, title: "From a phone" } },
        { op_id: "t3", type: "task", action: "upsert", id: randomUUID(), fields: { list: randomUUID(), title: "x" } },
      ],
    },
  });
  check(pushed.data !== undefined, "a push answers results");
  const [listResult, taskResult, refused] = pushed.data.results;
  // Only a rejected result may lack a known type, so past `status` the type decides the shape.
  check(listResult !== undefined && listResult.status !== "rejected", "the list op applied");
  check(listResult.type === "tasklist" && listResult.data?.name === "Synced", "a list result carries a list");
  check(taskResult !== undefined && taskResult.status !== "rejected", "the task op applied");
  check(taskResult.type === "task" && taskResult.data?.title === "From a phone", "a task result carries a task");
  check(refused?.status === "rejected" && refused.code === "validation_error", "a task in no list is rejected alone");

  const page = await api.GET("/v1/sync/changes", { params: { query: { limit: 100 } } });
  check(page.data !== undefined, "a page of changes");
  let tasks = 0;
  for (const change of page.data.changes) {
    if (change.type === "task" && change.data) {
      const title: string = change.data.title; // narrowed to a TaskOutput by `type`
      check(title === "From a phone", "the task in the feed");
      tasks += 1;
    }
  }
  check(tasks === 1, "one task change");
}

async function kosync(document: string): Promise<void> {
  const enabled = await api.PATCH("/v1/users/me", {
    body: { kosync_password: "kosync-secret", current_password: PASSWORD },
  });
  check(enabled.data?.kosync_enabled === true, "kosync enabled");
  const header = {
    Accept: "application/vnd.koreader.v1+json" as const,
    "x-auth-user": email,
    "x-auth-key": createHash("md5").update("kosync-secret").digest("hex"),
  };
  const kosyncApi = createClient<paths>({ baseUrl }); // KOReader sends no bearer token
  const stored = await kosyncApi.PUT("/v1/sync/kosync/syncs/progress", {
    params: { header },
    body: { document, progress: "2", percentage: 0.5, device: "Kobo", device_id: "k1" },
  });
  check(stored.data?.document === document, "progress stored");
  const known = await kosyncApi.GET("/v1/sync/kosync/syncs/progress/{document}", {
    params: { path: { document }, header },
  });
  check(known.data !== undefined && "device" in known.data && known.data.device === "Kobo", "progress read");
  const unknown = await kosyncApi.GET("/v1/sync/kosync/syncs/progress/{document}", {
    params: { path: { document: "0".repeat(32) }, header },
  });
  check(unknown.response.status === 200 && Object.keys(unknown.data ?? { x: 1 }).length === 0, "{} for none");
}

await auth();
await todos();
await notes();
const document = await library();
await sync();
await kosync(document);
console.log("scenario passed");
