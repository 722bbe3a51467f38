/**
 * What the app does first, written against the generated types: sign in, log a meal,
 * read the diary. `tsc --noEmit` compiling this (CI does) proves the types are usable;
 * the `@ts-expect-error` lines prove they are precise (an `any` would make them fail).
 */
import { createFitnessClient, type ApiError, type Schemas } from "../src/index";

let accessToken: string | undefined;

const api = createFitnessClient({
  baseUrl: "http://127.0.0.1:8000",
  getToken: () => accessToken,
});

function fail(error: { error: ApiError }): never {
  throw new Error(`${error.error.code}: ${error.error.message}`);
}

export async function logLunch(email: string, password: string): Promise<string[]> {
  const login = await api.POST("/api/v1/auth/login", { body: { email, password } });
  if (login.error) fail(login.error);
  accessToken = login.data.access_token;
  const who: string = login.data.user.email;

  const meal: Schemas["FoodLogWriteRequest"] = {
    name: "Lentil soup",
    calories: 420,
    protein: 21,
    meal_type: "lunch",
    tags: ["homemade"],
  };
  const created = await api.POST("/api/v1/food/logs", { body: meal });
  if (created.error) fail(created.error);
  const logId: string = created.data.id;

  const diary = await api.GET("/api/v1/food/logs", {
    params: { query: { page: 1, page_size: 20 } },
  });
  if (diary.error) fail(diary.error);
  const more: boolean = diary.data.hasMore;
  const names = diary.data.items.map((log) => log.name);

  const workout = await api.GET("/api/v1/workouts/{workout_id}", {
    params: { path: { workout_id: logId } },
  });
  if (workout.data) {
    // One shape per resource: the plan's WorkoutResponse.
    const done: number = workout.data.progress.completed_exercises;
    names.push(`${workout.data.workout.name} (${done} done)`);
  }

  // @ts-expect-error calories is a number, not a string
  const wrong: Schemas["FoodLogWriteRequest"] = { name: "x", calories: "420" };
  // @ts-expect-error the list envelope has no camelCase but hasMore
  const total: number = diary.data.totalCount;

  return [who, ...names, String(more), String(wrong), String(total)];
}
