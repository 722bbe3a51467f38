/**
 * The Future Fitness API for the app: types generated from the OpenAPI schema
 * (`schema.d.ts`, by `make clients`; never edit it by hand) and a typed fetch.
 *
 *   const api = createFitnessClient({ baseUrl: "https://api.example.com", getToken });
 *   const { data, error } = await api.GET("/api/v1/food/logs", { params: { query: { page: 1 } } });
 *
 * `data` is the documented body of a 2xx answer, `error` the error envelope of any other.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, operations, paths } from "./schema";

export type { components, operations, paths };

/** Every named shape of the API: `Schemas["FoodLog"]`, `Schemas["WorkoutResponse"]`... */
export type Schemas = components["schemas"];

/** `{code, message, details}` of the envelope every error answers. */
export type ApiError = Schemas["ErrorEnvelope"]["error"];

export type FitnessClient = Client<paths>;

export interface FitnessClientOptions {
  /** Scheme and host, without the path: the paths already start with /api/v1/. */
  baseUrl: string;
  /** The current access token (or none); read before every request. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Another fetch (tests, React Native polyfills). */
  fetch?: typeof globalThis.fetch;
}

export function createFitnessClient(options: FitnessClientOptions): FitnessClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: options.fetch,
  });
  const getToken = options.getToken;
  if (getToken) {
    const bearer: Middleware = {
      async onRequest({ request }) {
        const token = await getToken();
        if (token) request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    };
    client.use(bearer);
  }
  return client;
}
