/** A module of the Deno app, imported through its deno.json's "@app/" prefix. */
export const greeting = "hello from a Deno app";
/** Where this module says it is. */
export const where: string = import.meta.url;
