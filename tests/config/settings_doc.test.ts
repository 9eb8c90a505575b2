/** docs/settings.md is generated from the settings table and must not drift from it. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { formattedSettingsMarkdown, SETTINGS_DOC, settingsMarkdown } from "../../scripts/gen_settings_doc.ts";
import { HOOK_NAMES } from "../../lib/config/hooks.ts";
import { longFlag, SETTINGS } from "../../lib/config/settings.ts";

describe("docs/settings.md", () => {
  test("is what scripts/gen_settings_doc.ts generates from the table (run it after changing a setting)", () => {
    const current = readFileSync(SETTINGS_DOC, "utf8");
    assert.ok(
      current === formattedSettingsMarkdown(),
      "docs/settings.md is stale: run `deno run -A scripts/gen_settings_doc.ts` and commit the result",
    );
  });

  test("documents every flag, config key, environment variable and hook", () => {
    const doc = settingsMarkdown();
    for (const s of SETTINGS) {
      assert.ok(doc.includes(longFlag(s)), longFlag(s));
      if (!s.cliOnly) assert.ok(doc.includes(`config key \`${s.name}\``), s.name);
      if (s.env) assert.ok(doc.includes(`environment \`${s.env}\``), s.env);
    }
    for (const hook of HOOK_NAMES) assert.match(doc, new RegExp(`- \`${hook}\`: \\w`), hook);
  });
});

/** Gunicorn 23's settings and hooks, as its docs/source/settings.rst lists them. */
const GUNICORN_23 =
  `config wsgi_app reload reload_engine reload_extra_files spew check_config print_config accesslog
disable_redirect_access_to_syslog access_log_format errorlog loglevel capture_output logger_class logconfig
logconfig_dict logconfig_json syslog_addr syslog syslog_prefix syslog_facility enable_stdio_inheritance
statsd_host dogstatsd_tags statsd_prefix proc_name default_proc_name keyfile certfile ssl_version cert_reqs
ca_certs suppress_ragged_eofs do_handshake_on_connect ciphers limit_request_line limit_request_fields
limit_request_field_size on_starting on_reload when_ready pre_fork post_fork post_worker_init worker_int
worker_abort pre_exec pre_request post_request child_exit worker_exit nworkers_changed on_exit ssl_context
preload_app sendfile reuse_port chdir daemon raw_env pidfile worker_tmp_dir user group umask initgroups
tmp_upload_dir secure_scheme_headers forwarded_allow_ips pythonpath paste proxy_protocol proxy_allow_ips
raw_paste_global_conf permit_obsolete_folding strip_header_spaces permit_unconventional_http_method
permit_unconventional_http_version casefold_http_method forwarder_headers header_map bind backlog workers
worker_class threads worker_connections max_requests max_requests_jitter timeout graceful_timeout keepalive`
    .split(/\s+/);

describe("the Gunicorn table of docs/settings.md", () => {
  test("names every Gunicorn 23 setting and hook once, with corral's equivalent or a reason", () => {
    const doc = settingsMarkdown();
    const rows = doc.split("\n").filter((l) => /^\| `[a-z_]+` \|/.test(l));
    const names = rows.map((l) => /^\| `([a-z_]+)`/.exec(l)?.[1]);
    assert.deepEqual([...names].sort(), [...GUNICORN_23].sort());
    for (const row of rows) {
      const [, corral, note] = row.split(" | ");
      assert.ok(corral && note && note.trim().length > 3, row);
    }
  });

  test("every alias of a corral flag is Gunicorn's flag of the same setting", () => {
    const aliased = SETTINGS.filter((s) => s.aliases?.length).map((s) => s.gunicorn);
    assert.deepEqual(aliased.sort(), ["access_log_format", "errorlog", "limit_request_field_size"]);
  });
});
