// Two "devices" running the real WatermelonDB client (LokiJS adapter, in memory) against
// the server: offline creates, edits and deletes, synchronize(), a second device that sees
// the same data (a set log and a profile edit going the other way), and a conflicting edit
// from both. Prints one JSON summary on stdout.
//
//   BASE_URL=http://127.0.0.1:8000 TOKEN=<access token> node sync_e2e.js

const crypto = require("node:crypto");
const { Database, Model, appSchema, tableSchema, Q } = require("@nozbe/watermelondb");
const LokiJSAdapter = require("@nozbe/watermelondb/adapters/lokijs").default;
const { synchronize } = require("@nozbe/watermelondb/sync");
const { setGenerator } = require("@nozbe/watermelondb/utils/common/randomId");
const logger = require("@nozbe/watermelondb/utils/common/logger").default;

// Stdout carries the summary only.
logger.silence();

// Our ids are UUIDs (WatermelonDB's default ids are 16 random characters).
setGenerator(() => crypto.randomUUID());

const BASE_URL = process.env.BASE_URL;
const TOKEN = process.env.TOKEN;

const col = (name, type, isOptional = true) => ({ name, type, isOptional });
const schema = appSchema({
  version: 1,
  tables: [
    tableSchema({
      name: "food_logs",
      columns: [
        col("name", "string", false),
        col("calories", "number", false),
        col("protein", "number"),
        col("carbs", "number"),
        col("fat", "number"),
        col("timestamp", "number"),
        col("meal_type", "string"),
        col("tags", "string"),
        col("shared_with", "string"),
        col("metadata", "string"),
        col("image_id", "string"),
        col("image_url", "string"),
      ],
    }),
    tableSchema({
      name: "workouts",
      columns: [
        col("name", "string", false),
        col("type", "string", false),
        col("duration", "number"),
        col("completed", "boolean"),
        col("notes", "string"),
        col("shared_with", "string"),
        col("progress_photo_ids", "string"),
        col("volume_kg", "number"),
      ],
    }),
    tableSchema({
      name: "exercises",
      columns: [
        col("workout_id", "string", false),
        col("position", "number"),
        col("name", "string", false),
        col("sets", "number"),
        col("reps", "number"),
        col("weight", "number"),
        col("weight_unit", "string"),
        col("completed", "boolean"),
        col("notes", "string"),
      ],
    }),
    tableSchema({
      name: "set_logs",
      columns: [
        col("exercise_id", "string", false),
        col("position", "number"),
        col("reps", "number"),
        col("weight", "number"),
        col("weight_unit", "string"),
        col("rpe", "number"),
        col("completed", "boolean"),
      ],
    }),
    ...["workout_progress", "stored_files", "conversations", "chat_messages"].map(
      (name) => tableSchema({ name, columns: [col("name", "string")] }),
    ),
    tableSchema({
      name: "profile",
      columns: [col("name", "string"), col("email", "string"), col("weight_kg", "number")],
    }),
    tableSchema({ name: "settings", columns: [col("theme_mode", "string")] }),
  ],
});

class Row extends Model {}
const modelClasses = Object.keys(schema.tables).map(
  (table) =>
    class extends Row {
      static table = table;
    },
);

function device() {
  const adapter = new LokiJSAdapter({
    schema,
    useWebWorker: false,
    useIncrementalIndexedDB: false,
    dbName: `device-${crypto.randomUUID()}`,
  });
  return new Database({ adapter, modelClasses });
}

