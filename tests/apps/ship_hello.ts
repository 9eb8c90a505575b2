/** Answers "hello <pid>", or the text of $SHIP_GREETING. */
import process from "node:process";

export default {
  fetch(_request: Request): Response {
    return new Response(`${process.env.SHIP_GREETING ?? "hello"} ${process.pid}`);
  },
};
