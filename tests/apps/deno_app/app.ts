/**
 * An app written for Deno (tests/integration/deno_config_app.test.ts): a
 * bare specifier and a prefix its deno.json maps, and an npm: specifier.
 * Answers what it imported and where its modules say they are.
 */
import { getLogger } from "logtape";
import { configure } from "npm:@logtape/logtape@2.4.2";
import { greeting, where } from "@app/greeting.ts";

export default {
  fetch(): Response {
    return Response.json({
      greeting,
      logtape: [typeof getLogger, typeof configure],
      app: import.meta.url,
      module: where,
    });
  },
};
