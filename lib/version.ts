/** corral's version, printed by `--version` and the start-up log. */
export const VERSION = "0.1.0";