async function api(method, path, body) {
  const response = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${TOKEN}`,
      "Content-Type": "application/json",
      "Accept-Encoding": "gzip",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

const pushes = [];

async function sync(database) {
  await synchronize({
    database,
    sendCreatedAsUpdated: true,
    pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
      const query = new URLSearchParams({
        last_pulled_at: String(lastPulledAt ?? null),
        schema_version: String(schemaVersion),
        migration: JSON.stringify(migration ?? null),
      });
      return api("GET", `/api/v1/sync?${query}`);
    },
    pushChanges: async ({ changes, lastPulledAt }) => {
      const answer = await api("POST", `/api/v1/sync?last_pulled_at=${lastPulledAt}`, changes);
      pushes.push(answer);
      return { experimentalRejectedIds: answer.experimentalRejectedIds };
    },
  });
}

const raw = (record, columns) => Object.fromEntries(columns.map((c) => [c, record._raw[c]]));
const LOG_COLUMNS = ["id", "name", "calories", "meal_type", "tags"];

async function rows(database, table, columns) {
  const records = await database.get(table).query().fetch();
  return records.map((record) => raw(record, columns)).sort((a, b) => (a.id < b.id ? -1 : 1));
}

async function create(database, table, fields) {
  return database.write(() =>
    database.get(table).create((record) => {
      for (const [key, value] of Object.entries(fields)) record._setRaw(key, value);
    }),
  );
}

async function edit(database, table, id, fields) {
  const record = await database.get(table).find(id);
  await database.write(() =>
    record.update(() => {
      for (const [key, value] of Object.entries(fields)) record._setRaw(key, value);
    }),
  );
}

async function main() {
  const phone = device();
  const tablet = device();
  const now = Date.now();

  // Offline on the phone: create, edit, delete.
  const oats = await create(phone, "food_logs", {
    name: "Oats", calories: 300, timestamp: now, meal_type: "breakfast", tags: '["grain"]',
    shared_with: "[]", metadata: "{}",
  });
  const tea = await create(phone, "food_logs", {
    name: "Tea", calories: 2, timestamp: now, shared_with: "[]", metadata: "{}", tags: "[]",
  });
  const crisps = await create(phone, "food_logs", {
    name: "Crisps", calories: 500, timestamp: now, shared_with: "[]", metadata: "{}", tags: "[]",
  });
  await edit(phone, "food_logs", oats.id, { calories: 350 });
  await phone.write(() => crisps.markAsDeleted());
  const legs = await create(phone, "workouts", {
    name: "Legs", type: "strength", duration: 45, completed: false, notes: "",
    shared_with: "[]", progress_photo_ids: "[]",
  });
  await create(phone, "exercises", {
    workout_id: legs.id, position: 0, name: "Squat", sets: 5, reps: 5, weight: 100,
    weight_unit: "kg", completed: false, notes: "",
  });

  await sync(phone);
  await sync(tablet);

  const phoneLogs = await rows(phone, "food_logs", LOG_COLUMNS);
  const tabletLogs = await rows(tablet, "food_logs", LOG_COLUMNS);
  const tabletWorkouts = await rows(tablet, "workouts", ["id", "name", "volume_kg"]);
  const tabletExercises = await rows(tablet, "exercises", ["id", "workout_id", "name", "weight"]);

  // Offline on the tablet: a set logged under the phone's exercise, and a profile edit.
  const squat = (await tablet.get("exercises").query().fetch())[0];
  const profile = (await tablet.get("profile").query().fetch())[0];
  const setLog = await create(tablet, "set_logs", {
    exercise_id: squat.id, position: 0, reps: 5, weight: 225, weight_unit: "lb", rpe: 8,
    completed: true,
  });
  await edit(tablet, "profile", profile.id, { name: "Tablet user", weight_kg: 72.5 });
  await sync(tablet);
  await sync(phone);
  // The tablet's next pull swaps its copy of the set for the server's numbered one.
  await sync(tablet);
  const SET_COLUMNS = ["exercise_id", "reps", "weight", "weight_unit", "rpe", "completed"];
  const sets = {
    phone: await rows(phone, "set_logs", ["id", ...SET_COLUMNS]),
    tablet: await rows(tablet, "set_logs", ["id", ...SET_COLUMNS]),
  };
  const PROFILE_COLUMNS = ["id", "name", "weight_kg"];
  const profiles = {
    phone: await rows(phone, "profile", PROFILE_COLUMNS),
    tablet: await rows(tablet, "profile", PROFILE_COLUMNS),
  };

  // Both devices edit the same log offline; the phone syncs first.
  await edit(phone, "food_logs", tea.id, { name: "Green tea" });
  await edit(tablet, "food_logs", tea.id, { name: "Mint tea", calories: 3 });
  await sync(phone);
  await sync(tablet);
  await sync(phone);

  console.log(
    JSON.stringify({
      ids: { oats: oats.id, tea: tea.id, crisps: crisps.id, legs: legs.id, setLog: setLog.id },
      sets,
      profiles,
      phoneLogs,
      tabletLogs,
      tabletWorkouts,
      tabletExercises,
      afterConflict: {
        phone: await rows(phone, "food_logs", LOG_COLUMNS),
        tablet: await rows(tablet, "food_logs", LOG_COLUMNS),
      },
      profile: await rows(tablet, "profile", ["id", "email"]),
      pushes,
    }),
  );
}

// Exits explicitly: LokiJS timers and keep-alive sockets would hold the process open.
main().then(() => process.exit(0), (error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
